import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeSourceText } from '../../src/engine/data/pairs';
import { beamSearch, greedyDecodeCached } from '../../src/engine/models/seq2seq-decode';
import { loadSeq2SeqModel } from '../../src/engine/seq2seq-train';
import { chosenCheckpoint } from '../../src/main/api/run-model';
import { teacherForced } from '../../src/main/api/seq2seq-translate';
import { readCheckpointFolder } from '../../src/main/store/checkpoint-files';
import type { Response } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// seq2seq.translate: the Translate view's greedy and beam outputs are the engine's (and the CLI's),
// each token's probability is consistent with the log-probability, and the attention maps of the
// teacher-forced pass are what the decoder saw step by step, masked where the masks say.

const root = fileURLToPath(new URL('../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'nanolab-translate-'));

function nanolab(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, NANOLAB_HOME: home },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let runId = 0;

beforeAll(() => {
  const settings = ['d_model=32', 'num_heads=2', 'num_layers=2', 'd_ff=64', 'eval_pairs=20', 'eval_interval=40', 'max_seq_length=24'];
  const r = nanolab(
    'train',
    '--model',
    'seq2seq',
    '--task',
    'reverse',
    '--task-pairs',
    '400',
    '--steps',
    '80',
    ...settings.flatMap((s) => ['--set', s]),
    '--json',
  );
  expect(r.code, r.out + r.err).toBe(0);
  runId = JSON.parse(r.out.trim().split('\n').at(-1)!).run_id;
}, 200_000);

type Translated = Response<'seq2seq.translate'>;

function maxAbs(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

describe('seq2seq.translate', () => {
  it('gives the engine’s and the CLI’s greedy output; beam 1 with α 0 is greedy', async () => {
    const { api } = openApi(home); // closed after each test (helpers.ts)
    const t = await api.call('seq2seq.translate', { runId, checkpoint: 'best', source: 'abcde', beamWidth: 3, lengthPenalty: 0.6 });
    expect(t.sourceTokens).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.sourcePadding).toEqual([false, false, false, false, false]);
    expect(t.notice).toBeNull();
    const cli = JSON.parse(nanolab('translate', String(runId), 'abcde', '--json').out.trim());
    expect(t.greedy.text).toBe(cli.output);
    expect(t.greedy.tokens.map((x) => x.id)).toEqual(cli.tokens.map((x: { id: number }) => x.id));
    expect(
      maxAbs(
        t.greedy.tokens.map((x) => x.prob),
        cli.tokens.map((x: { prob: number }) => x.prob),
      ),
    ).toBeLessThan(1e-12);
    expect(t.greedy.logProb).toBeCloseTo(cli.log_prob, 9);
    const beamCli = JSON.parse(nanolab('translate', String(runId), 'abcde', '--beam', '3', '--json').out.trim());
    expect(t.beam.hypotheses.map((h) => h.text)).toEqual(beamCli.n_best.map((h: { output: string }) => h.output));
    expect(t.beam.hypotheses.map((h) => h.score)).toEqual(beamCli.n_best.map((h: { score: number }) => h.score));
    // only the best hypothesis carries its maps
    expect(t.beam.hypotheses[0].attention).not.toBeNull();
    for (const h of t.beam.hypotheses.slice(1)) expect(h.attention).toBeNull();

    const one = await api.call('seq2seq.translate', { runId, checkpoint: 'best', source: 'abcde', beamWidth: 1, lengthPenalty: 0 });
    expect(one.beam.hypotheses).toHaveLength(1);
    expect(one.beam.hypotheses[0].tokens).toEqual(one.greedy.tokens);
    expect(one.beam.hypotheses[0].attention).toEqual(one.greedy.attention);
  });

  it('probabilities are in (0, 1] and sum (as logs) to the output’s log-probability', async () => {
    const { api } = openApi(home); // closed after each test (helpers.ts)
    const t = await api.call('seq2seq.translate', { runId, checkpoint: 'latest', source: 'hello', beamWidth: 4, lengthPenalty: 0.6 });
    for (const out of [t.greedy, ...t.beam.hypotheses]) {
      expect(out.tokens.length).toBeGreaterThan(0);
      for (const tok of out.tokens) {
        expect(tok.prob).toBeGreaterThan(0);
        expect(tok.prob).toBeLessThanOrEqual(1);
        expect(Math.log(tok.prob)).toBeCloseTo(tok.logProb, 9);
      }
      expect(out.tokens.reduce((s, x) => s + x.logProb, 0)).toBeCloseTo(out.logProb, 9);
      expect(out.finished).toBe(out.tokens.at(-1)!.token === '<eos>');
    }
    // max length: at most that many tokens, and not finished unless the last is <eos>
    const short = await api.call('seq2seq.translate', { runId, checkpoint: 'latest', source: 'hello', beamWidth: 2, maxLength: 2 });
    for (const out of [short.greedy, ...short.beam.hypotheses]) expect(out.tokens.length).toBeLessThanOrEqual(2);
    expect(short.maxNew).toBe(2);
    const a = 0.6;
    for (const h of t.beam.hypotheses) expect(h.score).toBeCloseTo(h.logProb / Math.pow((5 + h.tokens.length) / 6, a), 9);
  });

  it('the maps equal what the decoder saw step by step, with the masks’ zeros', async () => {
    const { api } = openApi(home); // closed after each test (helpers.ts)
    const t: Translated = await api.call('seq2seq.translate', { runId, checkpoint: 'best', source: 'abcd', beamWidth: 2, lengthPenalty: 0.6, padTo: 7 });
    expect(t.sourceTokens).toEqual(['a', 'b', 'c', 'd', '<pad>', '<pad>', '<pad>']);
    expect(t.sourcePadding).toEqual([false, false, false, false, true, true, true]);
    const ck = chosenCheckpoint(api.store, runId, 'best')!;
    const { model, source } = loadSeq2SeqModel(readCheckpointFolder(ck.path));
    try {
      const src = [...encodeSourceText('abcd', source, 24), 0, 0, 0];
      const steps = greedyDecodeCached(model, src, { maxNew: t.maxNew, attention: true });
      expect(t.greedy.tokens.map((x) => x.id)).toEqual(steps.tokens.map((x) => x.id));
      const { cross, decoderSelf, encoderSelf } = t.greedy.attention!;
      const L = model.config.num_layers;
      const H = model.config.num_heads;
      const T = steps.tokens.length;
      expect([cross.length, cross[0].length, cross[0][0].length, cross[0][0][0].length]).toEqual([L, H, T, 7]);
      expect([decoderSelf.length, decoderSelf[0].length, decoderSelf[0][0].length, decoderSelf[0][0][0].length]).toEqual([L, H, T, T]);
      expect([encoderSelf.length, encoderSelf[0].length, encoderSelf[0][0].length, encoderSelf[0][0][0].length]).toEqual([L, H, 7, 7]);
      // the teacher-forced cross-attention row t is the cached decoder's step t
      let worst = 0;
      steps.tokens.forEach((tok, step) => {
        for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) worst = Math.max(worst, maxAbs(cross[l][h][step], tok.cross![l][h]));
      });
      expect(worst).toBeLessThan(1e-6); // 1.2e-7 to 2.1e-7 measured
      // and its probabilities are the decoder's
      const forced = teacherForced(
        model,
        src,
        steps.tokens.map((x) => x.id),
      );
      expect(
        maxAbs(
          forced.probs,
          steps.tokens.map((x) => x.prob),
        ),
      ).toBeLessThan(1e-5);
      // the best beam's maps are its own teacher-forced pass
      const best = beamSearch(model, src, { beamWidth: 2, lengthPenalty: 0.6, maxNew: t.maxNew, attention: true })[0];
      best.tokens.forEach((tok, step) => {
        expect(maxAbs(t.beam.hypotheses[0].attention!.cross[0][0][step], tok.cross![0][0])).toBeLessThan(1e-5);
      });
    } finally {
      model.dispose();
    }
    const sum = (row: number[], keep: (j: number) => boolean) => row.reduce((s, x, j) => s + (keep(j) ? x : 0), 0);
    for (const out of [t.greedy, t.beam.hypotheses[0]]) {
      const { cross, decoderSelf, encoderSelf } = out.attention!;
      for (const layer of cross)
        for (const head of layer)
          for (const row of head) {
            expect(sum(row, (j) => j < 4)).toBeCloseTo(1, 5); // rows sum to 1 over the real source columns
            expect(sum(row, (j) => j >= 4)).toBe(0); // padding columns get nothing
          }
      for (const layer of decoderSelf)
        for (const head of layer)
          head.forEach((row, i) => {
            expect(sum(row, (j) => j > i)).toBe(0); // the look-ahead mask: the upper triangle is 0
            expect(sum(row, () => true)).toBeCloseTo(1, 5);
          });
      for (const layer of encoderSelf)
        for (const head of layer)
          head.forEach((row, i) => {
            if (i < 4) expect(sum(row, (j) => j >= 4)).toBe(0);
            expect(sum(row, () => true)).toBeCloseTo(1, 5);
          });
    }
  });

  it('padding does not change the output: the masks hide it', async () => {
    const { api } = openApi(home); // closed after each test (helpers.ts)
    const plain = await api.call('seq2seq.translate', { runId, checkpoint: 'best', source: 'abcd', beamWidth: 2 });
    const padded = await api.call('seq2seq.translate', { runId, checkpoint: 'best', source: 'abcd', beamWidth: 2, padTo: 9 });
    expect(padded.greedy.tokens.map((x) => x.id)).toEqual(plain.greedy.tokens.map((x) => x.id));
    expect(
      maxAbs(
        padded.greedy.tokens.map((x) => x.prob),
        plain.greedy.tokens.map((x) => x.prob),
      ),
    ).toBeLessThan(1e-5);
  });

  it('says what is wrong in one sentence', async () => {
    const { api } = openApi(home); // closed after each test (helpers.ts)
    const call = (over: Partial<Parameters<typeof api.call<'seq2seq.translate'>>[1]>) =>
      api.call('seq2seq.translate', { runId, checkpoint: 'best', source: 'abc', beamWidth: 2, lengthPenalty: 0.6, ...over });
    await expect(call({ source: '' })).rejects.toThrow(/the source is empty: type something to translate/);
    await expect(call({ source: 'a'.repeat(30) })).rejects.toThrow(/the source is 30 tokens, more than max_seq_length \(24\).*shorten it/);
    await expect(call({ padTo: 40 })).rejects.toThrow(/padding the source to 40 tokens is more than max_seq_length \(24\)/);
    await expect(call({ runId: 999 })).rejects.toThrow(/999/);
    // characters outside the vocabulary: read as <unk> as the engine does, and named
    const unk = await call({ source: 'ab€c' });
    expect(unk.unknown).toEqual(['€']);
    expect(unk.sourceTokens).toEqual(['a', 'b', '<unk>', 'c']);
    expect(unk.notice).toMatch(/"€" is not in the source vocabulary: the model reads it as <unk>/);
    // a language model: a sentence that points to the Sample view
    const { id } = await api.call('runs.start', tinyDraft({ settings: { ...tinyDraft().settings, steps: 2, eval_interval: 2 } }));
    while ((await api.call('runs.get', { id })).live) await new Promise((r) => setTimeout(r, 50));
    await expect(call({ runId: id })).rejects.toThrow(new RegExp(`run ${id} is a gpt language model, not an encoder–decoder \\(seq2seq\\).*Sample view`));
  }, 60_000);
});
