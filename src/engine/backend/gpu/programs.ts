import { program, type Program } from './device';

// The kernels, as gpu.js kernel functions in text. One thread computes one element of a flat
// output; `this.constants` are compiled in (loop bounds must be: gpu.js cuts a loop bounded by an
// argument at loopMaxIterations without a word), numeric arguments are uniforms (offsets and
// hyperparameters that change from call to call without a recompile). idiv / imod divide as
// integers (glsl.ts). Accumulating kernels take the old value as an input and return old + new.

const X = 'const x = this.thread.x;';

// ---- fills, copies, elementwise --------------------------------------------------------------------

export const FILL = program('fill', ['v'], 'return v;');

export const COPY_RANGE = program(
  'copyRange',
  ['src', 'dst', 'srcOff', 'dstOff', 'count'],
  `${X}
if (x >= dstOff && x < dstOff + count) {
  return src[x - dstOff + srcOff];
}
return dst[x];`,
);

export const ADD = program(
  'add',
  ['a', 'b'],
  `${X}
return a[x] + b[x];`,
);

export const MUL = program(
  'mul',
  ['a', 'b'],
  `${X}
return a[x] * b[x];`,
);

/** acc + a ⊙ b */
export const MUL_ACC = program(
  'mulAcc',
  ['acc', 'a', 'b'],
  `${X}
return acc[x] + a[x] * b[x];`,
);

/** a[x] + b[x mod N] */
export const ADD_REPEAT = program(
  'addRepeat',
  ['a', 'b'],
  `${X}
return a[x] + b[imod(x, this.constants.N)];`,
);

/** acc[j] + Σ_r a[r·N + j], r < R: column sums of an (R, N) matrix. */
export const COLUMN_SUM_ACC = program(
  'columnSumAcc',
  ['acc', 'a'],
  `${X}
let s = 0;
for (let r = 0; r < this.constants.R; r++) {
  s += a[r * this.constants.N + x];
}
return acc[x] + s;`,
);

export const ACTIVATION = {
  tanh: program('tanh', ['a'], 'return tanh_(a[this.thread.x]);'),
  sigmoid: program('sigmoid', ['a'], 'return sigm(a[this.thread.x]);'),
  relu: program(
    'relu',
    ['a'],
    `${X}
const v = a[x];
if (v > 0) {
  return v;
}
return 0;`,
  ),
  gelu: program('gelu', ['a'], 'return gelu_(a[this.thread.x]);'),
} as const;

/** dx + f'(x) ⊙ dy, from x or y. */
export const ACTIVATION_BACKWARD = {
  tanh: program(
    'tanhBackward',
    ['dx', 'xs', 'ys', 'dy'],
    `${X}
const v = ys[x];
return dx[x] + dy[x] * (1 - v * v);`,
  ),
  sigmoid: program(
    'sigmoidBackward',
    ['dx', 'xs', 'ys', 'dy'],
    `${X}
const v = ys[x];
return dx[x] + dy[x] * v * (1 - v);`,
  ),
  relu: program(
    'reluBackward',
    ['dx', 'xs', 'ys', 'dy'],
    `${X}
if (xs[x] > 0) {
  return dx[x] + dy[x];
}
return dx[x];`,
  ),
  gelu: program(
    'geluBackward',
    ['dx', 'xs', 'ys', 'dy'],
    `${X}
return dx[x] + dy[x] * geluGrad_(xs[x]);`,
  ),
} as const;

/** y[j][i][k] = x[i][j][k] for x of shape (D0, D1, INNER). */
export const TRANSPOSE01 = program(
  'transpose01',
  ['a'],
  `${X}
const k = imod(x, this.constants.INNER);
const r = idiv(x, this.constants.INNER);
const j = idiv(r, this.constants.D0);
const i = r - j * this.constants.D0;
return a[(i * this.constants.D1 + j) * this.constants.INNER + k];`,
);

/** dx[i][j][k] + dy[j][i][k]. */
export const TRANSPOSE01_BACKWARD = program(
  'transpose01Backward',
  ['dx', 'dy'],
  `${X}
const k = imod(x, this.constants.INNER);
const r = idiv(x, this.constants.INNER);
const i = idiv(r, this.constants.D1);
const j = r - i * this.constants.D1;
return dx[x] + dy[(j * this.constants.D0 + i) * this.constants.INNER + k];`,
);

