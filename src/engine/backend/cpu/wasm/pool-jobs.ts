import type { WasmGemm } from './gemm-wasm';
import type { WasmElementwise } from './elementwise-wasm';
import { attentionBackwardGemm, attentionForwardGemm } from './attention-gemm';
import { maskedAttentionBackwardGemm, maskedAttentionForwardGemm } from './masked-attention-gemm';

// The jobs gemm-pool.ts splits over threads. Each runs on any thread's kernels (the same module
// instantiated on the shared memory) and computes part `part` of `parts`: a disjoint piece of
// its output, each element the same chain of operations whatever the split. Arguments arrive as
// float64s (pointers are byte offsets, exact in a double).

/** One thread's kernels on the shared heap, with its own packing scratch. */
export interface PoolKernels {
  gemm: WasmGemm;
  elementwise: WasmElementwise;
  memory: WebAssembly.Memory;
  scratchPtr: number;
}

export type PoolJob = (k: PoolKernels, a: Float64Array, part: number, parts: number) => void;

/** [from, to) of `units` for part p of parts, as even as whole units allow. */
function range(units: number, part: number, parts: number): [number, number] {
  return [Math.round((units * part) / parts), Math.round((units * (part + 1)) / parts)];
}

/** Whether a product is split by rows (else by 16-column panels) over `parts` threads. */
export function gemmByRows(M: number, parts: number): boolean {
  return M >= 16 * parts;
}

// C (+)= op(A)·op(B): rows of C when it is tall, whole 16-column panels when it is short.
// args: transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate
const gemmBlock: PoolJob = (k, a, part, parts) => {
  const transA = a[0] === 1,
    transB = a[1] === 1,
    M = a[2],
    N = a[3],
    K = a[4];
  const aPtr = a[5],
    lda = a[6],
    bPtr = a[7],
    ldb = a[8],
    cPtr = a[9],
    ldc = a[10],
    acc = a[11] === 1;
  if (gemmByRows(M, parts)) {
    const [u0, u1] = range(M, part, parts);
    k.gemm.gemm(transA, transB, u1 - u0, N, K, aPtr + 4 * (transA ? u0 : u0 * lda), lda, bPtr, ldb, cPtr + 4 * u0 * ldc, ldc, acc, k.scratchPtr);
    return;
  }
  const [u0, u1] = range(Math.ceil(N / 16), part, parts);
  const j0 = 16 * u0,
    j1 = Math.min(N, 16 * u1);
  k.gemm.gemm(transA, transB, M, j1 - j0, K, aPtr, lda, bPtr + 4 * (transB ? j0 * ldb : j0), ldb, cPtr + 4 * j0, ldc, acc, k.scratchPtr);
};

// y = GELU(x) over n floats (n % 4 === 0), in ranges of whole 4-lane groups. args: x, y, n
const geluForward: PoolJob = (k, a, part, parts) => {
  const [u0, u1] = range(a[2] / 4, part, parts);
  k.elementwise.geluForward(a[0] + 16 * u0, a[1] + 16 * u0, 4 * (u1 - u0));
};

// dx += dy·GELU'(x). args: x, y, dy, dx, n
const geluBackward: PoolJob = (k, a, part, parts) => {
  const [u0, u1] = range(a[4] / 4, part, parts);
  const o = 16 * u0;
  k.elementwise.geluBackward(a[0] + o, a[1] + o, a[2] + o, a[3] + o, 4 * (u1 - u0));
};

// One AdamW update. args: p, g, m, v, n, beta1, beta2, stepSize, bc2Sqrt, eps, decay, l2
const adamStep: PoolJob = (k, a, part, parts) => {
  const [u0, u1] = range(a[4] / 4, part, parts);
  const o = 16 * u0;
  k.elementwise.adamStep(a[0] + o, a[1] + o, a[2] + o, a[3] + o, 4 * (u1 - u0), a[5], a[6], a[7], a[8], a[9], a[10], a[11]);
};

// y = a + b over n floats, in ranges of whole 4-lane groups (the last range takes the tail).
// args: a, b, y, n
const add: PoolJob = (k, a, part, parts) => {
  const n = a[3];
  const [u0, u1] = range(Math.floor(n / 4), part, parts);
  const o = 16 * u0;
  k.elementwise.add(a[0] + o, a[1] + o, a[2] + o, part === parts - 1 ? n - 4 * u0 : 4 * (u1 - u0));
};

