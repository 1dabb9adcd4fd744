import type { FloatArray } from '../../tensor';
import { transposeInto, type Scratch } from './gemm';

// Recurrent layers over a whole sequence, time-major (the slice for step t is contiguous).
// The input projection gi = x·W_ihᵀ + b_ih for every step is one matmul done by the caller, so the
// loop over time only multiplies the state by W_hh. Backward collects every step's gate gradients
// and forms dW_hh with a single matmul after the loop, as cuDNN does.
//
// Scratch slots 0 and 1 belong to matmul; these kernels use 2 and up.

const S_WT = 2;
const S_DG = 3;
const S_DGH = 4;
const S_DH = 5;
const S_DC = 6;
const S_GH = 7;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** dW_hh += Σ_t dG_tᵀ · h_{t−1} and db_hh += Σ_t Σ_b dG_t, with h_{−1} = h0. */
function recurrentWeightGrads(
  dG: FloatArray,
  hs: FloatArray,
  h0: FloatArray,
  T: number,
  B: number,
  H: number,
  G: number,
  dwhh: FloatArray | null,
  dbhh: FloatArray | null,
  scratch: Scratch,
): void {
  if (dwhh) {
    // (B, G)ᵀ · (B, H) for step 0, then ((T−1)·B, G)ᵀ · ((T−1)·B, H) for the rest in one product
    scratch.matmul(G, H, B, dG, 0, true, h0, 0, false, dwhh, 0, true);
    if (T > 1) scratch.matmul(G, H, (T - 1) * B, dG, B * G, true, hs, 0, false, dwhh, 0, true);
  }
  if (dbhh) scratch.rows.addRowSums(dG, 0, T * B, G, dbhh);
}

// ---- vanilla RNN (tanh) -------------------------------------------------------------------------

export function rnnTanhForward(
  gi: FloatArray,
  whh: FloatArray,
  bhh: FloatArray,
  h0: FloatArray,
  hs: FloatArray,
  T: number,
  B: number,
  H: number,
  scratch: Scratch,
): void {
  const n = B * H;
  for (let t = 0; t < T; t++) {
    const off = t * n;
    scratch.rows.addRows(gi, off, bhh, hs, off, B, H);
    if (t === 0) scratch.matmul(B, H, H, h0, 0, false, whh, 0, true, hs, off, true);
    else scratch.matmul(B, H, H, hs, off - n, false, whh, 0, true, hs, off, true);
    scratch.tanh(hs, off, hs, off, n);
  }
}

export function rnnTanhBackward(
  dhs: FloatArray,
  hs: FloatArray,
  h0: FloatArray,
  whh: FloatArray,
  dgi: FloatArray,
  dwhh: FloatArray | null,
  dbhh: FloatArray | null,
  T: number,
  B: number,
  H: number,
  scratch: Scratch,
): void {
  const n = B * H;
  const whhT = scratch.get(S_WT, H * H);
  transposeInto(whh, 0, H, H, whhT, 0);
  const dG = scratch.get(S_DG, T * n);
  const dhNext = scratch.get(S_DH, n).fill(0, 0, n);
  for (let t = T - 1; t >= 0; t--) {
    const off = t * n;
    for (let i = 0; i < n; i++) {
      const h = hs[off + i];
      dG[off + i] = (dhs[off + i] + dhNext[i]) * (1 - h * h);
    }
    // dh_{t−1} = dG_t · W_hh
    scratch.matmul(B, H, H, dG, off, false, whhT, 0, true, dhNext, 0, false);
  }
  recurrentWeightGrads(dG, hs, h0, T, B, H, H, dwhh, dbhh, scratch);
  scratch.rows.add(dgi, dG, dgi, T * n);
}

// ---- LSTM (gates i, f, g, o) --------------------------------------------------------------------

