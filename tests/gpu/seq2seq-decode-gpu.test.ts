import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, startGpuHarness, type GpuHarness } from './harness';

// The encoder–decoder's decoding (KV cache, beam search, cross-attention per step) on the GPU
// backend: the cached greedy decoder against the PyTorch fixtures, beam search against the CPU's.

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`gpu seq2seq decoding: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let harness: GpuHarness;

describe.skipIf(!hasChromium)('seq2seq decoding on the GPU backend', () => {
  beforeAll(async () => {
    harness = await startGpuHarness(() => {});
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  }, 60_000);

  for (const name of ['seq2seq', 'seq2seq_seed']) {
    it(`${name}: cached greedy (row by row and batched) = the fixture; beam search = the CPU backend's; nothing leaks`, async () => {
      type Result = {
        greedy: { ids: number[]; expected: number[]; maxRel: number; pass: boolean }[];
        batched: { ids: number[]; pass: boolean }[];
        beams: { gpu: number[][]; cpu: number[][]; scoreDiff: number; crossDiff: number }[];
        leaked: number;
      };
      const r = await harness.call<Result>('seq2seqDecode', { name, beamWidth: 3 });
      for (const g of r.greedy) {
        expect(g.ids).toEqual(g.expected);
        expect(g.pass, `max rel ${g.maxRel}`).toBe(true);
      }
      r.batched.forEach((g, b) => {
        expect(g.ids).toEqual(r.greedy[b].expected);
        expect(g.pass).toBe(true);
      });
      for (const b of r.beams) {
        expect(b.gpu).toEqual(b.cpu);
        expect(b.scoreDiff).toBeLessThan(1e-4);
        expect(b.crossDiff).toBeLessThan(1e-3);
      }
      expect(r.leaked).toBe(0);
      console.log(
        `gpu ${name}: cached greedy step logits max rel ${Math.max(...r.greedy.map((g) => g.maxRel)).toExponential(2)}; ` +
          `beam 3 vs CPU: max score diff ${Math.max(...r.beams.map((b) => b.scoreDiff)).toExponential(2)}, cross-attention max rel ${Math.max(...r.beams.map((b) => b.crossDiff)).toExponential(2)}`,
      );
    }, 180_000);
  }
});
