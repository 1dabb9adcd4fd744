import { GEMM_WASM_RELAXED, GEMM_WASM_SIMD } from './gemm-wasm.generated';

// WebAssembly SIMD matrix multiply (gemm.wat), about 10× the plain-JS kernel in ../gemm.ts.
//
// Layout the caller provides: row-major float32 matrices in one WebAssembly.Memory, each given
// by a byte pointer and a row stride in floats, so a sub-block of a bigger matrix (a row block
// of C for one thread, a slice of a batch) needs no copy:
//   op(A)[i,k] = A[i·lda + k]     (transA: A is K×M, op(A)[i,k] = A[k·lda + i])
//   op(B)[k,j] = B[k·ldb + j]     (transB: B is N×K, op(B)[k,j] = B[j·ldb + k])
//   C[i,j]     = C[i·ldc + j]
// All four transposition forms run at the same speed: the kernel packs both operands into
// contiguous panels first (TensorFlow.js's wasm matmul reads transposed operands strided and
// drops to ~1 GFLOP/s, and every weight gradient is such a product).
//
// The memory is imported shared so that worker threads can instantiate the same module on the
// caller's memory and each compute a block of C. Each element of C is one multiply-add chain over
// k in order, so splitting C's rows or columns between calls gives bit-identical results; never
// split K (that would change the summation order and race on C). Each call packs the op(B)
// columns it uses, so a row split packs all of B once per thread: fine when M is large (768 rows
// of a GPT batch), wasteful when M is small (the LSTM step, M = 32), where columns split at
// multiples of 16 (whole panels), or one packB shared by every thread's gemmPackedB, do better.
// Each concurrent call needs its own scratch.
//
// Two builds of the same WAT: 'relaxed' uses f32x4.relaxed_madd (a fused multiply-add on x64 with
// FMA and on ARM; ~25% faster), 'simd' uses f32x4.mul + f32x4.add. Relaxed SIMD is on by default in
// Chrome and Electron and behind --experimental-wasm-relaxed-simd in Node 20. The two differ in
// the last bits (fused or separately rounded), so a run should pick one variant and keep it.

export type GemmVariant = 'relaxed' | 'simd';

export interface WasmGemm {
  readonly variant: GemmVariant;
  readonly memory: WebAssembly.Memory;
  /**
   * C[M,N] (+)= op(A)·op(B) with op(A) M×K and op(B) K×N. Pointers are byte offsets into
   * `memory` (float-aligned); lda, ldb, ldc are row strides in floats. `scratchPtr` points at
   * scratchBytes(M, N, K) bytes that overlap no operand (any alignment: the kernel aligns its
   * panels to cache lines inside it); one scratch area per concurrent call.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    aPtr: number,
    lda: number,
    bPtr: number,
    ldb: number,
    cPtr: number,
    ldc: number,
    accumulate: boolean,
    scratchPtr: number,
  ): void;
  /**
   * Bytes of packing space gemm (and gemmPackedB) needs for these sizes: at most about 1.3 MiB,
   * whatever the sizes.
   */
  scratchBytes(M: number, N: number, K: number): number;
  /** Bytes packB writes for a K×N op(B): 4·K·⌈N/16⌉·16. */
  packedBBytes(K: number, N: number): number;
  /**
   * Packs op(B) (K×N; B is N×K when transB) once at dstPtr (64-byte aligned is fastest), for
   * many gemmPackedB calls: a weight used at every time step, or shared by threads.
   */
  packB(transB: boolean, K: number, N: number, bPtr: number, ldb: number, dstPtr: number): void;
  /**
   * gemm with op(B) = columns j0 .. j0+N of the K×packedN matrix packB packed at packedPtr, with
   * the same K. j0 must be a multiple of 16 (threads splitting columns split at panel
   * boundaries). Bit-identical to gemm on the unpacked operand.
   */
  gemmPackedB(
    transA: boolean,
    M: number,
    N: number,
    K: number,
    aPtr: number,
    lda: number,
    packedPtr: number,
    packedN: number,
    j0: number,
    cPtr: number,
    ldc: number,
    accumulate: boolean,
    scratchPtr: number,
  ): void;
}

