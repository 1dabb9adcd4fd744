import { Worker } from 'node:worker_threads';
import { countParameters } from '../engine/models';
import type { TrainConfig } from '../engine/train';
import type { TokenizerSpec } from '../engine/data/tokenizer';
import { MetricWriter, type RunStore } from '../store/run-store';
import type { RunEvent, RunSpec } from './run-loop';

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
  onEvent?: (event: RunEvent) => void;
}

export type RunEnd = Extract<RunEvent, { type: 'end' }>;

export class RunHandle {
  constructor(readonly runId: number, private readonly worker: Worker, readonly done: Promise<RunEnd>) {}
  pause(): void { this.worker.postMessage({ type: 'pause' }); }
  resume(): void { this.worker.postMessage({ type: 'resume' }); }
  stop(): void { this.worker.postMessage({ type: 'stop' }); }
}

interface StoredRunConfig {
  train: TrainConfig;
  data: { path: string; lowercase: boolean; tokenizer?: TokenizerSpec };
  time_budget_ms: number | null;
  preset: string | null;
  checkpoint_interval: number;
  sample_interval: number;
  sample_prompt: string;
}

function spawnWorker(spec: RunSpec): Worker {
  // From source (CLI, tests) the worker is TypeScript and needs the same loader as its parent.
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './worker-source.mjs' : './worker.js', import.meta.url);
  return new Worker(url, { workerData: spec });
}

function attach(store: RunStore, runId: number, spec: RunSpec, onEvent?: (e: RunEvent) => void): RunHandle {
  store.claim(runId);
  store.setStatus(runId, 'running');
  const writer = new MetricWriter(store, runId);
  const worker = spawnWorker(spec);
  let ended: RunEnd | null = null;
  const done = new Promise<RunEnd>((resolve) => {
    const finish = (end: RunEnd) => {
      if (ended) return;
      ended = end;
      writer.close();
      store.setStatus(runId, end.status, end.reason);
      resolve(end);
    };
    worker.on('message', (e: RunEvent) => {
      const base = 'tokens' in e ? { step: e.step, tokens: e.tokens, wallMs: e.elapsedMs } : null;
      switch (e.type) {
        case 'step':
          for (const [name, value] of [['train_loss', e.loss], ['lr', e.lr], ['grad_norm', e.gradNorm], ['tokens_per_sec', e.tokensPerSec]] as const) {
            writer.push({ ...base!, name, value });
          }
          break;
        case 'eval':
          writer.push({ ...base!, name: 'eval_train_loss', value: e.trainLoss });
          writer.push({ ...base!, name: 'val_loss', value: e.valLoss });
          writer.push({ ...base!, name: 'val_bpc', value: e.valLoss / Math.LN2 });
          break;
        case 'sample':
          store.addSample(runId, e);
          break;
        case 'checkpoint':
          writer.flush();
          store.addCheckpoint(runId, e);
          break;
        case 'end':
          finish(e);
          break;
      }
      onEvent?.(e);
    });
    worker.on('error', (error) => finish({ type: 'end', status: 'failed', reason: `the training worker crashed: ${error.message}`, step: 0 }));
    worker.on('exit', (code) => finish({ type: 'end', status: 'failed', reason: `the training worker exited (code ${code}) before the run ended`, step: 0 }));
  });
  return new RunHandle(runId, worker, done);
}

export function startRun(o: StartRunOptions): RunHandle {
  const stored: StoredRunConfig = {
    train: o.config, data: { path: o.dataPath, lowercase: o.lowercase ?? false, tokenizer: o.tokenizer ?? { kind: 'char' } }, preset: o.preset ?? null,
    time_budget_ms: o.timeBudgetMs ?? null,
    checkpoint_interval: o.checkpointInterval ?? o.config.eval_interval,
    sample_interval: o.sampleInterval ?? o.config.eval_interval,
    sample_prompt: o.samplePrompt ?? '\n',
  };
  const runId = o.store.createRun({
    name: o.name, family: o.config.model.family, paramCount: countParameters(o.config.model), config: stored, tags: o.tags,
  });
  return attach(o.store, runId, specOf(o.home, runId, stored, false), o.onEvent);
}

function specOf(home: string, runId: number, c: StoredRunConfig, resume: boolean, wallOffsetMs = 0): RunSpec {
  return {
    home, runId, config: c.train, dataPath: c.data.path, checkpointInterval: c.checkpoint_interval,
    sampleInterval: c.sample_interval, samplePrompt: c.sample_prompt, resume,
    lowercase: c.data.lowercase, tokenizer: c.data.tokenizer ?? { kind: 'char' }, timeBudgetMs: c.time_budget_ms, wallOffsetMs,
  };
}

/** Continues a stopped, failed or interrupted run from its latest checkpoint. */
export function resumeRun(home: string, store: RunStore, runId: number, onEvent?: (e: RunEvent) => void): RunHandle {
  const run = store.getRun(runId);
  if (run.status === 'running' || run.status === 'paused') throw new Error(`run ${runId} is ${run.status}: it is still owned by a process`);
  const latest = store.checkpoints(runId).find((c) => c.kind === 'latest');
  if (!latest) throw new Error(`run ${runId} has no checkpoint to resume from`);
  if (latest.step >= (run.config as StoredRunConfig).train.steps) throw new Error(`run ${runId} already reached its ${latest.step} steps`);
  store.supersedeAfter(runId, latest.step);
  const stored = run.config as StoredRunConfig;
  // training time continues from the checkpoint's: the wall-time axis and a --minutes budget both
  const at = store.metricAt(runId, 'train_loss', latest.step);
  return attach(store, runId, specOf(home, runId, stored, true, at?.wallMs ?? 0), onEvent);
}
