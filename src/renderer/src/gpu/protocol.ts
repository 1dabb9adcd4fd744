// Messages between a page and its GPU worker (train-worker.ts). The worker runs the engine on
// gpu.js (WebGL2 through an OffscreenCanvas); the page talks to the host.
import type { ReportedEvent } from '../../../shared/contract';
import type { GpuJob } from './gpu-job';
import type { TokenizerSpec } from '../../../engine/data/tokenizer';
import type { TrainConfig } from '../../../engine/train';

/** Test hooks: a kernel whose results the backend corrupts (its self-check then fails). */
export interface GpuFaults {
  failKernel?: string;
}

export type ToWorker =
  | { type: 'probe' }
  | { type: 'calibrate'; config: TrainConfig; text: string; lowercase: boolean; tokenizer: TokenizerSpec; steps: number }
  | { type: 'job'; job: GpuJob; faults: GpuFaults }
  | { type: 'control'; action: 'pause' | 'resume' | 'stop' }
  /** Test hook: loses the WebGL context (WEBGL_lose_context), as a GPU reset would. */
  | { type: 'lose-context' };

export type FromWorker =
  | { type: 'probed'; ok: true; adapter: string; maxTextureSize: number }
  | { type: 'probed'; ok: false; reason: string }
  | { type: 'calibrated'; ok: true; tokensPerSec: number; adapter: string }
  | { type: 'calibrated'; ok: false; reason: string }
  | { type: 'report'; event: ReportedEvent }
  | { type: 'job-done' };
