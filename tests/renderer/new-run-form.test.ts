import { describe, expect, it } from 'vitest';
import {
  canStartRun,
  defaultRunForm,
  fasterDevice,
  isSoftwareRenderer,
  placeErrors,
  probeDraftOf,
  runDraftOf,
  runFormErrors,
  settingDisabled,
  startLabel,
  type RunForm,
} from '../../src/renderer/src/lib/new-run-form';

const form = (over: Partial<RunForm> = {}): RunForm => ({ ...defaultRunForm(), ...over });
const valid = { settings: { n_layer: 2, steps: 100 }, errors: {} };

describe('New-run form checks', () => {
  it('accepts the defaults', () => {
    expect(runFormErrors(form())).toEqual({});
  });

  it('names each wrong field with the value it got', () => {
    expect(runFormErrors(form({ seed: '-1' })).seed).toContain('(got "-1")');
    expect(runFormErrors(form({ seed: String(2 ** 32) })).seed).toContain('whole number from 0 to 4294967295');
    expect(runFormErrors(form({ seed: String(2 ** 32 - 1) })).seed).toBeUndefined();
    expect(runFormErrors(form({ budget: 'minutes', minutes: '0' })).minutes).toContain('(got "0")');
    expect(runFormErrors(form({ budget: 'minutes', minutes: '1441' })).minutes).toBeDefined();
    expect(runFormErrors(form({ budget: 'steps', minutes: 'x' })).minutes).toBeUndefined();
    expect(runFormErrors(form({ tokenizerKind: 'word', wordVocab: '1' })).wordVocab).toContain('from 2 to 100000');
    expect(runFormErrors(form({ tokenizerKind: 'char', wordVocab: '1' })).wordVocab).toBeUndefined();
    expect(runFormErrors(form({ tagsText: Array.from({ length: 21 }, (_, i) => `t${i}`).join(',') })).tags).toBeDefined();
    expect(runFormErrors(form({ tagsText: 'x'.repeat(41) })).tags).toBeDefined();
  });

  it('builds the draft, or null while a field or a setting is wrong', () => {
    expect(runDraftOf(form({ name: '  mine ', tagsText: 'a, b', tokenizerKind: 'word', wordVocab: '500' }), valid, 'tiny')).toEqual({
      name: 'mine',
      family: 'gpt',
      settings: { n_layer: 2, steps: 100 },
      corpusId: 'tinyshakespeare',
      lowercase: false,
      tokenizer: { kind: 'word', vocab_size: 500 },
      seed: 1337,
      minutes: null,
      preset: 'tiny',
      tags: ['a', 'b'],
    });
    expect(runDraftOf(form({ seed: 'x' }), valid, null)).toBeNull();
    expect(runDraftOf(form(), { settings: {}, errors: { n_layer: 'n_layer must be a number' } }, null)).toBeNull();
  });

  it('drops the step count when the run trains for a time', () => {
    const d = runDraftOf(form({ budget: 'minutes', minutes: '2.5', name: '' }), valid, null);
    expect(d?.settings).toEqual({ n_layer: 2 });
    expect(d?.minutes).toBe(2.5);
    expect(d?.name).toBeUndefined();
    expect(d?.tokenizer).toEqual({ kind: 'char' });
    expect(valid.settings.steps).toBe(100);
    expect(settingDisabled('steps', 'minutes')).toBe(true);
    expect(settingDisabled('steps', 'steps')).toBe(false);
    expect(settingDisabled('n_layer', 'minutes')).toBe(false);
  });

  it('lets Start be pressed only for a valid, previewed draft and a device that is there', () => {
    const ok = { draft: runDraftOf(form(), valid, null), previewOk: true, previewPending: false, starting: false, device: 'cpu' as const, gpuReady: false };
    expect(canStartRun(ok)).toBe(true);
    expect(canStartRun({ ...ok, draft: null })).toBe(false);
    expect(canStartRun({ ...ok, previewOk: false })).toBe(false);
    expect(canStartRun({ ...ok, previewPending: true })).toBe(false);
    expect(canStartRun({ ...ok, starting: true })).toBe(false);
    expect(canStartRun({ ...ok, device: 'gpu' })).toBe(false);
    expect(canStartRun({ ...ok, device: 'gpu', gpuReady: true })).toBe(true);
    expect(canStartRun({ ...ok, device: 'auto' })).toBe(true);
    expect(startLabel(true, true)).toBe('Timing CPU and GPU…');
    expect(startLabel(false, true)).toBe('Starting…');
    expect(startLabel(false, false)).toBe('Start training');
  });

  it('lets Auto choose the GPU only when it was timed faster', () => {
    expect(fasterDevice(1000, 2000)).toBe('gpu');
    expect(fasterDevice(1000, 1000)).toBe('cpu');
    expect(fasterDevice(1000, null)).toBe('cpu');
  });

  it('tells software renderers from GPUs', () => {
    expect(isSoftwareRenderer('Google SwiftShader')).toBe(true);
    expect(isSoftwareRenderer('llvmpipe (LLVM 15.0.7, 256 bits)')).toBe(true);
    expect(isSoftwareRenderer('NVIDIA GeForce RTX 3060')).toBe(false);
  });
});

