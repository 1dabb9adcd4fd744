import { program, type GpuDevice } from './device';
import type { GpuJsTexture } from './gpujs';
import { COLUMN_SUM_ACC, FILL, MATMUL, MATMUL_BIAS } from './programs';

// Recurrent layers on the GPU, time-major: one kernel launch per time step and per quantity (the
// gate pre-activations need h_{t−1}, so steps cannot run in parallel). Each step renders small
// textures of its own (B rows); the sequence tensors are assembled from them once, after the loop
// (concat), so a sequence costs O(T) work rather than O(T²). Offsets into the sequence inputs are
// uniforms, so one compiled kernel serves every step.
// As on the CPU, backward collects every step's gate gradients and forms dW_hh after the loop.

const X = 'const x = this.thread.x;';

/** Up to 8 textures of S floats each (the last may be shorter), end to end. */
const CONCAT = program(
  'concat8',
  ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7'],
  `${X}
const i = idiv(x, this.constants.S);
const r = x - i * this.constants.S;
if (i == 0) {
  return t0[r];
}
if (i == 1) {
  return t1[r];
}
if (i == 2) {
  return t2[r];
}
if (i == 3) {
  return t3[r];
}
if (i == 4) {
  return t4[r];
}
if (i == 5) {
  return t5[r];
}
if (i == 6) {
  return t6[r];
}
return t7[r];`,
);

/**
 * The steps' textures end to end, 8 at a time (a kernel may sample 16 textures at least) and
 * level by level. Takes ownership: the parts are deleted.
 */
function concat(d: GpuDevice, parts: GpuJsTexture[]): GpuJsTexture {
  let level = parts;
  while (level.length > 1) {
    const next: GpuJsTexture[] = [];
    for (let i = 0; i < level.length; i += 8) {
      const group = level.slice(i, i + 8);
      if (group.length === 1) {
        next.push(group[0]);
        continue;
      }
      const total = group.reduce((n, t) => n + t.output[0], 0);
      const args = [...group, ...Array<GpuJsTexture>(8 - group.length).fill(group[0])];
      next.push(d.run(CONCAT, total, args, { S: group[0].output[0] }));
      release(...group);
    }
    level = next;
  }
  return level[0];
}

function release(...textures: GpuJsTexture[]): void {
  for (const t of textures) t.delete();
}

/** C (B, H) = dG_t (B, G) · W_hh (G, H): the gradient flowing to h_{t−1}. */
function backThroughWhh(d: GpuDevice, dG: GpuJsTexture, whh: GpuJsTexture, B: number, G: number, H: number): GpuJsTexture {
  return d.run(MATMUL, B * H, [dG, whh, 0, 0], { N: H, K: G, AR: G, AC: 1, BR: H, BC: 1 });
}

/** dW_hh + Σ_t dG_tᵀ · h_{t−1} (h_{−1} = h0), dW_hh (G, H). */
const WHH_GRAD = program(
  'recurrentWhhGrad',
  ['dw', 'dG', 'h0', 'hs'],
  `${X}
const g = idiv(x, this.constants.H);
const k = x - g * this.constants.H;
let s = 0;
for (let r = 0; r < this.constants.B; r++) {
  s += dG[r * this.constants.G + g] * h0[r * this.constants.H + k];
}
for (let r = 0; r < this.constants.REST; r++) {
  s += dG[(r + this.constants.B) * this.constants.G + g] * hs[r * this.constants.H + k];
}
return dw[x] + s;`,
);

export interface WeightGrads {
  dwhh: GpuJsTexture | null;
  dbhh: GpuJsTexture | null;
}

function weightGrads(
  d: GpuDevice,
  dG: GpuJsTexture,
  hs: GpuJsTexture,
  h0: GpuJsTexture,
  dwhh: GpuJsTexture | null,
  dbhh: GpuJsTexture | null,
  T: number,
  B: number,
  H: number,
  G: number,
): WeightGrads {
  return {
    dwhh: dwhh && d.run(WHH_GRAD, G * H, [dwhh, dG, h0, hs], { H, G, B, REST: (T - 1) * B }),
    dbhh: dbhh && d.run(COLUMN_SUM_ACC, G, [dbhh, dG], { R: T * B, N: G }),
  };
}

