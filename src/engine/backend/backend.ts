import type { Dtype, FloatArray, Tensor } from '../tensor';
import type { Rng } from '../rng';

// The Backend names every kernel the models and optimizers use, forward and backward side by side.
// Conventions, shared by every implementation:
// - Activations are row-major; a tensor of shape [..., C] is read as a matrix of rows × C.
// - Backward kernels ACCUMULATE into their gradient outputs (dx += ...), so a tensor used twice
//   (a tied embedding, a residual stream) collects both contributions without extra copies.
// - A gradient output passed as null is not computed.
// - Kernels never allocate tensors the caller can see; scratch space is the backend's business.

export type Activation = 'tanh' | 'sigmoid' | 'relu' | 'gelu';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
  /** true: AdamW (decoupled decay, p *= 1 - lr·wd); false: Adam (L2, g += wd·p). */
  decoupled: boolean;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** First step: the momentum buffer is initialised to the gradient, as in torch.optim.SGD. */
  firstStep: boolean;
}

export interface RmspropHyper {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

export interface AdagradHyper {
  lr: number;
  lrDecay: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count. */
  step: number;
}

export interface Backend {
  readonly name: string;
  readonly dtype: Dtype;

  // ---- storage -------------------------------------------------------------------------------
  /** A zero-filled tensor owned by the innermost open arena (or persistent when none is open). */
  alloc(shape: readonly number[]): Tensor;
  /** A zero-filled tensor that outlives every arena: parameters, optimizer state, carried state. */
  allocPersistent(shape: readonly number[]): Tensor;
  /** Copies host values into a new tensor. */
  fromArray(shape: readonly number[], values: ArrayLike<number>, persistent?: boolean): Tensor;
  /** A host copy of the tensor's values. */
  read(t: Tensor): FloatArray;
  write(t: Tensor, values: ArrayLike<number>): void;
  /** Runs `fn` inside a fresh arena and releases everything allocated there when it returns or throws. */
  scoped<T>(fn: () => T): T;
  /** Releases a persistent tensor's storage. */
  dispose(t: Tensor): void;
  /** Tensors currently live (for leak tests). */
  liveTensors(): number;

  // ---- copies and elementwise ---------------------------------------------------------------
  fill(t: Tensor, value: number): void;
  /** dst[dstOffset + i] = src[srcOffset + i] for i < count. */
  copy(src: Tensor, dst: Tensor, srcOffset?: number, dstOffset?: number, count?: number): void;
  /** dst += src (same size). */
  accumulate(dst: Tensor, src: Tensor): void;
  /** y = a + b (same size). */
  addForward(a: Tensor, b: Tensor, y: Tensor): void;
  /** y[i] = a[i] + b[i mod |b|] (b repeats along the leading dimensions, e.g. positions). */
  addRepeatForward(a: Tensor, b: Tensor, y: Tensor): void;
  /** db[j] += Σ over repeats of dy. */
  addRepeatBackward(dy: Tensor, db: Tensor): void;
  /** y = a ⊙ b. */
  mulForward(a: Tensor, b: Tensor, y: Tensor): void;
  mulBackward(dy: Tensor, a: Tensor, b: Tensor, da: Tensor | null, db: Tensor | null): void;
  /** y = f(x) for tanh, sigmoid, ReLU, GELU (exact erf). */
  activationForward(kind: Activation, x: Tensor, y: Tensor): void;
  /** dx += f'(x) ⊙ dy (uses y where that is cheaper: tanh, sigmoid). */
  activationBackward(kind: Activation, x: Tensor, y: Tensor, dy: Tensor, dx: Tensor): void;
  /** y[d1][d0][inner] = x[d0][d1][inner]: swaps the two leading dimensions (time-major ↔ batch-first). */
  transpose01Forward(x: Tensor, d0: number, d1: number, y: Tensor): void;
  /** dx[d0][d1] += dy[d1][d0]. */
  transpose01Backward(dy: Tensor, d0: number, d1: number, dx: Tensor): void;

