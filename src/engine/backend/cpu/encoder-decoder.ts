import type { FloatArray } from '../../tensor';

// The encoder–decoder's kernels, written out loop by loop as the attention lesson computes them:
// attention with separate q, k, v (self- or cross-attention, query and key lengths may differ) and
// an additive 0/1 mask (scores + mask · −1e9), and the lesson's own layer norm
// gamma · (x − mean) / (std + eps) + beta with the unbiased std. Plain functions on host arrays,
// so the GPU backend can run the same code as its fallback.

/** The value a masked score gets added, as the lesson writes it: `scores += mask * -1e9`. */
export const MASK_VALUE = -1e9;

/**
 * q [B,Tq,C], k, v [B,Tk,C]; head h uses columns h·hd … (h+1)·hd−1. mask null or [B,Mq,Tk] with
 * Mq = 1 (one row for every query: a padding mask) or Tq (a row per query), 1 = masked.
 * Writes y [B,Tq,C] and probs [B,nh,Tq,Tk].
 */
export function maskedAttentionForward(
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  mask: FloatArray | null,
  maskRows: number,
  B: number,
  Tq: number,
  Tk: number,
  C: number,
  nHead: number,
  y: FloatArray,
  probs: FloatArray,
): void {
  const hd = C / nHead;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let i = 0; i < Tq; i++) {
        const qOff = (b * Tq + i) * C + h * hd;
        const pOff = ((b * nHead + h) * Tq + i) * Tk;
        const mOff = (b * maskRows + (maskRows === 1 ? 0 : i)) * Tk;
        let max = -Infinity;
        for (let j = 0; j < Tk; j++) {
          const kOff = (b * Tk + j) * C + h * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[qOff + d] * k[kOff + d];
          s *= scale;
          if (mask) s += mask[mOff + j] * MASK_VALUE;
          probs[pOff + j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          const e = Math.exp(probs[pOff + j] - max);
          probs[pOff + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < Tk; j++) probs[pOff + j] *= inv;
        const yOff = (b * Tq + i) * C + h * hd;
        for (let d = 0; d < hd; d++) y[yOff + d] = 0;
        for (let j = 0; j < Tk; j++) {
          const p = probs[pOff + j];
          if (p === 0) continue;
          const vOff = (b * Tk + j) * C + h * hd;
          for (let d = 0; d < hd; d++) y[yOff + d] += p * v[vOff + d];
        }
      }
    }
  }
}

/**
 * Backward of maskedAttentionForward from its saved probs (the mask is a constant: it has no
 * gradient). dq, dk, dv accumulate; a null one is not computed. dp is scratch of Tk values.
 */
export function maskedAttentionBackward(
  dy: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  probs: FloatArray,
  B: number,
  Tq: number,
  Tk: number,
  C: number,
  nHead: number,
  dq: FloatArray | null,
  dk: FloatArray | null,
  dv: FloatArray | null,
  dp: FloatArray,
): void {
  const hd = C / nHead;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let i = 0; i < Tq; i++) {
        const pOff = ((b * nHead + h) * Tq + i) * Tk;
        const yOff = (b * Tq + i) * C + h * hd;
        const qOff = yOff;
        // dp_ij = dy_i · v_j; dv_j += p_ij dy_i
        let dot = 0;
        for (let j = 0; j < Tk; j++) {
          const vOff = (b * Tk + j) * C + h * hd;
          const p = probs[pOff + j];
          let s = 0;
          for (let d = 0; d < hd; d++) s += dy[yOff + d] * v[vOff + d];
          if (dv && p !== 0) for (let d = 0; d < hd; d++) dv[vOff + d] += p * dy[yOff + d];
          dp[j] = s;
          dot += s * p;
        }
        // softmax backward: ds_ij = p_ij (dp_ij − Σ_k dp_ik p_ik), then through the 1/√hd scaling
        for (let j = 0; j < Tk; j++) {
          const ds = probs[pOff + j] * (dp[j] - dot) * scale;
          if (ds === 0) continue;
          const kOff = (b * Tk + j) * C + h * hd;
          if (dq) for (let d = 0; d < hd; d++) dq[qOff + d] += ds * k[kOff + d];
          if (dk) for (let d = 0; d < hd; d++) dk[kOff + d] += ds * q[qOff + d];
        }
      }
    }
  }
}

/**
 * The lesson's layer norm over rows of x [R,C]: y = gain · (x − mean) / (std + eps) + bias, std
 * the unbiased standard deviation (torch.std's default, Bessel's n − 1). Saves mean and std.
 */
export function seedLayerNormForward(
  x: FloatArray,
  gain: FloatArray,
  bias: FloatArray,
  eps: number,
  R: number,
  C: number,
  y: FloatArray,
  mean: FloatArray,
  std: FloatArray,
): void {
  for (let r = 0; r < R; r++) {
    const o = r * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += x[o + c];
    m /= C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += (x[o + c] - m) * (x[o + c] - m);
    const s = Math.sqrt(ss / (C - 1));
    const inv = 1 / (s + eps);
    for (let c = 0; c < C; c++) y[o + c] = gain[c] * (x[o + c] - m) * inv + bias[c];
    mean[r] = m;
    std[r] = s;
  }
}

/**
 * Backward of seedLayerNormForward. With d = std + eps, x̂ = (x − mean)/d and g = dy ⊙ gain:
 * dx = (g − mean(g))/d − (x − mean) · Σ g (x − mean) / (d² (C − 1) std). Accumulates.
 */
export function seedLayerNormBackward(
  dy: FloatArray,
  x: FloatArray,
  gain: FloatArray,
  mean: FloatArray,
  std: FloatArray,
  eps: number,
  R: number,
  C: number,
  dx: FloatArray | null,
  dgain: FloatArray | null,
  dbias: FloatArray | null,
): void {
  for (let r = 0; r < R; r++) {
    const o = r * C;
    const m = mean[r],
      s = std[r];
    const d = s + eps;
    if (dgain || dbias) {
      for (let c = 0; c < C; c++) {
        if (dgain) dgain[c] += (dy[o + c] * (x[o + c] - m)) / d;
        if (dbias) dbias[c] += dy[o + c];
      }
    }
    if (!dx) continue;
    let gSum = 0,
      gDot = 0;
    for (let c = 0; c < C; c++) {
      const g = dy[o + c] * gain[c];
      gSum += g;
      gDot += g * (x[o + c] - m);
    }
    const gMean = gSum / C;
    // a constant row (std 0) has Σ g (x − mean) = 0: its second term vanishes
    const k = s > 0 ? gDot / (d * d * (C - 1) * s) : 0;
    for (let c = 0; c < C; c++) dx[o + c] += (dy[o + c] * gain[c] - gMean) / d - (x[o + c] - m) * k;
  }
}
