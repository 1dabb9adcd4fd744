// The hooks the e2e tests break GPU runs with, on the built app: faults the next GPU job injects
// (localStorage 'nanolab.gpuFaults', e.g. a kernel whose results are corrupted) and a lost WebGL
// context in every training worker of the page (window.__nanolabGpu.loseContext), as a GPU reset
// would. They are compiled in only when the app is built with NANOLAB_TEST_HOOKS=1, as
// tests/build/ensure-built.ts builds it; `npm run build` defines __NANOLAB_TEST_HOOKS__ as false
// (electron.vite.config.ts), so each hook below is its no-op and the bundler drops the rest.
import type { GPU } from 'gpu.js';
import type { GpuFaults, ToWorker } from './protocol';

/** The page: the faults the next GPU job's backend injects; none in a production build. */
export const gpuFaults: () => GpuFaults = __NANOLAB_TEST_HOOKS__
  ? () => {
      try {
        return JSON.parse(localStorage.getItem('nanolab.gpuFaults') ?? '{}') as GpuFaults;
      } catch {
        return {};
      }
    }
  : () => ({});

/** The page: what the e2e tests find on window.__nanolabGpu besides the bench's probe and calibrate. */
export const pageTestHooks: (workers: ReadonlyMap<number, Worker>) => { loseContext?: () => void } = __NANOLAB_TEST_HOOKS__
  ? (workers) => ({ loseContext: () => workers.forEach((w) => w.postMessage({ type: 'lose-context' } satisfies ToWorker)) })
  : () => ({});

/**
 * The GPU worker: handles a test's message (a lost context: WEBGL_lose_context on gpu.js's
 * context, which the backend then reports as GpuContextLostError; nothing while the worker has
 * no backend). False for every other message.
 */
export const workerTestMessage: (m: ToWorker, backendGpu: GPU | null) => boolean = __NANOLAB_TEST_HOOKS__
  ? (m, backendGpu) => {
      if (m.type !== 'lose-context') return false;
      if (!backendGpu) return true;
      const ext = (backendGpu.context as WebGL2RenderingContext).getExtension('WEBGL_lose_context');
      if (!ext) throw new Error('WEBGL_lose_context is not available in this browser, so the context cannot be lost on purpose');
      ext.loseContext();
      return true;
    }
  : () => false;
