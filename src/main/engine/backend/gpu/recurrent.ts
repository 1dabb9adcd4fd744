import { program, type GpuDevice } from './device';
import type { GpuJsTexture } from './gpujs';
import { COLUMN_SUM_ACC, FILL, MATMUL, MATMUL_BIAS } from './programs';

// Recurrent layers on the GPU, time-major: one kernel launch per time step and per quantity (the
// gate pre-activations need h_{t−1}, so steps cannot run in parallel). Each step kernel renders
// the whole sequence tensor, computing the slice of step t and passing the other elements
// through; the state of the previous step is read from the same tensor (or from h0 / c0 at t = 0)
// at an offset given as a uniform, so one compiled kernel serves every step.
// As on the CPU, backward collects every step's gate gradients and forms dW_hh after the loop.

const X = 'const x = this.thread.x;';
/** Elements outside the step's slice [off, off + this.constants.N) keep their value. */
const KEEP = (tensor: string, off: string) => `if (x < ${off} || x >= ${off} + this.constants.N) {
  return ${tensor}[x];
}`;

function release(...textures: GpuJsTexture[]): void {
  for (const t of textures) t.delete();
}

/** C (B, H) = A_t (B, G) · W_hh (G, H): the gradient flowing to h_{t−1}. */
function backThroughWhh(d: GpuDevice, dG: GpuJsTexture, aOff: number, whh: GpuJsTexture, B: number, G: number, H: number): GpuJsTexture {
  return d.run(MATMUL, B * H, [dG, whh, aOff, 0], { N: H, K: G, AR: G, AC: 1, BR: H, BC: 1 });
}

/** dW_hh + Σ_t dG_tᵀ · h_{t−1} (h_{−1} = h0), dW_hh (G, H). */
const WHH_GRAD = program('recurrentWhhGrad', ['dw', 'dG', 'h0', 'hs'], `${X}
const g = idiv(x, this.constants.H);
const k = x - g * this.constants.H;
let s = 0;
for (let r = 0; r < this.constants.B; r++) {
  s += dG[r * this.constants.G + g] * h0[r * this.constants.H + k];
}
for (let r = 0; r < this.constants.REST; r++) {
  s += dG[(r + this.constants.B) * this.constants.G + g] * hs[r * this.constants.H + k];
}
return dw[x] + s;`);

export interface WeightGrads {
  dwhh: GpuJsTexture | null;
  dbhh: GpuJsTexture | null;
}

function weightGrads(
  d: GpuDevice, dG: GpuJsTexture, hs: GpuJsTexture, h0: GpuJsTexture,
  dwhh: GpuJsTexture | null, dbhh: GpuJsTexture | null, T: number, B: number, H: number, G: number,
): WeightGrads {
  return {
    dwhh: dwhh && d.run(WHH_GRAD, G * H, [dwhh, dG, h0, hs], { H, G, B, REST: (T - 1) * B }),
    dbhh: dbhh && d.run(COLUMN_SUM_ACC, G, [dbhh, dG], { R: T * B, N: G }),
  };
}

// ---- vanilla RNN (tanh) -----------------------------------------------------------------------------

const RNN_STEP = program('rnnStep', ['hs', 'gi', 'bhh', 'prev', 'whh', 'off', 'prevOff'], `${X}
${KEEP('hs', 'off')}
const q = x - off;
const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
let s = gi[x] + bhh[k];
for (let m = 0; m < this.constants.H; m++) {
  s += prev[prevOff + b * this.constants.H + m] * whh[k * this.constants.H + m];
}
return tanh_(s);`);

export function rnnTanhForward(
  d: GpuDevice, gi: GpuJsTexture, whh: GpuJsTexture, bhh: GpuJsTexture, h0: GpuJsTexture, T: number, B: number, H: number,
): GpuJsTexture {
  const N = B * H;
  let hs = d.run(FILL, T * N, [0]);
  for (let t = 0; t < T; t++) {
    const next = d.run(RNN_STEP, T * N, [hs, gi, bhh, t === 0 ? h0 : hs, whh, t * N, t === 0 ? 0 : (t - 1) * N], { H, N });
    hs.delete();
    hs = next;
  }
  return hs;
}

/** dG_t = (dhs_t + dh_next) ⊙ (1 − h_t²) */
const RNN_BACK_STEP = program('rnnBackStep', ['dG', 'dhs', 'hs', 'dhNext', 'off'], `${X}
${KEEP('dG', 'off')}
const h = hs[x];
return (dhs[x] + dhNext[x - off]) * (1 - h * h);`);

