import { parentPort, workerData } from 'node:worker_threads';
import { enableGemmThreads } from './gemm-threads';
import { executeRun, type RunControl, type RunSpec } from './run-loop';

// The training worker: one run per worker thread, steered by pause / resume / stop messages.

if (!parentPort) throw new Error('jobs/worker.ts runs as a worker thread (see jobs/job-host.ts)');
const port = parentPort;
// large matrix products use every core (helper threads on this worker's wasm heap)
enableGemmThreads();
const control: RunControl = { paused: false, stopRequested: false };
port.on('message', (message: { type: 'pause' | 'resume' | 'stop' }) => {
  if (message.type === 'pause') control.paused = true;
  else if (message.type === 'resume') control.paused = false;
  else if (message.type === 'stop') control.stopRequested = true;
});
executeRun(workerData as RunSpec, control, (event) => port.postMessage(event))
  .catch((error: Error) => port.postMessage({ type: 'end', status: 'failed', reason: error.message, step: 0 }))
  .finally(() => port.close());
