import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { openApi, tinyDraft } from './helpers';

// seq2seq.arithmetic on a run the CLI trained: the numbers of one query for encoder, decoder and
// cross attention, the model's greedy output as the default target, and the one-sentence refusals.

const root = fileURLToPath(new URL('../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'nanolab-arith-'));
let runId = 0;

beforeAll(() => {
  const args = ['train', '--model', 'seq2seq', '--task', 'reverse', '--task-pairs', '200', '--steps', '10', '--json'];
  for (const s of ['d_model=32', 'num_heads=2', 'num_layers=2', 'd_ff=64', 'eval_pairs=5', 'eval_interval=10']) args.push('--set', s);
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NANOLAB_HOME: home },
  });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  runId = JSON.parse(r.stdout.trim().split('\n').at(-1)!).run_id;
}, 150_000);

describe('seq2seq.arithmetic', () => {
  it('gives the steps of one query for encoder, decoder and cross attention, matching the model', async () => {
    const { api } = openApi(home);
    for (const kind of ['encoder', 'decoder', 'cross'] as const) {
      const r = await api.call('seq2seq.arithmetic', { runId, checkpoint: 'latest', source: 'abcd', target: 'dcba', kind, layer: 1, head: 1, query: 2 });
      expect(r).toMatchObject({ kind, layer: 1, head: 1, query: 2, dModel: 32, dK: 16, numHeads: 2, numLayers: 2, targetFromModel: false, target: 'dcba' });
      expect(r.sourceTokens).toEqual(['a', 'b', 'c', 'd']);
      expect(r.targetTokens).toEqual(['<bos>', 'd', 'c', 'b', 'a']);
      expect(r.queryLabels).toEqual(kind === 'encoder' ? r.sourceTokens : r.targetTokens);
      expect(r.keyLabels).toEqual(kind === 'decoder' ? r.targetTokens : r.sourceTokens);
      const Tk = r.keyLabels.length;
      expect(r.x).toHaveLength(32);
      expect(r.q).toHaveLength(16);
      expect(r.keys).toHaveLength(Tk);
      expect(r.values[0]).toHaveLength(16);
      expect(r.output).toHaveLength(16);
      expect(r.weights.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 10);
      expect(r.check.weights).toBeLessThan(1e-5);
      expect(r.check.output).toBeLessThan(1e-4);
      // decoder self-attention: query 2 sees positions 0..2 only
      if (kind === 'decoder') {
        expect(r.mask).toEqual([0, 0, 0, 1, 1]);
        expect(r.weights.slice(3)).toEqual([0, 0]);
        expect(r.masked[3]).toBeLessThan(-1e8);
      } else expect(r.mask).toEqual([0, 0, 0, 0]);
    }
  });

  it("uses the model's greedy output when no target is given", async () => {
    const { api } = openApi(home);
    const r = await api.call('seq2seq.arithmetic', { runId, checkpoint: 'latest', source: 'abc', kind: 'cross' });
    expect(r.targetFromModel).toBe(true);
    expect(r.targetTokens[0]).toBe('<bos>');
    expect(r.targetTokens.slice(1).join('')).toBe(r.target);
    expect(r.layer).toBe(0);
    expect(r.query).toBe(0);
  });

  it('refuses in one sentence: not a seq2seq run, out of range, unknown characters, empty source', async () => {
    const { api } = openApi(home);
    const call = (over: object) => api.call('seq2seq.arithmetic', { runId, checkpoint: 'latest', source: 'abc', target: 'cba', kind: 'encoder', ...over });
    await expect(call({ query: 3 })).rejects.toThrow(/query position 3 is out of range: the source has 3 tokens \(positions 0 … 2\)/);
    await expect(call({ kind: 'cross', query: 4 })).rejects.toThrow(
      /query position 4 is out of range: the decoder input \(<bos> and the target\) has 4 tokens/,
    );
    await expect(call({ layer: 2 })).rejects.toThrow(/layer 2 is out of range: this model has 2/);
    await expect(call({ head: 5 })).rejects.toThrow(/head 5 is out of range: this model has 2/);
    await expect(call({ source: 'ab#c!' })).rejects.toThrow(/the source has characters this model never saw: "#" "!"; remove them/);
    await expect(call({ target: 'c?' })).rejects.toThrow(/the target has characters this model never saw: "\?"/);
    await expect(call({ source: '' })).rejects.toThrow(/the source is empty/);
    await expect(call({ runId: 999 })).rejects.toThrow(/999/);

    const gpt = await api.call('runs.start', tinyDraft({ settings: { ...tinyDraft().settings, steps: 2, eval_interval: 2 } }));
    await expect(call({ runId: gpt.id })).rejects.toThrow(/is a gpt language model, not an encoder–decoder \(seq2seq\): this view needs a source and a target/);
  });
});
