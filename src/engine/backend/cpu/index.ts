import type { Activation, AdagradHyper, AdamWHyper, Backend, RmspropHyper, SgdHyper } from '../backend';
import { Arena, Tensor, shapeSize, withArena, type Dtype, type FloatArray } from '../../tensor';
import type { Rng } from '../../rng';
import { Scratch, type MatMul } from './gemm';
import { wasmKernels } from './wasm/adapters';
import { wasmHeap, type WasmHeap } from './wasm/heap';
import { Job } from './wasm/pool-jobs';
import { attentionBackward, attentionForward } from './attention';
import { maskedAttentionBackward, maskedAttentionForward, seedLayerNormBackward, seedLayerNormForward } from './encoder-decoder';
import { gelu, gelu32, geluGrad, geluGradFromOutput32 } from './math';
import { gruBackward, gruForward, lstmBackward, lstmForward, rnnTanhBackward, rnnTanhForward } from './recurrent';

// The CPU backend: loops on typed arrays, with the matrix products in WebAssembly SIMD where the
// runtime has it (float32 tensors then live in the shared wasm heap, see wasm/heap.ts). With
// kernels 'js' it is the plain reference the fast kernels are tested against; it also runs in
// float64 (always JS), which the finite-difference gradient checks use so that rounding does not
// hide a wrong derivative.

export type CpuKernels = 'auto' | 'wasm' | 'js';

