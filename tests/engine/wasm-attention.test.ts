import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { Rng } from '../../src/engine/rng';

// The wasm attention (four gemms per head on strided qkv views) against the plain loops, with and
// without a dropout mask, at odd sizes; forward outputs, probabilities and every input gradient.

function run(backend: CpuBackend, B: number, T: number, C: number, nh: number, withMask: boolean, seed: number) {
  const rng = new Rng(seed);
  const rand = (n: number) => Array.from({ length: n }, () => rng.random() * 2 - 1);
  const mask = withMask ? Array.from({ length: B * nh * T * T }, () => (rng.random() < 0.8 ? 1.25 : 0)) : null;
  return backend.scoped(() => {
    const qkv = backend.fromArray([B, T, 3 * C], rand(B * T * 3 * C));
    const y = backend.alloc([B, T, C]);
    const probs = backend.alloc([B, nh, T, T]);
    const m = mask ? backend.fromArray([B, nh, T, T], mask) : null;
    backend.attentionForward(qkv, nh, y, probs, m);
    const dy = backend.fromArray([B, T, C], rand(B * T * C));
    const dqkv = backend.fromArray([B, T, 3 * C], rand(B * T * 3 * C)); // accumulates into what is there
    backend.attentionBackward(dy, qkv, probs, m, nh, dqkv);
    return { y: Array.from(backend.read(y)), probs: Array.from(backend.read(probs)), dqkv: Array.from(backend.read(dqkv)) };
  });
}

function maxRelative(a: number[], b: number[]): number {
  const scale = Math.max(1e-3, ...b.map(Math.abs));
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]) / scale));
}

describe('wasm attention', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  const js = new CpuBackend('float32', 'js');
  for (const [B, T, C, nh] of [
    [1, 1, 4, 1],
    [2, 3, 8, 2],
    [3, 17, 24, 3],
    [2, 65, 32, 4],
  ]) {
    for (const withMask of [false, true]) {
      it(`B ${B}, T ${T}, C ${C}, ${nh} heads${withMask ? ', dropout mask' : ''}: matches the reference`, () => {
        const fast = run(wasm, B, T, C, nh, withMask, T);
        const ref = run(js, B, T, C, nh, withMask, T);
        expect(maxRelative(fast.y, ref.y)).toBeLessThan(1e-5);
        expect(maxRelative(fast.probs, ref.probs)).toBeLessThan(1e-5);
        expect(maxRelative(fast.dqkv, ref.dqkv)).toBeLessThan(1e-5);
        // causal: nothing above the diagonal
        for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) expect(fast.probs[i * T + j]).toBe(0);
      });
    }
  }
});