export interface RecurrentGrads extends WeightGrads {
  dgi: GpuJsTexture;
}

export function rnnTanhBackward(
  d: GpuDevice, dhs: GpuJsTexture, hs: GpuJsTexture, h0: GpuJsTexture, whh: GpuJsTexture,
  dgi: GpuJsTexture, dwhh: GpuJsTexture | null, dbhh: GpuJsTexture | null, T: number, B: number, H: number,
): RecurrentGrads {
  const N = B * H;
  let dG = d.run(FILL, T * N, [0]);
  let dhNext = d.run(FILL, N, [0]);
  for (let t = T - 1; t >= 0; t--) {
    const next = d.run(RNN_BACK_STEP, T * N, [dG, dhs, hs, dhNext, t * N], { N });
    release(dG, dhNext);
    dG = next;
    dhNext = backThroughWhh(d, dG, t * N, whh, B, H, H);
  }
  const grads = { dgi: d.run(ADD_INTO, T * N, [dgi, dG]), ...weightGrads(d, dG, hs, h0, dwhh, dbhh, T, B, H, H) };
  release(dG, dhNext);
  return grads;
}

const ADD_INTO = program('recurrentAddInto', ['a', 'b'], `${X}
return a[x] + b[x];`);

// ---- LSTM (gates i, f, g, o) -------------------------------------------------------------------------

/** Activated gates of step t: sigmoid for i, f, o and tanh for g. */
const LSTM_GATES = program('lstmGates', ['acts', 'gi', 'bhh', 'prev', 'whh', 'off', 'prevOff'], `${X}
${KEEP('acts', 'off')}
const q = x - off;
const b = idiv(q, this.constants.G);
const g = q - b * this.constants.G;
let s = gi[x] + bhh[g];
for (let m = 0; m < this.constants.H; m++) {
  s += prev[prevOff + b * this.constants.H + m] * whh[g * this.constants.H + m];
}
if (idiv(g, this.constants.H) == 2) {
  return tanh_(s);
}
return sigm(s);`);

/** c_t = f ⊙ c_{t−1} + i ⊙ g */
const LSTM_CELL = program('lstmCell', ['cs', 'acts', 'prev', 'off', 'actsOff', 'prevOff'], `${X}
${KEEP('cs', 'off')}
const q = x - off;
const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
const a = actsOff + b * 4 * this.constants.H;
return acts[a + this.constants.H + k] * prev[prevOff + q] + acts[a + k] * acts[a + 2 * this.constants.H + k];`);

/** h_t = o ⊙ tanh(c_t) */
const LSTM_HIDDEN = program('lstmHidden', ['hs', 'acts', 'cs', 'off', 'actsOff'], `${X}
${KEEP('hs', 'off')}
const q = x - off;
const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
return acts[actsOff + b * 4 * this.constants.H + 3 * this.constants.H + k] * tanh_(cs[x]);`);

export interface LstmForward {
  hs: GpuJsTexture;
  cs: GpuJsTexture;
  acts: GpuJsTexture;
}

export function lstmForward(
  d: GpuDevice, gi: GpuJsTexture, whh: GpuJsTexture, bhh: GpuJsTexture, h0: GpuJsTexture, c0: GpuJsTexture,
  T: number, B: number, H: number,
): LstmForward {
  const N = B * H, G = 4 * H, NG = B * G;
  let hs = d.run(FILL, T * N, [0]);
  let cs = d.run(FILL, T * N, [0]);
  let acts = d.run(FILL, T * NG, [0]);
  for (let t = 0; t < T; t++) {
    const prevOff = t === 0 ? 0 : (t - 1) * N;
    const a = d.run(LSTM_GATES, T * NG, [acts, gi, bhh, t === 0 ? h0 : hs, whh, t * NG, prevOff], { H, G, N: NG });
    acts.delete();
    acts = a;
    const c = d.run(LSTM_CELL, T * N, [cs, acts, t === 0 ? c0 : cs, t * N, t * NG, prevOff], { H, N });
    cs.delete();
    cs = c;
    const h = d.run(LSTM_HIDDEN, T * N, [hs, acts, cs, t * N, t * NG], { H, N });
    hs.delete();
    hs = h;
  }
  return { hs, cs, acts };
}