// Layer norm forward over a block of rows (each row's statistics are its own).
// args: x, gain, bias, y, mean, rstd, R, C, eps
const layerNormForward: PoolJob = (k, a, part, parts) => {
  const C = a[7];
  const [r0, r1] = range(a[6], part, parts);
  const o = 4 * r0 * C;
  k.elementwise.layerNormForward(a[0] + o, a[1], a[2], a[3] + o, a[4] + 4 * r0, a[5] + 4 * r0, r1 - r0, C, a[8]);
};

// A whole LSTM layer forward over T steps for a block of batch rows: row b of h_t depends only
// on row b of h_{t−1}, so the threads never meet between steps. W_hhᵀ comes packed once.
// args: gi, bhh, h0, c0, hs, cs, acts, packedWhh, T, B, H
const lstmForward: PoolJob = (k, a, part, parts) => {
  const gi = a[0],
    bhh = a[1],
    h0 = a[2],
    c0 = a[3],
    hs = a[4],
    cs = a[5],
    acts = a[6],
    packed = a[7];
  const T = a[8],
    B = a[9],
    H = a[10],
    G = 4 * H,
    n = B * H;
  const [b0, b1] = range(B, part, parts);
  const m = b1 - b0;
  if (m === 0) return;
  for (let t = 0; t < T; t++) {
    const g = 4 * (t * B * G + b0 * G); // this block's (m, 4H) gate rows at step t
    const s = 4 * (t * n + b0 * H); // its (m, H) state rows
    const hPrev = t === 0 ? h0 + 4 * b0 * H : hs + s - 4 * n;
    const cPrev = t === 0 ? c0 + 4 * b0 * H : cs + s - 4 * n;
    k.elementwise.addRows(gi + g, bhh, acts + g, m, G);
    k.gemm.gemmPackedB(false, m, G, H, hPrev, H, packed, G, 0, acts + g, G, true, k.scratchPtr);
    k.elementwise.lstmCell(acts + g, cPrev, cs + s, hs + s, m, H);
  }
};

// The LSTM backward through time for a block of batch rows: gate gradients dG and the running
// dh, dc of those rows. W_hh (as op(B), 4H×H) comes packed once.
// args: acts, cs, c0, dhs, dhNext, dcNext, dG, packedWhh, T, B, H
const lstmBackward: PoolJob = (k, a, part, parts) => {
  const acts = a[0],
    cs = a[1],
    c0 = a[2],
    dhs = a[3],
    dhNext = a[4],
    dcNext = a[5],
    dG = a[6],
    packed = a[7];
  const T = a[8],
    B = a[9],
    H = a[10],
    G = 4 * H,
    n = B * H;
  const [b0, b1] = range(B, part, parts);
  const m = b1 - b0;
  if (m === 0) return;
  const dh = dhNext + 4 * b0 * H,
    dc = dcNext + 4 * b0 * H;
  for (let t = T - 1; t >= 0; t--) {
    const g = 4 * (t * B * G + b0 * G);
    const s = 4 * (t * n + b0 * H);
    const cPrev = t === 0 ? c0 + 4 * b0 * H : cs + s - 4 * n;
    k.elementwise.lstmCellBackward(acts + g, cs + s, cPrev, dhs + s, dh, dc, dG + g, m, H);
    k.gemm.gemmPackedB(false, m, H, G, dG + g, G, packed, H, 0, dh, H, false, k.scratchPtr);
  }
};

const f32 = (k: PoolKernels, ptr: number, n: number) => new Float32Array(k.memory.buffer, ptr, n);

// Causal attention forward for a range of (batch, head) pairs; each part has its own T×T
// dropout buffer. args: qkv, B, T, C, nHead, y, probs, mask (0: none), masked (parts·T·T floats)
const attentionForward: PoolJob = (k, a, part, parts) => {
  const B = a[1],
    T = a[2],
    C = a[3],
    nHead = a[4];
  const [p0, p1] = range(B * nHead, part, parts);
  const pn = B * nHead * T * T;
  attentionForwardGemm(
    k.gemm,
    k.scratchPtr,
    f32(k, a[0], B * T * 3 * C),
    B,
    T,
    C,
    nHead,
    f32(k, a[5], B * T * C),
    f32(k, a[6], pn),
    a[7] === 0 ? null : f32(k, a[7], pn),
    f32(k, a[8] + 4 * part * T * T, T * T),
    p0,
    p1,
  );
};

