import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/main/engine/backend/cpu';
import { wasmHeap } from '../../src/main/engine/backend/cpu/wasm/heap';
import { enableGemmThreads } from '../../src/main/jobs/gemm-threads';

// Products split over helper threads (rows when C is tall, 16-column panels when short) are
// bit-identical to the single-thread product: results never depend on the thread count.

describe('threaded wasm matmul', () => {
  it('gives the same bits with 3 threads as with one, in every form and at odd sizes', () => {
    const backend = new CpuBackend('float32', 'wasm');
    const shapes: [number, number, number, boolean, boolean][] = [
      [768, 128, 384, false, true], [127, 65, 129, false, false], [32, 256, 1024, false, true], [512, 768, 128, true, false], [17, 300, 65, true, true], [3, 5, 7, false, false],
    ];
    const single = shapes.map((s) => product(backend, ...s));
    expect(enableGemmThreads(3)).toBe(3);
    expect(wasmHeap()!.threads).toBe(3);
    const threaded = shapes.map((s) => product(backend, ...s));
    for (let i = 0; i < shapes.length; i++) expect(threaded[i], `shape ${shapes[i].join('×')}`).toEqual(single[i]);
  });
});

function product(backend: CpuBackend, M: number, K: number, N: number, transA: boolean, transB: boolean): number[] {
  const a = backend.fromArray([M * K], Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37)), true);
  const b = backend.fromArray([K * N], Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.11)), true);
  const c = backend.fromArray([M * N], Array.from({ length: M * N }, (_, i) => (i % 7) - 3), true);
  backend.matmulKernel(M, N, K, a.data, 0, transA, b.data, 0, transB, c.data, 0, true);
  const out = Array.from(backend.read(c));
  for (const t of [a, b, c]) backend.dispose(t);
  return out;
}
