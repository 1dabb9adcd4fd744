import { Worker } from 'node:worker_threads';
import { validateCheckpoint } from '../../engine/checkpoint/checkpoint';
import { countParameters } from '../../engine/models';
import { readCheckpointFolder } from '../store/checkpoint-files';
import type { TrainConfig } from '../../engine/train';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import { explainStoreError, MetricWriter, type RunStore } from '../store/run-store';
import type { RunEvent, RunSpec } from './cpu-run';
import { preflight } from '../api/run-drafts';
import { withHorizon } from '../../engine/run';
import { isSeq2SeqConfig } from '../../engine/seq2seq-run';
import { decodeSeq2SeqCheckpoint, type Seq2SeqTrainConfig } from '../../engine/seq2seq-train';
import { countSeq2SeqParameters } from '../../engine/models/seq2seq';
import { metricPointsOf } from '../../shared/metrics';
import { UserError } from '../../shared/errors';

// The host side of a run: it owns the database rows, starts the worker, turns the worker's events
// into metrics, samples, checkpoints and a final status, and relays pause / resume / stop.

export interface StartRunOptions {
  home: string;
  store: RunStore;
  name: string;
  config: TrainConfig;
  dataPath: string;
  preset?: string;
  lowercase?: boolean;
  tokenizer?: TokenizerSpec;
  timeBudgetMs?: number | null;
  tags?: string[];
  checkpointInterval?: number;
  sampleInterval?: number;
  samplePrompt?: string;
  device?: 'cpu' | 'gpu';
  calibration?: StoredRunConfig['calibration'];
  onEvent?: (event: RunEvent) => void;
}

export type RunEnd = Extract<RunEvent, { type: 'end' }>;

/** A live run as the host steers it, wherever it trains (a CPU worker thread, a page's GPU worker). */
export interface RunHandle {
  readonly runId: number;
  readonly done: Promise<RunEnd>;
  pause(): void;
  resume(): void;
  stop(): void;
}

class WorkerRunHandle implements RunHandle {
  constructor(
    readonly runId: number,
    private readonly worker: Worker,
    readonly done: Promise<RunEnd>,
  ) {}
  pause(): void {
    this.worker.postMessage({ type: 'pause' });
  }
  resume(): void {
    this.worker.postMessage({ type: 'resume' });
  }
  stop(): void {
    this.worker.postMessage({ type: 'stop' });
  }
}

export interface StoredRunConfig {
  train: TrainConfig;
  data: { path: string; lowercase: boolean; tokenizer?: TokenizerSpec };
  time_budget_ms: number | null;
  preset: string | null;
  checkpoint_interval: number;
  sample_interval: number;
  sample_prompt: string;
  /** Where the run was asked to train (absent: cpu), and Auto's calibration when it chose. */
  device?: 'cpu' | 'gpu';
  calibration?: { cpuTokensPerSec: number; gpuTokensPerSec: number | null; adapter: string | null } | null;
  /** A time-budget run's horizon, fixed before step 1 from its calibrated speed (`train` then trains that many steps). */
  horizon?: { tokensPerSec: number; steps: number };
}

function spawnWorker(data: unknown): Worker {
  // From source (CLI, tests) the worker is TypeScript and needs the same loader as its parent.
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './worker-source.mjs' : './worker.js', import.meta.url);
  return new Worker(url, { workerData: data });
}

/**
 * Turns a run's events into database rows (metrics, samples, checkpoints) and passes them on. The
 * end event is the caller's: a GPU run that fails may go on on the CPU instead of ending.
 */
export class RunRecorder {
  private readonly writer: MetricWriter;
  /** Why the run cannot go on (its record could not be written), once that happened. */
  private failure: string | null = null;
  private stopRun: (() => void) | null = null;

  constructor(
    private readonly store: RunStore,
    readonly runId: number,
    private readonly onEvent?: (e: RunEvent) => void,
  ) {
    this.writer = new MetricWriter(store, runId, 250, (error) => this.fail(error));
  }

  /** How to stop the run when its record cannot be written (set by whoever trains it). */
  onFailureStop(stop: () => void): void {
    this.stopRun = stop;
    if (this.failure) stop();
  }

  /**
   * The lab could not write the run's record (disk full, read-only): stop training — what was
   * written stays — and end it failed with the reason, instead of training on without a record.
   */
  private fail(error: Error): void {
    if (this.failure) return;
    const explained = explainStoreError(error, this.store.path);
    this.failure = `${(explained ?? error).message}; the run stopped, keeping what was saved before`;
    this.stopRun?.();
  }

  record(e: Exclude<RunEvent, RunEnd>): void {
    const { store, runId, writer } = this;
    try {
      for (const { name, point } of metricPointsOf(e)) writer.push({ ...point, name });
      switch (e.type) {
        case 'started':
          if (e.horizon) this.recordHorizon(e.horizon);
          break;
        case 'sample':
          store.addSample(runId, e);
          break;
        case 'checkpoint':
          writer.flush();
          store.addCheckpoint(runId, e);
          break;
      }
    } catch (error) {
      this.fail(error as Error);
    }
    this.onEvent?.(e);
  }