/** The cell-state gradient of step t, shared by the two kernels below. */
const LSTM_DC = `const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
const a = actsOff + b * 4 * this.constants.H;
const s = off + q;
const og = acts[a + 3 * this.constants.H + k];
const dh = dhs[s] + dhNext[q];
const tc = tanh_(cs[s]);
const dc = dcNext[q] + dh * og * (1 - tc * tc);`;

/** dG_t (B, 4H): the pre-activation gradients of the four gates. */
const LSTM_BACK_GATES = program('lstmBackGates', ['dG', 'dhs', 'dhNext', 'dcNext', 'cs', 'acts', 'cPrev', 'off', 'actsOff', 'prevOff'], `${X}
${KEEP('dG', 'actsOff')}
const r = x - actsOff;
const bb = idiv(r, 4 * this.constants.H);
const g = r - bb * 4 * this.constants.H;
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
return dh * tc * og * (1 - og);`);

/** dc_{t−1} = dc_t ⊙ f */
const LSTM_BACK_CELL = program('lstmBackCell', ['dhs', 'dhNext', 'dcNext', 'cs', 'acts', 'off', 'actsOff'], `${X}
const q = x;
${LSTM_DC}
return dc * acts[a + this.constants.H + k];`);

export function lstmBackward(
  d: GpuDevice, dhs: GpuJsTexture, hs: GpuJsTexture, cs: GpuJsTexture, acts: GpuJsTexture, h0: GpuJsTexture, c0: GpuJsTexture,
  whh: GpuJsTexture, dgi: GpuJsTexture, dwhh: GpuJsTexture | null, dbhh: GpuJsTexture | null, T: number, B: number, H: number,
): RecurrentGrads {
  const N = B * H, G = 4 * H, NG = B * G;
  let dG = d.run(FILL, T * NG, [0]);
  let dhNext = d.run(FILL, N, [0]);
  let dcNext = d.run(FILL, N, [0]);
  for (let t = T - 1; t >= 0; t--) {
    const prevOff = t === 0 ? 0 : (t - 1) * N;
    const g = d.run(LSTM_BACK_GATES, T * NG, [dG, dhs, dhNext, dcNext, cs, acts, t === 0 ? c0 : cs, t * N, t * NG, prevOff], { H, N: NG });
    const dc = d.run(LSTM_BACK_CELL, N, [dhs, dhNext, dcNext, cs, acts, t * N, t * NG], { H });
    release(dG, dhNext, dcNext);
    dG = g;
    dcNext = dc;
    dhNext = backThroughWhh(d, dG, t * NG, whh, B, G, H);
  }
  const grads = { dgi: d.run(ADD_INTO, T * NG, [dgi, dG]), ...weightGrads(d, dG, hs, h0, dwhh, dbhh, T, B, H, G) };
  release(dG, dhNext, dcNext);
  return grads;
}

// ---- GRU (gates r, z, n; the reset gate multiplies W_hn·h + b_hn) ------------------------------------

const GRU_GATES = program('gruGates', ['acts', 'gi', 'gh', 'off'], `${X}
${KEEP('acts', 'off')}
const q = x - off;
const b = idiv(q, this.constants.G);
const g = q - b * this.constants.G;
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
return tanh_(gi[a + 2 * this.constants.H + k] + r * gh[o + 2 * this.constants.H + k]);`);

/** ghn_t = W_hn h_{t−1} + b_hn, saved for the backward pass. */
const GRU_GHN = program('gruGhn', ['ghn', 'gh', 'off'], `${X}
${KEEP('ghn', 'off')}
const q = x - off;
const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
return gh[b * 3 * this.constants.H + 2 * this.constants.H + k];`);

/** h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} */
const GRU_HIDDEN = program('gruHidden', ['hs', 'acts', 'prev', 'off', 'actsOff', 'prevOff'], `${X}
${KEEP('hs', 'off')}
const q = x - off;
const b = idiv(q, this.constants.H);
const k = q - b * this.constants.H;
const a = actsOff + b * 3 * this.constants.H;
const z = acts[a + this.constants.H + k];
const n = acts[a + 2 * this.constants.H + k];
return (1 - z) * n + z * prev[prevOff + q];`);

export interface GruForward {
  hs: GpuJsTexture;
  acts: GpuJsTexture;
  ghn: GpuJsTexture;
}