  // ---- layers ------------------------------------------------------------------------------
  /** y = x · wᵀ + b, x [M,K], w [N,K], b [N] or null, y [M,N]. */
  linearForward(x: Tensor, w: Tensor, b: Tensor | null, y: Tensor): void;
  /** dx += dy · w, dw += dyᵀ · x, db += Σ_rows dy. */
  linearBackward(dy: Tensor, x: Tensor, w: Tensor, dx: Tensor | null, dw: Tensor | null, db: Tensor | null): void;
  /** y[n] = w[ids[n]], w [V,C], y [N,C]. Throws on an id outside [0, V). */
  embeddingForward(w: Tensor, ids: Int32Array, y: Tensor): void;
  /** dw[ids[n]] += dy[n]. */
  embeddingBackward(dy: Tensor, ids: Int32Array, dw: Tensor): void;
  /** Row-wise layer norm with biased variance; saves mean and 1/std per row for the backward pass. */
  layerNormForward(x: Tensor, gain: Tensor, bias: Tensor, eps: number, y: Tensor, mean: Tensor, rstd: Tensor): void;
  layerNormBackward(dy: Tensor, x: Tensor, gain: Tensor, mean: Tensor, rstd: Tensor, dx: Tensor | null, dgain: Tensor | null, dbias: Tensor | null): void;
  /** Softmax over the last dimension. */
  softmaxForward(x: Tensor, y: Tensor): void;
  /** dx += y ⊙ (dy − Σ dy ⊙ y). */
  softmaxBackward(y: Tensor, dy: Tensor, dx: Tensor): void;
  /**
   * Causal multi-head scaled-dot-product attention on a fused projection qkv [B,T,3C]
   * (q, k, v in column blocks; head h uses columns h·hd … (h+1)·hd−1 of each).
   * Writes y [B,T,C] and the attention probabilities probs [B,nh,T,T] (0 above the diagonal).
   * With a dropout mask [B,nh,T,T], y uses probs ⊙ mask while probs stays undropped (for views).
   */
  attentionForward(qkv: Tensor, nHead: number, y: Tensor, probs: Tensor, dropMask: Tensor | null): void;
  attentionBackward(dy: Tensor, qkv: Tensor, probs: Tensor, dropMask: Tensor | null, nHead: number, dqkv: Tensor): void;
  /**
   * Encoder–decoder attention with separate projections: q [B,Tq,C], k, v [B,Tk,C] (self-attention
   * Tq = Tk; cross-attention keys and values from the encoder, Tk = source length). mask null or
   * 0/1 values [B,Mq,Tk] with Mq = 1 (a padding mask, shared by every query) or Tq; 1 = masked,
   * added to the scaled scores as mask · −1e9. Writes y [B,Tq,C] and probs [B,nh,Tq,Tk].
   */
  maskedAttentionForward(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, nHead: number, y: Tensor, probs: Tensor): void;
  /** dq, dk, dv accumulate from the saved probs; a null one is not computed. */
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
  ): void;
  /** The attention lesson's layer norm: gain · (x − mean) / (std + eps) + bias, unbiased std; saves mean and std per row. */
  seedLayerNormForward(x: Tensor, gain: Tensor, bias: Tensor, eps: number, y: Tensor, mean: Tensor, std: Tensor): void;
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
  ): void;
  /** Generation: copies the k and v columns of qkv [B,T,3C] into caches [B,L,C] at positions offset … offset+T−1. */
  kvCacheWrite(qkv: Tensor, kCache: Tensor, vCache: Tensor, offset: number): void;
  /**
   * Generation: the query of qkv [B,1,3C] attends over cached positions 0 … length−1 (the new
   * token's own k, v already written there); y [B,1,C].
   */
  attentionDecodeForward(qkv: Tensor, kCache: Tensor, vCache: Tensor, length: number, nHead: number, y: Tensor): void;
  /** Fills mask with 0 (probability p) or 1/(1−p), drawing from rng in element order. */
  dropoutMask(mask: Tensor, p: number, rng: Rng): void;
  /**
   * Mean cross-entropy of logits [N,V] against targets (positions equal to ignoreIndex do not
   * count). Writes softmax(logits) to probs and returns the loss and the number of counted rows.
   */
  crossEntropyForward(logits: Tensor, targets: Int32Array, ignoreIndex: number, probs: Tensor): { loss: number; count: number };
  /** dlogits += dloss · (probs − onehot(target)) / count on counted rows. */
  crossEntropyBackward(probs: Tensor, targets: Int32Array, ignoreIndex: number, dloss: number, count: number, dlogits: Tensor): void;

  // ---- recurrent layers, time-major: gi [T,B,G·H] = x·W_ihᵀ + b_ih for all steps at once ----------
  /** h_t = tanh(gi_t + h_{t−1}·W_hhᵀ + b_hh). Writes hs [T,B,H]. */
  rnnTanhForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, hs: Tensor): void;
  /** Backpropagation through time; dgi, dwhh, dbhh accumulate. */
  rnnTanhBackward(dhs: Tensor, hs: Tensor, h0: Tensor, whh: Tensor, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void;
  /** LSTM, gate blocks i,f,g,o. Writes hs, cs [T,B,H] and the activated gates acts [T,B,4H]. */
  lstmForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, c0: Tensor, hs: Tensor, cs: Tensor, acts: Tensor): void;
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
  ): void;
  /** GRU, gate blocks r,z,n; saves acts [T,B,3H] (r,z,n) and ghn [T,B,H] = W_hn h + b_hn. */
  gruForward(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, hs: Tensor, acts: Tensor, ghn: Tensor): void;
  gruBackward(dhs: Tensor, hs: Tensor, acts: Tensor, ghn: Tensor, h0: Tensor, whh: Tensor, dgi: Tensor, dwhh: Tensor | null, dbhh: Tensor | null): void;

  // ---- optimizers ---------------------------------------------------------------------------
  /** Σ t² (for global-norm clipping; summed in float64). */
  sumSquares(t: Tensor): number;
  /** t *= s. */
  scale(t: Tensor, s: number): void;
  /** t = clamp(t, −limit, limit) (clip_grad_value_). */
  clampAbs(t: Tensor, limit: number): void;
  adamStep(p: Tensor, g: Tensor, m: Tensor, v: Tensor, h: AdamWHyper): void;
  sgdStep(p: Tensor, g: Tensor, momentumBuf: Tensor | null, h: SgdHyper): void;
  rmspropStep(p: Tensor, g: Tensor, squareAvg: Tensor, momentumBuf: Tensor | null, gradAvg: Tensor | null, h: RmspropHyper): void;
  adagradStep(p: Tensor, g: Tensor, sum: Tensor, h: AdagradHyper): void;
}