// ---- vanilla RNN (tanh) -----------------------------------------------------------------------------

/** h_t (B, H) = tanh(gi_t + b_hh + h_{t−1}·W_hhᵀ) */
const RNN_STEP = program(
  'rnnStep',
  ['gi', 'bhh', 'prev', 'whh', 'off'],
  `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
let s = gi[off + x] + bhh[k];
for (let m = 0; m < this.constants.H; m++) {
  s += prev[b * this.constants.H + m] * whh[k * this.constants.H + m];
}
return tanh_(s);`,
);

export function rnnTanhForward(
  d: GpuDevice,
  gi: GpuJsTexture,
  whh: GpuJsTexture,
  bhh: GpuJsTexture,
  h0: GpuJsTexture,
  T: number,
  B: number,
  H: number,
): GpuJsTexture {
  const N = B * H;
  const hs: GpuJsTexture[] = [];
  for (let t = 0; t < T; t++) hs.push(d.run(RNN_STEP, N, [gi, bhh, t === 0 ? h0 : hs[t - 1], whh, t * N], { H }));
  return concat(d, hs);
}

/** dG_t (B, H) = (dhs_t + dh_next) ⊙ (1 − h_t²) */
const RNN_BACK_STEP = program(
  'rnnBackStep',
  ['dhs', 'hs', 'dhNext', 'off'],
  `${X}
const h = hs[off + x];
return (dhs[off + x] + dhNext[x]) * (1 - h * h);`,
);

export interface RecurrentGrads extends WeightGrads {
  dgi: GpuJsTexture;
}

/**
 * dgi + dG, dW_hh and db_hh from the gate gradients of every step, in time order (consumed). The
 * GRU's input side differs from its hidden side (inputSteps); the other layers share one.
 */
function finish(
  d: GpuDevice,
  steps: GpuJsTexture[],
  inputSteps: GpuJsTexture[] | null,
  hs: GpuJsTexture,
  h0: GpuJsTexture,
  dgi: GpuJsTexture,
  dwhh: GpuJsTexture | null,
  dbhh: GpuJsTexture | null,
  T: number,
  B: number,
  H: number,
  G: number,
): RecurrentGrads {
  const dG = concat(d, steps);
  const dGi = inputSteps ? concat(d, inputSteps) : dG;
  const grads = { dgi: d.run(ADD_INTO, T * B * G, [dgi, dGi]), ...weightGrads(d, dG, hs, h0, dwhh, dbhh, T, B, H, G) };
  dG.delete();
  if (dGi !== dG) dGi.delete();
  return grads;
}

export function rnnTanhBackward(
  d: GpuDevice,
  dhs: GpuJsTexture,
  hs: GpuJsTexture,
  h0: GpuJsTexture,
  whh: GpuJsTexture,
  dgi: GpuJsTexture,
  dwhh: GpuJsTexture | null,
  dbhh: GpuJsTexture | null,
  T: number,
  B: number,
  H: number,
): RecurrentGrads {
  const N = B * H;
  const dG: GpuJsTexture[] = new Array(T);
  let dhNext = d.run(FILL, N, [0]);
  for (let t = T - 1; t >= 0; t--) {
    dG[t] = d.run(RNN_BACK_STEP, N, [dhs, hs, dhNext, t * N]);
    dhNext.delete();
    dhNext = backThroughWhh(d, dG[t], whh, B, H, H);
  }
  dhNext.delete();
  return finish(d, dG, null, hs, h0, dgi, dwhh, dbhh, T, B, H, H);
}

const ADD_INTO = program(
  'recurrentAddInto',
  ['a', 'b'],
  `${X}
return a[x] + b[x];`,
);

// ---- LSTM (gates i, f, g, o) -------------------------------------------------------------------------

