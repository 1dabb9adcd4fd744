import type { FloatArray } from '../../tensor';

// Matrix multiply on typed arrays. Every product is brought to one form, C = A·Bᵀ with both
// operands' rows contiguous along K, and computed by one register-tiled kernel: transposing an
// operand costs O(rows·K), small next to the O(M·N·K) product, and keeps the inner loop
// contiguous whatever the caller's layout (TensorFlow.js's wasm matmul drops 40× on transposed
// operands; gradients are exactly that case).

/** C[M,N] (+)= A[M,K] · B[N,K]ᵀ, each matrix at an offset in its array. */
export function gemmNT(
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  aOff: number,
  B: FloatArray,
  bOff: number,
  C: FloatArray,
  cOff: number,
  accumulate: boolean,
): void {
  let i = 0;
  // 4×4 register tile: 8 loads feed 16 multiply-adds per k.
  for (; i + 4 <= M; i += 4) {
    const a0 = aOff + i * K,
      a1 = a0 + K,
      a2 = a1 + K,
      a3 = a2 + K;
    const r0 = cOff + i * N,
      r1 = r0 + N,
      r2 = r1 + N,
      r3 = r2 + N;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = bOff + j * K,
        b1 = b0 + K,
        b2 = b1 + K,
        b3 = b2 + K;
      let c00 = 0,
        c01 = 0,
        c02 = 0,
        c03 = 0;
      let c10 = 0,
        c11 = 0,
        c12 = 0,
        c13 = 0;
      let c20 = 0,
        c21 = 0,
        c22 = 0,
        c23 = 0;
      let c30 = 0,
        c31 = 0,
        c32 = 0,
        c33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k],
          x1 = A[a1 + k],
          x2 = A[a2 + k],
          x3 = A[a3 + k];
        const y0 = B[b0 + k],
          y1 = B[b1 + k],
          y2 = B[b2 + k],
          y3 = B[b3 + k];
        c00 += x0 * y0;
        c01 += x0 * y1;
        c02 += x0 * y2;
        c03 += x0 * y3;
        c10 += x1 * y0;
        c11 += x1 * y1;
        c12 += x1 * y2;
        c13 += x1 * y3;
        c20 += x2 * y0;
        c21 += x2 * y1;
        c22 += x2 * y2;
        c23 += x2 * y3;
        c30 += x3 * y0;
        c31 += x3 * y1;
        c32 += x3 * y2;
        c33 += x3 * y3;
      }
      if (accumulate) {
        C[r0 + j] += c00;
        C[r0 + j + 1] += c01;
        C[r0 + j + 2] += c02;
        C[r0 + j + 3] += c03;
        C[r1 + j] += c10;
        C[r1 + j + 1] += c11;
        C[r1 + j + 2] += c12;
        C[r1 + j + 3] += c13;
        C[r2 + j] += c20;
        C[r2 + j + 1] += c21;
        C[r2 + j + 2] += c22;
        C[r2 + j + 3] += c23;
        C[r3 + j] += c30;
        C[r3 + j + 1] += c31;
        C[r3 + j + 2] += c32;
        C[r3 + j + 3] += c33;
      } else {
        C[r0 + j] = c00;
        C[r0 + j + 1] = c01;
        C[r0 + j + 2] = c02;
        C[r0 + j + 3] = c03;
        C[r1 + j] = c10;
        C[r1 + j + 1] = c11;
        C[r1 + j + 2] = c12;
        C[r1 + j + 3] = c13;
        C[r2 + j] = c20;
        C[r2 + j + 1] = c21;
        C[r2 + j + 2] = c22;
        C[r2 + j + 3] = c23;
        C[r3 + j] = c30;
        C[r3 + j + 1] = c31;
        C[r3 + j + 2] = c32;
        C[r3 + j + 3] = c33;
      }
    }
    for (; j < N; j++) {
      const b0 = bOff + j * K;
      let c0 = 0,
        c1 = 0,
        c2 = 0,
        c3 = 0;
      for (let k = 0; k < K; k++) {
        const y = B[b0 + k];
        c0 += A[a0 + k] * y;
        c1 += A[a1 + k] * y;
        c2 += A[a2 + k] * y;
        c3 += A[a3 + k] * y;
      }
      if (accumulate) {
        C[r0 + j] += c0;
        C[r1 + j] += c1;
        C[r2 + j] += c2;
        C[r3 + j] += c3;
      } else {
        C[r0 + j] = c0;
        C[r1 + j] = c1;
        C[r2 + j] = c2;
        C[r3 + j] = c3;
      }
    }
  }
  for (; i < M; i++) {
    const a0 = aOff + i * K;
    const r0 = cOff + i * N;
    for (let j = 0; j < N; j++) {
      const b0 = bOff + j * K;
      let c = 0;
      for (let k = 0; k < K; k++) c += A[a0 + k] * B[b0 + k];
      if (accumulate) C[r0 + j] += c;
      else C[r0 + j] = c;
    }
  }
}