// ---- matrix products ------------------------------------------------------------------------------

/**
 * C (M, N) = A · B with A(i, k) = a[aOff + i·AR + k·AC] and B(k, j) = b[bOff + k·BR + j·BC]: strides
 * express the transposes, offsets the per-time-step slices of recurrent layers. Variants add a bias
 * row or accumulate into an old C.
 */
function matmul(id: string, extra: readonly string[], epilogue: string): Program {
  return program(
    id,
    ['a', 'b', ...extra, 'aOff', 'bOff'],
    `${X}
const i = idiv(x, this.constants.N);
const j = x - i * this.constants.N;
const ai = aOff + i * this.constants.AR;
const bj = bOff + j * this.constants.BC;
let s = 0;
for (let k = 0; k < this.constants.K; k++) {
  s += a[ai + k * this.constants.AC] * b[bj + k * this.constants.BR];
}
${epilogue}`,
  );
}

export const MATMUL = matmul('matmul', [], 'return s;');
export const MATMUL_BIAS = matmul('matmulBias', ['bias'], 'return s + bias[j];');
export const MATMUL_ACC = matmul('matmulAcc', ['acc'], 'return acc[x] + s;');

// ---- embedding ----------------------------------------------------------------------------------

/** y[n][c] = w[ids[n]][c] */
export const EMBEDDING = program(
  'embedding',
  ['w', 'ids'],
  `${X}
const n = idiv(x, this.constants.C);
const c = x - n * this.constants.C;
return w[ids[n] * this.constants.C + c];`,
);

/**
 * dw[v][c] + Σ dy[n][c] over the positions n with ids[n] = v, in position order: `order` lists the
 * positions grouped by id, `start` and `count` locate each id's group (built on the host).
 */
export const EMBEDDING_BACKWARD = program(
  'embeddingBackward',
  ['dw', 'dy', 'start', 'count', 'order'],
  `${X}
const v = idiv(x, this.constants.C);
const c = x - v * this.constants.C;
const first = start[v];
const n = count[v];
let s = 0;
for (let q = 0; q < this.constants.N; q++) {
  if (q >= n) {
    break;
  }
  s += dy[order[first + q] * this.constants.C + c];
}
return dw[x] + s;`,
);

// ---- row reductions: layer norm, softmax, cross-entropy -------------------------------------------

export const ROW_MEAN = program(
  'rowMean',
  ['a'],
  `${X}
let s = 0;
for (let c = 0; c < this.constants.C; c++) {
  s += a[x * this.constants.C + c];
}
return s / this.constants.C;`,
);

/** 1/sqrt(biased variance + eps) per row. */
export const ROW_RSTD = program(
  'rowRstd',
  ['a', 'mean', 'eps'],
  `${X}
const m = mean[x];
let v = 0;
for (let c = 0; c < this.constants.C; c++) {
  const d = a[x * this.constants.C + c] - m;
  v += d * d;
}
v = v / this.constants.C;
return 1 / Math.sqrt(v + eps);`,
);

export const LAYERNORM = program(
  'layerNorm',
  ['a', 'mean', 'rstd', 'gain', 'bias'],
  `${X}
const r = idiv(x, this.constants.C);
const c = x - r * this.constants.C;
return (a[x] - mean[r]) * rstd[r] * gain[c] + bias[c];`,
);

/** Per row, two values: mean(dy ⊙ gain) at 2r and mean(dy ⊙ gain ⊙ norm) at 2r + 1. */
export const LAYERNORM_BACKWARD_STATS = program(
  'layerNormBackwardStats',
  ['dy', 'a', 'gain', 'mean', 'rstd'],
  `${X}
const r = idiv(x, 2);
const second = x - r * 2;
const m = mean[r];
const sd = rstd[r];
let s = 0;
for (let c = 0; c < this.constants.C; c++) {
  const o = r * this.constants.C + c;
  const dn = dy[o] * gain[c];
  if (second > 0) {
    s += dn * (a[o] - m) * sd;
  } else {
    s += dn;
  }
}
return s / this.constants.C;`,
);

