import { describe, expect, it } from 'vitest';
import { SEQ2SEQ_SETTING_KEYS } from '../../src/engine/seq2seq-train';
import { SEQ2SEQ_PRESETS } from '../../src/engine/presets';
import type { RunDraft } from '../../src/shared/contract';
import { SEQ2SEQ_SETTINGS } from '../../src/shared/seq2seq-settings';
import { openApi } from './helpers';

// A seq2seq run from the app's API: runs.preview and runs.start with a bundled task or a TSV of
// pairs, the refusals in a sentence, the presets app.info lists, and a run that trains and logs
// exact match, CER and BLEU.

type Api = ReturnType<typeof openApi>['api'];

const small = { d_model: 16, num_heads: 2, num_layers: 1, d_ff: 32, dropout: 0, batch_size: 8, steps: 8, eval_interval: 4, eval_iters: 16, eval_pairs: 10 };

const seq2seqDraft = (over: Partial<RunDraft> = {}): RunDraft => ({
  family: 'seq2seq',
  settings: small,
  corpusId: 'tinyshakespeare',
  lowercase: false,
  tokenizer: { kind: 'char' },
  seed: 3,
  minutes: null,
  preset: null,
  pairs: { kind: 'task', task: 'reverse', count: 200 },
  ...over,
});

async function settle(api: Api, id: number) {
  let run = await api.call('runs.get', { id });
  for (let i = 0; i < 2400 && (run.live || run.status === 'running' || run.status === 'queued'); i++) {
    await new Promise((r) => setTimeout(r, 25));
    run = await api.call('runs.get', { id });
  }
  return run;
}

const TSV = 'abc\tcba\nhello\tolleh\nxy\tyx\n' + Array.from({ length: 40 }, (_, i) => `w${i}\t${i}w`).join('\n') + '\n';