/** Whether a tensor (null: none) lives in the heap. */
function owns(heap: WasmHeap, t: Tensor | null): boolean {
  return t === null || heap.owns(t.data);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Y[o…o+n) = softmax(X[o…o+n)), max-shifted; returns logsumexp of the row. */
function softmaxRow(X: FloatArray, Y: FloatArray, o: number, n: number): number {
  let max = -Infinity;
  for (let c = 0; c < n; c++) if (X[o + c] > max) max = X[o + c];
  let sum = 0;
  for (let c = 0; c < n; c++) {
    const e = Math.exp(X[o + c] - max);
    Y[o + c] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let c = 0; c < n; c++) Y[o + c] *= inv;
  return max + Math.log(sum);
}

/** Adam's work per element, against heap.run's threshold for threads: tensors under ~256k floats stay on one thread. */
const ADAM_WORK_PER_ELEMENT = 1 / 16;

/** Uniform draws of a dropout mask, a chunk at a time. */
const DROPOUT_UNIFORMS = new Float64Array(4096);

/** Scratch slot of the softmax rows' max and sum (slots 0–9 belong to matmul, recurrent and attention). */
const S_SOFTMAX_STATS = 10;

function check(cond: boolean, message: () => string): void {
  if (!cond) throw new Error(message());
}

export class CpuBackend implements Backend {
  readonly name: string;
  private readonly make: (n: number) => FloatArray;
  private readonly scratch: Scratch;
  /** Released buffers by length, reused by the next allocation of that length. */
  private readonly pool = new Map<number, FloatArray[]>();
  private readonly arenas: Arena[] = [];
  private live = 0;

  /** The wasm heap the float32 tensors live in; null for the JS kernels. */
  readonly heap: WasmHeap | null;

  constructor(
    readonly dtype: Dtype = 'float32',
    kernels: CpuKernels = 'auto',
  ) {
    const heap = dtype === 'float32' && kernels !== 'js' ? wasmHeap() : null;
    if (kernels === 'wasm' && heap === null) {
      throw new Error(
        dtype === 'float32'
          ? 'the wasm CPU kernels need WebAssembly SIMD and SharedArrayBuffer (a cross-origin-isolated page), which this runtime lacks'
          : 'the wasm CPU kernels are float32 only',
      );
    }
    this.heap = heap;
    this.name = dtype === 'float64' ? 'cpu-float64' : heap ? `cpu-wasm-${heap.gemm.variant}` : 'cpu';
    this.make = heap ? (n) => heap.take(n) : dtype === 'float32' ? (n) => new Float32Array(n) : (n) => new Float64Array(n);
    const js = new Scratch(this.make);
    this.scratch = heap ? new Scratch(this.make, wasmKernels(heap, js.matmul)) : js;
  }

  /** The matrix product this backend's kernels use (for benchmarks and kernel tests). */
  get matmulKernel(): MatMul {
    return this.scratch.matmul;
  }

  // ---- storage ---------------------------------------------------------------------------------

  private take(n: number): FloatArray {
    // heap storage is shared by every backend on this thread: its free list is too
    if (this.heap) return this.heap.take(n);
    const free = this.pool.get(n);
    const buf = free && free.length > 0 ? free.pop()! : null;
    if (buf) {
      buf.fill(0);
      return buf;
    }
    return this.make(n);
  }

  alloc(shape: readonly number[]): Tensor {
    const arena = this.arenas.length > 0 ? this.arenas[this.arenas.length - 1] : null;
    const t = new Tensor(shape.slice(), this.take(shapeSize(shape)), arena);
    if (arena) arena.tensors.push(t);
    this.live++;
    return t;
  }

  allocPersistent(shape: readonly number[]): Tensor {
    this.live++;
    return new Tensor(shape.slice(), this.take(shapeSize(shape)), null);
  }

  fromArray(shape: readonly number[], values: ArrayLike<number>, persistent = false): Tensor {
    const t = persistent ? this.allocPersistent(shape) : this.alloc(shape);
    this.write(t, values);
    return t;
  }

  read(t: Tensor): FloatArray {
    return t.data.slice();
  }

  write(t: Tensor, values: ArrayLike<number>): void {
    check(values.length === t.size, () => `write: ${values.length} values for a tensor of shape [${t.shape.join(', ')}] (${t.size} elements)`);
    t.data.set(values);
  }

  scoped<T>(fn: () => T): T {
    return withArena(this.arenas, fn, (tensors) => {
      for (const t of tensors) this.recycle(t.data);
      this.live -= tensors.length;
    });
  }

  dispose(t: Tensor): void {
    check(t.arena === null, () => 'dispose: tensors allocated in an arena are released with it');
    this.recycle(t.data);
    this.live--;
  }

  liveTensors(): number {
    return this.live;
  }

  private recycle(buf: FloatArray): void {
    if (this.heap) {
      this.heap.give(buf as Float32Array);
      return;
    }
    let free = this.pool.get(buf.length);
    if (!free) this.pool.set(buf.length, (free = []));
    free.push(buf);
  }

  // ---- copies and elementwise ------------------------------------------------------------------

  fill(t: Tensor, value: number): void {
    t.data.fill(value);
  }

  copy(src: Tensor, dst: Tensor, srcOffset = 0, dstOffset = 0, count = src.size - srcOffset): void {
    check(srcOffset + count <= src.size && dstOffset + count <= dst.size, () => `copy: range of ${count} out of bounds`);
    dst.data.set(src.data.subarray(srcOffset, srcOffset + count), dstOffset);
  }

  accumulate(dst: Tensor, src: Tensor): void {
    const d = dst.data,
      s = src.data;
    check(d.length === s.length, () => `accumulate: sizes differ (${d.length} vs ${s.length})`);
    this.scratch.rows.add(d, s, d, d.length);
  }

  addForward(a: Tensor, b: Tensor, y: Tensor): void {
    this.scratch.rows.add(a.data, b.data, y.data, y.data.length);
  }

  addRepeatForward(a: Tensor, b: Tensor, y: Tensor): void {
    const A = a.data,
      B = b.data,
      Y = y.data;
    const n = B.length;
    check(A.length % n === 0, () => `addRepeat: ${A.length} is not a multiple of ${n}`);
    this.scratch.rows.addRows(A, 0, B, Y, 0, A.length / n, n);
  }

  addRepeatBackward(dy: Tensor, db: Tensor): void {
    const D = dy.data,
      G = db.data;
    this.scratch.rows.addRowSums(D, 0, D.length / G.length, G.length, G);
  }

  mulForward(a: Tensor, b: Tensor, y: Tensor): void {
    const A = a.data,
      B = b.data,
      Y = y.data;
    for (let i = 0; i < Y.length; i++) Y[i] = A[i] * B[i];
  }

  mulBackward(dy: Tensor, a: Tensor, b: Tensor, da: Tensor | null, db: Tensor | null): void {
    const D = dy.data,
      A = a.data,
      B = b.data;
    if (da) {
      const G = da.data;
      for (let i = 0; i < D.length; i++) G[i] += D[i] * B[i];
    }
    if (db) {
      const G = db.data;
      for (let i = 0; i < D.length; i++) G[i] += D[i] * A[i];
    }
  }

  activationForward(kind: Activation, x: Tensor, y: Tensor): void {
    const X = x.data,
      Y = y.data;
    const n = X.length;
    switch (kind) {
      case 'tanh':
        this.scratch.tanh(X, 0, Y, 0, n);
        break;
      case 'sigmoid':
        for (let i = 0; i < n; i++) Y[i] = sigmoid(X[i]);
        break;
      case 'relu':
        // without a branch (a random sign mispredicts half of them: ~4× slower); + 0 turns −0 into 0
        for (let i = 0; i < n; i++) Y[i] = X[i] * +(X[i] > 0) + 0;
        break;
      case 'gelu': {
        // four lanes at a time in wasm where the arrays are in the heap; the tail (and float64) in JS
        const heap = this.inHeap(x, y);
        const from = heap ? n & ~3 : 0;
        if (heap) heap.run(Job.geluForward, [X.byteOffset, Y.byteOffset, from], from);
        if (this.dtype === 'float32') for (let i = from; i < n; i++) Y[i] = gelu32(X[i]);
        else for (let i = 0; i < n; i++) Y[i] = gelu(X[i]);
        break;
      }
    }
  }

  activationBackward(kind: Activation, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void {
    const X = x.data,
      Y = y.data,
      D = dy.data,
      G = dx.data;
    const n = D.length;
    switch (kind) {
      case 'tanh':
        for (let i = 0; i < n; i++) G[i] += D[i] * (1 - Y[i] * Y[i]);
        break;
      case 'sigmoid':
        for (let i = 0; i < n; i++) G[i] += D[i] * Y[i] * (1 - Y[i]);
        break;
      case 'relu':
        for (let i = 0; i < n; i++) G[i] += D[i] * +(X[i] > 0); // branch-free, as forward
        break;
      case 'gelu': {
        const heap = this.inHeap(x, y, dy, dx);
        const from = heap ? n & ~3 : 0;
        if (heap) heap.run(Job.geluBackward, [X.byteOffset, Y.byteOffset, D.byteOffset, G.byteOffset, from], from);
        if (this.dtype === 'float32') for (let i = from; i < n; i++) G[i] += D[i] * geluGradFromOutput32(X[i], Y[i]);
        else for (let i = 0; i < n; i++) G[i] += D[i] * geluGrad(X[i]);
        break;
      }
    }
  }

  transpose01Forward(x: Tensor, d0: number, d1: number, y: Tensor): void {
    const X = x.data,
      Y = y.data;
    const inner = X.length / (d0 * d1);
    for (let i = 0; i < d0; i++) {
      for (let j = 0; j < d1; j++) {
        const s = (i * d1 + j) * inner,
          d = (j * d0 + i) * inner;
        for (let k = 0; k < inner; k++) Y[d + k] = X[s + k];
      }
    }
  }

  transpose01Backward(dy: Tensor, d0: number, d1: number, dx: Tensor): void {
    const D = dy.data,
      G = dx.data;
    const inner = D.length / (d0 * d1);
    for (let i = 0; i < d0; i++) {
      for (let j = 0; j < d1; j++) {
        const s = (i * d1 + j) * inner,
          d = (j * d0 + i) * inner;
        for (let k = 0; k < inner; k++) G[s + k] += D[d + k];
      }
    }
  }

  // ---- layers ------------------------------------------------------------------------------------

  linearForward(x: Tensor, w: Tensor, b: Tensor | null, y: Tensor): void {
    const [N, K] = w.shape;
    const M = x.size / K;
    check(x.cols === K, () => `linear: input has ${x.cols} features, weight expects ${K}`);
    this.scratch.matmul(M, N, K, x.data, 0, false, w.data, 0, true, y.data, 0, false);
    if (b) this.scratch.rows.addRows(y.data, 0, b.data, y.data, 0, M, N);
  }

  linearBackward(dy: Tensor, x: Tensor, w: Tensor, dx: Tensor | null, dw: Tensor | null, db: Tensor | null): void {
    const [N, K] = w.shape;
    const M = x.size / K;
    // dx (M, K) += dy (M, N) · w (N, K)
    if (dx) this.scratch.matmul(M, K, N, dy.data, 0, false, w.data, 0, false, dx.data, 0, true);
    // dw (N, K) += dyᵀ (N, M) · x (M, K)
    if (dw) this.scratch.matmul(N, K, M, dy.data, 0, true, x.data, 0, false, dw.data, 0, true);
    if (db) this.scratch.rows.addRowSums(dy.data, 0, M, N, db.data);
  }

  embeddingForward(w: Tensor, ids: Int32Array, y: Tensor): void {
    const [V, C] = w.shape;
    const W = w.data,
      Y = y.data;
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      check(id >= 0 && id < V && Number.isInteger(id), () => `embedding: token id ${id} at position ${n} is outside the vocabulary [0, ${V})`);
      // a loop, not Y.set(W.subarray(…)): no view object per token
      const from = id * C,
        to = n * C;
      for (let c = 0; c < C; c++) Y[to + c] = W[from + c];
    }
  }

  embeddingBackward(dy: Tensor, ids: Int32Array, dw: Tensor): void {
    const C = dw.shape[1];
    const D = dy.data,
      G = dw.data;
    for (let n = 0; n < ids.length; n++) {
      const o = ids[n] * C,
        s = n * C;
      for (let c = 0; c < C; c++) G[o + c] += D[s + c];
    }
  }

  layerNormForward(x: Tensor, gain: Tensor, bias: Tensor, eps: number, y: Tensor, mean: Tensor, rstd: Tensor): void {
    const C = x.cols,
      R = x.rows;
    const X = x.data,
      Y = y.data,
      g = gain.data,
      bv = bias.data,
      Mu = mean.data,
      Rs = rstd.data;
    const heap = C % 4 === 0 ? this.inHeap(x, gain, bias, y, mean, rstd) : null;
    if (heap) {
      heap.run(Job.layerNormForward, [X.byteOffset, g.byteOffset, bv.byteOffset, Y.byteOffset, Mu.byteOffset, Rs.byteOffset, R, C, eps], R * C);
      return;
    }
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let m = 0;
      for (let c = 0; c < C; c++) m += X[o + c];
      m /= C;
      let v = 0;
      for (let c = 0; c < C; c++) {
        const d = X[o + c] - m;
        v += d * d;
      }
      v /= C; // biased variance, as torch.nn.LayerNorm
      const s = 1 / Math.sqrt(v + eps);
      for (let c = 0; c < C; c++) Y[o + c] = (X[o + c] - m) * s * g[c] + bv[c];
      Mu[r] = m;
      Rs[r] = s;
    }
  }

  layerNormBackward(dy: Tensor, x: Tensor, gain: Tensor, mean: Tensor, rstd: Tensor, dx: Tensor | null, dgain: Tensor | null, dbias: Tensor | null): void {
    const C = x.cols,
      R = x.rows;
    const D = dy.data,
      X = x.data,
      g = gain.data,
      Mu = mean.data,
      Rs = rstd.data;
    const heap = C % 4 === 0 ? this.inHeap(dy, x, gain, mean, rstd, dx, dgain, dbias) : null;
    if (heap) {
      const ptr = (t: Tensor | null) => (t ? t.data.byteOffset : 0);
      heap.elementwise.layerNormBackward(D.byteOffset, X.byteOffset, g.byteOffset, Mu.byteOffset, Rs.byteOffset, ptr(dx), ptr(dgain), ptr(dbias), R, C);
      return;
    }
    for (let r = 0; r < R; r++) {
      const o = r * C;
      const m = Mu[r],
        s = Rs[r];
      let dnMean = 0,
        dnNormMean = 0;
      for (let c = 0; c < C; c++) {
        const norm = (X[o + c] - m) * s;
        const dn = D[o + c] * g[c];
        dnMean += dn;
        dnNormMean += dn * norm;
      }
      dnMean /= C;
      dnNormMean /= C;
      for (let c = 0; c < C; c++) {
        const norm = (X[o + c] - m) * s;
        if (dx) dx.data[o + c] += (D[o + c] * g[c] - dnMean - norm * dnNormMean) * s;
        if (dgain) dgain.data[c] += D[o + c] * norm;
        if (dbias) dbias.data[c] += D[o + c];
      }
    }
  }

  softmaxForward(x: Tensor, y: Tensor): void {
    const C = x.cols,
      R = x.rows;
    if (this.softmaxRowsWasm(x, y)) return;
    for (let r = 0; r < R; r++) softmaxRow(x.data, y.data, r * C, C);
  }

  /**
   * Softmax of every row of x into y in wasm, leaving each row's max and Σe^{x−max} in the returned
   * array (two floats a row); null where the arrays are outside the heap.
   */
  private softmaxRowsWasm(x: Tensor, y: Tensor): FloatArray | null {
    const heap = this.inHeap(x, y);
    if (!heap) return null;
    const stats = this.scratch.get(S_SOFTMAX_STATS, 2 * x.rows);
    heap.elementwise.softmaxRows(x.data.byteOffset, y.data.byteOffset, stats.byteOffset, x.rows, x.cols);
    return stats;
  }

  softmaxBackward(y: Tensor, dy: Tensor, dx: Tensor): void {
    const C = y.cols,
      R = y.rows,
      Y = y.data,
      D = dy.data,
      G = dx.data;
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let dot = 0;
      for (let c = 0; c < C; c++) dot += D[o + c] * Y[o + c];
      for (let c = 0; c < C; c++) G[o + c] += Y[o + c] * (D[o + c] - dot);
    }
  }

  /**
   * Whether every array lives in the wasm heap, so the wasm kernels may use them in place. Fixed
   * parameters rather than a rest array: the kernels call it every step, and it allocates nothing.
   */
  private inHeap(
    a: Tensor,
    b: Tensor | null = null,
    c: Tensor | null = null,
    d: Tensor | null = null,
    e: Tensor | null = null,
    f: Tensor | null = null,
    g: Tensor | null = null,
    h: Tensor | null = null,
  ): WasmHeap | null {
    const heap = this.heap;
    if (!heap) return null;
    const all = owns(heap, a) && owns(heap, b) && owns(heap, c) && owns(heap, d) && owns(heap, e) && owns(heap, f) && owns(heap, g) && owns(heap, h);
    return all ? heap : null;
  }

  attentionForward(qkv: Tensor, nHead: number, y: Tensor, probs: Tensor, dropMask: Tensor | null): void {
    const [B, T, C3] = qkv.shape;
    const heap = this.inHeap(qkv, y, probs, dropMask);
    if (heap) {
      // the (batch, head) pairs split over the threads, each with its own T×T dropout buffer
      const masked = this.scratch.get(8, heap.threads * T * T);
      heap.run(
        Job.attentionForward,
        [qkv.data.byteOffset, B, T, C3 / 3, nHead, y.data.byteOffset, probs.data.byteOffset, dropMask ? dropMask.data.byteOffset : 0, masked.byteOffset],
        B * nHead * T * T,
      );
      return;
    }
    attentionForward(qkv.data, B, T, C3 / 3, nHead, y.data, probs.data, dropMask ? dropMask.data : null);
  }

  attentionBackward(dy: Tensor, qkv: Tensor, probs: Tensor, dropMask: Tensor | null, nHead: number, dqkv: Tensor): void {
    const [B, T, C3] = qkv.shape;
    const heap = this.inHeap(dy, qkv, probs, dropMask, dqkv);
    if (heap) {
      const masked = this.scratch.get(8, heap.threads * T * T),
        ds = this.scratch.get(9, heap.threads * T * T);
      heap.run(
        Job.attentionBackward,
        [
          dy.data.byteOffset,
          qkv.data.byteOffset,
          probs.data.byteOffset,
          dropMask ? dropMask.data.byteOffset : 0,
          B,
          T,
          C3 / 3,
          nHead,
          dqkv.data.byteOffset,
          masked.byteOffset,
          ds.byteOffset,
        ],
        B * nHead * T * T,
      );
      return;
    }
    attentionBackward(dy.data, qkv.data, probs.data, dropMask ? dropMask.data : null, B, T, C3 / 3, nHead, dqkv.data, this.scratch.get(2, T));
  }

  maskedAttentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, nHead: number, y: Tensor, probs: Tensor): void {
    const [B, Tq, C] = q.shape;
    const Tk = k.shape[1];
    check(
      k.shape[0] === B && v.shape[1] === Tk && k.shape[2] === C && v.shape[2] === C,
      () => `attention: q [${q.shape}], k [${k.shape}], v [${v.shape}] do not fit`,
    );
    const maskRows = mask ? mask.size / (B * Tk) : 0;
    check(!mask || maskRows === 1 || maskRows === Tq, () => `attention mask [${mask!.shape}] must be [B, 1, ${Tk}] or [B, ${Tq}, ${Tk}]`);
    const heap = this.inHeap(q, k, v, mask, y, probs);
    if (heap) {
      // the products by the wasm gemm, the (batch, head) pairs split over the threads
      const at = (t: Tensor) => t.data.byteOffset;
      heap.run(Job.maskedAttentionForward, [at(q), at(k), at(v), mask ? at(mask) : 0, maskRows, B, Tq, Tk, C, nHead, at(y), at(probs)], B * nHead * Tq * Tk);
      return;
    }
    maskedAttentionForward(q.data, k.data, v.data, mask ? mask.data : null, maskRows, B, Tq, Tk, C, nHead, y.data, probs.data);
  }

  maskedAttentionBackward(
    dy: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    probs: Tensor,
    nHead: number,
    dq: Tensor | null,
    dk: Tensor | null,
    dv: Tensor | null,
  ): void {
    const [B, Tq, C] = q.shape;
    const Tk = k.shape[1];
    const heap = this.inHeap(dy, q, k, v, probs, dq, dk, dv);
    if (heap) {
      const at = (t: Tensor | null) => (t ? t.data.byteOffset : 0);
      const ds = this.scratch.get(9, heap.threads * Tq * Tk);
      heap.run(
        Job.maskedAttentionBackward,
        [at(dy), at(q), at(k), at(v), at(probs), B, Tq, Tk, C, nHead, at(dq), at(dk), at(dv), ds.byteOffset],
        B * nHead * Tq * Tk,
      );
      return;
    }
    maskedAttentionBackward(
      dy.data,
      q.data,
      k.data,
      v.data,
      probs.data,
      B,
      Tq,
      Tk,
      C,
      nHead,
      dq && dq.data,
      dk && dk.data,
      dv && dv.data,
      this.scratch.get(2, Tk),
    );
  }

  seedLayerNormForward(x: Tensor, gain: Tensor, bias: Tensor, eps: number, y: Tensor, mean: Tensor, std: Tensor): void {
    seedLayerNormForward(x.data, gain.data, bias.data, eps, x.rows, x.cols, y.data, mean.data, std.data);
  }

  seedLayerNormBackward(
    dy: Tensor,
    x: Tensor,
    gain: Tensor,
    mean: Tensor,
    std: Tensor,
    eps: number,
    dx: Tensor | null,
    dgain: Tensor | null,
    dbias: Tensor | null,
  ): void {
    seedLayerNormBackward(dy.data, x.data, gain.data, mean.data, std.data, eps, x.rows, x.cols, dx && dx.data, dgain && dgain.data, dbias && dbias.data);
  }

  kvCacheWrite(qkv: Tensor, kCache: Tensor, vCache: Tensor, offset: number): void {
    const [B, T, C3] = qkv.shape;
    const C = C3 / 3,
      L = kCache.shape[1];
    check(offset + T <= L, () => `kv cache: positions ${offset}…${offset + T - 1} do not fit in ${L}`);
    const Q = qkv.data,
      K = kCache.data,
      V = vCache.data;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const src = (b * T + t) * C3,
          dst = (b * L + offset + t) * C;
        K.set(Q.subarray(src + C, src + 2 * C), dst);
        V.set(Q.subarray(src + 2 * C, src + 3 * C), dst);
      }
    }
  }

  attentionDecodeForward(qkv: Tensor, kCache: Tensor, vCache: Tensor, length: number, nHead: number, y: Tensor): void {
    const B = qkv.shape[0],
      C = qkv.shape[2] / 3,
      L = kCache.shape[1],
      hd = C / nHead;
    const Q = qkv.data,
      K = kCache.data,
      V = vCache.data,
      Y = y.data;
    const scale = 1 / Math.sqrt(hd);
    const p = this.scratch.get(2, length);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < nHead; h++) {
        const qOff = b * 3 * C + h * hd;
        let max = -Infinity;
        for (let j = 0; j < length; j++) {
          const kOff = (b * L + j) * C + h * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += Q[qOff + d] * K[kOff + d];
          p[j] = s * scale;
          if (p[j] > max) max = p[j];
        }
        let sum = 0;
        for (let j = 0; j < length; j++) {
          p[j] = Math.exp(p[j] - max);
          sum += p[j];
        }
        const yOff = b * C + h * hd;
        for (let d = 0; d < hd; d++) Y[yOff + d] = 0;
        for (let j = 0; j < length; j++) {
          const w = p[j] / sum,
            vOff = (b * L + j) * C + h * hd;
          for (let d = 0; d < hd; d++) Y[yOff + d] += w * V[vOff + d];
        }
      }
    }
  }

  dropoutMask(mask: Tensor, p: number, rng: Rng): void {
    check(p >= 0 && p < 1, () => `dropout probability (${p}) must be in [0, 1)`);
    const M = mask.data;
    const keep = 1 / (1 - p);
    // the same draws as rng.random() per element, a chunk at a time (Rng.randomInto)
    const u = DROPOUT_UNIFORMS;
    for (let i0 = 0; i0 < M.length; i0 += u.length) {
      const n = Math.min(u.length, M.length - i0);
      rng.randomInto(u, n);
      for (let i = 0; i < n; i++) M[i0 + i] = u[i] < p ? 0 : keep;
    }
  }

  crossEntropyForward(logits: Tensor, targets: Int32Array, ignoreIndex: number, probs: Tensor): { loss: number; count: number } {
    const V = logits.cols,
      N = logits.rows;
    check(targets.length === N, () => `cross-entropy: ${targets.length} targets for ${N} rows of logits`);
    const X = logits.data,
      P = probs.data;
    let total = 0;
    let count = 0;
    const stats = this.softmaxRowsWasm(logits, probs);
    for (let r = 0; r < N; r++) {
      const o = r * V;
      const logSumExp = stats ? stats[2 * r] + Math.log(stats[2 * r + 1]) : softmaxRow(X, P, o, V);
      const t = targets[r];
      if (t === ignoreIndex) continue;
      check(t >= 0 && t < V, () => `cross-entropy: target id ${t} at row ${r} is outside the vocabulary [0, ${V})`);
      total += logSumExp - X[o + t];
      count++;
    }
    return { loss: count > 0 ? total / count : 0, count };
  }

  crossEntropyBackward(probs: Tensor, targets: Int32Array, ignoreIndex: number, dloss: number, count: number, dlogits: Tensor): void {
    if (count === 0) return;
    const V = probs.cols,
      N = probs.rows,
      P = probs.data,
      G = dlogits.data;
    const s = dloss / count;
    for (let r = 0; r < N; r++) {
      const t = targets[r];
      if (t === ignoreIndex) continue;
      const o = r * V;
      for (let c = 0; c < V; c++) G[o + c] += s * P[o + c];
      G[o + t] -= s;
    }
  }

  // ---- recurrent layers ---------------------------------------------------------------------------

  rnnTanhForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, hs: Tensor): void {
    const [T, B, H] = hs.shape;
    rnnTanhForward(gi.data, whh.data, bhh.data, h0.data, hs.data, T, B, H, this.scratch);
  }

  rnnTanhBackward(dhs: Tensor, hs: Tensor, h0: Tensor, whh: Tensor, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void {
    const [T, B, H] = hs.shape;
    rnnTanhBackward(dhs.data, hs.data, h0.data, whh.data, dgi.data, dwhh?.data ?? null, dbhh?.data ?? null, T, B, H, this.scratch);
  }

  lstmForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, c0: Tensor, hs: Tensor, cs: Tensor, acts: Tensor): void {
    const [T, B, H] = hs.shape;
    lstmForward(gi.data, whh.data, bhh.data, h0.data, c0.data, hs.data, cs.data, acts.data, T, B, H, this.scratch);
  }

  lstmBackward(
    dhs: Tensor,
    hs: Tensor,
    cs: Tensor,
    acts: Tensor,
    h0: Tensor,
    c0: Tensor,
    whh: Tensor,
    dgi: Tensor,
    dwhh: Tensor | null,
    dbhh: Tensor | null,
  ): void {
    const [T, B, H] = hs.shape;
    lstmBackward(dhs.data, hs.data, cs.data, acts.data, h0.data, c0.data, whh.data, dgi.data, dwhh?.data ?? null, dbhh?.data ?? null, T, B, H, this.scratch);
  }

  gruForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, hs: Tensor, acts: Tensor, ghn: Tensor): void {
    const [T, B, H] = hs.shape;
    gruForward(gi.data, whh.data, bhh.data, h0.data, hs.data, acts.data, ghn.data, T, B, H, this.scratch);
  }

  gruBackward(dhs: Tensor, hs: Tensor, acts: Tensor, ghn: Tensor, h0: Tensor, whh: Tensor, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void {
    const [T, B, H] = hs.shape;
    gruBackward(dhs.data, hs.data, acts.data, ghn.data, h0.data, whh.data, dgi.data, dwhh?.data ?? null, dbhh?.data ?? null, T, B, H, this.scratch);
  }

  // ---- optimizers -----------------------------------------------------------------------------------

  sumSquares(t: Tensor): number {
    const X = t.data;
    const heap = this.inHeap(t);
    if (heap) return heap.elementwise.sumSquares(X.byteOffset, X.length);
    let s = 0;
    for (let i = 0; i < X.length; i++) s += X[i] * X[i];
    return s;
  }

  scale(t: Tensor, s: number): void {
    const X = t.data;
    const heap = this.inHeap(t);
    if (heap) {
      heap.elementwise.scale(X.byteOffset, X.length, s);
      return;
    }
    for (let i = 0; i < X.length; i++) X[i] *= s;
  }

  clampAbs(t: Tensor, limit: number): void {
    const X = t.data;
    for (let i = 0; i < X.length; i++) {
      if (X[i] > limit) X[i] = limit;
      else if (X[i] < -limit) X[i] = -limit;
    }
  }

  // Each update follows torch.optim's single-tensor implementation (PyTorch 1.13) operation by
  // operation, rounding to the storage type where PyTorch writes a tensor back.
  adamStep(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void {
    const P = p.data,
      Gr = g.data,
      Mm = m.data,
      Vv = v.data;
    const bc1 = 1 - Math.pow(h.beta1, h.step);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(h.beta2, h.step));
    const stepSize = h.lr / bc1;
    const decay = h.decoupled ? 1 - h.lr * h.weightDecay : 1;
    const l2 = h.decoupled ? 0 : h.weightDecay;
    // four lanes at a time in wasm where the arrays are in the heap (float32 arithmetic, as
    // PyTorch's); the tail in JS
    const heap = this.inHeap(p, g, m, v);
    const from = heap ? P.length & ~3 : 0;
    // threads only for a large tensor: one tensor's update is microseconds, less than waking a
    // helper (a model's ~30 weight matrices of 16k floats each took 2–50 ms a step in the pool
    // against about 1 ms on one thread); each element's update is the same either way
    if (heap)
      heap.run(
        Job.adamStep,
        [P.byteOffset, Gr.byteOffset, Mm.byteOffset, Vv.byteOffset, from, h.beta1, h.beta2, stepSize, bc2Sqrt, h.eps, decay, l2],
        from * ADAM_WORK_PER_ELEMENT,
      );
    for (let i = from; i < P.length; i++) {
      if (h.decoupled) P[i] *= decay;
      const gi = l2 !== 0 ? Gr[i] + l2 * P[i] : Gr[i];
      Mm[i] = h.beta1 * Mm[i] + (1 - h.beta1) * gi;
      Vv[i] = h.beta2 * Vv[i] + (1 - h.beta2) * gi * gi;
      const denom = Math.sqrt(Vv[i]) / bc2Sqrt + h.eps;
      P[i] -= (stepSize * Mm[i]) / denom;
    }
  }

  sgdStep(p: Tensor, g: Tensor, momentumBuf: Tensor | null, h: SgdHyper): void {
    const P = p.data,
      Gr = g.data,
      Bf = momentumBuf ? momentumBuf.data : null;
    for (let i = 0; i < P.length; i++) {
      let d = h.weightDecay !== 0 ? Gr[i] + h.weightDecay * P[i] : Gr[i];
      if (Bf && h.momentum !== 0) {
        Bf[i] = h.firstStep ? d : h.momentum * Bf[i] + (1 - h.dampening) * d;
        d = h.nesterov ? d + h.momentum * Bf[i] : Bf[i];
      }
      P[i] -= h.lr * d;
    }
  }

  rmspropStep(p: Tensor, g: Tensor, squareAvg: Tensor, momentumBuf: Tensor | null, gradAvg: Tensor | null, h: RmspropHyper): void {
    const P = p.data,
      Gr = g.data,
      S = squareAvg.data;
    const Bf = momentumBuf ? momentumBuf.data : null;
    const Ga = gradAvg ? gradAvg.data : null;
    for (let i = 0; i < P.length; i++) {
      const gi = h.weightDecay !== 0 ? Gr[i] + h.weightDecay * P[i] : Gr[i];
      S[i] = h.alpha * S[i] + (1 - h.alpha) * gi * gi;
      let avg: number;
      if (h.centered && Ga) {
        Ga[i] = h.alpha * Ga[i] + (1 - h.alpha) * gi;
        avg = Math.sqrt(S[i] - Ga[i] * Ga[i]) + h.eps;
      } else {
        avg = Math.sqrt(S[i]) + h.eps;
      }
      if (Bf && h.momentum > 0) {
        Bf[i] = h.momentum * Bf[i] + gi / avg;
        P[i] -= h.lr * Bf[i];
      } else {
        P[i] -= (h.lr * gi) / avg;
      }
    }
  }

  adagradStep(p: Tensor, g: Tensor, sum: Tensor, h: AdagradHyper): void {
    const P = p.data,
      Gr = g.data,
      S = sum.data;
    const clr = h.lr / (1 + (h.step - 1) * h.lrDecay);
    for (let i = 0; i < P.length; i++) {
      const gi = h.weightDecay !== 0 ? Gr[i] + h.weightDecay * P[i] : Gr[i];
      S[i] += gi * gi;
      P[i] -= (clr * gi) / (Math.sqrt(S[i]) + h.eps);
    }
  }
}