export const LAYERNORM_BACKWARD_DX = program(
  'layerNormBackwardDx',
  ['dx', 'dy', 'a', 'gain', 'mean', 'rstd', 'stats'],
  `${X}
const r = idiv(x, this.constants.C);
const c = x - r * this.constants.C;
const sd = rstd[r];
const norm = (a[x] - mean[r]) * sd;
return dx[x] + (dy[x] * gain[c] - stats[2 * r] - norm * stats[2 * r + 1]) * sd;`,
);

/** dgain[c] + Σ_r dy[r][c] · norm[r][c] */
export const LAYERNORM_BACKWARD_DGAIN = program(
  'layerNormBackwardDgain',
  ['dgain', 'dy', 'a', 'mean', 'rstd'],
  `${X}
let s = 0;
for (let r = 0; r < this.constants.R; r++) {
  const o = r * this.constants.C + x;
  s += dy[o] * (a[o] - mean[r]) * rstd[r];
}
return dgain[x] + s;`,
);

export const ROW_MAX = program(
  'rowMax',
  ['a'],
  `${X}
let m = a[x * this.constants.C];
for (let c = 1; c < this.constants.C; c++) {
  m = Math.max(m, a[x * this.constants.C + c]);
}
return m;`,
);

export const ROW_SUM_EXP = program(
  'rowSumExp',
  ['a', 'rowMax'],
  `${X}
const m = rowMax[x];
let s = 0;
for (let c = 0; c < this.constants.C; c++) {
  s += Math.exp(a[x * this.constants.C + c] - m);
}
return s;`,
);

export const SOFTMAX = program(
  'softmax',
  ['a', 'rowMax', 'rowSum'],
  `${X}
const r = idiv(x, this.constants.C);
return Math.exp(a[x] - rowMax[r]) * (1 / rowSum[r]);`,
);

/** Σ_c a[r][c] · b[r][c] per row. */
export const ROW_DOT = program(
  'rowDot',
  ['a', 'b'],
  `${X}
let s = 0;
for (let c = 0; c < this.constants.C; c++) {
  const o = x * this.constants.C + c;
  s += a[o] * b[o];
}
return s;`,
);

export const SOFTMAX_BACKWARD = program(
  'softmaxBackward',
  ['dx', 'y', 'dy', 'dot'],
  `${X}
const r = idiv(x, this.constants.C);
return dx[x] + y[x] * (dy[x] - dot[r]);`,
);

/** Per row: logsumexp − logit of the target, or 0 where the target is ignoreIndex. */
export const CROSS_ENTROPY_ROWS = program(
  'crossEntropyRows',
  ['logits', 'rowMax', 'rowSum', 'targets', 'ignoreIndex'],
  `${X}
const t = targets[x];
if (t == ignoreIndex) {
  return 0;
}
return rowMax[x] + Math.log(rowSum[x]) - logits[x * this.constants.V + t];`,
);

export const CROSS_ENTROPY_BACKWARD = program(
  'crossEntropyBackward',
  ['dlogits', 'probs', 'targets', 'ignoreIndex', 's'],
  `${X}
const r = idiv(x, this.constants.V);
const c = x - r * this.constants.V;
const t = targets[r];
if (t == ignoreIndex) {
  return dlogits[x];
}
let g = dlogits[x] + s * probs[x];
if (c == t) {
  g -= s;
}
return g;`,
);

// ---- attention, qkv (B, T, 3C), probs (B, NH, T, T) ------------------------------------------------

/** Output x as cell (b, h, i, j) of a (B, NH, T, T) score tensor (T bound first); 0 above the diagonal. */
const CAUSAL_CELL = `const j = imod(x, T);
const row = idiv(x, T);
const i = imod(row, T);
const bh = idiv(row, T);
const h = imod(bh, this.constants.NH);
const b = idiv(bh, this.constants.NH);
if (j > i) {
  return 0;
}`;

