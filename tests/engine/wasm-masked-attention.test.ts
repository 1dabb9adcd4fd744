import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { Rng } from '../../src/engine/rng';

// The encoder–decoder's masked q/k/v attention on the wasm gemm (masked-attention-gemm.ts) against
// the plain loops of encoder-decoder.ts: self- and cross-attention (Tq ≠ Tk), a padding mask
// (B, 1, Tk), a per-query mask (B, Tq, Tk) and none, odd sizes; outputs, probabilities and every
// input gradient, accumulated into what the gradient buffers already hold, and a null gradient.

type MaskKind = 'none' | 'padding' | 'per-query';

function run(backend: CpuBackend, B: number, Tq: number, Tk: number, C: number, nh: number, kind: MaskKind, skipDq: boolean, seed: number) {
  const rng = new Rng(seed);
  const rand = (n: number) => Array.from({ length: n }, () => rng.random() * 2 - 1);
  // each row keeps key 0, so no query has every key masked
  const maskRows = kind === 'per-query' ? Tq : 1;
  const mask = kind === 'none' ? null : Array.from({ length: B * maskRows * Tk }, (_, i) => (i % Tk === 0 ? 0 : rng.random() < 0.3 ? 1 : 0));
  return backend.scoped(() => {
    const q = backend.fromArray([B, Tq, C], rand(B * Tq * C));
    const k = backend.fromArray([B, Tk, C], rand(B * Tk * C));
    const v = backend.fromArray([B, Tk, C], rand(B * Tk * C));
    const m = mask ? backend.fromArray([B, maskRows, Tk], mask) : null;
    const y = backend.alloc([B, Tq, C]);
    const probs = backend.alloc([B, nh, Tq, Tk]);
    backend.maskedAttentionForward(q, k, v, m, nh, y, probs);
    const dy = backend.fromArray([B, Tq, C], rand(B * Tq * C));
    const dq = backend.fromArray([B, Tq, C], rand(B * Tq * C));
    const dk = backend.fromArray([B, Tk, C], rand(B * Tk * C));
    const dv = backend.fromArray([B, Tk, C], rand(B * Tk * C));
    backend.maskedAttentionBackward(dy, q, k, v, probs, nh, skipDq ? null : dq, dk, dv);
    const read = (t: typeof y) => Array.from(backend.read(t));
    return { y: read(y), probs: read(probs), dq: read(dq), dk: read(dk), dv: read(dv), mask };
  });
}

function maxRelative(a: number[], b: number[]): number {
  const scale = Math.max(1e-3, ...b.map(Math.abs));
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]) / scale));
}

describe('wasm masked attention (encoder–decoder)', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  const js = new CpuBackend('float32', 'js');
  const cases: [number, number, number, number, number, MaskKind, boolean][] = [
    [1, 1, 1, 4, 1, 'none', false],
    [2, 3, 5, 8, 2, 'padding', false],
    [2, 4, 4, 8, 2, 'per-query', false],
    [3, 11, 14, 24, 3, 'padding', true],
    [2, 17, 17, 32, 4, 'per-query', false],
    [2, 12, 13, 128, 4, 'none', false],
  ];
  for (const [B, Tq, Tk, C, nh, kind, skipDq] of cases) {
    it(`B ${B}, Tq ${Tq}, Tk ${Tk}, C ${C}, ${nh} heads, ${kind} mask${skipDq ? ', no dq' : ''}: matches the reference`, () => {
      const fast = run(wasm, B, Tq, Tk, C, nh, kind, skipDq, Tq + Tk);
      const ref = run(js, B, Tq, Tk, C, nh, kind, skipDq, Tq + Tk);
      for (const key of ['y', 'probs', 'dq', 'dk', 'dv'] as const) expect(maxRelative(fast[key], ref[key]), key).toBeLessThan(1e-5);
      // masked keys get exactly no weight
      if (fast.mask) {
        const rows = kind === 'per-query' ? Tq : 1;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < nh; h++)
            for (let i = 0; i < Tq; i++)
              for (let j = 0; j < Tk; j++)
                if (fast.mask[(b * rows + (rows === 1 ? 0 : i)) * Tk + j] === 1) expect(fast.probs[((b * nh + h) * Tq + i) * Tk + j]).toBe(0);
      }
    });
  }
});
