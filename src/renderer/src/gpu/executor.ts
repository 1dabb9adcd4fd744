// The page's GPU executor. GPU runs train here, in a dedicated Web Worker running the engine on
// gpu.js (in Node gpu.js reaches no GPU): the host announces a job ('gpu.job'), the first page to
// claim it trains it, reports its events in order (batched, checkpoints as files) and follows the
// host's pause / resume / stop. In browser mode every open NanoLab page is an executor; in the
// desktop app only the hidden GPU-host window is (route /gpu-host), so runs survive a minimised,
// throttled main window.
import { reactive } from 'vue';
import type { ReportedEvent } from '../../../shared/contract';
import type { GpuJob } from './gpu-job';
import type { TokenizerSpec } from '../../../engine/data/tokenizer';
import type { TrainConfig } from '../../../engine/train';
import type { NanoLabApi } from '../../../shared/contract';
import type { FromWorker, ToWorker } from './protocol';
import { gpuFaults, pageTestHooks } from './test-hooks';

/** What the New-run view shows about the GPU. */
export const gpuState = reactive({
  probe: { status: 'unknown' } as
    { status: 'unknown' | 'probing' } | { status: 'ready'; adapter: string; maxTextureSize: number } | { status: 'unavailable'; reason: string },
  /** Runs this page is training on its GPU. */
  running: [] as number[],
});

function newWorker(): Worker {
  return new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module', name: 'nanolab-gpu' });
}

let helper: Worker | null = null;
/** One request at a time to the probe / calibration worker. */
function ask(m: ToWorker, reply: FromWorker['type']): Promise<FromWorker> {
  helper ??= newWorker();
  const w = helper;
  return new Promise((resolve, reject) => {
    const onMessage = (e: MessageEvent<FromWorker>) => {
      if (e.data.type !== reply) return;
      w.removeEventListener('message', onMessage);
      w.removeEventListener('error', onError);
      resolve(e.data);
    };
    const onError = (e: ErrorEvent) => {
      w.removeEventListener('message', onMessage);
      w.removeEventListener('error', onError);
      helper = null;
      w.terminate();
      reject(new Error(`the GPU worker failed: ${e.message || 'it could not load'}`));
    };
    w.addEventListener('message', onMessage);
    w.addEventListener('error', onError);
    w.postMessage(m);
  });
}

let probing: Promise<void> | null = null;
/** Finds the GPU (WebGL2) and its adapter name, once. */
export function probeGpu(): Promise<void> {
  probing ??= (async () => {
    gpuState.probe = { status: 'probing' };
    try {
      const r = await ask({ type: 'probe' }, 'probed');
      if (r.type !== 'probed') return;
      gpuState.probe = r.ok ? { status: 'ready', adapter: r.adapter, maxTextureSize: r.maxTextureSize } : { status: 'unavailable', reason: r.reason };
    } catch (error) {
      gpuState.probe = { status: 'unavailable', reason: (error as Error).message };
    }
  })();
  return probing;
}

/** Tokens per second of a few steps of `config` on this page's GPU. */
export async function calibrateGpu(
  config: TrainConfig,
  text: string,
  lowercase: boolean,
  tokenizer: TokenizerSpec,
  steps: number,
): Promise<{ tokensPerSec: number; adapter: string }> {
  const r = await ask({ type: 'calibrate', config, text, lowercase, tokenizer, steps }, 'calibrated');
  if (r.type !== 'calibrated') throw new Error('unexpected reply from the GPU worker');
  if (!r.ok) throw new Error(r.reason);
  return { tokensPerSec: r.tokensPerSec, adapter: r.adapter };
}

const workers = new Map<number, Worker>();

/** Reports a job's events in order: batched every 200 ms, at once for checkpoints and the end. */
function reporter(api: NanoLabApi, runId: number): (e: ReportedEvent) => void {
  let queue: ReportedEvent[] = [];
  let chain = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    const events = queue;
    queue = [];
    if (events.length === 0) return;
    chain = chain.then(() =>
      api.invoke('gpu.report', { runId, events }).then(
        () => undefined,
        (error: Error) => {
          // the host refused (the run moved to the CPU): stop training here
          console.warn(`NanoLab: run ${runId}'s GPU report was refused: ${error.message}`);
          workers.get(runId)?.postMessage({ type: 'control', action: 'stop' } satisfies ToWorker);
        },
      ),
    );
  };
  return (e) => {
    queue.push(e);
    if (e.type === 'checkpoint-files' || e.type === 'end' || queue.length >= 500) flush();
    else timer ??= setTimeout(flush, 200);
  };
}

async function take(api: NanoLabApi, runId: number): Promise<void> {
  if (workers.has(runId)) return;
  await probeGpu();
  const probe = gpuState.probe;
  if (probe.status !== 'ready') return; // another page, or the host's timeout, takes it to the CPU
  const claim = await api.invoke('gpu.claim', { runId, adapter: probe.adapter });
  if (!claim.granted) return;
  const job: GpuJob = { runId, settings: claim.settings, text: claim.text, textName: claim.textName, checkpoint: claim.checkpoint };
  const worker = newWorker();
  workers.set(runId, worker);
  gpuState.running = [...workers.keys()];
  const report = reporter(api, runId);
  let ended = false;
  const done = () => {
    workers.delete(runId);
    gpuState.running = [...workers.keys()];
    worker.terminate();
  };
  worker.onmessage = (e: MessageEvent<FromWorker>) => {
    if (e.data.type === 'report') {
      if (e.data.event.type === 'end') ended = true;
      report(e.data.event);
    } else if (e.data.type === 'job-done') done();
  };
  worker.onerror = (e) => {
    if (!ended) report({ type: 'end', status: 'failed', reason: `the GPU worker crashed: ${e.message || 'unknown error'}`, step: 0, gpuFault: true });
    done();
  };
  worker.postMessage({ type: 'job', job, faults: gpuFaults() } satisfies ToWorker);
}

let started = false;
/** Makes this page a GPU executor: it claims announced and pending GPU runs. */
export function startGpuExecutor(api: NanoLabApi): void {
  if (started) return;
  started = true;
  const fail = (error: unknown) => console.error('NanoLab GPU executor:', error);
  api.on('gpu.job', ({ runId }) => void take(api, runId).catch(fail));
  api.on('gpu.control', ({ runId, action }) => workers.get(runId)?.postMessage({ type: 'control', action } satisfies ToWorker));
  void api
    .invoke('gpu.pending', {})
    .then((ids) => Promise.all(ids.map((id) => take(api, id))))
    .catch(fail);
  // for `nanolab bench --gpu` (the GPU side of its table, timed by the same calibration as Auto),
  // and in a test build the e2e tests' hooks (test-hooks.ts)
  Object.assign(window, {
    __nanolabGpu: {
      ...pageTestHooks(workers),
      probe: async () => {
        await probeGpu();
        return { ...gpuState.probe };
      },
      calibrate: calibrateGpu,
    },
  });
}
