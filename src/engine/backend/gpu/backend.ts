import type { Activation, AdagradHyper, AdamWHyper, Backend, KernelName, RmspropHyper, SgdHyper } from '../backend';
import { Arena, Tensor, shapeSize, withArena } from '../../tensor';
import type { Rng } from '../../rng';
import { GpuDevice, GpuUnavailableError, MAX_ELEMENTS, type GlContext, type Program } from './device';
import type { GpuJs, GpuJsArgument, GpuJsTexture } from './gpujs';
import * as P from './programs';
import * as R from './recurrent';
import { checkKernels, SELF_CHECK_SIZES, type KernelCheck } from './self-check';
import { maskedAttentionBackward, maskedAttentionForward, seedLayerNormBackward, seedLayerNormForward } from '../cpu/encoder-decoder';

// The GPU backend: the Backend's kernels in gpu.js on WebGL2, float32. Every tensor is one flat
// texture that stays on the GPU between kernels; the host reads back only what it asks for
// (metrics: the loss, the gradient norm's partial sums). Kernels never write in place: each
// result is a new texture that replaces the tensor's old one, which is deleted then (backward
// kernels compute old + contribution). gpu.js runs where the GPU is: in a browser (Web Worker or
// page), not in Node, so the host creates the gpu.js instance and hands it to `create`.

export interface GpuBackendOptions {
  /** Fault injection for tests: this kernel's results come out corrupted, so selfCheck fails. */
  failKernel?: KernelName;
}

export interface GpuAdapter {
  renderer: string;
  vendor: string;
  maxTextureSize: number;
}

export interface SelfCheckResult {
  ok: boolean;
  kernels: KernelCheck[];
}

const EMPTY = new Float32Array(0);

function check(cond: boolean, message: () => string): void {
  if (!cond) throw new Error(message());
}

/** A WebGL2 context: WebGL1 lacks the integer arithmetic and float render targets the kernels use. */
function isWebGL2(gl: unknown): gl is GlContext {
  return typeof gl === 'object' && gl !== null && typeof (gl as { texStorage3D?: unknown }).texStorage3D === 'function';
}

export class GpuBackend implements Backend {
  readonly name = 'gpu';
  readonly dtype = 'float32' as const;
  private readonly textures = new Map<Tensor, GpuJsTexture | null>();
  private readonly arenas: Arena[] = [];

