import type { Backend } from '../../../engine/backend/backend';
import { base64ToBytes, bytesToBase64 } from '../../../shared/base64';
import type { ReportedEvent } from '../../../shared/contract';
import { runTraining, type RunControl, type RunSettings } from '../../../engine/run';

// The executing side of a GPU run, with no I/O and nothing of the browser: what a page's GPU
// worker does with a claimed job (renderer/src/gpu/train-worker.ts), given its gpu backend. It
// runs the same training loop as the CPU worker and turns its output into the events the host's
// 'gpu.report' takes: checkpoints travel as files (base64), and a failed end is marked as the
// GPU's fault so the host continues the run on the CPU.

export interface GpuJob {
  runId: number;
  settings: RunSettings;
  text: string;
  textName: string;
  /** The latest checkpoint's files, base64 (when the run resumes). */
  checkpoint: Record<string, string> | null;
}

export async function runGpuJob(
  job: GpuJob,
  backend: Backend,
  device: string,
  control: RunControl,
  report: (e: ReportedEvent) => void,
  afterStep?: () => void,
): Promise<void> {
  await runTraining(
    job.settings,
    {
      text: job.text,
      textName: job.textName,
      backend,
      device,
      afterStep,
      readLatest() {
        if (!job.checkpoint) throw new Error(`run ${job.runId} resumes but the host sent no checkpoint`);
        return Object.fromEntries(Object.entries(job.checkpoint).map(([n, b]) => [n, base64ToBytes(b)]));
      },
      saveCheckpoint(files, step, valLoss, best) {
        report({ type: 'checkpoint-files', step, valLoss, best, files: Object.fromEntries(Object.entries(files).map(([n, b]) => [n, bytesToBase64(b)])) });
      },
    },
    control,
    (e) => {
      if (e.type === 'checkpoint') return; // checkpoints go as files
      report(e.type === 'end' && e.status === 'failed' ? { ...e, gpuFault: true } : e);
    },
  );
}