/** Activated gates of step t (B, 4H): sigmoid for i, f, o and tanh for g. */
const LSTM_GATES = program(
  'lstmGates',
  ['gi', 'bhh', 'prev', 'whh', 'off'],
  `${X}
const b = idiv(x, this.constants.G);
const g = x - b * this.constants.G;
let s = gi[off + x] + bhh[g];
for (let m = 0; m < this.constants.H; m++) {
  s += prev[b * this.constants.H + m] * whh[g * this.constants.H + m];
}
if (idiv(g, this.constants.H) == 2) {
  return tanh_(s);
}
return sigm(s);`,
);

/** c_t = f ⊙ c_{t−1} + i ⊙ g */
const LSTM_CELL = program(
  'lstmCell',
  ['acts', 'prev'],
  `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
const a = b * 4 * this.constants.H;
return acts[a + this.constants.H + k] * prev[x] + acts[a + k] * acts[a + 2 * this.constants.H + k];`,
);

/** h_t = o ⊙ tanh(c_t) */
const LSTM_HIDDEN = program(
  'lstmHidden',
  ['acts', 'c'],
  `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
return acts[b * 4 * this.constants.H + 3 * this.constants.H + k] * tanh_(c[x]);`,
);

export interface LstmForward {
  hs: GpuJsTexture;
  cs: GpuJsTexture;
  acts: GpuJsTexture;
}

export function lstmForward(
  d: GpuDevice,
  gi: GpuJsTexture,
  whh: GpuJsTexture,
  bhh: GpuJsTexture,
  h0: GpuJsTexture,
  c0: GpuJsTexture,
  T: number,
  B: number,
  H: number,
): LstmForward {
  const N = B * H,
    G = 4 * H,
    NG = B * G;
  const hs: GpuJsTexture[] = [],
    cs: GpuJsTexture[] = [],
    acts: GpuJsTexture[] = [];
  for (let t = 0; t < T; t++) {
    acts.push(d.run(LSTM_GATES, NG, [gi, bhh, t === 0 ? h0 : hs[t - 1], whh, t * NG], { H, G }));
    cs.push(d.run(LSTM_CELL, N, [acts[t], t === 0 ? c0 : cs[t - 1]], { H }));
    hs.push(d.run(LSTM_HIDDEN, N, [acts[t], cs[t]], { H }));
  }
  return { hs: concat(d, hs), cs: concat(d, cs), acts: concat(d, acts) };
}

/** The cell-state gradient of step t at q = b·H + k, shared by the two kernels below. */
const LSTM_DC = `const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
const a = actsOff + b * 4 * this.constants.H;
const s = off + q;
const og = acts[a + 3 * this.constants.H + k];
const dh = dhs[s] + dhNext[q];
const tc = tanh_(cs[s]);
const dc = dcNext[q] + dh * og * (1 - tc * tc);`;

/** dG_t (B, 4H): the pre-activation gradients of the four gates. */
const LSTM_BACK_GATES = program(
  'lstmBackGates',
  ['dhs', 'dhNext', 'dcNext', 'cs', 'acts', 'cPrev', 'off', 'actsOff', 'prevOff'],
  `${X}
const bb = idiv(x, 4 * this.constants.H);
const g = x - bb * 4 * this.constants.H;
const gate = idiv(g, this.constants.H);
const q = bb * this.constants.H + (g - gate * this.constants.H);
${LSTM_DC}
const ig = acts[a + k];
if (gate == 0) {
  const gg = acts[a + 2 * this.constants.H + k];
  return dc * gg * ig * (1 - ig);
}
if (gate == 1) {
  const fg = acts[a + this.constants.H + k];
  return dc * cPrev[prevOff + q] * fg * (1 - fg);
}
if (gate == 2) {
  const gg2 = acts[a + 2 * this.constants.H + k];
  return dc * ig * (1 - gg2 * gg2);
}
return dh * tc * og * (1 - og);`,
);