// a type, not an interface: WebAssembly.Exports (a record of functions) narrows to it
type GemmExports = {
  gemm(
    transA: number,
    transB: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    accumulate: number,
    scratch: number,
  ): void;
  scratch_bytes(M: number, N: number, K: number): number;
  packed_b_bytes(K: number, N: number): number;
  pack_b(transB: number, K: number, N: number, b: number, ldb: number, dst: number): void;
  gemm_packed_b(
    transA: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    packed: number,
    packedN: number,
    j0: number,
    c: number,
    ldc: number,
    accumulate: number,
    scratch: number,
  ): void;
};

// (func (param v128) (result v128) local.get 0 local.get 0 local.get 0 f32x4.relaxed_madd):
// validates only where relaxed SIMD is enabled.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20,
  0x00, 0x20, 0x00, 0x20, 0x00, 0xfd, 0x85, 0x02, 0x0b,
]);

// The same with f32x4.add on two operands: validates wherever WebAssembly SIMD does.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x0b, 0x01, 0x09, 0x00, 0x20,
  0x00, 0x20, 0x00, 0xfd, 0xe4, 0x01, 0x0b,
]);

function validates(bytes: Uint8Array<ArrayBuffer>): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
}

/** Whether this runtime accepts relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  return validates(RELAXED_PROBE);
}

/** Whether this runtime accepts WebAssembly SIMD at all (every current browser, Node ≥ 16). */
export function wasmSimdSupported(): boolean {
  return validates(SIMD_PROBE);
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// Compiled once per variant; a Module can be instantiated on any number of memories.
const compiled = new Map<GemmVariant, WebAssembly.Module>();

function compile(variant: GemmVariant): WebAssembly.Module {
  let module = compiled.get(variant);
  if (!module) {
    module = new WebAssembly.Module(decodeBase64(variant === 'relaxed' ? GEMM_WASM_RELAXED : GEMM_WASM_SIMD));
    compiled.set(variant, module);
  }
  return module;
}

function checkIndex(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`wasm gemm: ${name} (${value}) must be an integer in [0, 2^32)`);
  }
}

function checkEnd(name: string, end: number, bytes: number): void {
  if (end > bytes) throw new RangeError(`wasm gemm: ${name} ends at byte ${end}, past the memory's ${bytes} bytes`);
}

/** Byte offset one past the last float of a rows×cols matrix with the given row stride. */
function extent(ptr: number, rows: number, cols: number, stride: number): number {
  return rows === 0 || cols === 0 ? ptr : ptr + ((rows - 1) * stride + cols) * 4;
}

/**
 * Instantiates the gemm kernels on `memory`, which must be shared (new WebAssembly.Memory({
 * initial, maximum, shared: true })). The variant defaults to 'relaxed' where supported.
 */