/** Causal scores q_i·k_j / sqrt(HD), 0 above the diagonal. */
export const ATTENTION_SCORES = program(
  'attentionScores',
  ['qkv'],
  `${X}
const T = this.constants.T;
${CAUSAL_CELL}
const q = (b * T + i) * 3 * this.constants.C + h * this.constants.HD;
const k = (b * T + j) * 3 * this.constants.C + this.constants.C + h * this.constants.HD;
let s = 0;
for (let d = 0; d < this.constants.HD; d++) {
  s += qkv[q + d] * qkv[k + d];
}
return s * this.constants.SCALE;`,
);

/** Max over j ≤ i of a causal row. */
export const CAUSAL_ROW_MAX = program(
  'causalRowMax',
  ['s'],
  `${X}
const i = imod(x, this.constants.T);
let m = s[x * this.constants.T];
for (let j = 1; j < this.constants.T; j++) {
  if (j > i) {
    break;
  }
  m = Math.max(m, s[x * this.constants.T + j]);
}
return m;`,
);

export const CAUSAL_ROW_SUM_EXP = program(
  'causalRowSumExp',
  ['s', 'rowMax'],
  `${X}
const i = imod(x, this.constants.T);
const m = rowMax[x];
let sum = 0;
for (let j = 0; j < this.constants.T; j++) {
  if (j > i) {
    break;
  }
  sum += Math.exp(s[x * this.constants.T + j] - m);
}
return sum;`,
);

export const CAUSAL_SOFTMAX = program(
  'causalSoftmax',
  ['s', 'rowMax', 'rowSum'],
  `${X}
const j = imod(x, this.constants.T);
const r = idiv(x, this.constants.T);
const i = imod(r, this.constants.T);
if (j > i) {
  return 0;
}
return Math.exp(s[x] - rowMax[r]) * (1 / rowSum[r]);`,
);

/** y (B, T, C): Σ_j p_ij v_j per head, p through the dropout mask where there is one. */
function attentionOutput(masked: boolean): Program {
  return program(
    masked ? 'attentionOutputMasked' : 'attentionOutput',
    masked ? ['qkv', 'probs', 'mask'] : ['qkv', 'probs'],
    `${X}
const T = this.constants.T;
const C = this.constants.C;
const c = imod(x, C);
const bt = idiv(x, C);
const i = imod(bt, T);
const b = idiv(bt, T);
const h = idiv(c, this.constants.HD);
const p0 = ((b * this.constants.NH + h) * T + i) * T;
const v0 = b * T * 3 * C + 2 * C + c;
let s = 0;
for (let j = 0; j < this.constants.T; j++) {
  if (j > i) {
    break;
  }
  s += probs[p0 + j]${masked ? ' * mask[p0 + j]' : ''} * qkv[v0 + j * 3 * C];
}
return s;`,
  );
}
export const ATTENTION_OUTPUT = attentionOutput(false);
export const ATTENTION_OUTPUT_MASKED = attentionOutput(true);

/** dp_ij = dy_i · v_j (times the mask), 0 above the diagonal. */
function attentionDp(masked: boolean): Program {
  return program(
    masked ? 'attentionDpMasked' : 'attentionDp',
    masked ? ['dy', 'qkv', 'mask'] : ['dy', 'qkv'],
    `${X}
const T = this.constants.T;
const C = this.constants.C;
${CAUSAL_CELL}
const o = (b * T + i) * C + h * this.constants.HD;
const v = (b * T + j) * 3 * C + 2 * C + h * this.constants.HD;
let s = 0;
for (let d = 0; d < this.constants.HD; d++) {
  s += dy[o + d] * qkv[v + d];
}
return s${masked ? ' * mask[x]' : ''};`,
  );
}
export const ATTENTION_DP = attentionDp(false);
export const ATTENTION_DP_MASKED = attentionDp(true);

/** ds_ij = p_ij (dp_ij − Σ_k dp_ik p_ik) / sqrt(HD) */
export const ATTENTION_DS = program(
  'attentionDs',
  ['dp', 'probs', 'dot'],
  `${X}
const r = idiv(x, this.constants.T);
return probs[x] * (dp[x] - dot[r]) * this.constants.SCALE;`,
);

/**
 * dqkv + (dq, dk, dv): dq_i = Σ_j ds_ij k_j, dk_j = Σ_i ds_ij q_i, dv_j = Σ_i p'_ij dy_i. Every
 * term above the diagonal is 0 (ds and p are), so the loops run over all of T without a branch.
 */