/** dc_{t−1} = dc_t ⊙ f */
const LSTM_BACK_CELL = program(
  'lstmBackCell',
  ['dhs', 'dhNext', 'dcNext', 'cs', 'acts', 'off', 'actsOff'],
  `${X}
const q = x;
${LSTM_DC}
return dc * acts[a + this.constants.H + k];`,
);

export function lstmBackward(
  d: GpuDevice,
  dhs: GpuJsTexture,
  hs: GpuJsTexture,
  cs: GpuJsTexture,
  acts: GpuJsTexture,
  h0: GpuJsTexture,
  c0: GpuJsTexture,
  whh: GpuJsTexture,
  dgi: GpuJsTexture,
  dwhh: GpuJsTexture | null,
  dbhh: GpuJsTexture | null,
  T: number,
  B: number,
  H: number,
): RecurrentGrads {
  const N = B * H,
    G = 4 * H,
    NG = B * G;
  const dG: GpuJsTexture[] = new Array(T);
  let dhNext = d.run(FILL, N, [0]);
  let dcNext = d.run(FILL, N, [0]);
  for (let t = T - 1; t >= 0; t--) {
    const prevOff = t === 0 ? 0 : (t - 1) * N;
    dG[t] = d.run(LSTM_BACK_GATES, NG, [dhs, dhNext, dcNext, cs, acts, t === 0 ? c0 : cs, t * N, t * NG, prevOff], { H });
    const dc = d.run(LSTM_BACK_CELL, N, [dhs, dhNext, dcNext, cs, acts, t * N, t * NG], { H });
    release(dhNext, dcNext);
    dcNext = dc;
    dhNext = backThroughWhh(d, dG[t], whh, B, G, H);
  }
  release(dhNext, dcNext);
  return finish(d, dG, null, hs, h0, dgi, dwhh, dbhh, T, B, H, G);
}

// ---- GRU (gates r, z, n; the reset gate multiplies W_hn·h + b_hn) ------------------------------------

/** Gates of step t (B, 3H) from gi_t and gh = h_{t−1}·W_hhᵀ + b_hh. */
const GRU_GATES = program(
  'gruGates',
  ['gi', 'gh', 'off'],
  `${X}
const b = idiv(x, this.constants.G);
const g = x - b * this.constants.G;
const gate = idiv(g, this.constants.H);
const k = g - gate * this.constants.H;
const a = off + b * this.constants.G;
const o = b * this.constants.G;
if (gate == 1) {
  return sigm(gi[a + this.constants.H + k] + gh[o + this.constants.H + k]);
}
const r = sigm(gi[a + k] + gh[o + k]);
if (gate == 0) {
  return r;
}
return tanh_(gi[a + 2 * this.constants.H + k] + r * gh[o + 2 * this.constants.H + k]);`,
);

/** ghn_t (B, H) = W_hn h_{t−1} + b_hn, saved for the backward pass. */
const GRU_GHN = program(
  'gruGhn',
  ['gh'],
  `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
return gh[b * 3 * this.constants.H + 2 * this.constants.H + k];`,
);

/** h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} */
const GRU_HIDDEN = program(
  'gruHidden',
  ['acts', 'prev'],
  `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
const a = b * 3 * this.constants.H;
const z = acts[a + this.constants.H + k];
const n = acts[a + 2 * this.constants.H + k];
return (1 - z) * n + z * prev[x];`,
);

export interface GruForward {
  hs: GpuJsTexture;
  acts: GpuJsTexture;
  ghn: GpuJsTexture;
}

