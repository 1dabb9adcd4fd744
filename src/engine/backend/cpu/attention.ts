import type { FloatArray } from '../../tensor';

// Causal multi-head attention on a fused qkv [B,T,3C] projection, written out loop by loop
// (llm.c's attention_forward / attention_backward): small contexts make the T×T work cheap, and
// keeping the probabilities lets the Attention view show exactly what the model used.

export function attentionForward(
  qkv: FloatArray,
  B: number,
  T: number,
  C: number,
  nHead: number,
  y: FloatArray,
  probs: FloatArray,
  mask: FloatArray | null,
): void {
  const hd = C / nHead;
  const C3 = 3 * C;
  // scaled by 1/sqrt(hd): keeps the softmax out of saturation as the head size grows
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let i = 0; i < T; i++) {
        const qOff = (b * T + i) * C3 + h * hd;
        const pOff = ((b * nHead + h) * T + i) * T;
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          const kOff = (b * T + j) * C3 + C + h * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += qkv[qOff + d] * qkv[kOff + d];
          s *= scale;
          probs[pOff + j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) {
          const e = Math.exp(probs[pOff + j] - max);
          probs[pOff + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j <= i; j++) probs[pOff + j] *= inv;
        for (let j = i + 1; j < T; j++) probs[pOff + j] = 0; // causal: no weight on the future
        // y_i = Σ_j p_ij v_j, (B, T, nh, hd) written back in head order -> (B, T, C)
        const yOff = (b * T + i) * C + h * hd;
        for (let d = 0; d < hd; d++) y[yOff + d] = 0;
        for (let j = 0; j <= i; j++) {
          const p = mask ? probs[pOff + j] * mask[pOff + j] : probs[pOff + j];
          const vOff = (b * T + j) * C3 + 2 * C + h * hd;
          for (let d = 0; d < hd; d++) y[yOff + d] += p * qkv[vOff + d];
        }
      }
    }
  }
}

export function attentionBackward(
  dy: FloatArray,
  qkv: FloatArray,
  probs: FloatArray,
  mask: FloatArray | null,
  B: number,
  T: number,
  C: number,
  nHead: number,
  dqkv: FloatArray,
  dp: FloatArray,
): void {
  const hd = C / nHead;
  const C3 = 3 * C;
  const scale = 1 / Math.sqrt(hd);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let i = 0; i < T; i++) {
        const pOff = ((b * nHead + h) * T + i) * T;
        const yOff = (b * T + i) * C + h * hd;
        const qOff = (b * T + i) * C3 + h * hd;
        // dp_ij = dy_i · v_j (through the dropout mask); dv_j += p'_ij dy_i
        let dot = 0;
        for (let j = 0; j <= i; j++) {
          const vOff = (b * T + j) * C3 + 2 * C + h * hd;
          const m = mask ? mask[pOff + j] : 1;
          const p = probs[pOff + j] * m;
          let s = 0;
          for (let d = 0; d < hd; d++) {
            s += dy[yOff + d] * qkv[vOff + d];
            dqkv[vOff + d] += p * dy[yOff + d];
          }
          s *= m;
          dp[j] = s;
          dot += s * probs[pOff + j];
        }
        // softmax backward: ds_ij = p_ij (dp_ij − Σ_k dp_ik p_ik), then through q·k scaling
        for (let j = 0; j <= i; j++) {
          const ds = probs[pOff + j] * (dp[j] - dot) * scale;
          if (ds === 0) continue;
          const kOff = (b * T + j) * C3 + C + h * hd;
          for (let d = 0; d < hd; d++) {
            dqkv[qOff + d] += ds * qkv[kOff + d];
            dqkv[kOff + d] += ds * qkv[qOff + d];
          }
        }
      }
    }
  }
}
