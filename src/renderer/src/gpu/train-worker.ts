// The GPU worker: a dedicated Web Worker that runs the engine on gpu.js's browser build (WebGL2,
// through an OffscreenCanvas, `precision: 'single'`). It probes the adapter, times Auto's
// calibration, and trains claimed GPU runs with the same loop as the CPU worker (gpu-job.ts),
// checking its kernels against the CPU backend before the first step. Any failure (the check, a
// lost context, a kernel error) ends the job as the GPU's fault: the host continues on the CPU.
import { GPU } from 'gpu.js';
import { GpuBackend, GpuContextLostError } from '../../../engine/backend/gpu';
import type { KernelName } from '../../../engine/backend/backend';
import { calibrate, corpusOf, type RunControl } from '../../../engine/run';
import { runGpuJob } from './gpu-job';
import type { FromWorker, GpuFaults, ToWorker } from './protocol';
import { workerTestMessage } from './test-hooks';

// a dedicated worker's postMessage takes the message alone (the web config types `self` as a window)
const post = (m: FromWorker): void => self.postMessage(m);

let backend: GpuBackend | null = null;
let gpu: GPU | null = null;
let failKernel: string | undefined;
const control: RunControl = { paused: false, stopRequested: false };

function adapterName(b: GpuBackend): string {
  const { renderer, vendor } = b.adapter;
  return vendor && !renderer.includes(vendor.split(/\s/)[0]) ? `${renderer} (${vendor})` : renderer;
}

/** The worker's one backend (one WebGL2 context), created on first use. */
function gpuBackend(faults: GpuFaults = {}): GpuBackend {
  if (backend && failKernel === faults.failKernel && !backend.isContextLost()) return backend;
  // a new backend (other faults, a lost context) gets a new gpu.js instance and WebGL context
  backend?.destroy();
  void gpu?.destroy();
  backend = null;
  failKernel = faults.failKernel;
  gpu = new GPU({ mode: 'webgl2' });
  backend = GpuBackend.create(gpu, { failKernel: faults.failKernel as KernelName | undefined });
  return backend;
}

function reason(error: unknown): string {
  if (error instanceof GpuContextLostError) return `the WebGL context was lost (${error.message})`;
  return error instanceof Error ? error.message : String(error);
}

async function job(m: Extract<ToWorker, { type: 'job' }>): Promise<void> {
  const report = (event: Extract<FromWorker, { type: 'report' }>['event']): void => post({ type: 'report', event });
  let b: GpuBackend;
  try {
    b = gpuBackend(m.faults);
    const check = b.selfCheck();
    if (!check.ok) {
      const bad = check.kernels
        .filter((k: { ok: boolean }) => !k.ok)
        .map((k: { name: string; maxRelError: number }) => `${k.name} (max relative error ${k.maxRelError.toExponential(1)})`);
      throw new Error(`the GPU's kernels disagree with the CPU's: ${bad.join(', ')}`);
    }
  } catch (error) {
    report({ type: 'end', status: 'failed', reason: `the GPU could not start: ${reason(error)}`, step: 0, gpuFault: true });
    post({ type: 'job-done' });
    return;
  }
  try {
    await runGpuJob(m.job, b, `gpu (${adapterName(b)})`, control, report, () => {
      if (b.isContextLost()) throw new GpuContextLostError('during training');
    });
  } catch (error) {
    report({ type: 'end', status: 'failed', reason: reason(error), step: 0, gpuFault: true });
  }
  post({ type: 'job-done' });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const m = event.data;
  if (workerTestMessage(m, backend ? gpu : null)) return;
  switch (m.type) {
    case 'probe':
      try {
        const b = gpuBackend();
        post({ type: 'probed', ok: true, adapter: adapterName(b), maxTextureSize: b.adapter.maxTextureSize });
      } catch (error) {
        post({ type: 'probed', ok: false, reason: reason(error) });
      }
      break;
    case 'calibrate':
      try {
        const b = gpuBackend();
        const tokensPerSec = calibrate(m.config, corpusOf(m.text, m.lowercase, m.tokenizer), m.steps, b);
        post({ type: 'calibrated', ok: true, tokensPerSec, adapter: adapterName(b) });
      } catch (error) {
        post({ type: 'calibrated', ok: false, reason: reason(error) });
      }
      break;
    case 'job':
      void job(m);
      break;
    case 'control':
      if (m.action === 'stop') control.stopRequested = true;
      else control.paused = m.action === 'pause';
      break;
  }
};
