import type { FloatArray } from '../../../tensor';
import {
  jsRowAdds,
  jsTanh,
  type FastKernels,
  type GruCell,
  type GruCellBackward,
  type LstmSteps,
  type LstmStepsBackward,
  type MatMul,
  type RowAdds,
  type Tanh,
} from '../gemm';
import type { WasmHeap } from './heap';
import { Job } from './pool-jobs';

// The heap's WebAssembly kernels behind the signatures the CPU backend's Scratch calls (../gemm.ts).
// Each adapter checks that its arrays live in the heap; where they do not, it hands them to the JS
// kernel (the same bits) or returns false so that the caller's JS loop runs.

/** The wasm kernels a float32 CPU backend on `heap` brings to its Scratch in place of the JS ones. */
export function wasmKernels(heap: WasmHeap, jsMatMul: MatMul): FastKernels {
  return {
    matmul: wasmMatMul(heap, jsMatMul),
    lstmSteps: wasmLstmSteps(heap),
    lstmStepsBackward: wasmLstmStepsBackward(heap),
    gruCell: wasmGruCell(heap),
    gruCellBackward: wasmGruCellBackward(heap),
    tanh: wasmTanh(heap),
    rows: wasmRowAdds(heap),
  };
}

/** The heap's gemm behind the MatMul signature; arrays outside the heap take the JS kernel. */
function wasmMatMul(heap: WasmHeap, js: MatMul): MatMul {
  return (M, N, K, A, aOff, transA, B, bOff, transB, C, cOff, accumulate) => {
    if (M === 0 || N === 0) return;
    if (K === 0 || !(heap.owns(A) && heap.owns(B) && heap.owns(C))) {
      js(M, N, K, A, aOff, transA, B, bOff, transB, C, cOff, accumulate);
      return;
    }
    heap.matmul(
      transA,
      transB,
      M,
      N,
      K,
      A.byteOffset + 4 * aOff,
      transA ? M : K,
      B.byteOffset + 4 * bOff,
      transB ? K : N,
      C.byteOffset + 4 * cOff,
      N,
      accumulate,
    );
  };
}

/**
 * A whole LSTM layer forward in wasm, split by batch rows over the heap's threads (rows never
 * meet between steps), with W_hhᵀ packed once for all T steps; false (the JS loop runs) for arrays outside the heap or H not a multiple of 4.
 */
function wasmLstmSteps(heap: WasmHeap): LstmSteps {
  return (gi, whh, bhh, h0, c0, hs, cs, acts, T, B, H) => {
    if (H % 4 !== 0 || ![gi, whh, bhh, h0, c0, hs, cs, acts].every((a) => heap.owns(a))) return false;
    const G = 4 * H;
    const packed = heap.take(heap.gemm.packedBBytes(H, G) / 4);
    heap.gemm.packB(true, H, G, whh.byteOffset, H, packed.byteOffset); // op(B) = W_hhᵀ, (H, 4H)
    heap.run(Job.lstmForward, [
      gi.byteOffset,
      bhh.byteOffset,
      h0.byteOffset,
      c0.byteOffset,
      hs.byteOffset,
      cs.byteOffset,
      acts.byteOffset,
      packed.byteOffset,
      T,
      B,
      H,
    ]);
    heap.give(packed);
    return true;
  };
}

/** The LSTM backward through time in wasm, split like wasmLstmSteps. */
function wasmLstmStepsBackward(heap: WasmHeap): LstmStepsBackward {
  return (acts, cs, c0, dhs, whh, dhNext, dcNext, dG, T, B, H) => {
    if (H % 4 !== 0 || ![acts, cs, c0, dhs, whh, dhNext, dcNext, dG].every((a) => heap.owns(a))) return false;
    const G = 4 * H;
    const packed = heap.take(heap.gemm.packedBBytes(G, H) / 4);
    heap.gemm.packB(false, G, H, whh.byteOffset, H, packed.byteOffset); // op(B) = W_hh, (4H, H)
    heap.run(Job.lstmBackward, [
      acts.byteOffset,
      cs.byteOffset,
      c0.byteOffset,
      dhs.byteOffset,
      dhNext.byteOffset,
      dcNext.byteOffset,
      dG.byteOffset,
      packed.byteOffset,
      T,
      B,
      H,
    ]);
    heap.give(packed);
    return true;
  };
}