/** Every kernel by name, forward and backward: the registry that parity and gradient tests walk. */
export const KERNEL_NAMES = [
  'fill',
  'copy',
  'accumulate',
  'addForward',
  'addRepeatForward',
  'addRepeatBackward',
  'mulForward',
  'mulBackward',
  'activationForward',
  'activationBackward',
  'transpose01Forward',
  'transpose01Backward',
  'linearForward',
  'linearBackward',
  'embeddingForward',
  'embeddingBackward',
  'layerNormForward',
  'layerNormBackward',
  'softmaxForward',
  'softmaxBackward',
  'attentionForward',
  'attentionBackward',
  'kvCacheWrite',
  'attentionDecodeForward',
  'dropoutMask',
  'crossEntropyForward',
  'crossEntropyBackward',
  'rnnTanhForward',
  'rnnTanhBackward',
  'lstmForward',
  'lstmBackward',
  'gruForward',
  'gruBackward',
  'sumSquares',
  'scale',
  'clampAbs',
  'adamStep',
  'sgdStep',
  'rmspropStep',
  'adagradStep',
  'maskedAttentionForward',
  'maskedAttentionBackward',
  'seedLayerNormForward',
  'seedLayerNormBackward',
] as const satisfies readonly (keyof Backend)[];

export type KernelName = (typeof KERNEL_NAMES)[number];