  /**
   * A time-budget run sized its horizon before step 1: the stored config shows the steps it will
   * train and the schedule it follows (not the placeholder it was created with), and the log says why.
   */
  private recordHorizon(h: { tokensPerSec: number; steps: number; budgetMs: number }): void {
    const stored = this.store.getRun(this.runId).config as StoredRunConfig;
    const train = withHorizon(stored.train, h.steps);
    this.store.setConfig(this.runId, { ...stored, train, horizon: { tokensPerSec: h.tokensPerSec, steps: h.steps } });
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const decay = train.schedule.kind === 'cosine' ? `, cosine decay over ${n(train.schedule.lr_decay_iters)}` : '';
    this.log(0, `time budget ${formatMinutes(h.budgetMs)}: calibrated ${n(h.tokensPerSec)} tok/s → ${n(h.steps)} steps${decay}`);
  }

  /** A line in the run's log, also passed on as a 'log' event; `device` when it says where the run now trains. */
  log(step: number, message: string, device: 'cpu' | 'gpu' | null = null): void {
    try {
      this.store.log(this.runId, step, message, device);
    } catch (error) {
      this.fail(error as Error);
    }
    this.onEvent?.({ type: 'log', step, message });
  }

  /**
   * Writes pending metrics and the final status (failed, with the reason, when the record could
   * not be written). When even that cannot be written, the run stays as it was in the database
   * and is marked interrupted the next time the lab opens.
   */
  end(e: RunEnd): void {
    this.writer.close();
    const end: RunEnd = this.failure ? { ...e, status: 'failed', reason: this.failure } : e;
    try {
      this.store.setStatus(this.runId, end.status, end.reason);
    } catch (error) {
      this.fail(error as Error);
    }
    this.onEvent?.(this.failure && end.reason !== this.failure ? { ...end, status: 'failed', reason: this.failure } : end);
  }

  flush(): void {
    this.writer.flush();
  }
}

/** A time budget as people write it: 5m, 1.5m, 90s. */
function formatMinutes(ms: number): string {
  return ms < 60_000 ? `${+(ms / 1000).toFixed(1)}s` : `${+(ms / 60_000).toFixed(2)}m`;
}

/** Runs a spec in a CPU worker thread; `done` resolves with its end event (already recorded unless `keepOpen`). */
export function attachCpu(store: RunStore, spec: RunSpec, recorder: RunRecorder, keepOpen = false): RunHandle {
  store.claim(spec.runId);
  store.setStatus(spec.runId, 'running');
  const worker = spawnWorker(spec);
  let ended: RunEnd | null = null;
  const done = new Promise<RunEnd>((resolve) => {
    const finish = (end: RunEnd) => {
      if (ended) return;
      ended = end;
      if (!keepOpen) recorder.end(end);
      resolve(end);
    };
    worker.on('message', (e: RunEvent) => {
      if (e.type === 'end') finish(e);
      else recorder.record(e);
    });
    worker.on('error', (error) => finish({ type: 'end', status: 'failed', reason: `the training worker crashed: ${error.message}`, step: 0 }));
    worker.on('exit', (code) => finish({ type: 'end', status: 'failed', reason: `the training worker exited (code ${code}) before the run ended`, step: 0 }));
  });
  const handle = new WorkerRunHandle(spec.runId, worker, done);
  recorder.onFailureStop(() => handle.stop());
  return handle;
}

/** Tokens per second of a few training steps of `config` on the CPU backend, in a worker thread. */
export function calibrateCpu(
  config: TrainConfig,
  dataPath: string,
  lowercase: boolean,
  tokenizer: TokenizerSpec,
  steps: number,
): Promise<{ tokensPerSec: number; device: string }> {
  const worker = spawnWorker({ calibrate: { config, dataPath, lowercase, tokenizer, steps } });
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: { type: 'calibrated'; tokensPerSec: number; device: string } | { type: 'error'; message: string }) => {
      settled = true;
      if (m.type === 'calibrated') resolve({ tokensPerSec: m.tokensPerSec, device: m.device });
      else reject(new Error(`CPU calibration failed: ${m.message}`));
      void worker.terminate();
    });
    worker.on('error', (error) => {
      settled = true;
      reject(new Error(`CPU calibration failed: ${error.message}`));
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`CPU calibration worker exited (code ${code}) without a result`));
    });
  });
}