/** The heap's GRU cell, on the same terms as wasmLstmSteps. */
function wasmGruCell(heap: WasmHeap): GruCell {
  const at = (a: FloatArray, offset: number) => a.byteOffset + 4 * offset;
  return (gi, acts, aOff, gh, hPrev, hPrevOff, ghn, hs, off, B, H) => {
    const owned = heap.owns(gi) && heap.owns(acts) && heap.owns(gh) && heap.owns(hPrev) && heap.owns(ghn) && heap.owns(hs);
    if (H % 4 !== 0 || !owned) return false;
    heap.elementwise.gruCell(at(gi, aOff), gh.byteOffset, at(hPrev, hPrevOff), at(acts, aOff), at(ghn, off), at(hs, off), B, H);
    return true;
  };
}

/** The heap's GRU cell backward, on the same terms as wasmLstmSteps. */
function wasmGruCellBackward(heap: WasmHeap): GruCellBackward {
  const at = (a: FloatArray, offset: number) => a.byteOffset + 4 * offset;
  return (acts, aOff, ghn, dhs, off, hPrev, hPrevOff, dhNext, dGi, dGh, B, H) => {
    const owned = heap.owns(acts) && heap.owns(ghn) && heap.owns(dhs) && heap.owns(hPrev) && heap.owns(dhNext) && heap.owns(dGi) && heap.owns(dGh);
    if (H % 4 !== 0 || !owned) return false;
    heap.elementwise.gruCellBackward(at(acts, aOff), at(ghn, off), at(hPrev, hPrevOff), at(dhs, off), dhNext.byteOffset, at(dGi, aOff), at(dGh, aOff), B, H);
    return true;
  };
}

/** The heap's tanh, four lanes at a time; the tail, and arrays outside the heap, in JS. */
function wasmTanh(heap: WasmHeap): Tanh {
  return (x, xOff, y, yOff, n) => {
    if (!(heap.owns(x) && heap.owns(y))) {
      jsTanh(x, xOff, y, yOff, n);
      return;
    }
    const from = n & ~3;
    heap.elementwise.tanhForward(x.byteOffset + 4 * xOff, y.byteOffset + 4 * yOff, from);
    jsTanh(x, xOff + from, y, yOff + from, n - from);
  };
}

/** The heap's row-wise adds; arrays outside the heap take the JS loops (the results are the same bits). */
function wasmRowAdds(heap: WasmHeap): RowAdds {
  const k = heap.elementwise;
  return {
    add(a, b, y, n) {
      if (heap.owns(a) && heap.owns(b) && heap.owns(y)) heap.run(Job.add, [a.byteOffset, b.byteOffset, y.byteOffset, n], n);
      else jsRowAdds.add(a, b, y, n);
    },
    addRows(x, xOff, bias, y, yOff, rows, width) {
      if (heap.owns(x) && heap.owns(bias) && heap.owns(y)) k.addRows(x.byteOffset + 4 * xOff, bias.byteOffset, y.byteOffset + 4 * yOff, rows, width);
      else jsRowAdds.addRows(x, xOff, bias, y, yOff, rows, width);
    },
    addRowSums(src, sOff, rows, width, dst) {
      if (heap.owns(src) && heap.owns(dst)) k.addRowSums(src.byteOffset + 4 * sOff, dst.byteOffset, rows, width);
      else jsRowAdds.addRowSums(src, sOff, rows, width, dst);
    },
  };
}
