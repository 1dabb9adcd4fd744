import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { elementwiseGeneratedPath, generateElementwiseModule } from '../../scripts/build-wasm.mjs';
import { CpuBackend } from '../../src/main/engine/backend/cpu';
import { gelu, geluGrad } from '../../src/main/engine/backend/cpu/math';

// The vectorised GELU (elementwise.wat) against the exact double-precision GELU, through the
// backend at odd sizes (the wasm part plus the JS tail), forward and backward.

function run(backend: CpuBackend, xs: number[], dys: number[]) {
  return backend.scoped(() => {
    const x = backend.fromArray([xs.length], xs);
    const y = backend.alloc([xs.length]);
    backend.activationForward('gelu', x, y);
    const dy = backend.fromArray([xs.length], dys);
    const dx = backend.fromArray([xs.length], xs.map(() => 0.25));
    backend.activationBackward('gelu', x, y, dy, dx);
    return { y: Array.from(backend.read(y)), dx: Array.from(backend.read(dx)) };
  });
}

describe('wasm GELU', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  for (const n of [1, 3, 4, 17, 65, 4001]) {
    it(`n = ${n}: within float32 rounding of the exact GELU and its gradient, from −10 to 10`, () => {
      const xs = Array.from({ length: n }, (_, i) => Math.fround(n === 1 ? 0.7 : -10 + (20 * i) / (n - 1)));
      const dys = xs.map((_, i) => Math.fround(Math.cos(i)));
      const { y, dx } = run(wasm, xs, dys);
      for (let i = 0; i < n; i++) {
        expect(Math.abs(y[i] - gelu(xs[i])), `y at x = ${xs[i]}`).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(xs[i])));
        expect(Math.abs(dx[i] - (0.25 + dys[i] * geluGrad(xs[i]))), `dx at x = ${xs[i]}`).toBeLessThanOrEqual(6e-7);
      }
    });
  }

  it('elementwise-wasm.generated.ts is what npm run build:wasm makes from elementwise.wat', async () => {
    expect(readFileSync(elementwiseGeneratedPath, 'utf8')).toBe(await generateElementwiseModule());
  });
});

describe('wasm LSTM cell', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  const js = new CpuBackend('float32', 'js');
  function step(backend: CpuBackend, T: number, B: number, H: number) {
    const G = 4 * H;
    // pre-activations from −12 to 12: saturated gates, and values near 0 where tanh is x
    const wave = (n: number, f: number) => Array.from({ length: n }, (_, i) => 12 * Math.sin(i * f) ** 3);
    return backend.scoped(() => {
      const gi = backend.fromArray([T, B, G], wave(T * B * G, 0.61));
      const whh = backend.fromArray([G, H], wave(G * H, 0.37).map((v) => v / 40));
      const bhh = backend.fromArray([G], wave(G, 0.9).map((v) => v / 10));
      const h0 = backend.fromArray([B, H], wave(B * H, 1.3).map((v) => v / 12));
      const c0 = backend.fromArray([B, H], wave(B * H, 0.7).map((v) => v / 6));
      const hs = backend.alloc([T, B, H]), cs = backend.alloc([T, B, H]), acts = backend.alloc([T, B, G]);
      backend.lstmForward(gi, whh, bhh, h0, c0, hs, cs, acts);
      return [hs, cs, acts].map((t) => Array.from(backend.read(t)));
    });
  }
  for (const [T, B, H] of [[1, 1, 4], [5, 3, 8], [7, 2, 6], [4, 2, 64]]) {
    it(`T ${T}, B ${B}, H ${H}: states and gates match the JS loop`, () => {
      const fast = step(wasm, T, B, H), ref = step(js, T, B, H);
      for (let k = 0; k < 3; k++) {
        for (let i = 0; i < ref[k].length; i++) expect(Math.abs(fast[k][i] - ref[k][i]), `${['h', 'c', 'gate'][k]}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref[k][i])));
      }
    });
  }
});