function attentionDqkv(masked: boolean): Program {
  return program(
    masked ? 'attentionDqkvMasked' : 'attentionDqkv',
    masked ? ['dqkv', 'ds', 'qkv', 'probs', 'dy', 'mask'] : ['dqkv', 'ds', 'qkv', 'probs', 'dy'],
    `${X}
const T = this.constants.T;
const C = this.constants.C;
const C3 = 3 * C;
const c3 = imod(x, C3);
const bt = idiv(x, C3);
const t = imod(bt, T);
const b = idiv(bt, T);
const part = idiv(c3, C);
const c = c3 - part * C;
const h = idiv(c, this.constants.HD);
const p0 = (b * this.constants.NH + h) * T * T;
let s = 0;
if (part == 0) {
  for (let j = 0; j < this.constants.T; j++) {
    s += ds[p0 + t * T + j] * qkv[(b * T + j) * C3 + C + c];
  }
} else if (part == 1) {
  for (let i = 0; i < this.constants.T; i++) {
    s += ds[p0 + i * T + t] * qkv[(b * T + i) * C3 + c];
  }
} else {
  for (let i = 0; i < this.constants.T; i++) {
    s += probs[p0 + i * T + t]${masked ? ' * mask[p0 + i * T + t]' : ''} * dy[(b * T + i) * C + c];
  }
}
return dqkv[x] + s;`,
  );
}
export const ATTENTION_DQKV = attentionDqkv(false);
export const ATTENTION_DQKV_MASKED = attentionDqkv(true);

/** cache (B, L, C) with positions offset … offset+T−1 taken from column block PART of qkv (B, T, 3C). */
export const KV_CACHE_WRITE = program(
  'kvCacheWrite',
  ['cache', 'qkv', 'offset'],
  `${X}
const C = this.constants.C;
const c = imod(x, C);
const bl = idiv(x, C);
const l = imod(bl, this.constants.L);
const b = idiv(bl, this.constants.L);
if (l >= offset && l < offset + this.constants.T) {
  return qkv[(b * this.constants.T + l - offset) * 3 * C + this.constants.PART * C + c];
}
return cache[x];`,
);

/** Decode scores (B, NH, L): q · k_j / sqrt(HD) for j < length, 0 after. */
export const DECODE_SCORES = program(
  'decodeScores',
  ['qkv', 'k', 'length'],
  `${X}
const L = this.constants.L;
const C = this.constants.C;
const j = imod(x, L);
const bh = idiv(x, L);
const h = imod(bh, this.constants.NH);
const b = idiv(bh, this.constants.NH);
if (j >= length) {
  return 0;
}
const q = b * 3 * C + h * this.constants.HD;
const kk = (b * L + j) * C + h * this.constants.HD;
let s = 0;
for (let d = 0; d < this.constants.HD; d++) {
  s += qkv[q + d] * k[kk + d];
}
return s * this.constants.SCALE;`,
);

export const DECODE_ROW_MAX = program(
  'decodeRowMax',
  ['s', 'length'],
  `${X}
let m = s[x * this.constants.L];
for (let j = 1; j < this.constants.L; j++) {
  if (j >= length) {
    break;
  }
  m = Math.max(m, s[x * this.constants.L + j]);
}
return m;`,
);

export const DECODE_ROW_SUM_EXP = program(
  'decodeRowSumExp',
  ['s', 'rowMax', 'length'],
  `${X}
let sum = 0;
for (let j = 0; j < this.constants.L; j++) {
  if (j >= length) {
    break;
  }
  sum += Math.exp(s[x * this.constants.L + j] - rowMax[x]);
}
return sum;`,
);

export const DECODE_OUTPUT = program(
  'decodeOutput',
  ['s', 'rowMax', 'rowSum', 'v', 'length'],
  `${X}
const L = this.constants.L;
const C = this.constants.C;
const c = imod(x, C);
const b = idiv(x, C);
const h = idiv(c, this.constants.HD);
const r = b * this.constants.NH + h;
const m = rowMax[r];
const sum = rowSum[r];
let y = 0;
for (let j = 0; j < this.constants.L; j++) {
  if (j >= length) {
    break;
  }
  y += (Math.exp(s[r * L + j] - m) / sum) * v[(b * L + j) * C + c];
}
return y;`,
);