export function gruForward(
  d: GpuDevice,
  gi: GpuJsTexture,
  whh: GpuJsTexture,
  bhh: GpuJsTexture,
  h0: GpuJsTexture,
  T: number,
  B: number,
  H: number,
): GruForward {
  const N = B * H,
    G = 3 * H,
    NG = B * G;
  const hs: GpuJsTexture[] = [],
    acts: GpuJsTexture[] = [],
    ghn: GpuJsTexture[] = [];
  for (let t = 0; t < T; t++) {
    const prev = t === 0 ? h0 : hs[t - 1];
    // gh = h_{t−1}·W_hhᵀ + b_hh, (B, 3H)
    const gh = d.run(MATMUL_BIAS, NG, [prev, whh, bhh, 0, 0], { N: G, K: H, AR: H, AC: 1, BR: 1, BC: H });
    acts.push(d.run(GRU_GATES, NG, [gi, gh, t * NG], { H, G }));
    ghn.push(d.run(GRU_GHN, N, [gh], { H }));
    gh.delete();
    hs.push(d.run(GRU_HIDDEN, N, [acts[t], prev], { H }));
  }
  return { hs: concat(d, hs), acts: concat(d, acts), ghn: concat(d, ghn) };
}

/**
 * dGi_t (PART 0) or dGh_t (PART 1), (B, 3H): they differ in the n block, dan vs dan ⊙ r (the
 * reset gate multiplies the hidden side of n only).
 */
const GRU_BACK_GATES = program(
  'gruBackGates',
  ['dhs', 'dhNext', 'acts', 'ghn', 'prev', 'off', 'actsOff', 'prevOff'],
  `${X}
const b = idiv(x, this.constants.G);
const g = x - b * this.constants.G;
const gate = idiv(g, this.constants.H);
const k = g - gate * this.constants.H;
const q = b * this.constants.H + k;
const a = actsOff + b * this.constants.G;
const r = acts[a + k];
const z = acts[a + this.constants.H + k];
const n = acts[a + 2 * this.constants.H + k];
const dh = dhs[off + q] + dhNext[q];
const dan = dh * (1 - z) * (1 - n * n);
if (gate == 0) {
  return dan * ghn[off + q] * r * (1 - r);
}
if (gate == 1) {
  return dh * (prev[prevOff + q] - n) * z * (1 - z);
}
if (this.constants.PART == 1) {
  return dan * r;
}
return dan;`,
);

/** dh_{t−1} = dh_t ⊙ z + dGh_t · W_hh */
const GRU_BACK_HIDDEN = program(
  'gruBackHidden',
  ['dhs', 'dhNext', 'acts', 'dGh', 'whh', 'off', 'actsOff'],
  `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
const dh = dhs[off + x] + dhNext[x];
let s = 0;
for (let g = 0; g < this.constants.G; g++) {
  s += dGh[b * this.constants.G + g] * whh[g * this.constants.H + k];
}
return dh * acts[actsOff + b * this.constants.G + this.constants.H + k] + s;`,
);

export function gruBackward(
  d: GpuDevice,
  dhs: GpuJsTexture,
  hs: GpuJsTexture,
  acts: GpuJsTexture,
  ghn: GpuJsTexture,
  h0: GpuJsTexture,
  whh: GpuJsTexture,
  dgi: GpuJsTexture,
  dwhh: GpuJsTexture | null,
  dbhh: GpuJsTexture | null,
  T: number,
  B: number,
  H: number,
): RecurrentGrads {
  const N = B * H,
    G = 3 * H,
    NG = B * G;
  const dGi: GpuJsTexture[] = new Array(T),
    dGh: GpuJsTexture[] = new Array(T);
  let dhNext = d.run(FILL, N, [0]);
  for (let t = T - 1; t >= 0; t--) {
    const args = [dhs, dhNext, acts, ghn, t === 0 ? h0 : hs, t * N, t * NG, t === 0 ? 0 : (t - 1) * N];
    dGi[t] = d.run(GRU_BACK_GATES, NG, args, { H, G, PART: 0 });
    dGh[t] = d.run(GRU_BACK_GATES, NG, args, { H, G, PART: 1 });
    const dh = d.run(GRU_BACK_HIDDEN, N, [dhs, dhNext, acts, dGh[t], whh, t * N, t * NG], { H, G });
    dhNext.delete();
    dhNext = dh;
  }
  dhNext.delete();
  return finish(d, dGh, dGi, hs, h0, dgi, dwhh, dbhh, T, B, H, G);
}
