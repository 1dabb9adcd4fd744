import { createWasmGemm, type GemmVariant } from './gemm-wasm';
import { createWasmElementwise } from './elementwise-wasm';
import { POOL_JOBS, type PoolJobId, type PoolKernels } from './pool-jobs';

// Work split over threads that share the wasm heap. The host starts the helper threads
// (worker_threads in Node, Web Workers in a browser: the engine itself starts none) and each runs
// `runGemmHelper`; the calling thread posts a job (one of POOL_JOBS, with its arguments) through
// small control blocks in the shared memory, computes part 0 itself and waits for the others.
// Every job splits its output into disjoint parts (rows or 16-column panels of a product, ranges
// of an elementwise array, batch rows of a recurrence, (batch, head) pairs of attention) and
// never a reduction: every output element is the same chain of operations whatever the split, so
// results do not depend on the thread count.

/** What a host posts to a helper thread to start it. */
export interface GemmHelperInit {
  memory: WebAssembly.Memory;
  variant: GemmVariant;
  /** Byte offset of this helper's control block (CONTROL_INTS int32s). */
  controlPtr: number;
  /** Byte offset of the job arguments every helper reads (ARG_COUNT float64s). */
  argsPtr: number;
  scratchPtr: number;
}

const CONTROL_INTS = 16;
// control block fields
const SEQ = 0,
  DONE = 1,
  JOB = 2,
  PART = 3,
  PARTS = 4,
  QUIT = 5;
const ARG_COUNT = 16;
// Both sides sleep in Atomics.wait between jobs. Polling instead (the caller for the helpers'
// done flags, or a helper for its next job) measured 10–20% faster on gpt-tiny, but then about
// one run in ten under heavy CPU contention drifted from the single-thread bits: a helper's block
// of a product came out wrong. Not yet understood; until it is, nobody polls.

/** The helper thread's loop: wait for a job, compute its part, say done; until told to quit. */
export function runGemmHelper(init: GemmHelperInit): void {
  const kernels: PoolKernels = {
    gemm: createWasmGemm(init.memory, init.variant),
    elementwise: createWasmElementwise(init.memory),
    memory: init.memory,
    scratchPtr: init.scratchPtr,
  };
  const ctl = new Int32Array(init.memory.buffer, init.controlPtr, CONTROL_INTS);
  const args = new Float64Array(init.memory.buffer, init.argsPtr, ARG_COUNT);
  // from 0, the block's initial value: a job posted before this thread got here is not missed
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, SEQ, seen);
    seen = Atomics.load(ctl, SEQ);
    if (ctl[QUIT] === 1) return;
    POOL_JOBS[ctl[JOB]](kernels, args, ctl[PART], ctl[PARTS]);
    Atomics.store(ctl, DONE, seen);
    Atomics.notify(ctl, DONE);
  }
}

export class GemmPool {
  private readonly controls: Int32Array[];
  private readonly args: Float64Array;

  /** `controlPtrs`: one control block per helper, already started with runGemmHelper on `argsPtr`. */
  constructor(
    private readonly kernels: PoolKernels,
    controlPtrs: number[],
    argsPtr: number,
  ) {
    const buffer = kernels.memory.buffer;
    this.controls = controlPtrs.map((p) => new Int32Array(buffer, p, CONTROL_INTS));
    this.args = new Float64Array(buffer, argsPtr, ARG_COUNT);
  }

  static controlBytes(): number {
    return CONTROL_INTS * 4;
  }

  static argsBytes(): number {
    return ARG_COUNT * 8;
  }

  get threads(): number {
    return this.controls.length + 1;
  }

  /** Runs `job` split into `parts` (1 … threads) parts, this thread doing part 0. */
  run(job: PoolJobId, args: readonly number[], parts: number): void {
    if (parts <= 1) {
      POOL_JOBS[job](this.kernels, Float64Array.from(args), 0, 1);
      return;
    }
    this.args.set(args);
    for (let h = 0; h < parts - 1; h++) {
      const ctl = this.controls[h];
      ctl[JOB] = job;
      ctl[PART] = h + 1;
      ctl[PARTS] = parts;
      Atomics.add(ctl, SEQ, 1);
      Atomics.notify(ctl, SEQ);
    }
    POOL_JOBS[job](this.kernels, this.args, 0, parts);
    for (let h = 0; h < parts - 1; h++) {
      const ctl = this.controls[h];
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