export function createWasmGemm(memory: WebAssembly.Memory, variant?: GemmVariant): WasmGemm {
  const chosen = variant ?? (relaxedSimdSupported() ? 'relaxed' : 'simd');
  if (chosen === 'relaxed' && !relaxedSimdSupported()) {
    throw new Error(
      'wasm gemm: the relaxed variant needs WebAssembly relaxed SIMD, which this runtime lacks ' +
        "(Node 20: run with --experimental-wasm-relaxed-simd); use variant 'simd'",
    );
  }
  if (!wasmSimdSupported()) {
    throw new Error('wasm gemm: this runtime has no WebAssembly SIMD; use the JavaScript kernels');
  }
  if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) {
    throw new Error('wasm gemm: the memory must be shared (new WebAssembly.Memory({ ..., shared: true }))');
  }
  const instance = new WebAssembly.Instance(compile(chosen), { env: { memory } });
  const exports = instance.exports as GemmExports;

  return {
    variant: chosen,
    memory,
    gemm(transA, transB, M, N, K, aPtr, lda, bPtr, ldb, cPtr, ldc, accumulate, scratchPtr) {
      // O(1) checks: a wasm trap says only "memory access out of bounds", and a wrong stride
      // would silently read the wrong floats.
      checkIndex('M', M);
      checkIndex('N', N);
      checkIndex('K', K);
      checkIndex('aPtr', aPtr);
      checkIndex('lda', lda);
      checkIndex('bPtr', bPtr);
      checkIndex('ldb', ldb);
      checkIndex('cPtr', cPtr);
      checkIndex('ldc', ldc);
      checkIndex('scratchPtr', scratchPtr);
      const [aRows, aCols] = transA ? [K, M] : [M, K];
      const [bRows, bCols] = transB ? [N, K] : [K, N];
      if (lda < aCols || ldb < bCols || ldc < N) {
        throw new RangeError(
          `wasm gemm: row strides lda ${lda}, ldb ${ldb}, ldc ${ldc} must be at least the row lengths ` +
            `${aCols}, ${bCols}, ${N} (transA ${transA}, transB ${transB}, M ${M}, N ${N}, K ${K})`,
        );
      }
      const bytes = memory.buffer.byteLength;
      checkEnd('A', extent(aPtr, aRows, aCols, lda), bytes);
      checkEnd('B', extent(bPtr, bRows, bCols, ldb), bytes);
      checkEnd('C', extent(cPtr, M, N, ldc), bytes);
      checkEnd('scratch', scratchPtr + (exports.scratch_bytes(M, N, K) >>> 0), bytes);
      exports.gemm(transA ? 1 : 0, transB ? 1 : 0, M, N, K, aPtr, lda, bPtr, ldb, cPtr, ldc, accumulate ? 1 : 0, scratchPtr);
    },
    scratchBytes(M, N, K) {
      checkIndex('M', M);
      checkIndex('N', N);
      checkIndex('K', K);
      return exports.scratch_bytes(M, N, K) >>> 0;
    },
    packedBBytes(K, N) {
      checkIndex('K', K);
      checkIndex('N', N);
      return exports.packed_b_bytes(K, N) >>> 0;
    },
    packB(transB, K, N, bPtr, ldb, dstPtr) {
      checkIndex('K', K);
      checkIndex('N', N);
      checkIndex('bPtr', bPtr);
      checkIndex('ldb', ldb);
      checkIndex('dstPtr', dstPtr);
      const [bRows, bCols] = transB ? [N, K] : [K, N];
      if (ldb < bCols) {
        throw new RangeError(`wasm gemm: packB's row stride ldb ${ldb} must be at least the row length ${bCols}`);
      }
      const bytes = memory.buffer.byteLength;
      checkEnd('B', extent(bPtr, bRows, bCols, ldb), bytes);
      checkEnd('the packed B', dstPtr + (exports.packed_b_bytes(K, N) >>> 0), bytes);
      exports.pack_b(transB ? 1 : 0, K, N, bPtr, ldb, dstPtr);
    },
    gemmPackedB(transA, M, N, K, aPtr, lda, packedPtr, packedN, j0, cPtr, ldc, accumulate, scratchPtr) {
      checkIndex('M', M);
      checkIndex('N', N);
      checkIndex('K', K);
      checkIndex('aPtr', aPtr);
      checkIndex('lda', lda);
      checkIndex('packedPtr', packedPtr);
      checkIndex('packedN', packedN);
      checkIndex('j0', j0);
      checkIndex('cPtr', cPtr);
      checkIndex('ldc', ldc);
      checkIndex('scratchPtr', scratchPtr);
      if (j0 % 16 !== 0 || j0 + N > packedN) {
        throw new RangeError(`wasm gemm: columns ${j0} .. ${j0 + N} of a packed B must start at a multiple of 16 and end ` + `within its ${packedN} columns`);
      }
      const aCols = transA ? M : K;
      if (lda < aCols || ldc < N) {
        throw new RangeError(`wasm gemm: row strides lda ${lda}, ldc ${ldc} must be at least the row lengths ${aCols}, ${N}`);
      }
      const bytes = memory.buffer.byteLength;
      checkEnd('A', extent(aPtr, transA ? K : M, aCols, lda), bytes);
      checkEnd('the packed B', packedPtr + (exports.packed_b_bytes(K, packedN) >>> 0), bytes);
      checkEnd('C', extent(cPtr, M, N, ldc), bytes);
      checkEnd('scratch', scratchPtr + (exports.scratch_bytes(M, N, K) >>> 0), bytes);
      exports.gemm_packed_b(transA ? 1 : 0, M, N, K, aPtr, lda, packedPtr, packedN, j0, cPtr, ldc, accumulate ? 1 : 0, scratchPtr);
    },
  };
}