  /**
   * Wraps a gpu.js instance the host made with `new GPU({ mode: 'webgl2', canvas, context })` (the
   * browser build; in a Web Worker, canvas = new OffscreenCanvas(1, 1) and its 'webgl2' context).
   * Throws GpuUnavailableError when that instance is not on WebGL2.
   */
  static create(gpu: GpuJs, options: GpuBackendOptions = {}): GpuBackend {
    if (gpu.mode !== 'webgl2') {
      throw new GpuUnavailableError(
        `gpu.js runs in "${gpu.mode}" mode; the GPU backend needs WebGL2 (create the instance with { mode: 'webgl2' } where WebGL2 is available)`,
      );
    }
    if (!gpu.context) {
      // gpu.js makes its context with the first kernel when the host passed none
      gpu.createKernel('function () { return 0; }', {
        output: [1],
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
        dynamicOutput: false,
        dynamicArguments: false,
      })();
    }
    const gl = gpu.context;
    if (!isWebGL2(gl)) throw new GpuUnavailableError('gpu.js has no WebGL2 context here (WebGL2 is missing or disabled); train on the CPU backend');
    if (gl.isContextLost()) throw new GpuUnavailableError('the WebGL2 context is lost; train on the CPU backend');
    const info = gl.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number; UNMASKED_VENDOR_WEBGL: number } | null;
    const adapter: GpuAdapter = {
      renderer: String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
      vendor: String(gl.getParameter(info ? info.UNMASKED_VENDOR_WEBGL : gl.VENDOR)),
      maxTextureSize: Number(gl.getParameter(gl.MAX_TEXTURE_SIZE)),
    };
    return new GpuBackend(new GpuDevice(gpu, gl, adapter.maxTextureSize), adapter, options);
  }

  private constructor(
    private readonly d: GpuDevice,
    readonly adapter: GpuAdapter,
    options: GpuBackendOptions,
  ) {
    const fail = options.failKernel;
    if (fail) {
      // the kernel is named at run time (a test's fault injection), so it is looked up by name
      const kernel = (Reflect.get(this, fail) as (...args: unknown[]) => unknown).bind(this);
      Reflect.set(this, fail, (...args: unknown[]) => {
        this.d.corrupting = true;
        try {
          return kernel(...args);
        } finally {
          this.d.corrupting = false;
        }
      });
    }
  }

  /** Runs every kernel on a small random case against the CPU reference (float32, JS kernels). */
  selfCheck(): SelfCheckResult {
    const kernels = checkKernels(this, SELF_CHECK_SIZES);
    return { ok: kernels.every((k) => k.ok), kernels };
  }

  isContextLost(): boolean {
    return this.d.isContextLost();
  }

  /** Kernels compiled so far (each once per operation and shape). */
  get compiledKernels(): number {
    return this.d.compiled;
  }

  /** Frees every texture and kernel; the backend is unusable afterwards. */
  destroy(): void {
    for (const tex of this.textures.values()) tex?.delete();
    this.textures.clear();
    this.d.destroy();
  }

  // ---- storage ---------------------------------------------------------------------------------

  private register(shape: readonly number[], arena: Arena | null): Tensor {
    const n = shapeSize(shape);
    check(n <= MAX_ELEMENTS, () => `a GPU tensor holds at most ${MAX_ELEMENTS} elements; shape [${shape.join(', ')}] has ${n}`);
    const t = new Tensor(shape.slice(), EMPTY, arena);
    if (arena) arena.tensors.push(t);
    this.textures.set(t, null); // null: all zeros, no texture yet
    return t;
  }

  alloc(shape: readonly number[]): Tensor {
    return this.register(shape, this.arenas.length > 0 ? this.arenas[this.arenas.length - 1] : null);
  }

  allocPersistent(shape: readonly number[]): Tensor {
    return this.register(shape, null);
  }

  fromArray(shape: readonly number[], values: ArrayLike<number>, persistent = false): Tensor {
    const t = persistent ? this.allocPersistent(shape) : this.alloc(shape);
    this.write(t, values);
    return t;
  }

  read(t: Tensor): Float32Array {
    const tex = this.texture(t, false);
    return tex ? this.d.read(tex) : new Float32Array(t.size);
  }

  write(t: Tensor, values: ArrayLike<number>): void {
    check(values.length === t.size, () => `write: ${values.length} values for a tensor of shape [${t.shape.join(', ')}] (${t.size} elements)`);
    if (t.size === 0) return;
    this.set(t, this.d.upload(values instanceof Float32Array ? values : Float32Array.from(values)));
  }

  scoped<T>(fn: () => T): T {
    return withArena(this.arenas, fn, (tensors) => {
      for (const t of tensors) this.release(t);
    });
  }

  dispose(t: Tensor): void {
    check(t.arena === null, () => 'dispose: tensors allocated in an arena are released with it');
    this.release(t);
  }

  liveTensors(): number {
    return this.textures.size;
  }

  private release(t: Tensor): void {
    this.textures.get(t)?.delete();
    this.textures.delete(t);
  }

  /** The tensor's texture; zeros are made on first use. */
  private texture(t: Tensor, materialize = true): GpuJsTexture | null {
    const tex = this.textures.get(t);
    if (tex === undefined) throw new Error(`GPU tensor of shape [${t.shape.join(', ')}] was released (or belongs to another backend)`);
    if (tex !== null || !materialize) return tex;
    const zeros = this.d.run(P.FILL, t.size, [0]);
    this.textures.set(t, zeros);
    return zeros;
  }

  /** The texture of an input tensor. */
  private in(t: Tensor): GpuJsTexture {
    return this.texture(t)!;
  }

  /** Gives the tensor a new value, deleting the old texture. */
  private set(t: Tensor, tex: GpuJsTexture | null): void {
    const old = this.textures.get(t);
    if (old === undefined) {
      tex?.delete();
      throw new Error(`GPU tensor of shape [${t.shape.join(', ')}] was released (or belongs to another backend)`);
    }
    this.textures.set(t, tex);
    if (old !== tex) old?.delete();
  }

  /** Runs `p` with one thread per element of `out` and makes the result out's value. */
  private into(out: Tensor, p: Program, args: (Tensor | number)[], constants?: Record<string, number>): void {
    if (out.size === 0) return;
    this.set(out, this.d.run(p, out.size, this.args(args), constants));
  }

  private args(args: (Tensor | number)[]): GpuJsArgument[] {
    return args.map((a) => (typeof a === 'number' ? a : this.in(a)));
  }

  // ---- copies and elementwise ------------------------------------------------------------------

  fill(t: Tensor, value: number): void {
    if (value === 0 && !this.d.corrupting) this.set(t, null);
    else this.into(t, P.FILL, [value]);
  }

  copy(src: Tensor, dst: Tensor, srcOffset = 0, dstOffset = 0, count = src.size - srcOffset): void {
    check(
      srcOffset >= 0 && dstOffset >= 0 && count >= 0 && srcOffset + count <= src.size && dstOffset + count <= dst.size,
      () => `copy: range of ${count} out of bounds`,
    );
    if (count === 0) return;
    if (srcOffset === 0 && dstOffset === 0 && count === dst.size && src.size === dst.size) {
      this.set(dst, this.d.share(this.in(src)));
      return;
    }
    this.into(dst, P.COPY_RANGE, [src, dst, srcOffset, dstOffset, count]);
  }

  accumulate(dst: Tensor, src: Tensor): void {
    check(dst.size === src.size, () => `accumulate: sizes differ (${dst.size} vs ${src.size})`);
    this.into(dst, P.ADD, [dst, src]);
  }

  addForward(a: Tensor, b: Tensor, y: Tensor): void {
    this.into(y, P.ADD, [a, b]);
  }

  addRepeatForward(a: Tensor, b: Tensor, y: Tensor): void {
    check(a.size % b.size === 0, () => `addRepeat: ${a.size} is not a multiple of ${b.size}`);
    this.into(y, P.ADD_REPEAT, [a, b], { N: b.size });
  }

  addRepeatBackward(dy: Tensor, db: Tensor): void {
    this.into(db, P.COLUMN_SUM_ACC, [db, dy], { R: dy.size / db.size, N: db.size });
  }

  mulForward(a: Tensor, b: Tensor, y: Tensor): void {
    this.into(y, P.MUL, [a, b]);
  }

  mulBackward(dy: Tensor, a: Tensor, b: Tensor, da: Tensor | null, db: Tensor | null): void {
    const n = dy.size;
    const ga = da && this.d.run(P.MUL_ACC, n, this.args([da, dy, b]));
    const gb = db && this.d.run(P.MUL_ACC, n, this.args([db, dy, a]));
    if (da) this.set(da, ga);
    if (db) this.set(db, gb);
  }

  activationForward(kind: Activation, x: Tensor, y: Tensor): void {
    this.into(y, P.ACTIVATION[kind], [x]);
  }

  activationBackward(kind: Activation, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void {
    this.into(dx, P.ACTIVATION_BACKWARD[kind], [dx, x, y, dy]);
  }

  transpose01Forward(x: Tensor, d0: number, d1: number, y: Tensor): void {
    this.into(y, P.TRANSPOSE01, [x], { D0: d0, D1: d1, INNER: x.size / (d0 * d1) });
  }

  transpose01Backward(dy: Tensor, d0: number, d1: number, dx: Tensor): void {
    this.into(dx, P.TRANSPOSE01_BACKWARD, [dx, dy], { D0: d0, D1: d1, INNER: dy.size / (d0 * d1) });
  }

  // ---- layers ------------------------------------------------------------------------------------

  linearForward(x: Tensor, w: Tensor, b: Tensor | null, y: Tensor): void {
    const [N, K] = w.shape;
    check(x.cols === K, () => `linear: input has ${x.cols} features, weight expects ${K}`);
    // y (M, N) = x (M, K) · wᵀ: A(i, k) = x[i·K + k], B(k, j) = w[j·K + k]
    const shape = { N, K, AR: K, AC: 1, BR: 1, BC: K };
    if (b) this.into(y, P.MATMUL_BIAS, [x, w, b, 0, 0], shape);
    else this.into(y, P.MATMUL, [x, w, 0, 0], shape);
  }

  linearBackward(dy: Tensor, x: Tensor, w: Tensor, dx: Tensor | null, dw: Tensor | null, db: Tensor | null): void {
    const [N, K] = w.shape;
    const M = x.size / K;
    // dx (M, K) += dy (M, N) · w (N, K)
    const gx = dx && this.d.run(P.MATMUL_ACC, dx.size, this.args([dy, w, dx, 0, 0]), { N: K, K: N, AR: N, AC: 1, BR: K, BC: 1 });
    // dw (N, K) += dyᵀ (N, M) · x (M, K)
    const gw = dw && this.d.run(P.MATMUL_ACC, dw.size, this.args([dy, x, dw, 0, 0]), { N: K, K: M, AR: 1, AC: N, BR: K, BC: 1 });
    const gb = db && this.d.run(P.COLUMN_SUM_ACC, N, this.args([db, dy]), { R: M, N });
    if (dx) this.set(dx, gx);
    if (dw) this.set(dw, gw);
    if (db) this.set(db, gb);
  }

  embeddingForward(w: Tensor, ids: Int32Array, y: Tensor): void {
    const [V, C] = w.shape;
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      check(id >= 0 && id < V && Number.isInteger(id), () => `embedding: token id ${id} at position ${n} is outside the vocabulary [0, ${V})`);
    }
    if (ids.length === 0) return;
    const idTex = this.d.upload(Float32Array.from(ids));
    try {
      this.set(y, this.d.run(P.EMBEDDING, ids.length * C, [this.in(w), idTex], { C }));
    } finally {
      idTex.delete();
    }
  }

  embeddingBackward(dy: Tensor, ids: Int32Array, dw: Tensor): void {
    const [V, C] = dw.shape;
    if (ids.length === 0) return;
    // positions grouped by id, in position order (a counting sort), so each thread sums its id's rows
    const count = new Float32Array(V);
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      check(id >= 0 && id < V, () => `embedding: token id ${id} at position ${n} is outside the vocabulary [0, ${V})`);
      count[id]++;
    }
    const start = new Float32Array(V);
    for (let v = 1; v < V; v++) start[v] = start[v - 1] + count[v - 1];
    const next = start.slice();
    const order = new Float32Array(ids.length);
    for (let n = 0; n < ids.length; n++) order[next[ids[n]]++] = n;
    const textures = [this.d.upload(start), this.d.upload(count), this.d.upload(order)];
    try {
      this.set(dw, this.d.run(P.EMBEDDING_BACKWARD, V * C, [this.in(dw), this.in(dy), ...textures], { C, N: ids.length }));
    } finally {
      for (const t of textures) t.delete();
    }
  }

  layerNormForward(x: Tensor, gain: Tensor, bias: Tensor, eps: number, y: Tensor, mean: Tensor, rstd: Tensor): void {
    const C = x.cols,
      rows = x.rows;
    const m = this.d.run(P.ROW_MEAN, rows, [this.in(x)], { C });
    const s = this.d.run(P.ROW_RSTD, rows, [this.in(x), m, eps], { C });
    this.set(y, this.d.run(P.LAYERNORM, x.size, [this.in(x), m, s, this.in(gain), this.in(bias)], { C }));
    this.set(mean, m);
    this.set(rstd, s);
  }

  layerNormBackward(dy: Tensor, x: Tensor, gain: Tensor, mean: Tensor, rstd: Tensor, dx: Tensor | null, dgain: Tensor | null, dbias: Tensor | null): void {
    const C = x.cols,
      rows = x.rows;
    let gx: GpuJsTexture | null = null;
    if (dx) {
      const stats = this.d.run(P.LAYERNORM_BACKWARD_STATS, 2 * rows, this.args([dy, x, gain, mean, rstd]), { C });
      gx = this.d.run(P.LAYERNORM_BACKWARD_DX, x.size, [...this.args([dx, dy, x, gain, mean, rstd]), stats], { C });
      stats.delete();
    }
    const gg = dgain && this.d.run(P.LAYERNORM_BACKWARD_DGAIN, C, this.args([dgain, dy, x, mean, rstd]), { R: rows, C });
    const gb = dbias && this.d.run(P.COLUMN_SUM_ACC, C, this.args([dbias, dy]), { R: rows, N: C });
    if (dx) this.set(dx, gx);
    if (dgain) this.set(dgain, gg);
    if (dbias) this.set(dbias, gb);
  }

  /** Row max and Σ exp(x − max), the two halves of a stable softmax. */
  private softmaxStats(x: Tensor): [GpuJsTexture, GpuJsTexture] {
    const C = x.cols,
      rows = x.rows;
    const max = this.d.run(P.ROW_MAX, rows, [this.in(x)], { C });
    return [max, this.d.run(P.ROW_SUM_EXP, rows, [this.in(x), max], { C })];
  }

  softmaxForward(x: Tensor, y: Tensor): void {
    const [max, sum] = this.softmaxStats(x);
    this.set(y, this.d.run(P.SOFTMAX, x.size, [this.in(x), max, sum], { C: x.cols }));
    max.delete();
    sum.delete();
  }

  softmaxBackward(y: Tensor, dy: Tensor, dx: Tensor): void {
    const dot = this.d.run(P.ROW_DOT, y.rows, this.args([dy, y]), { C: y.cols });
    this.set(dx, this.d.run(P.SOFTMAX_BACKWARD, y.size, [...this.args([dx, y, dy]), dot], { C: y.cols }));
    dot.delete();
  }

  attentionForward(qkv: Tensor, nHead: number, y: Tensor, probs: Tensor, dropMask: Tensor | null): void {
    const [B, T, C3] = qkv.shape;
    const C = C3 / 3,
      HD = C / nHead,
      rows = B * nHead * T;
    const scores = this.d.run(P.ATTENTION_SCORES, rows * T, [this.in(qkv)], { T, C, NH: nHead, HD, SCALE: 1 / Math.sqrt(HD) });
    const max = this.d.run(P.CAUSAL_ROW_MAX, rows, [scores], { T });
    const sum = this.d.run(P.CAUSAL_ROW_SUM_EXP, rows, [scores, max], { T });
    const p = this.d.run(P.CAUSAL_SOFTMAX, rows * T, [scores, max, sum], { T });
    for (const t of [scores, max, sum]) t.delete();
    const shape = { T, C, NH: nHead, HD };
    const out = dropMask
      ? this.d.run(P.ATTENTION_OUTPUT_MASKED, B * T * C, [this.in(qkv), p, this.in(dropMask)], shape)
      : this.d.run(P.ATTENTION_OUTPUT, B * T * C, [this.in(qkv), p], shape);
    this.set(probs, p);
    this.set(y, out);
  }

  attentionBackward(dy: Tensor, qkv: Tensor, probs: Tensor, dropMask: Tensor | null, nHead: number, dqkv: Tensor): void {
    const [B, T, C3] = qkv.shape;
    const C = C3 / 3,
      HD = C / nHead,
      rows = B * nHead * T;
    const shape = { T, C, NH: nHead, HD };
    const dp = dropMask
      ? this.d.run(P.ATTENTION_DP_MASKED, rows * T, this.args([dy, qkv, dropMask]), shape)
      : this.d.run(P.ATTENTION_DP, rows * T, this.args([dy, qkv]), shape);
    const dot = this.d.run(P.ROW_DOT, rows, [dp, this.in(probs)], { C: T });
    const ds = this.d.run(P.ATTENTION_DS, rows * T, [dp, this.in(probs), dot], { T, SCALE: 1 / Math.sqrt(HD) });
    const out = dropMask
      ? this.d.run(P.ATTENTION_DQKV_MASKED, dqkv.size, [this.in(dqkv), ds, ...this.args([qkv, probs, dy, dropMask])], shape)
      : this.d.run(P.ATTENTION_DQKV, dqkv.size, [this.in(dqkv), ds, ...this.args([qkv, probs, dy])], shape);
    for (const t of [dp, dot, ds]) t.delete();
    this.set(dqkv, out);
  }

  // The encoder–decoder's kernels have no WebGL programs yet: they run the CPU's code on host
  // copies and write their results back (correct, not fast; the seq2seq family is CPU-first).

  maskedAttentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, nHead: number, y: Tensor, probs: Tensor): void {
    const [B, Tq, C] = q.shape;
    const Tk = k.shape[1];
    const Y = new Float32Array(y.size),
      Pr = new Float32Array(probs.size);
    const maskRows = mask ? mask.size / (B * Tk) : 0;
    maskedAttentionForward(this.read(q), this.read(k), this.read(v), mask ? this.read(mask) : null, maskRows, B, Tq, Tk, C, nHead, Y, Pr);
    this.write(y, Y);
    this.write(probs, Pr);
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
    const [DQ, DK, DV] = [dq, dk, dv].map((t) => (t ? this.read(t) : null));
    maskedAttentionBackward(this.read(dy), this.read(q), this.read(k), this.read(v), this.read(probs), B, Tq, Tk, C, nHead, DQ, DK, DV, new Float32Array(Tk));
    if (dq) this.write(dq, DQ!);
    if (dk) this.write(dk, DK!);
    if (dv) this.write(dv, DV!);
  }

  seedLayerNormForward(x: Tensor, gain: Tensor, bias: Tensor, eps: number, y: Tensor, mean: Tensor, std: Tensor): void {
    const Y = new Float32Array(y.size),
      M = new Float32Array(x.rows),
      S = new Float32Array(x.rows);
    seedLayerNormForward(this.read(x), this.read(gain), this.read(bias), eps, x.rows, x.cols, Y, M, S);
    this.write(y, Y);
    this.write(mean, M);
    this.write(std, S);
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
    const [DX, DG, DB] = [dx, dgain, dbias].map((t) => (t ? this.read(t) : null));
    seedLayerNormBackward(this.read(dy), this.read(x), this.read(gain), this.read(mean), this.read(std), eps, x.rows, x.cols, DX, DG, DB);
    if (dx) this.write(dx, DX!);
    if (dgain) this.write(dgain, DG!);
    if (dbias) this.write(dbias, DB!);
  }

  kvCacheWrite(qkv: Tensor, kCache: Tensor, vCache: Tensor, offset: number): void {
    const [, T, C3] = qkv.shape;
    const C = C3 / 3,
      L = kCache.shape[1];
    check(offset + T <= L, () => `kv cache: positions ${offset}…${offset + T - 1} do not fit in ${L}`);
    this.into(kCache, P.KV_CACHE_WRITE, [kCache, qkv, offset], { C, L, T, PART: 1 });
    this.into(vCache, P.KV_CACHE_WRITE, [vCache, qkv, offset], { C, L, T, PART: 2 });
  }

  attentionDecodeForward(qkv: Tensor, kCache: Tensor, vCache: Tensor, length: number, nHead: number, y: Tensor): void {
    const B = qkv.shape[0],
      C = qkv.shape[2] / 3,
      L = kCache.shape[1],
      HD = C / nHead;
    check(length >= 1 && length <= L, () => `attention decode: length ${length} is outside the cache [1, ${L}]`);
    const rows = B * nHead;
    const s = this.d.run(P.DECODE_SCORES, rows * L, [...this.args([qkv, kCache]), length], { L, C, NH: nHead, HD, SCALE: 1 / Math.sqrt(HD) });
    const max = this.d.run(P.DECODE_ROW_MAX, rows, [s, length], { L });
    const sum = this.d.run(P.DECODE_ROW_SUM_EXP, rows, [s, max, length], { L });
    this.set(y, this.d.run(P.DECODE_OUTPUT, B * C, [s, max, sum, this.in(vCache), length], { L, C, NH: nHead, HD }));
    for (const t of [s, max, sum]) t.delete();
  }

  dropoutMask(mask: Tensor, p: number, rng: Rng): void {
    check(p >= 0 && p < 1, () => `dropout probability (${p}) must be in [0, 1)`);
    // drawn on the host in element order, exactly as the CPU backend draws them
    const values = new Float32Array(mask.size);
    const keep = 1 / (1 - p);
    for (let i = 0; i < values.length; i++) values[i] = rng.random() < p ? 0 : keep;
    this.write(mask, values);
  }

  crossEntropyForward(logits: Tensor, targets: Int32Array, ignoreIndex: number, probs: Tensor): { loss: number; count: number } {
    const V = logits.cols,
      N = logits.rows;
    check(targets.length === N, () => `cross-entropy: ${targets.length} targets for ${N} rows of logits`);
    let count = 0;
    for (let r = 0; r < N; r++) {
      const t = targets[r];
      if (t === ignoreIndex) continue;
      check(t >= 0 && t < V, () => `cross-entropy: target id ${t} at row ${r} is outside the vocabulary [0, ${V})`);
      count++;
    }
    const [max, sum] = this.softmaxStats(logits);
    const tg = this.d.upload(Float32Array.from(targets));
    const rows = this.d.run(P.CROSS_ENTROPY_ROWS, N, [this.in(logits), max, sum, tg, ignoreIndex], { V });
    this.set(probs, this.d.run(P.SOFTMAX, logits.size, [this.in(logits), max, sum], { C: V }));
    const losses = this.d.read(rows);
    for (const t of [max, sum, tg, rows]) t.delete();
    let total = 0;
    for (let r = 0; r < N; r++) total += losses[r];
    return { loss: count > 0 ? total / count : 0, count };
  }

  crossEntropyBackward(probs: Tensor, targets: Int32Array, ignoreIndex: number, dloss: number, count: number, dlogits: Tensor): void {
    if (count === 0) return;
    const tg = this.d.upload(Float32Array.from(targets));
    try {
      this.set(
        dlogits,
        this.d.run(P.CROSS_ENTROPY_BACKWARD, dlogits.size, [this.in(dlogits), this.in(probs), tg, ignoreIndex, dloss / count], { V: probs.cols }),
      );
    } finally {
      tg.delete();
    }
  }

  // ---- recurrent layers ---------------------------------------------------------------------------

  private setGrads(grads: R.RecurrentGrads, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void {
    this.set(dgi, grads.dgi);
    if (dwhh) this.set(dwhh, grads.dwhh);
    if (dbhh) this.set(dbhh, grads.dbhh);
  }

  private maybe(t: Tensor | null): GpuJsTexture | null {
    return t && this.in(t);
  }

  rnnTanhForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, hs: Tensor): void {
    const [T, B, H] = hs.shape;
    this.set(hs, R.rnnTanhForward(this.d, this.in(gi), this.in(whh), this.in(bhh), this.in(h0), T, B, H));
  }

  rnnTanhBackward(dhs: Tensor, hs: Tensor, h0: Tensor, whh: Tensor, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void {
    const [T, B, H] = hs.shape;
    const grads = R.rnnTanhBackward(this.d, this.in(dhs), this.in(hs), this.in(h0), this.in(whh), this.in(dgi), this.maybe(dwhh), this.maybe(dbhh), T, B, H);
    this.setGrads(grads, dgi, dwhh, dbhh);
  }

  lstmForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, c0: Tensor, hs: Tensor, cs: Tensor, acts: Tensor): void {
    const [T, B, H] = hs.shape;
    const out = R.lstmForward(this.d, this.in(gi), this.in(whh), this.in(bhh), this.in(h0), this.in(c0), T, B, H);
    this.set(hs, out.hs);
    this.set(cs, out.cs);
    this.set(acts, out.acts);
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
    const grads = R.lstmBackward(
      this.d,
      this.in(dhs),
      this.in(hs),
      this.in(cs),
      this.in(acts),
      this.in(h0),
      this.in(c0),
      this.in(whh),
      this.in(dgi),
      this.maybe(dwhh),
      this.maybe(dbhh),
      T,
      B,
      H,
    );
    this.setGrads(grads, dgi, dwhh, dbhh);
  }

  gruForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, hs: Tensor, acts: Tensor, ghn: Tensor): void {
    const [T, B, H] = hs.shape;
    const out = R.gruForward(this.d, this.in(gi), this.in(whh), this.in(bhh), this.in(h0), T, B, H);
    this.set(hs, out.hs);
    this.set(acts, out.acts);
    this.set(ghn, out.ghn);
  }

  gruBackward(dhs: Tensor, hs: Tensor, acts: Tensor, ghn: Tensor, h0: Tensor, whh: Tensor, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void {
    const [T, B, H] = hs.shape;
    const grads = R.gruBackward(
      this.d,
      this.in(dhs),
      this.in(hs),
      this.in(acts),
      this.in(ghn),
      this.in(h0),
      this.in(whh),
      this.in(dgi),
      this.maybe(dwhh),
      this.maybe(dbhh),
      T,
      B,
      H,
    );
    this.setGrads(grads, dgi, dwhh, dbhh);
  }

  // ---- optimizers -----------------------------------------------------------------------------------

  sumSquares(t: Tensor): number {
    const n = t.size;
    if (n === 0) return 0;
    // about √n partial sums on the GPU, added on the host in float64
    const chunk = Math.max(1, Math.ceil(Math.sqrt(n)));
    const parts = this.d.run(P.SUM_SQUARES, Math.ceil(n / chunk), [this.in(t)], { CH: chunk, N: n });
    const values = this.d.read(parts);
    parts.delete();
    let s = 0;
    for (let i = 0; i < values.length; i++) s += values[i];
    return s;
  }

  scale(t: Tensor, s: number): void {
    this.into(t, P.SCALE, [t, s]);
  }

  clampAbs(t: Tensor, limit: number): void {
    this.into(t, P.CLAMP_ABS, [t, limit]);
  }

  /** Runs one optimizer source once per state it updates (every run reads the old state), then swaps them all in. */
  private update(p: Program, args: (Tensor | number)[], outputs: [Tensor, number][], constants: Record<string, number>): void {
    const inputs = this.args(args);
    const results = outputs.map(([t, out]) => this.d.run(p, t.size, inputs, { ...constants, OUT: out }));
    outputs.forEach(([t], i) => this.set(t, results[i]));
  }

  adamStep(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void {
    const bc1 = 1 - Math.pow(h.beta1, h.step);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(h.beta2, h.step));
    const decay = h.decoupled ? 1 - h.lr * h.weightDecay : 1;
    const l2 = h.decoupled ? 0 : h.weightDecay;
    this.update(
      P.ADAM,
      [p, g, m, v, decay, l2, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.lr / bc1, bc2Sqrt, h.eps],
      [
        [m, 1],
        [v, 2],
        [p, 0],
      ],
      {},
    );
  }

  sgdStep(p: Tensor, g: Tensor, momentumBuf: Tensor | null, h: SgdHyper): void {
    const momentum = momentumBuf && h.momentum !== 0 ? momentumBuf : null;
    this.update(
      P.SGD,
      [p, g, momentum ?? g, h.lr, h.weightDecay, h.momentum, h.dampening],
      momentum
        ? [
            [momentum, 1],
            [p, 0],
          ]
        : [[p, 0]],
      { MOMENTUM: momentum ? 1 : 0, FIRST: h.firstStep ? 1 : 0, NESTEROV: h.nesterov ? 1 : 0 },
    );
  }

  rmspropStep(p: Tensor, g: Tensor, squareAvg: Tensor, momentumBuf: Tensor | null, gradAvg: Tensor | null, h: RmspropHyper): void {
    const centered = h.centered && gradAvg ? gradAvg : null;
    const momentum = momentumBuf && h.momentum > 0 ? momentumBuf : null;
    const outputs: [Tensor, number][] = [[squareAvg, 1]];
    if (centered) outputs.push([centered, 2]);
    if (momentum) outputs.push([momentum, 3]);
    outputs.push([p, 0]);
    this.update(P.RMSPROP, [p, g, squareAvg, centered ?? g, momentum ?? g, h.lr, h.alpha, 1 - h.alpha, h.eps, h.weightDecay, h.momentum], outputs, {
      CENTERED: centered ? 1 : 0,
      MOMENTUM: momentum ? 1 : 0,
    });
  }

  adagradStep(p: Tensor, g: Tensor, sum: Tensor, h: AdagradHyper): void {
    const clr = h.lr / (1 + (h.step - 1) * h.lrDecay);
    this.update(
      P.ADAGRAD,
      [p, g, sum, clr, h.eps, h.weightDecay],
      [
        [sum, 1],
        [p, 0],
      ],
      {},
    );
  }
}
