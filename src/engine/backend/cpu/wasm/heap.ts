import { createWasmGemm, relaxedSimdSupported, wasmSimdSupported, type WasmGemm } from './gemm-wasm';
import { GemmPool, type GemmHelperInit } from './gemm-pool';
import { createWasmElementwise, type WasmElementwise } from './elementwise-wasm';
import { gemmByRows, Job, POOL_JOBS, type PoolJobId, type PoolKernels } from './pool-jobs';

// Float32 tensor storage inside one shared WebAssembly.Memory, so the WebAssembly kernels read
// and write tensors in place (nothing is copied per call) and worker threads can later share
// them. One heap per thread of the process: every float32 CPU backend allocates from it, so any
// two of their tensors may meet in one kernel. Storage is never returned to the memory; released
// arrays wait in a free list by length, which a training step (the same shapes every step)
// drains exactly, so the steady state allocates nothing.

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit; shared memory reserves it only as address space
/** Below this many multiply-adds a product is not worth waking a helper. */
const MIN_PARALLEL_MACS = 1 << 18;
/** Below this many elements an elementwise job is not worth waking a helper. */
const MIN_PARALLEL_WORK = 1 << 14;

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  readonly gemm: WasmGemm;
  readonly elementwise: WasmElementwise;
  /** Packing space for gemm calls on this thread. */
  readonly scratchPtr: number;
  /** This thread's kernels and scratch, as pool jobs take them. */
  readonly kernels: PoolKernels;
  /** Helper threads for large products, once a host starts them (startGemmHelpers). */
  private pool: GemmPool | null = null;
  private top: number;
  private readonly free = new Map<number, Float32Array[]>();

  constructor() {
    this.memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
    this.gemm = createWasmGemm(this.memory, relaxedSimdSupported() ? 'relaxed' : 'simd');
    this.elementwise = createWasmElementwise(this.memory);
    this.top = 64; // pointer 0 stays unused: a zero pointer is a bug, not a tensor
    const scratchBytes = this.gemm.scratchBytes(4096, 4096, 4096);
    this.scratchPtr = this.reserve(scratchBytes);
    this.kernels = { gemm: this.gemm, elementwise: this.elementwise, memory: this.memory, scratchPtr: this.scratchPtr };
  }

  /** C (+)= op(A)·op(B) on heap pointers, over every thread the host gave this heap. */
  matmul(
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
  ): void {
    const parts = this.threads;
    if (parts === 1 || M * N * K < MIN_PARALLEL_MACS || (!gemmByRows(M, parts) && Math.ceil(N / 16) < parts)) {
      this.gemm.gemm(transA, transB, M, N, K, aPtr, lda, bPtr, ldb, cPtr, ldc, accumulate, this.scratchPtr);
      return;
    }
    this.pool!.run(Job.gemm, [transA ? 1 : 0, transB ? 1 : 0, M, N, K, aPtr, lda, bPtr, ldb, cPtr, ldc, accumulate ? 1 : 0], parts);
  }

  /**
   * Runs a pool job (pool-jobs.ts) split over this heap's threads, or whole on this thread when
   * `work` (its size in elements) is too small to be worth waking a helper.
   */
  run(job: PoolJobId, args: readonly number[], work = Infinity): void {
    const parts = work >= MIN_PARALLEL_WORK ? this.threads : 1;
    if (this.pool) this.pool.run(job, args, parts);
    else POOL_JOBS[job](this.kernels, Float64Array.from(args), 0, 1);
  }

  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /**
   * Gives the heap `count` helper threads: `start` must run runGemmHelper(init) on a new thread
   * (the host's worker). Returns the number of threads products now use.
   */
  startGemmHelpers(count: number, start: (init: GemmHelperInit) => void): number {
    if (this.pool) throw new Error('the gemm helper threads are already started');
    if (count < 1) return 1;
    const controls: number[] = [];
    const argsPtr = this.reserve(GemmPool.argsBytes());
    for (let i = 0; i < count; i++) {
      const controlPtr = this.reserve(GemmPool.controlBytes());
      new Int32Array(this.memory.buffer, controlPtr, GemmPool.controlBytes() / 4).fill(0);
      const scratchPtr = this.reserve(this.gemm.scratchBytes(4096, 4096, 4096));
      start({ memory: this.memory, variant: this.gemm.variant, controlPtr, argsPtr, scratchPtr });
      controls.push(controlPtr);
    }
    this.pool = new GemmPool(this.kernels, controls, argsPtr);
    return this.pool.threads;
  }

  private reserve(bytes: number): number {
    const at = Math.ceil(this.top / 64) * 64; // cache-line aligned
    const end = at + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      // grow by at least a quarter so a growing model does not grow the memory every tensor
      this.memory.grow(Math.min(MAX_PAGES - have / PAGE, Math.max(pages, Math.ceil(have / PAGE / 4))));
    }
    this.top = end;
    return at;
  }

  /** A zeroed float32 array of n elements in the heap. */
  take(n: number): Float32Array {
    const list = this.free.get(n);
    const reused = list && list.length > 0 ? list.pop()! : null;
    if (reused) {
      this.elementwise.zero(reused.byteOffset, n);
      return reused;
    }
    // a view on the current buffer: after a grow the old views stay valid, as the memory is shared
    const at = this.reserve(4 * Math.max(n, 1));
    const buffer = this.memory.buffer;
    heapBuffers.add(buffer);
    return new Float32Array(buffer, at, n);
  }

  give(buf: Float32Array): void {
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
  }

  /** Bytes handed out so far (tensors, free lists and scratch). */
  get bytesReserved(): number {
    return this.top;
  }

  /** Whether an array lives in this heap (so its byteOffset is a pointer the kernels can use). */
  owns(a: ArrayBufferView): boolean {
    return heapBuffers.has(a.buffer);
  }
}

/** Every buffer object the heaps' memories have had (a grow gives the memory a new one). */
const heapBuffers = new WeakSet<ArrayBufferLike>();
let shared: WasmHeap | null | undefined;

/**
 * This thread's heap, or null where WebAssembly SIMD or shared memory is missing (a page that is
 * not cross-origin isolated has no SharedArrayBuffer): the backend then runs its JS kernels.
 */
export function wasmHeap(): WasmHeap | null {
  if (shared === undefined) {
    shared = typeof SharedArrayBuffer !== 'undefined' && wasmSimdSupported() ? new WasmHeap() : null;
  }
  return shared;
}
