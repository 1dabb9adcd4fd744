import { createWasmGemm, type GemmVariant, type WasmGemm } from './gemm-wasm';

// Matrix products split over threads that share the wasm heap. The host starts the helper
// threads (worker_threads in Node, Web Workers in a browser: the engine itself starts none) and
// each runs `runGemmHelper`; the calling thread hands each helper a block of C through a small
// control block in the shared memory and does the first block itself. Rows are split when C is
// tall, columns (at whole 16-column panels) when it is short, never K: every element of C is the
// same multiply-add chain whatever the split, so results do not depend on the thread count.

/** What a host posts to a helper thread to start it. */
export interface GemmHelperInit {
  memory: WebAssembly.Memory;
  variant: GemmVariant;
  /** Byte offset of this helper's control block (CONTROL_INTS int32s). */
  controlPtr: number;
  scratchPtr: number;
}

const CONTROL_INTS = 16;
// control block fields
const SEQ = 0, DONE = 1, TA = 2, TB = 3, M_ = 4, N_ = 5, K_ = 6, A_ = 7, LDA = 8, B_ = 9, LDB = 10, C_ = 11, LDC = 12, ACC = 13, QUIT = 14;
/** Below this many multiply-adds a product is not worth waking a helper. */
const MIN_PARALLEL_MACS = 1 << 18;

/** The helper thread's loop: wait for a job, compute its block, say done; until told to quit. */
export function runGemmHelper(init: GemmHelperInit): void {
  const g = createWasmGemm(init.memory, init.variant);
  const ctl = new Int32Array(init.memory.buffer as unknown as SharedArrayBuffer, init.controlPtr, CONTROL_INTS);
  // from 0, the block's initial value: a job posted before this thread got here is not missed
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, SEQ, seen);
    seen = Atomics.load(ctl, SEQ);
    if (ctl[QUIT] === 1) return;
    g.gemm(ctl[TA] === 1, ctl[TB] === 1, ctl[M_], ctl[N_], ctl[K_], ctl[A_], ctl[LDA], ctl[B_], ctl[LDB], ctl[C_], ctl[LDC], ctl[ACC] === 1, init.scratchPtr);
    Atomics.store(ctl, DONE, seen);
    Atomics.notify(ctl, DONE);
  }
}

export class GemmPool {
  private readonly controls: Int32Array[];

  /** `controlPtrs`: one control block per helper, already started with runGemmHelper. */
  constructor(private readonly gemm: WasmGemm, controlPtrs: number[]) {
    this.controls = controlPtrs.map((p) => new Int32Array(gemm.memory.buffer as unknown as SharedArrayBuffer, p, CONTROL_INTS));
  }

  static controlBytes(): number {
    return CONTROL_INTS * 4;
  }

  get threads(): number {
    return this.controls.length + 1;
  }

  /** Same contract as WasmGemm.gemm, computed by this thread and the helpers together. */
  run(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    aPtr: number, lda: number, bPtr: number, ldb: number, cPtr: number, ldc: number,
    accumulate: boolean, scratchPtr: number,
  ): void {
    const parts = this.controls.length + 1;
    const byRows = M >= 16 * parts;
    const panels = Math.ceil(N / 16);
    if (M * N * K < MIN_PARALLEL_MACS || (!byRows && panels < parts)) {
      this.gemm.gemm(transA, transB, M, N, K, aPtr, lda, bPtr, ldb, cPtr, ldc, accumulate, scratchPtr);
      return;
    }
    // block p covers [cut(p), cut(p+1)) of the rows, or of the 16-column panels
    const units = byRows ? M : panels;
    const cut = (p: number) => Math.round((units * p) / parts);
    const block = (p: number) => {
      const u0 = cut(p), u1 = cut(p + 1);
      if (byRows) {
        return { m: u1 - u0, n: N, a: aPtr + 4 * (transA ? u0 : u0 * lda), b: bPtr, c: cPtr + 4 * u0 * ldc };
      }
      const j0 = 16 * u0, j1 = Math.min(N, 16 * u1);
      return { m: M, n: j1 - j0, a: aPtr, b: bPtr + 4 * (transB ? j0 * ldb : j0), c: cPtr + 4 * j0 };
    };
    for (let h = 0; h < this.controls.length; h++) {
      const ctl = this.controls[h];
      const { m, n, a, b, c } = block(h + 1);
      ctl[TA] = transA ? 1 : 0; ctl[TB] = transB ? 1 : 0; ctl[M_] = m; ctl[N_] = n; ctl[K_] = K;
      ctl[A_] = a; ctl[LDA] = lda; ctl[B_] = b; ctl[LDB] = ldb; ctl[C_] = c; ctl[LDC] = ldc; ctl[ACC] = accumulate ? 1 : 0;
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
    }
    const mine = block(0);
    this.gemm.gemm(transA, transB, mine.m, mine.n, K, mine.a, lda, mine.b, ldb, mine.c, ldc, accumulate, scratchPtr);
    for (const ctl of this.controls) {
      const seq = Atomics.load(ctl, SEQ);
      const t0 = Date.now();
      while (Atomics.load(ctl, DONE) !== seq) {
        Atomics.wait(ctl, DONE, Atomics.load(ctl, DONE), 1000);
        // a helper that has not answered in a minute has died: say so rather than hang the run
        if (Date.now() - t0 > 60_000) throw new Error('a matrix-multiply helper thread stopped answering; restart the run with NANOLAB_THREADS=1');
      }
    }
  }

  /** Tells every helper to return from runGemmHelper. */
  close(): void {
    for (const ctl of this.controls) {
      ctl[QUIT] = 1;
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
    }
  }
}