// Its backward. args: dy, qkv, probs, mask (0: none), B, T, C, nHead, dqkv, masked, ds (each parts·T·T)
const attentionBackward: PoolJob = (k, a, part, parts) => {
  const B = a[4],
    T = a[5],
    C = a[6],
    nHead = a[7];
  const [p0, p1] = range(B * nHead, part, parts);
  const pn = B * nHead * T * T;
  attentionBackwardGemm(
    k.gemm,
    k.scratchPtr,
    f32(k, a[0], B * T * C),
    f32(k, a[1], B * T * 3 * C),
    f32(k, a[2], pn),
    a[3] === 0 ? null : f32(k, a[3], pn),
    B,
    T,
    C,
    nHead,
    f32(k, a[8], B * T * 3 * C),
    f32(k, a[9] + 4 * part * T * T, T * T),
    f32(k, a[10] + 4 * part * T * T, T * T),
    p0,
    p1,
  );
};

// The encoder–decoder's masked q/k/v attention forward for a range of (batch, head) pairs.
// args: q, k, v, mask (0: none), maskRows, B, Tq, Tk, C, nHead, y, probs
const maskedAttentionForward: PoolJob = (k, a, part, parts) => {
  const maskRows = a[4],
    B = a[5],
    Tq = a[6],
    Tk = a[7],
    C = a[8],
    nHead = a[9];
  const [p0, p1] = range(B * nHead, part, parts);
  maskedAttentionForwardGemm(
    k.gemm,
    k.scratchPtr,
    f32(k, a[0], B * Tq * C),
    f32(k, a[1], B * Tk * C),
    f32(k, a[2], B * Tk * C),
    a[3] === 0 ? null : f32(k, a[3], B * maskRows * Tk),
    maskRows,
    B,
    Tq,
    Tk,
    C,
    nHead,
    f32(k, a[10], B * Tq * C),
    f32(k, a[11], B * nHead * Tq * Tk),
    p0,
    p1,
  );
};

// Its backward. args: dy, q, k, v, probs, B, Tq, Tk, C, nHead, dq, dk, dv (0: not computed), ds (parts·Tq·Tk)
const maskedAttentionBackward: PoolJob = (k, a, part, parts) => {
  const B = a[5],
    Tq = a[6],
    Tk = a[7],
    C = a[8],
    nHead = a[9];
  const [p0, p1] = range(B * nHead, part, parts);
  const grad = (p: number, n: number) => (p === 0 ? null : f32(k, p, n));
  maskedAttentionBackwardGemm(
    k.gemm,
    k.scratchPtr,
    f32(k, a[0], B * Tq * C),
    f32(k, a[1], B * Tq * C),
    f32(k, a[2], B * Tk * C),
    f32(k, a[3], B * Tk * C),
    f32(k, a[4], B * nHead * Tq * Tk),
    B,
    Tq,
    Tk,
    C,
    nHead,
    grad(a[10], B * Tq * C),
    grad(a[11], B * Tk * C),
    grad(a[12], B * Tk * C),
    f32(k, a[13] + 4 * part * Tq * Tk, Tq * Tk),
    p0,
    p1,
  );
};

export const POOL_JOBS = [
  gemmBlock,
  geluForward,
  geluBackward,
  adamStep,
  lstmForward,
  lstmBackward,
  attentionForward,
  attentionBackward,
  add,
  layerNormForward,
  maskedAttentionForward,
  maskedAttentionBackward,
];

/** Index of each job in POOL_JOBS. */
export const Job = {
  gemm: 0,
  geluForward: 1,
  geluBackward: 2,
  adamStep: 3,
  lstmForward: 4,
  lstmBackward: 5,
  attentionForward: 6,
  attentionBackward: 7,
  add: 8,
  layerNormForward: 9,
  maskedAttentionForward: 10,
  maskedAttentionBackward: 11,
} as const;

export type PoolJobId = (typeof Job)[keyof typeof Job];
