import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { wasmHeap } from '../../src/engine/backend/cpu/wasm/heap';
import { enableGemmThreads } from '../../src/main/jobs/gemm-threads';

// Work split over helper threads is bit-identical to the same work on one thread: products (rows
// when C is tall, 16-column panels when short), GELU, AdamW and adds (ranges), layer norm (rows), LSTM layers (batch rows)
// and attention ((batch, head) pairs). Results never depend on the thread count. Every case is
// computed once on one thread, then again after the helpers start.

const wave = (n: number, f: number, s = 1) => Array.from({ length: n }, (_, i) => s * Math.sin(i * f + 0.3) * (1 + (i % 3)));

function product(backend: CpuBackend, M: number, K: number, N: number, transA: boolean, transB: boolean): number[][] {
  const a = backend.fromArray(
    [M * K],
    Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37)),
    true,
  );
  const b = backend.fromArray(
    [K * N],
    Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.11)),
    true,
  );
  const c = backend.fromArray(
    [M * N],
    Array.from({ length: M * N }, (_, i) => (i % 7) - 3),
    true,
  );
  backend.matmulKernel(M, N, K, a.data, 0, transA, b.data, 0, transB, c.data, 0, true);
  const out = Array.from(backend.read(c));
  for (const t of [a, b, c]) backend.dispose(t);
  return [out];
}

function gelu(backend: CpuBackend, n: number): number[][] {
  return backend.scoped(() => {
    const x = backend.fromArray([n], wave(n, 0.37, 2));
    const y = backend.alloc([n]);
    backend.activationForward('gelu', x, y);
    const dy = backend.fromArray([n], wave(n, 0.11));
    const dx = backend.fromArray([n], wave(n, 0.05, 0.1)); // accumulates into what is there
    backend.activationBackward('gelu', x, y, dy, dx);
    return [y, dx].map((t) => Array.from(backend.read(t)));
  });
}

function adam(backend: CpuBackend, n: number): number[][] {
  return backend.scoped(() => {
    const [p, g, m] = [0.37, 0.11, 0.05].map((f) => backend.fromArray([n], wave(n, f, 0.1)));
    const v = backend.fromArray(
      [n],
      wave(n, 0.23, 0.1).map((x) => x * x),
    );
    backend.adamStep(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3, decoupled: true });
    return [p, m, v].map((t) => Array.from(backend.read(t)));
  });
}

function addAndNorm(backend: CpuBackend, R: number, C: number): number[][] {
  return backend.scoped(() => {
    const a = backend.fromArray([R, C], wave(R * C, 0.37, 2)),
      b = backend.fromArray([R, C], wave(R * C, 0.13));
    const x = backend.alloc([R, C]);
    backend.addForward(a, b, x);
    const gain = backend.fromArray([C], wave(C, 0.5)),
      bias = backend.fromArray([C], wave(C, 0.8, 0.1));
    const y = backend.alloc([R, C]),
      mean = backend.alloc([R]),
      rstd = backend.alloc([R]);
    backend.layerNormForward(x, gain, bias, 1e-5, y, mean, rstd);
    return [x, y, mean, rstd].map((t) => Array.from(backend.read(t)));
  });
}

function lstm(backend: CpuBackend, T: number, B: number, H: number): number[][] {
  const G = 4 * H;
  return backend.scoped(() => {
    const gi = backend.fromArray([T, B, G], wave(T * B * G, 0.61, 2));
    const whh = backend.fromArray([G, H], wave(G * H, 0.37, 1 / 8));
    const bhh = backend.fromArray([G], wave(G, 0.9, 0.1));
    const h0 = backend.fromArray([B, H], wave(B * H, 1.3, 0.3));
    const c0 = backend.fromArray([B, H], wave(B * H, 0.7, 0.5));
    const hs = backend.alloc([T, B, H]),
      cs = backend.alloc([T, B, H]),
      acts = backend.alloc([T, B, G]);
    backend.lstmForward(gi, whh, bhh, h0, c0, hs, cs, acts);
    const dhs = backend.fromArray([T, B, H], wave(T * B * H, 0.43, 0.2));
    const dgi = backend.alloc([T, B, G]),
      dwhh = backend.alloc([G, H]),
      dbhh = backend.alloc([G]);
    backend.lstmBackward(dhs, hs, cs, acts, h0, c0, whh, dgi, dwhh, dbhh);
    return [hs, cs, acts, dgi, dwhh, dbhh].map((t) => Array.from(backend.read(t)));
  });
}