describe('the form under errors', () => {
  it('asks the host about the draft with its wrong fields at their defaults', () => {
    const f = form({ seed: 'x', budget: 'minutes', minutes: '0', tagsText: 'y'.repeat(41) });
    const built = { settings: { n_layer: 2 }, errors: { lr: 'lr must be a number (got "abc")' } };
    expect(runDraftOf(f, built, null)).toBeNull();
    const probe = probeDraftOf(f, built, null);
    expect(probe.seed).toBe(1337);
    expect(probe.minutes).toBe(5);
    expect(probe.tags).toEqual([]);
    // the settings that parse go to the host; the one that does not is left to its default
    expect(probe.settings).toEqual({ n_layer: 2 });
    // with nothing wrong, the probe is the draft itself (one request, one answer)
    expect(probeDraftOf(form(), valid, 'tiny')).toEqual(runDraftOf(form(), valid, 'tiny'));
  });

  it('shows each error at its field, and drops errors of fields the family lacks', () => {
    const gptOnly = { error: 'n_embd (33) must be divisible by n_head (4)', field: 'n_embd' };
    const local = { lr: 'lr must be a number (got "abc")', n_layer: 'n_layer must be a whole number (got 1.5)' };
    const gpt = placeErrors(local, gptOnly, ['n_layer', 'n_embd', 'n_head', 'lr']);
    expect(gpt.byField).toEqual({ ...local, n_embd: gptOnly.error });
    expect(gpt.general).toBeNull();
    // an LSTM has no n_layer or n_embd: their errors go, the shared setting's stays
    const lstm = placeErrors(local, null, ['hidden_size', 'num_layers', 'lr']);
    expect(lstm.byField).toEqual({ lr: local.lr });
    // a refusal of the draft as a whole (memory, the text's length) goes above the form
    const whole = placeErrors({}, { error: 'this model needs about 5.0 GB', field: null }, ['lr']);
    expect(whole).toEqual({ byField: {}, general: 'this model needs about 5.0 GB' });
    // a parse error at a field wins over the host's sentence about the same field
    expect(placeErrors({ lr: 'a' }, { error: 'b', field: 'lr' }, ['lr']).byField.lr).toBe('a');
  });
});

describe('New-run form: an encoder–decoder', () => {
  it('a seq2seq draft carries its pairs (a task and its size, or a TSV) and trains for its steps', () => {
    const settings = { settings: { d_model: 32, steps: 50 }, errors: {} };
    const task = runDraftOf(form({ family: 'seq2seq', task: 'dates', taskPairs: '300', budget: 'minutes' }), settings, null);
    expect(task).toMatchObject({ family: 'seq2seq', minutes: null, settings: { d_model: 32, steps: 50 }, pairs: { kind: 'task', task: 'dates', count: 300 } });
    const tsv = runDraftOf(form({ family: 'seq2seq', pairsKind: 'tsv', pairsCorpusId: 'abcd' }), settings, null);
    expect(tsv?.pairs).toEqual({ kind: 'tsv', corpusId: 'abcd' });
    expect(runDraftOf(form(), valid, null)).not.toHaveProperty('pairs');
  });

  it('names a wrong number of pairs, and the probe falls back to the default count', () => {
    const wrong = form({ family: 'seq2seq', taskPairs: '5' });
    expect(runFormErrors(wrong).taskPairs).toContain('from 10 to 1000000 (got "5")');
    expect(runFormErrors(form({ family: 'seq2seq', pairsKind: 'tsv', taskPairs: '5' })).taskPairs).toBeUndefined();
    expect(runFormErrors(form({ taskPairs: '5' })).taskPairs).toBeUndefined();
    expect(runDraftOf(wrong, valid, null)).toBeNull();
    expect(probeDraftOf(wrong, valid, null).pairs).toEqual({ kind: 'task', task: 'reverse', count: 5000 });
  });
});