/** dst[c][r] = src[r][c] for a rows×cols matrix. */
export function transposeInto(src: FloatArray, sOff: number, rows: number, cols: number, dst: FloatArray, dOff: number): void {
  // Blocked so that both the reads and the writes stay within a few cache lines.
  const BS = 32;
  for (let r0 = 0; r0 < rows; r0 += BS) {
    const r1 = Math.min(r0 + BS, rows);
    for (let c0 = 0; c0 < cols; c0 += BS) {
      const c1 = Math.min(c0 + BS, cols);
      for (let r = r0; r < r1; r++) {
        const s = sOff + r * cols;
        for (let c = c0; c < c1; c++) dst[dOff + c * rows + r] = src[s + c];
      }
    }
  }
}

/** C[M,N] (+)= op(A)·op(B), as `matmul` below takes it (without its scratch). */
export type MatMul = (
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  aOff: number,
  transA: boolean,
  B: FloatArray,
  bOff: number,
  transB: boolean,
  C: FloatArray,
  cOff: number,
  accumulate: boolean,
) => void;

/**
 * A whole LSTM layer forward (lstmForward's loop over t: bias add, h_{t−1}·W_hhᵀ, cell) in one
 * call; false when it cannot take the arrays.
 */
export type LstmSteps = (
  gi: FloatArray,
  whh: FloatArray,
  bhh: FloatArray,
  h0: FloatArray,
  c0: FloatArray,
  hs: FloatArray,
  cs: FloatArray,
  acts: FloatArray,
  T: number,
  B: number,
  H: number,
) => boolean;

/**
 * lstmBackward's loop over t in one call: gate gradients into dG, the running dh and dc in dhNext
 * and dcNext (zeroed by the caller); false when it cannot take the arrays.
 */
export type LstmStepsBackward = (
  acts: FloatArray,
  cs: FloatArray,
  c0: FloatArray,
  dhs: FloatArray,
  whh: FloatArray,
  dhNext: FloatArray,
  dcNext: FloatArray,
  dG: FloatArray,
  T: number,
  B: number,
  H: number,
) => boolean;

/** One GRU step's gates and state at offsets of gi and acts (aOff), gh (0), h_prev, and ghn and hs (off). */
export type GruCell = (
  gi: FloatArray,
  acts: FloatArray,
  aOff: number,
  gh: FloatArray,
  hPrev: FloatArray,
  hPrevOff: number,
  ghn: FloatArray,
  hs: FloatArray,
  off: number,
  B: number,
  H: number,
) => boolean;

/** One GRU step's gate gradients into dGi and dGh (at aOff), updating dhNext to dh·z (see gruBackward). */
export type GruCellBackward = (
  acts: FloatArray,
  aOff: number,
  ghn: FloatArray,
  dhs: FloatArray,
  off: number,
  hPrev: FloatArray,
  hPrevOff: number,
  dhNext: FloatArray,
  dGi: FloatArray,
  dGh: FloatArray,
  B: number,
  H: number,
) => boolean;

/** y[yOff + i] = tanh(x[xOff + i]) for i < n (y may be x). */
export type Tanh = (x: FloatArray, xOff: number, y: FloatArray, yOff: number, n: number) => void;

export const jsTanh: Tanh = (x, xOff, y, yOff, n) => {
  for (let i = 0; i < n; i++) y[yOff + i] = Math.tanh(x[xOff + i]);
};

