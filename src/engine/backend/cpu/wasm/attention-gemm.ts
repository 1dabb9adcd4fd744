import type { WasmGemm } from './gemm-wasm';

// Causal attention with its four products per (batch, head) done by the wasm gemm on strided
// views of the fused qkv [B,T,3C] (no copies): S = Q·Kᵀ, Y = P·V, and backward dP = dY·Vᵀ,
// dV += Pᵀ·dY, dQ += dS·K, dK += dSᵀ·Q. The products cover the full T×T square (twice the causal
// work) because a 10× faster kernel more than pays for it; the masked upper triangle holds
// exact zeros, so it adds nothing. The softmax and its backward stay row loops (O(T²)), as in
// ../attention.ts, which is the reference these are tested against. The (batch, head) pairs are
// independent: [pairFrom, pairTo) lets threads take a range each (pool-jobs.ts).

const ptr = (a: Float32Array, offset: number) => a.byteOffset + 4 * offset;

/** The probabilities the values are mixed with: P, or P∘mask (in `masked`) under dropout. */
function dropped(probs: Float32Array, mask: Float32Array | null, pOff: number, n: number, masked: Float32Array): [Float32Array, number] {
  if (!mask) return [probs, pOff];
  for (let k = 0; k < n; k++) masked[k] = probs[pOff + k] * mask[pOff + k];
  return [masked, 0];
}

export function attentionForwardGemm(
  g: WasmGemm,
  scratchPtr: number,
  qkv: Float32Array,
  B: number,
  T: number,
  C: number,
  nHead: number,
  y: Float32Array,
  probs: Float32Array,
  mask: Float32Array | null,
  masked: Float32Array,
  pairFrom = 0,
  pairTo = B * nHead,
): void {
  const hd = C / nHead,
    C3 = 3 * C;
  const scale = 1 / Math.sqrt(hd);
  for (let pair = pairFrom; pair < pairTo; pair++) {
    const b = Math.floor(pair / nHead),
      h = pair % nHead;
    const base = b * T * C3 + h * hd;
    const pOff = (b * nHead + h) * T * T;
    // (T, hd) · (T, hd)ᵀ -> (T, T) scores
    g.gemm(false, true, T, T, hd, ptr(qkv, base), C3, ptr(qkv, base + C), C3, ptr(probs, pOff), T, false, scratchPtr);
    for (let i = 0; i < T; i++) {
      const o = pOff + i * T;
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        const s = probs[o + j] * scale;
        probs[o + j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        const e = Math.exp(probs[o + j] - max);
        probs[o + j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j <= i; j++) probs[o + j] *= inv;
      for (let j = i + 1; j < T; j++) probs[o + j] = 0; // causal: no weight on the future
    }
    const [P, at] = dropped(probs, mask, pOff, T * T, masked);
    // (T, T) · (T, hd) -> y's columns of head h, (B, T, C)
    g.gemm(false, false, T, hd, T, ptr(P, at), T, ptr(qkv, base + 2 * C), C3, ptr(y, b * T * C + h * hd), C, false, scratchPtr);
  }
}

export function attentionBackwardGemm(
  g: WasmGemm,
  scratchPtr: number,
  dy: Float32Array,
  qkv: Float32Array,
  probs: Float32Array,
  mask: Float32Array | null,
  B: number,
  T: number,
  C: number,
  nHead: number,
  dqkv: Float32Array,
  masked: Float32Array,
  ds: Float32Array,
  pairFrom = 0,
  pairTo = B * nHead,
): void {
  const hd = C / nHead,
    C3 = 3 * C;
  const scale = 1 / Math.sqrt(hd);
  for (let pair = pairFrom; pair < pairTo; pair++) {
    const b = Math.floor(pair / nHead),
      h = pair % nHead;
    const base = b * T * C3 + h * hd;
    const yBase = b * T * C + h * hd;
    const pOff = (b * nHead + h) * T * T;
    const [P, at] = dropped(probs, mask, pOff, T * T, masked);
    // dP' = dY · Vᵀ (T, T); dV += P'ᵀ · dY (T, hd)
    g.gemm(false, true, T, T, hd, ptr(dy, yBase), C, ptr(qkv, base + 2 * C), C3, ptr(ds, 0), T, false, scratchPtr);
    g.gemm(true, false, T, hd, T, ptr(P, at), T, ptr(dy, yBase), C, ptr(dqkv, base + 2 * C), C3, true, scratchPtr);
    // softmax backward through the dropout mask: dS_ij = p_ij (dp_ij − Σ_k dp_ik p_ik) / √hd
    for (let i = 0; i < T; i++) {
      const o = i * T,
        po = pOff + o;
      let dot = 0;
      for (let j = 0; j <= i; j++) {
        const dp = mask ? ds[o + j] * mask[po + j] : ds[o + j];
        ds[o + j] = dp;
        dot += dp * probs[po + j];
      }
      for (let j = 0; j <= i; j++) ds[o + j] = probs[po + j] * (ds[o + j] - dot) * scale;
      for (let j = i + 1; j < T; j++) ds[o + j] = 0;
    }
    // dQ += dS · K; dK += dSᵀ · Q
    g.gemm(false, false, T, hd, T, ptr(ds, 0), T, ptr(qkv, base + C), C3, ptr(dqkv, base), C3, true, scratchPtr);
    g.gemm(true, false, T, hd, T, ptr(ds, 0), T, ptr(qkv, base), C3, ptr(dqkv, base + C), C3, true, scratchPtr);
  }
}