export function gruForward(
  d: GpuDevice, gi: GpuJsTexture, whh: GpuJsTexture, bhh: GpuJsTexture, h0: GpuJsTexture, T: number, B: number, H: number,
): GruForward {
  const N = B * H, G = 3 * H, NG = B * G;
  let hs = d.run(FILL, T * N, [0]);
  let acts = d.run(FILL, T * NG, [0]);
  let ghn = d.run(FILL, T * N, [0]);
  for (let t = 0; t < T; t++) {
    const prevOff = t === 0 ? 0 : (t - 1) * N;
    // gh = h_{t−1}·W_hhᵀ + b_hh, (B, 3H)
    const gh = d.run(MATMUL_BIAS, NG, [t === 0 ? h0 : hs, whh, bhh, prevOff, 0], { N: G, K: H, AR: H, AC: 1, BR: 1, BC: H });
    const a = d.run(GRU_GATES, T * NG, [acts, gi, gh, t * NG], { H, G, N: NG });
    const n = d.run(GRU_GHN, T * N, [ghn, gh, t * N], { H, N });
    release(acts, ghn, gh);
    acts = a;
    ghn = n;
    const h = d.run(GRU_HIDDEN, T * N, [hs, acts, t === 0 ? h0 : hs, t * N, t * NG, prevOff], { H, N });
    hs.delete();
    hs = h;
  }
  return { hs, acts, ghn };
}

/**
 * dGi_t (PART 0) or dGh_t (PART 1), (B, 3H): they differ in the n block, dan vs dan ⊙ r (the
 * reset gate multiplies the hidden side of n only).
 */
const GRU_BACK_GATES = program('gruBackGates', ['dG', 'dhs', 'dhNext', 'acts', 'ghn', 'prev', 'off', 'actsOff', 'prevOff'], `${X}
${KEEP('dG', 'actsOff')}
const r0 = x - actsOff;
const b = idiv(r0, this.constants.G);
const g = r0 - b * this.constants.G;
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
return dan;`);

/** dh_{t−1} = dh_t ⊙ z + dGh_t · W_hh */
const GRU_BACK_HIDDEN = program('gruBackHidden', ['dhs', 'dhNext', 'acts', 'dGh', 'whh', 'off', 'actsOff'], `${X}
const b = idiv(x, this.constants.H);
const k = x - b * this.constants.H;
const a = actsOff + b * this.constants.G;
const dh = dhs[off + x] + dhNext[x];
let s = 0;
for (let g = 0; g < this.constants.G; g++) {
  s += dGh[a + g] * whh[g * this.constants.H + k];
}
return dh * acts[a + this.constants.H + k] + s;`);

export function gruBackward(
  d: GpuDevice, dhs: GpuJsTexture, hs: GpuJsTexture, acts: GpuJsTexture, ghn: GpuJsTexture, h0: GpuJsTexture, whh: GpuJsTexture,
  dgi: GpuJsTexture, dwhh: GpuJsTexture | null, dbhh: GpuJsTexture | null, T: number, B: number, H: number,
): RecurrentGrads {
  const N = B * H, G = 3 * H, NG = B * G;
  let dGi = d.run(FILL, T * NG, [0]);
  let dGh = d.run(FILL, T * NG, [0]);
  let dhNext = d.run(FILL, N, [0]);
  for (let t = T - 1; t >= 0; t--) {
    const prevOff = t === 0 ? 0 : (t - 1) * N;
    const args = [dhs, dhNext, acts, ghn, t === 0 ? h0 : hs, t * N, t * NG, prevOff];
    const gi = d.run(GRU_BACK_GATES, T * NG, [dGi, ...args], { H, G, N: NG, PART: 0 });
    const gh = d.run(GRU_BACK_GATES, T * NG, [dGh, ...args], { H, G, N: NG, PART: 1 });
    release(dGi, dGh);
    dGi = gi;
    dGh = gh;
    const dh = d.run(GRU_BACK_HIDDEN, N, [dhs, dhNext, acts, dGh, whh, t * N, t * NG], { H, G });
    dhNext.delete();
    dhNext = dh;
  }
  const grads = { dgi: d.run(ADD_INTO, T * NG, [dgi, dGi]), ...weightGrads(d, dGh, hs, h0, dwhh, dbhh, T, B, H, G) };
  release(dGi, dGh, dhNext);
  return grads;
}