export function lstmForward(
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
  scratch: Scratch,
): void {
  if (scratch.lstmSteps?.(gi, whh, bhh, h0, c0, hs, cs, acts, T, B, H)) return;
  const G = 4 * H;
  const n = B * H;
  for (let t = 0; t < T; t++) {
    const gOff = t * B * G;
    const off = t * n;
    // pre-activations: gi_t + b_hh + h_{t−1}·W_hhᵀ, built in place in acts
    scratch.rows.addRows(gi, gOff, bhh, acts, gOff, B, G);
    if (t === 0) scratch.matmul(B, G, H, h0, 0, false, whh, 0, true, acts, gOff, true);
    else scratch.matmul(B, G, H, hs, off - n, false, whh, 0, true, acts, gOff, true);
    for (let b = 0; b < B; b++) {
      const a = gOff + b * G;
      const s = off + b * H;
      const cPrevOff = t === 0 ? b * H : s - n;
      const cPrev = t === 0 ? c0 : cs;
      for (let k = 0; k < H; k++) {
        const ig = sigmoid(acts[a + k]);
        const fg = sigmoid(acts[a + H + k]);
        const gg = Math.tanh(acts[a + 2 * H + k]);
        const og = sigmoid(acts[a + 3 * H + k]);
        acts[a + k] = ig;
        acts[a + H + k] = fg;
        acts[a + 2 * H + k] = gg;
        acts[a + 3 * H + k] = og;
        const c = fg * cPrev[cPrevOff + k] + ig * gg;
        cs[s + k] = c;
        hs[s + k] = og * Math.tanh(c);
      }
    }
  }
}

export function lstmBackward(
  dhs: FloatArray,
  hs: FloatArray,
  cs: FloatArray,
  acts: FloatArray,
  h0: FloatArray,
  c0: FloatArray,
  whh: FloatArray,
  dgi: FloatArray,
  dwhh: FloatArray | null,
  dbhh: FloatArray | null,
  T: number,
  B: number,
  H: number,
  scratch: Scratch,
): void {
  const G = 4 * H;
  const n = B * H;
  const dG = scratch.get(S_DG, T * B * G);
  const dhNext = scratch.get(S_DH, n).fill(0, 0, n);
  const dcNext = scratch.get(S_DC, n).fill(0, 0, n);
  if (!scratch.lstmStepsBackward?.(acts, cs, c0, dhs, whh, dhNext, dcNext, dG, T, B, H)) {
    lstmBackwardSteps(dhs, cs, acts, c0, whh, dG, dhNext, dcNext, T, B, H, scratch);
  }
  recurrentWeightGrads(dG, hs, h0, T, B, H, G, dwhh, dbhh, scratch);
  scratch.rows.add(dgi, dG, dgi, T * B * G);
}

/** lstmBackward's loop over t, last step first: gate gradients into dG, the running dh and dc. */
function lstmBackwardSteps(
  dhs: FloatArray,
  cs: FloatArray,
  acts: FloatArray,
  c0: FloatArray,
  whh: FloatArray,
  dG: FloatArray,
  dhNext: FloatArray,
  dcNext: FloatArray,
  T: number,
  B: number,
  H: number,
  scratch: Scratch,
): void {
  const G = 4 * H;
  const n = B * H;
  const whhT = scratch.get(S_WT, G * H);
  transposeInto(whh, 0, G, H, whhT, 0); // (4H, H) -> (H, 4H)
  for (let t = T - 1; t >= 0; t--) {
    const gOff = t * B * G;
    const off = t * n;
    for (let b = 0; b < B; b++) {
      const a = gOff + b * G;
      const s = off + b * H;
      const cPrev = t === 0 ? c0 : cs;
      const cPrevOff = t === 0 ? b * H : s - n;
      for (let k = 0; k < H; k++) {
        const ig = acts[a + k],
          fg = acts[a + H + k],
          gg = acts[a + 2 * H + k],
          og = acts[a + 3 * H + k];
        const dh = dhs[s + k] + dhNext[b * H + k];
        const tc = Math.tanh(cs[s + k]);
        const dc = dcNext[b * H + k] + dh * og * (1 - tc * tc);
        dcNext[b * H + k] = dc * fg;
        dG[a + k] = dc * gg * ig * (1 - ig);
        dG[a + H + k] = dc * cPrev[cPrevOff + k] * fg * (1 - fg);
        dG[a + 2 * H + k] = dc * ig * (1 - gg * gg);
        dG[a + 3 * H + k] = dh * tc * og * (1 - og);
      }
    }
    scratch.matmul(B, H, G, dG, gOff, false, whhT, 0, true, dhNext, 0, false);
  }
}

// ---- GRU (gates r, z, n; the reset gate multiplies W_hn·h + b_hn) -------------------------------