/** The run's database row, with its stored config; nothing trains yet. */
export function createRunRecord(o: StartRunOptions): { runId: number; stored: StoredRunConfig } {
  const stored: StoredRunConfig = {
    train: o.config,
    data: { path: o.dataPath, lowercase: o.lowercase ?? false, tokenizer: o.tokenizer ?? { kind: 'char' } },
    preset: o.preset ?? null,
    time_budget_ms: o.timeBudgetMs ?? null,
    checkpoint_interval: o.checkpointInterval ?? o.config.eval_interval,
    sample_interval: o.sampleInterval ?? o.config.eval_interval,
    sample_prompt: o.samplePrompt ?? '\n',
    device: o.device ?? 'cpu',
    calibration: o.calibration ?? null,
  };
  const runId = o.store.createRun({
    name: o.name,
    family: o.config.model.family,
    paramCount: isSeq2SeqConfig(o.config as unknown)
      ? countSeq2SeqParameters((o.config as unknown as Seq2SeqTrainConfig).model)
      : countParameters(o.config.model),
    config: stored,
    tags: o.tags,
  });
  return { runId, stored };
}

/** Creates a run and trains it on the CPU worker. */
export function startRun(o: StartRunOptions): RunHandle {
  const { runId, stored } = createRunRecord(o);
  return attachCpu(o.store, specOf(o.home, runId, stored, false), new RunRecorder(o.store, runId, o.onEvent));
}

/** The validation loss of a run's best checkpoint, or null before it has one. */
export function bestValOf(store: RunStore, runId: number): number | null {
  return store.checkpoints(runId).find((c) => c.kind === 'best')?.valLoss ?? null;
}

/** Time a run has already spent when it resumes: wall time, and active training time (pauses excluded). */
export interface TimeSpent {
  wallOffsetMs: number;
  activeOffsetMs: number;
}

export const NO_TIME_SPENT: TimeSpent = { wallOffsetMs: 0, activeOffsetMs: 0 };

/** The time a run had spent at `step` (its train_loss point there), or none (the start, or no point). */
export function timeSpentAt(store: RunStore, runId: number, step: number | null): TimeSpent {
  const at = step === null ? null : store.metricAt(runId, 'train_loss', step);
  return at ? { wallOffsetMs: at.wallMs, activeOffsetMs: at.activeMs } : NO_TIME_SPENT;
}

export function specOf(home: string, runId: number, c: StoredRunConfig, resume: boolean, spent = NO_TIME_SPENT, bestValLoss: number | null = null): RunSpec {
  return {
    home,
    runId,
    config: c.train,
    dataPath: c.data.path,
    checkpointInterval: c.checkpoint_interval,
    sampleInterval: c.sample_interval,
    samplePrompt: c.sample_prompt,
    resume,
    lowercase: c.data.lowercase,
    tokenizer: c.data.tokenizer ?? { kind: 'char' },
    timeBudgetMs: c.time_budget_ms,
    wallOffsetMs: spent.wallOffsetMs,
    activeOffsetMs: spent.activeOffsetMs,
    bestValLoss,
  };
}

/**
 * Checks a run can continue and prepares it: metrics past its latest checkpoint are superseded.
 * Returns its stored config and the training time already spent.
 */
export function prepareResume(store: RunStore, runId: number): { stored: StoredRunConfig; spent: TimeSpent } {
  const run = store.getRun(runId);
  if (run.status === 'running' || run.status === 'paused') throw new UserError(`run ${runId} is ${run.status}: it is still owned by a process`);
  const latest = store.checkpoints(runId).find((c) => c.kind === 'latest');
  if (!latest) throw new UserError(`run ${runId} has no checkpoint to resume from`);
  if (latest.step >= (run.config as StoredRunConfig).train.steps) throw new UserError(`run ${runId} already reached its ${latest.step} steps`);
  const seq2seq = isSeq2SeqConfig((run.config as StoredRunConfig).train as unknown);
  if (!seq2seq) preflight((run.config as StoredRunConfig).train);
  // refuse a damaged checkpoint here, in one sentence, rather than as a failed run a moment later
  try {
    if (seq2seq) decodeSeq2SeqCheckpoint(readCheckpointFolder(latest.path), 'resume');
    else validateCheckpoint(readCheckpointFolder(latest.path), 'resume');
  } catch (error) {
    throw new UserError(`run ${runId}'s latest checkpoint (step ${latest.step}, ${latest.path}) cannot be resumed: ${(error as Error).message}`);
  }
  store.supersedeAfter(runId, latest.step);
  const stored = run.config as StoredRunConfig;
  // time continues from the checkpoint's: the wall- and active-time axes, and a --minutes budget (active time)
  return { stored, spent: timeSpentAt(store, runId, latest.step) };
}

/** Continues a stopped, failed or interrupted run from its latest checkpoint, on the CPU worker. */
export function resumeRun(home: string, store: RunStore, runId: number, onEvent?: (e: RunEvent) => void): RunHandle {
  const { stored, spent } = prepareResume(store, runId);
  return attachCpu(store, specOf(home, runId, stored, true, spent, bestValOf(store, runId)), new RunRecorder(store, runId, onEvent));
}