/** Row-wise adds the layers share (bias rows, bias gradients, sums); offsets count elements. */
export interface RowAdds {
  /** y[i] = a[i] + b[i] for i < n (y may be a or b). */
  add(a: FloatArray, b: FloatArray, y: FloatArray, n: number): void;
  /** y[r][k] = x[r][k] + bias[k] over rows × width, from offsets of x and y (y may be x). */
  addRows(x: FloatArray, xOff: number, bias: FloatArray, y: FloatArray, yOff: number, rows: number, width: number): void;
  /** dst[k] += Σ_r src[r][k] over rows × width from an offset of src, row after row. */
  addRowSums(src: FloatArray, sOff: number, rows: number, width: number, dst: FloatArray): void;
}

export const jsRowAdds: RowAdds = {
  add(a, b, y, n) {
    for (let i = 0; i < n; i++) y[i] = a[i] + b[i];
  },
  addRows(x, xOff, bias, y, yOff, rows, width) {
    for (let r = 0; r < rows; r++) {
      const s = xOff + r * width,
        d = yOff + r * width;
      for (let k = 0; k < width; k++) y[d + k] = x[s + k] + bias[k];
    }
  },
  addRowSums(src, sOff, rows, width, dst) {
    for (let r = 0; r < rows; r++) {
      const o = sOff + r * width;
      for (let k = 0; k < width; k++) dst[k] += src[o + k];
    }
  },
};

/** The kernels a backend may bring to Scratch in place of the JS ones. */
export interface FastKernels {
  matmul?: MatMul;
  lstmSteps?: LstmSteps;
  lstmStepsBackward?: LstmStepsBackward;
  gruCell?: GruCell;
  gruCellBackward?: GruCellBackward;
  tanh?: Tanh;
  rows?: RowAdds;
}

/**
 * A backend's workspace: scratch arrays reused across calls (grown on demand), the matrix
 * multiply, row-wise adds and tanh its kernels call (the JS ones here, or WebAssembly ones that need
 * their operands in the wasm heap), and faster LSTM and GRU steps where the backend has them (they return
 * false when they cannot take the arrays, and the caller's loop runs).
 */
export class Scratch {
  private buffers: FloatArray[] = [];
  readonly matmul: MatMul;
  readonly rows: RowAdds;
  readonly lstmSteps: LstmSteps | null;
  readonly lstmStepsBackward: LstmStepsBackward | null;
  readonly gruCell: GruCell | null;
  readonly gruCellBackward: GruCellBackward | null;
  readonly tanh: Tanh;

  constructor(
    private readonly make: (n: number) => FloatArray,
    fast: FastKernels = {},
  ) {
    this.matmul =
      fast.matmul ??
      ((M, N, K, A, aOff, transA, B, bOff, transB, C, cOff, accumulate) => matmul(M, N, K, A, aOff, transA, B, bOff, transB, C, cOff, accumulate, this));
    this.rows = fast.rows ?? jsRowAdds;
    this.lstmSteps = fast.lstmSteps ?? null;
    this.lstmStepsBackward = fast.lstmStepsBackward ?? null;
    this.gruCell = fast.gruCell ?? null;
    this.gruCellBackward = fast.gruCellBackward ?? null;
    this.tanh = fast.tanh ?? jsTanh;
  }

  get(slot: number, n: number): FloatArray {
    const have = this.buffers[slot];
    if (have && have.length >= n) return have;
    const grown = this.make(Math.max(n, have ? have.length * 2 : 0));
    this.buffers[slot] = grown;
    return grown;
  }
}

/**
 * C[M,N] (+)= op(A) · op(B) where op(A) is A [M,K] or, with transA, A [K,M] read transposed;
 * op(B) is B [K,N] or, with transB, B [N,K] read transposed.
 */
export function matmul(
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  aOff: number,
  transA: boolean,
  B: FloatArray,
  bOff: number,
  transB: boolean,
  C: FloatArray,
  cOff: number,
  accumulate: boolean,
  scratch: Scratch,
): void {
  let a = A,
    ao = aOff,
    b = B,
    bo = bOff;
  if (transA) {
    a = scratch.get(0, M * K);
    transposeInto(A, aOff, K, M, a, 0);
    ao = 0;
  }
  if (!transB) {
    b = scratch.get(1, N * K);
    transposeInto(B, bOff, K, N, b, 0);
    bo = 0;
  }
  gemmNT(M, N, K, a, ao, b, bo, C, cOff, accumulate);
}