export function gruForward(
  gi: FloatArray,
  whh: FloatArray,
  bhh: FloatArray,
  h0: FloatArray,
  hs: FloatArray,
  acts: FloatArray,
  ghn: FloatArray,
  T: number,
  B: number,
  H: number,
  scratch: Scratch,
): void {
  const G = 3 * H;
  const n = B * H;
  const gh = scratch.get(S_GH, B * G);
  for (let t = 0; t < T; t++) {
    const gOff = t * B * G;
    const off = t * n;
    // gh = h_{t−1}·W_hhᵀ + b_hh, (B, 3H)
    for (let b = 0; b < B; b++) for (let k = 0; k < G; k++) gh[b * G + k] = bhh[k];
    if (t === 0) scratch.matmul(B, G, H, h0, 0, false, whh, 0, true, gh, 0, true);
    else scratch.matmul(B, G, H, hs, off - n, false, whh, 0, true, gh, 0, true);
    if (scratch.gruCell?.(gi, acts, gOff, gh, t === 0 ? h0 : hs, t === 0 ? 0 : off - n, ghn, hs, off, B, H)) continue;
    for (let b = 0; b < B; b++) {
      const a = gOff + b * G;
      const g = b * G;
      const s = off + b * H;
      const hPrev = t === 0 ? h0 : hs;
      const hPrevOff = t === 0 ? b * H : s - n;
      for (let k = 0; k < H; k++) {
        const r = sigmoid(gi[a + k] + gh[g + k]);
        const z = sigmoid(gi[a + H + k] + gh[g + H + k]);
        const hn = gh[g + 2 * H + k];
        const nn = Math.tanh(gi[a + 2 * H + k] + r * hn);
        acts[a + k] = r;
        acts[a + H + k] = z;
        acts[a + 2 * H + k] = nn;
        ghn[s + k] = hn;
        hs[s + k] = (1 - z) * nn + z * hPrev[hPrevOff + k];
      }
    }
  }
}

export function gruBackward(
  dhs: FloatArray,
  hs: FloatArray,
  acts: FloatArray,
  ghn: FloatArray,
  h0: FloatArray,
  whh: FloatArray,
  dgi: FloatArray,
  dwhh: FloatArray | null,
  dbhh: FloatArray | null,
  T: number,
  B: number,
  H: number,
  scratch: Scratch,
): void {
  const G = 3 * H;
  const n = B * H;
  const whhT = scratch.get(S_WT, G * H);
  transposeInto(whh, 0, G, H, whhT, 0);
  const dGi = scratch.get(S_DG, T * B * G);
  const dGh = scratch.get(S_DGH, T * B * G);
  const dhNext = scratch.get(S_DH, n).fill(0, 0, n);
  for (let t = T - 1; t >= 0; t--) {
    const gOff = t * B * G;
    const off = t * n;
    const fast = scratch.gruCellBackward?.(acts, gOff, ghn, dhs, off, t === 0 ? h0 : hs, t === 0 ? 0 : off - n, dhNext, dGi, dGh, B, H);
    for (let b = 0; b < B && !fast; b++) {
      const a = gOff + b * G;
      const s = off + b * H;
      const hPrev = t === 0 ? h0 : hs;
      const hPrevOff = t === 0 ? b * H : s - n;
      for (let k = 0; k < H; k++) {
        const r = acts[a + k],
          z = acts[a + H + k],
          nn = acts[a + 2 * H + k];
        const dh = dhs[s + k] + dhNext[b * H + k];
        const dan = dh * (1 - z) * (1 - nn * nn);
        const dar = dan * ghn[s + k] * r * (1 - r);
        const daz = dh * (hPrev[hPrevOff + k] - nn) * z * (1 - z);
        dGi[a + k] = dar;
        dGi[a + H + k] = daz;
        dGi[a + 2 * H + k] = dan;
        dGh[a + k] = dar;
        dGh[a + H + k] = daz;
        dGh[a + 2 * H + k] = dan * r;
        dhNext[b * H + k] = dh * z;
      }
    }
    scratch.matmul(B, H, G, dGh, gOff, false, whhT, 0, true, dhNext, 0, true);
  }
  recurrentWeightGrads(dGh, hs, h0, T, B, H, G, dwhh, dbhh, scratch);
  scratch.rows.add(dgi, dGi, dgi, T * B * G);
}
