import type { WasmGemm } from './gemm-wasm';

// The encoder–decoder's attention (separate q, k, v; query length Tq, key length Tk; an additive
// 0/1 mask, scores + mask · −1e9) with its products per (batch, head) done by the wasm gemm on
// strided views of q, k, v [B,T,C] (head h: columns h·hd … (h+1)·hd−1, leading dimension C, no
// copies): S = Q·Kᵀ, Y = P·V, and backward dP = dY·Vᵀ, dV += Pᵀ·dY, dQ += dS·K, dK += dSᵀ·Q.
// The mask, scaling and softmax (and its backward) stay row loops fused over each score row, as in
// ../encoder-decoder.ts, the reference these are tested against. The (batch, head) pairs write
// disjoint columns of y, dq, dk, dv, so [pairFrom, pairTo) lets threads take a range each.

/** The value a masked score gets added, as the lesson writes it (../encoder-decoder.ts's MASK_VALUE). */
const MASK_VALUE = -1e9;

const ptr = (a: Float32Array, offset: number) => a.byteOffset + 4 * offset;

/**
 * q [B,Tq,C], k, v [B,Tk,C]; mask null or [B,maskRows,Tk] (maskRows 1: one row for every query;
 * Tq: a row per query), 1 = masked. Writes y [B,Tq,C] and probs [B,nh,Tq,Tk].
 */
export function maskedAttentionForwardGemm(
  g: WasmGemm,
  scratchPtr: number,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  mask: Float32Array | null,
  maskRows: number,
  B: number,
  Tq: number,
  Tk: number,
  C: number,
  nHead: number,
  y: Float32Array,
  probs: Float32Array,
  pairFrom = 0,
  pairTo = B * nHead,
): void {
  const hd = C / nHead;
  const scale = 1 / Math.sqrt(hd);
  for (let pair = pairFrom; pair < pairTo; pair++) {
    const b = Math.floor(pair / nHead),
      h = pair % nHead;
    const qBase = b * Tq * C + h * hd,
      kBase = b * Tk * C + h * hd;
    const pOff = pair * Tq * Tk;
    // (Tq, hd) · (Tk, hd)ᵀ -> (Tq, Tk) scores
    g.gemm(false, true, Tq, Tk, hd, ptr(q, qBase), C, ptr(k, kBase), C, ptr(probs, pOff), Tk, false, scratchPtr);
    for (let i = 0; i < Tq; i++) {
      const o = pOff + i * Tk;
      const mOff = (b * maskRows + (maskRows === 1 ? 0 : i)) * Tk;
      let max = -Infinity;
      for (let j = 0; j < Tk; j++) {
        let s = probs[o + j] * scale;
        if (mask) s += mask[mOff + j] * MASK_VALUE;
        probs[o + j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < Tk; j++) {
        const e = Math.exp(probs[o + j] - max);
        probs[o + j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < Tk; j++) probs[o + j] *= inv;
    }
    // (Tq, Tk) · (Tk, hd) -> y's columns of head h
    g.gemm(false, false, Tq, hd, Tk, ptr(probs, pOff), Tk, ptr(v, kBase), C, ptr(y, qBase), C, false, scratchPtr);
  }
}

/**
 * Backward from the saved probs; dq, dk, dv accumulate and a null one is not computed. ds is
 * scratch of Tq·Tk floats (one per thread).
 */
export function maskedAttentionBackwardGemm(
  g: WasmGemm,
  scratchPtr: number,
  dy: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  B: number,
  Tq: number,
  Tk: number,
  C: number,
  nHead: number,
  dq: Float32Array | null,
  dk: Float32Array | null,
  dv: Float32Array | null,
  ds: Float32Array,
  pairFrom = 0,
  pairTo = B * nHead,
): void {
  const hd = C / nHead;
  const scale = 1 / Math.sqrt(hd);
  for (let pair = pairFrom; pair < pairTo; pair++) {
    const b = Math.floor(pair / nHead),
      h = pair % nHead;
    const qBase = b * Tq * C + h * hd,
      kBase = b * Tk * C + h * hd;
    const pOff = pair * Tq * Tk;
    // dV += Pᵀ · dY (Tk, hd)
    if (dv) g.gemm(true, false, Tk, hd, Tq, ptr(probs, pOff), Tk, ptr(dy, qBase), C, ptr(dv, kBase), C, true, scratchPtr);
    if (!dq && !dk) continue;
    // dP = dY · Vᵀ (Tq, Tk), then the softmax backward: dS_ij = p_ij (dp_ij − Σ_k dp_ik p_ik) / √hd
    g.gemm(false, true, Tq, Tk, hd, ptr(dy, qBase), C, ptr(v, kBase), C, ptr(ds, 0), Tk, false, scratchPtr);
    for (let i = 0; i < Tq; i++) {
      const o = i * Tk,
        po = pOff + o;
      let dot = 0;
      for (let j = 0; j < Tk; j++) dot += ds[o + j] * probs[po + j];
      for (let j = 0; j < Tk; j++) ds[o + j] = probs[po + j] * (ds[o + j] - dot) * scale;
    }
    // dQ += dS · K (Tq, hd); dK += dSᵀ · Q (Tk, hd)
    if (dq) g.gemm(false, false, Tq, hd, Tk, ptr(ds, 0), Tk, ptr(k, kBase), C, ptr(dq, qBase), C, true, scratchPtr);
    if (dk) g.gemm(true, false, Tk, hd, Tq, ptr(ds, 0), Tk, ptr(q, qBase), C, ptr(dk, kBase), C, true, scratchPtr);
  }
}
