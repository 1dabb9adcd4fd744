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
