import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FieldCheck } from '../../src/engine/parity';
import type { KernelCheck } from '../../src/engine/backend/gpu';
import { CHROMIUM, startGpuHarness, type GpuHarness } from './harness';

// The GPU backend where it runs: gpu.js on WebGL2 in a Web Worker of headless Chromium (SwiftShader
// here, so this checks numerics, not speed). Every kernel against the CPU reference at odd sizes,
// every model family against PyTorch, a few AdamW steps against the CPU, and the fault paths the
// host relies on to fall back to the CPU. Prints one line per kernel and per model family.

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`gpu: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

const SIZES = [1, 3, 17, 65];
const FAMILIES = ['rnn', 'lstm', 'gru', 'gpt', 'gpt_sinusoidal', 'seq2seq', 'seq2seq_seed'];

let harness: GpuHarness;
const browserLog: string[] = [];

describe.skipIf(!hasChromium)('GPU backend (gpu.js, WebGL2 in a Chromium Web Worker)', () => {
  beforeAll(async () => {
    harness = await startGpuHarness((line) => browserLog.push(line));
  }, 120_000);

  afterAll(async () => {
    await harness?.close();
  }, 60_000);

  it('runs on WebGL2 in a dedicated worker and passes its own self-check', async () => {
    const { adapter, bareContextSumSquares } = await harness.call<{ adapter: { renderer: string; maxTextureSize: number }; bareContextSumSquares: number }>(
      'info',
    );
    expect(bareContextSumSquares).toBe(14);
    console.log(`gpu adapter: ${adapter.renderer}, MAX_TEXTURE_SIZE ${adapter.maxTextureSize}`);
    expect(adapter.maxTextureSize).toBeGreaterThanOrEqual(2048);
    const check = await harness.call<{ ok: boolean; kernels: KernelCheck[]; ms: number }>('selfCheck');
    console.log(`gpu self-check: ${check.ok ? 'ok' : 'FAILED'} in ${(check.ms / 1000).toFixed(1)} s`);
    expect(check.kernels.filter((k) => !k.ok)).toEqual([]);
  }, 120_000);

  it(`matches the CPU reference kernel by kernel at sizes ${SIZES.join(', ')}`, async () => {
    const { checks, ms, compiled } = await harness.call<{ checks: KernelCheck[]; ms: number; compiled: number }>('kernels', { sizes: SIZES });
    for (const k of checks) {
      console.log(`gpu kernel  ${k.name.padEnd(24)} max rel error ${k.maxRelError.toExponential(2)}  ${k.ok ? 'ok' : `FAIL${k.error ? `: ${k.error}` : ''}`}`);
    }
    console.log(`gpu kernels: ${checks.length} checked in ${(ms / 1000).toFixed(1)} s, ${compiled} gpu.js kernels compiled`);
    expect(checks.filter((k) => !k.ok)).toEqual([]);
  }, 180_000);

  it('matches the PyTorch fixtures for every model family (logits, loss, every gradient, AdamW) without leaking textures', async () => {
    const failures: string[] = [];
    for (const name of FAMILIES) {
      const { checks, ms, leaked, leakedOnCpu } = await harness.call<{ checks: FieldCheck[]; ms: number; leaked: number; leakedOnCpu: number }>('fixture', {
        name,
      });
      const worst = checks.reduce((a, c) => (c.maxRel > a.maxRel ? c : a));
      const failed = checks.filter((c) => !c.pass);
      console.log(
        `gpu family  ${name.padEnd(15)} max rel error ${worst.maxRel.toExponential(2)} (${worst.field})  ${checks.length - failed.length}/${checks.length} checks pass  ${(ms / 1000).toFixed(1)} s`,
      );
      for (const c of failed) failures.push(`${name} ${c.field}: max abs ${c.maxAbs}, max rel ${c.maxRel}${c.note ? ` (${c.note})` : ''}`);
      if (leaked !== 0 || leakedOnCpu !== 0) failures.push(`${name}: ${leaked} tensors left live on the GPU, ${leakedOnCpu} on the CPU`);
    }
    expect(failures).toEqual([]);
  }, 180_000);

  it('trains like the CPU backend: three AdamW steps of the GPT fixture, clipped, weight decay on', async () => {
    const { errors, skipped, total } = await harness.call<{ errors: number[]; skipped: number; total: number }>('train', { name: 'gpt', steps: 3 });
    console.log(
      `gpu train   gpt AdamW steps 1-3: max rel error of the parameters ${errors.map((e) => e.toExponential(2)).join(', ')} (${skipped} of ${total} with a zero-noise gradient left out)`,
    );
    expect(skipped).toBeLessThan(total / 50);
    for (const e of errors) expect(e).toBeLessThan(1e-4);
  }, 120_000);

  it('keeps a tensor of a million floats in one texture within MAX_TEXTURE_SIZE', async () => {
    const r = await harness.call<{ n: number; bad: number; sumSquares: number; expected: number }>('large', { n: 1_000_003 });
    expect(r.bad).toBe(0);
    expect(Math.abs(r.sumSquares - r.expected) / r.expected).toBeLessThan(1e-5);
  }, 120_000);

  it('fails its self-check when a kernel is corrupted, and throws GpuContextLostError once the context is lost', async () => {
    const r = await harness.call<{ selfCheckOk: boolean; failing: string[]; before: number[]; thrown: string; lost: boolean }>('faults', {
      failKernel: 'linearForward',
    });
    expect(r.selfCheckOk).toBe(false);
    expect(r.failing).toEqual(['linearForward']);
    expect(r.before).toEqual([2, 4, 6, 8]);
    expect(r.thrown).toMatch(/^GpuContextLostError: the WebGL context was lost/);
    expect(r.lost).toBe(true);
  }, 120_000);
});
