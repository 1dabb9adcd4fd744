import { parentPort, workerData } from 'node:worker_threads';
import { CpuBackend } from '../../engine/backend/cpu';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import type { TrainConfig } from '../../engine/train';
import { enableGemmThreads } from './gemm-threads';
import { calibrate } from '../../engine/run';
import { executeRun, loadCorpus, type RunControl, type RunSpec } from './cpu-run';

// The training worker: one run per worker thread, steered by pause / resume / stop messages; or
// Auto's CPU calibration (a few timed steps of a run's model).

interface CalibrateSpec {
  calibrate: { config: TrainConfig; dataPath: string; lowercase: boolean; tokenizer: TokenizerSpec; steps: number };
}

if (!parentPort) throw new Error('jobs/worker.ts runs as a worker thread (see jobs/job-host.ts)');
const port = parentPort;
// large matrix products use every core (helper threads on this worker's wasm heap)
enableGemmThreads();

function train(spec: RunSpec): void {
  const control: RunControl = { paused: false, stopRequested: false };
  port.on('message', (message: { type: 'pause' | 'resume' | 'stop' }) => {
    if (message.type === 'pause') control.paused = true;
    else if (message.type === 'resume') control.paused = false;
    else if (message.type === 'stop') control.stopRequested = true;
  });
  executeRun(spec, control, (event) => port.postMessage(event))
    .catch((error: Error) => port.postMessage({ type: 'end', status: 'failed', reason: error.message, step: 0 }))
    .finally(() => port.close());
}

function calibrateCpu({ calibrate: c }: CalibrateSpec): void {
  try {
    const backend = new CpuBackend();
    const tokensPerSec = calibrate(c.config, loadCorpus(c.dataPath, c.lowercase, c.tokenizer), c.steps, backend);
    port.postMessage({ type: 'calibrated', tokensPerSec, device: backend.name });
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message });
  }
}

if ((workerData as Partial<CalibrateSpec>).calibrate) calibrateCpu(workerData as CalibrateSpec);
else train(workerData as RunSpec);