function attention(backend: CpuBackend, B: number, T: number, C: number, nh: number, withMask: boolean): number[][] {
  return backend.scoped(() => {
    const qkv = backend.fromArray([B, T, 3 * C], wave(B * T * 3 * C, 0.71));
    const y = backend.alloc([B, T, C]);
    const probs = backend.alloc([B, nh, T, T]);
    const m = withMask
      ? backend.fromArray(
          [B, nh, T, T],
          wave(B * nh * T * T, 0.9).map((x) => (x > -0.5 ? 1.25 : 0)),
        )
      : null;
    backend.attentionForward(qkv, nh, y, probs, m);
    const dy = backend.fromArray([B, T, C], wave(B * T * C, 0.19));
    const dqkv = backend.fromArray([B, T, 3 * C], wave(B * T * 3 * C, 0.07, 0.1));
    backend.attentionBackward(dy, qkv, probs, m, nh, dqkv);
    return [y, probs, dqkv].map((t) => Array.from(backend.read(t)));
  });
}

describe('threaded wasm kernels', () => {
  it('give the same bits with 3 threads as with one, at odd sizes', () => {
    const backend = new CpuBackend('float32', 'wasm');
    // [name, run]: sizes past the split thresholds (2^18 MACs, 2^14 elements) and odd ones below them
    const cases: [string, () => number[][]][] = [
      ...(
        [
          [768, 128, 384, false, true],
          [127, 65, 129, false, false],
          [32, 256, 1024, false, true],
          [512, 768, 128, true, false],
          [17, 300, 65, true, true],
          [3, 5, 7, false, false],
        ] as const
      ).map(([M, K, N, tA, tB]): [string, () => number[][]] => [
        `product ${M}×${K}×${N}${tA ? ' Aᵀ' : ''}${tB ? ' Bᵀ' : ''}`,
        () => product(backend, M, K, N, tA, tB),
      ]),
      ...[1, 3, 17, 65, 127, 3 * 16384 + 7].map((n): [string, () => number[][]] => [`GELU n ${n}`, () => gelu(backend, n)]),
      ...[1, 3, 17, 65, 127, 2 * 16384 + 5].map((n): [string, () => number[][]] => [`AdamW n ${n}`, () => adam(backend, n)]),
      ...(
        [
          [1, 4],
          [3, 8],
          [17, 12],
          [65, 260],
          [127, 132],
        ] as const
      ).map(([R, C]): [string, () => number[][]] => [`add and layer norm ${R}×${C}`, () => addAndNorm(backend, R, C)]),
      ...[1, 3, 17, 65, 127, 16384 + 3].map((n): [string, () => number[][]] => [`add n ${n}`, () => addAndNorm(backend, 1, n)]),
      ...(
        [
          [1, 1, 4],
          [3, 3, 8],
          [5, 17, 12],
          [2, 65, 4],
          [3, 32, 64],
        ] as const
      ).map(([T, B, H]): [string, () => number[][]] => [`LSTM T ${T} B ${B} H ${H}`, () => lstm(backend, T, B, H)]),
      ...(
        [
          [1, 1, 4, 1, false],
          [3, 65, 34, 2, true],
          [65, 17, 17, 1, false],
          [17, 127, 6, 3, true],
        ] as const
      ).map(([B, T, C, nh, mask]): [string, () => number[][]] => [
        `attention B ${B} T ${T} C ${C} ${nh} heads${mask ? ' dropout' : ''}`,
        () => attention(backend, B, T, C, nh, mask),
      ]),
    ];
    const single = cases.map(([, run]) => run());
    expect(enableGemmThreads(3)).toBe(3);
    expect(wasmHeap()!.threads).toBe(3);
    const threaded = cases.map(([, run]) => run());
    cases.forEach(([name], i) => {
      single[i].forEach((out, k) => {
        expect(out.every(Number.isFinite), `${name}: output ${k} is finite`).toBe(true);
        expect(threaded[i][k], `${name}: output ${k}`).toEqual(out);
      });
    });
  });
});
