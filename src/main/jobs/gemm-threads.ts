import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { wasmHeap } from '../../engine/backend/cpu/wasm/heap';

// Node's side of the threaded matrix products: helper worker threads on this thread's wasm heap,
// one per core beyond the first (NANOLAB_THREADS overrides the total). They sleep in Atomics.wait
// between products and are unref'd, so they never keep the process alive.

let started: number | null = null;

/** Starts the helpers once for this thread; returns how many threads products use. */
export function enableGemmThreads(total = Number(process.env.NANOLAB_THREADS ?? availableParallelism())): number {
  if (started !== null) return started;
  const heap = wasmHeap();
  if (!heap || !(total > 1)) return (started = 1);
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './gemm-helper-source.mjs' : './gemm-helper.js', import.meta.url);
  started = heap.startGemmHelpers(Math.floor(total) - 1, (init) => {
    const worker = new Worker(url);
    worker.on('error', (error) => {
      throw new Error(`a matrix-multiply helper thread failed: ${error.message}`);
    });
    worker.postMessage(init);
    worker.unref();
  });
  return started;
}