describe('a seq2seq run from the API', () => {
  it('the form’s settings are the engine’s, and app.info lists the tasks, the family and the seq2seq presets', async () => {
    for (const s of SEQ2SEQ_SETTINGS) expect(SEQ2SEQ_SETTING_KEYS, s.key).toContain(s.key);
    const { api } = openApi();
    const info = await api.call('app.info', {});
    expect(info.families).toContain('seq2seq');
    expect(info.pairTasks?.map((t) => t.id)).toEqual(['reverse', 'sort', 'number-to-words', 'words-to-number', 'dates', 'pig-latin']);
    for (const t of info.pairTasks ?? []) expect(t.teaches.length).toBeGreaterThan(20);
    for (const id of Object.keys(SEQ2SEQ_PRESETS)) {
      const p = info.presets.find((x) => x.id === id);
      expect(p?.runs[0].family, id).toBe('seq2seq');
      expect(p?.runs[0].pairs?.kind).toBe('task');
      expect(p?.runs[0].paramCount).toBeGreaterThan(1000);
    }
  });

  it('previews a task draft: parameters, the split, both vocabularies and the lr curve', async () => {
    const { api } = openApi();
    const preview = await api.call('runs.preview', seq2seqDraft({ settings: { ...small, warmup_iters: 2, min_lr: 1e-4, lr: 1e-3 } }));
    if (!preview.ok) throw new Error(preview.error);
    expect(preview.pairs).toMatchObject({ train: 180, val: 20, sourceVocab: 30, targetVocab: 30 });
    expect(preview.paramCount).toBeGreaterThan(1000);
    expect(preview.horizonSteps).toBe(8);
    expect(preview.lrCurve.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // a linear warm-up to lr, then a cosine decay towards min_lr
    const lrs = preview.lrCurve.map((p) => p.lr);
    expect(lrs[0]).toBeLessThan(lrs[1]);
    expect(Math.max(...lrs)).toBeLessThanOrEqual(1e-3);
    expect(lrs[7]).toBeLessThan(lrs[3]);
    expect(lrs[7]).toBeGreaterThanOrEqual(1e-4);
    expect(preview.resolved).toMatchObject({ d_model: 16, norm_position: 'post', layer_norm: 'torch', warmup_iters: 2, min_lr: 1e-4, steps: 8 });
  });

  it('refuses in a sentence: a bad setting at its field, a bad TSV with its line, a time budget, the GPU, no pairs', async () => {
    const { api } = openApi();
    const bad = await api.call('runs.preview', seq2seqDraft({ settings: { ...small, num_heads: 3 } }));
    expect(bad).toMatchObject({ ok: false, field: 'd_model' });
    if (!bad.ok) expect(bad.error).toMatch(/d_model \(16\) must be divisible by num_heads \(3\)/);

    const ragged = await api.call('corpus.upload', { name: 'ragged.tsv', text: 'abc\tcba\nno tab here\nxy\tyx\n' });
    const r = await api.call('runs.preview', seq2seqDraft({ pairs: { kind: 'tsv', corpusId: ragged.id } }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/line 2 of ragged\.tsv has no tab/);
    await expect(api.call('runs.start', seq2seqDraft({ pairs: { kind: 'tsv', corpusId: ragged.id } }))).rejects.toThrow(/line 2/);

    const minutes = await api.call('runs.preview', seq2seqDraft({ minutes: 2 }));
    if (!minutes.ok) expect(minutes.error).toMatch(/number of steps/);
    else throw new Error('a time budget was accepted');
    await expect(api.call('runs.start', seq2seqDraft({ device: 'gpu' }))).rejects.toThrow(/CPU/);
    await expect(api.call('runs.start', seq2seqDraft({ pairs: undefined }))).rejects.toThrow(/bundled task or a TSV/);
    await expect(api.call('runs.start', seq2seqDraft({ pairs: { kind: 'task', task: 'nope', count: 100 } }))).rejects.toThrow(/no task "nope"/);
  });

  it('starts from a task: trains, stores the pairs in the lab, logs exact match, CER and BLEU, and exports', async () => {
    const { api } = openApi();
    const { id } = await api.call('runs.start', seq2seqDraft({ settings: { ...small, norm_position: 'pre' } }));
    const run = await settle(api, id);
    expect(run.status, run.statusReason ?? '').toBe('finished');
    expect(run.family).toBe('seq2seq');
    expect(run.name).toMatch(/^seq2seq reverse pre-LN \d+k$/);
    expect(run.steps).toBe(8);
    const series = await api.call('runs.series', { ids: [id], names: ['exact_match', 'cer', 'bleu', 'val_loss'] });
    for (const s of series) {
      expect(
        s.points.map((p) => p.step),
        s.name,
      ).toEqual([4, 8]);
      for (const p of s.points) expect(Number.isFinite(p.value), s.name).toBe(true);
    }
    const em = series.find((s) => s.name === 'exact_match')!.points;
    for (const p of em) expect(p.value >= 0 && p.value <= 1).toBe(true);
    expect((await api.call('corpus.list', {})).some((c) => c.name === 'reverse.tsv')).toBe(true);
    // the export the app offers (a download in the browser) holds the lesson's files
    const archive = api.exportArchive(id, 'best');
    const text = new TextDecoder('latin1').decode(archive.bytes);
    for (const f of ['model.safetensors', 'config.json']) expect(text).toContain(f);
  });

  it('starts from an uploaded TSV, and a seq2seq preset starts from runs.startPreset', async () => {
    const { api } = openApi();
    const tsv = await api.call('corpus.upload', { name: 'mine.tsv', text: TSV });
    const preview = await api.call('runs.preview', seq2seqDraft({ pairs: { kind: 'tsv', corpusId: tsv.id } }));
    if (!preview.ok) throw new Error(preview.error);
    expect(preview.pairs).toMatchObject({ name: 'mine.tsv', train: 39, val: 4 });
    const { id } = await api.call('runs.start', seq2seqDraft({ name: 'mine', pairs: { kind: 'tsv', corpusId: tsv.id } }));
    const run = await settle(api, id);
    expect(run.status, run.statusReason ?? '').toBe('finished');
    expect((await api.call('runs.series', { ids: [id], names: ['exact_match'] }))[0].points.length).toBe(2);

    const presetId = Object.keys(SEQ2SEQ_PRESETS)[0];
    const { ids } = await api.call('runs.startPreset', { preset: presetId, steps: 2 });
    expect(ids).toHaveLength(1);
    const p = await api.call('runs.get', { id: ids[0] });
    expect(p.family).toBe('seq2seq');
    expect(p.name).toBe(SEQ2SEQ_PRESETS[presetId].name);
    expect(p.totalSteps).toBe(2);
    await api.call('runs.control', { id: ids[0], action: 'stop' }).catch(() => undefined);
    await settle(api, ids[0]);
  });
});