// ---- optimizers and gradient clipping -------------------------------------------------------------

/** Partial sums of squares, CH elements per thread; the host adds the partials in float64. */
export const SUM_SQUARES = program(
  'sumSquares',
  ['a'],
  `${X}
let s = 0;
for (let q = 0; q < this.constants.CH; q++) {
  const i = x * this.constants.CH + q;
  if (i >= this.constants.N) {
    break;
  }
  const v = a[i];
  s += v * v;
}
return s;`,
);

export const SCALE = program('scale', ['a', 's'], 'return a[this.thread.x] * s;');

export const CLAMP_ABS = program(
  'clampAbs',
  ['a', 'limit'],
  `${X}
return Math.min(Math.max(a[x], -limit), limit);`,
);

// Each optimizer is one source that computes the whole update and returns the state named by the
// constant OUT, compiled once per output: every output reads the old state, so the host swaps all
// of them in after the last one ran.

/** OUT 0: p, 1: m, 2: v. */
export const ADAM = program(
  'adam',
  ['p', 'g', 'm', 'v', 'decay', 'l2', 'b1', 'omb1', 'b2', 'omb2', 'stepSize', 'bc2Sqrt', 'eps'],
  `${X}
const p0 = p[x];
const gi = g[x] + l2 * p0;
const m1 = b1 * m[x] + omb1 * gi;
const v1 = b2 * v[x] + omb2 * gi * gi;
if (this.constants.OUT == 1) {
  return m1;
}
if (this.constants.OUT == 2) {
  return v1;
}
const denom = Math.sqrt(v1) / bc2Sqrt + eps;
return p0 * decay - (stepSize * m1) / denom;`,
);

/** OUT 0: p, 1: momentum buffer. FIRST: the buffer starts as the gradient. */
export const SGD = program(
  'sgd',
  ['p', 'g', 'buf', 'lr', 'wd', 'momentum', 'dampening'],
  `${X}
const p0 = p[x];
const d = g[x] + wd * p0;
if (this.constants.MOMENTUM == 0) {
  return p0 - lr * d;
}
let b = momentum * buf[x] + (1 - dampening) * d;
if (this.constants.FIRST == 1) {
  b = d;
}
if (this.constants.OUT == 1) {
  return b;
}
if (this.constants.NESTEROV == 1) {
  return p0 - lr * (d + momentum * b);
}
return p0 - lr * b;`,
);

/** OUT 0: p, 1: square average, 2: gradient average (centered), 3: momentum buffer. */
export const RMSPROP = program(
  'rmsprop',
  ['p', 'g', 'sq', 'ga', 'buf', 'lr', 'alpha', 'oma', 'eps', 'wd', 'momentum'],
  `${X}
const p0 = p[x];
const gi = g[x] + wd * p0;
const s1 = alpha * sq[x] + oma * gi * gi;
if (this.constants.OUT == 1) {
  return s1;
}
let avg = Math.sqrt(s1) + eps;
if (this.constants.CENTERED == 1) {
  const a1 = alpha * ga[x] + oma * gi;
  if (this.constants.OUT == 2) {
    return a1;
  }
  avg = Math.sqrt(s1 - a1 * a1) + eps;
}
if (this.constants.MOMENTUM == 1) {
  const b1 = momentum * buf[x] + gi / avg;
  if (this.constants.OUT == 3) {
    return b1;
  }
  return p0 - lr * b1;
}
return p0 - (lr * gi) / avg;`,
);

/** OUT 0: p, 1: sum of squares. */
export const ADAGRAD = program(
  'adagrad',
  ['p', 'g', 'sum', 'clr', 'eps', 'wd'],
  `${X}
const p0 = p[x];
const gi = g[x] + wd * p0;
const s1 = sum[x] + gi * gi;
if (this.constants.OUT == 1) {
  return s1;
}
return p0 - (clr * gi) / (Math.sqrt(s1) + eps);`,
);
