import type { Backend } from './backend/backend';
import { encodeCheckpoint, restoreTrainer } from './checkpoint/checkpoint';
import { splitCorpus, type Corpus } from './data/corpus';
import type { TokenizerSpec } from './data/tokenizer';
import { generate } from './generate';
import { DivergedError, Trainer, type TrainConfig } from './train';
import { UserError } from './errors';

// One training run from start (or a checkpoint) to its end, as a stream of events, with no I/O of
// its own: the host hands it the text and the checkpoint to resume from, and takes the checkpoints
// it makes. The CPU worker thread (main/jobs/cpu-run.ts, files on disk) and the GPU worker in a page
// (renderer/src/gpu, files posted to the host) both run this loop, so a run trains the same way
// on either. It yields to the event loop between steps, so pause, resume and stop messages are
// seen within one step.

export interface RunSettings {
  runId: number;
  config: TrainConfig;
  /** Steps between checkpoints (latest; best when val loss improves). */
  checkpointInterval: number;
  /** Steps between samples from `samplePrompt`. */
  sampleInterval: number;
  samplePrompt: string;
  /** Continue from the run's latest checkpoint. */
  resume: boolean;
  /** Train on lower-cased text. */
  lowercase: boolean;
  tokenizer: TokenizerSpec;
  /** Stop after this much training time; the cosine horizon follows the measured speed. */
  timeBudgetMs: number | null;
  /** Wall time already spent before this resume (the wall-time axis continues from it). */
  wallOffsetMs: number;
  /** Active training time (pauses excluded) already spent before this resume; absent: `wallOffsetMs`. */
  activeOffsetMs?: number;
  /** The validation loss of the run's best checkpoint so far (when resuming): only a better one replaces it. */
  bestValLoss: number | null;
}

// The events of a run. The contract's schemas (shared/contract.ts) describe the same events for the
// wire; tests/shared/vocabulary.test.ts holds the two to each other.

/** What the training loop emits. */
export type LoopEvent =
  | { type: 'started'; step: number; totalSteps: number; vocabSize: number; resumedFrom: number | null; device?: string }
  /** `elapsedMs`: wall time since the run started, pauses included; `activeMs`: training time, pauses excluded. */
  | { type: 'step'; step: number; loss: number; lr: number; gradNorm: number; tokens: number; tokensPerSec: number; elapsedMs: number; activeMs: number }
  | { type: 'eval'; step: number; tokens: number; elapsedMs: number; activeMs: number; trainLoss: number; valLoss: number }
  | { type: 'sample'; step: number; prompt: string; settings: { temperature: number; length: number; seed: number }; text: string }
  | { type: 'checkpoint'; step: number; path: string; valLoss: number | null; kind: 'latest' | 'best' }
  /** `diverged`: the loss left the healthy range (the run's own failure; moving it to another device would not help). */
  | { type: 'end'; status: 'finished' | 'stopped' | 'failed'; reason: string | null; step: number; diverged?: boolean };

/** A run's events as its host passes them on: the loop's, and those the host writes itself. */
export type RunEvent =
  | LoopEvent
  /** A line of the run's log, for people (its device, a fallback and why). */
  | { type: 'log'; step: number; message: string }
  /**
   * The run moved to another device after `step` (the GPU failed, its page went away): it goes on
   * from the checkpoint at `fromStep` (null: from the start), and the steps after that are dropped.
   */
  | { type: 'moved'; step: number; to: 'cpu'; reason: string; fromStep: number | null };

export interface RunControl {
  paused: boolean;
  stopRequested: boolean;
}

/** What the host provides: the run's text, its latest checkpoint, and where checkpoints go. */
export interface RunIO {
  /**
   * The corpus as text (before lower-casing), or already tokenized and split (the CPU host reads a
   * large file that way, never as one string); `textName` is for messages.
   */
  text: string | Corpus;
  textName: string;
  /** The latest checkpoint's files (only read when resuming). */
  readLatest(): Record<string, Uint8Array>;
  /**
   * Stores one checkpoint (the files of encodeCheckpoint) as the run's latest, and also as its
   * best when `best`; emits the 'checkpoint' events itself (it knows where the files went).
   */
  saveCheckpoint(files: Record<string, Uint8Array>, step: number, valLoss: number | null, best: boolean): void;
  /** The backend to train on (the CPU backend when absent). */
  backend?: Backend;
  /** A name for the device in the 'started' event ("cpu-wasm-relaxed", "gpu (SwiftShader)"). */
  device?: string;
  /** Called after each step, before anything else: a place for a host to notice a fault (a lost GPU). */
  afterStep?(): void;
}

export function corpusOf(text: string, lowercase = false, tokenizer: TokenizerSpec = { kind: 'char' }): Corpus {
  return splitCorpus(lowercase ? text.toLowerCase() : text, 0.1, 2, tokenizer);
}

/** Lets pending messages in (pause, stop) between steps, in a Node worker and in a Web Worker alike. */
function yieldToEvents(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return immediate ? new Promise((r) => immediate(r)) : new Promise((r) => setTimeout(r, 0));
}

/**
 * Tokens per second of `steps` training steps after `warmup` untimed ones (buffers, JIT, packed
 * panels): Auto's calibration and the benchmarks.
 */
export function calibrate(config: TrainConfig, corpus: Corpus, steps: number, backend?: Backend, warmup = 2): number {
  const trainer = new Trainer({ ...config, steps: steps + warmup }, corpus, backend);
  try {
    for (let i = 0; i < warmup; i++) trainer.trainStep();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) trainer.trainStep();
    return (steps * config.batch_size * config.seq_len) / ((performance.now() - t0) / 1000);
  } finally {
    trainer.dispose();
  }
}

export async function runTraining(spec: RunSettings, io: RunIO, control: RunControl, emit: (e: LoopEvent) => void): Promise<void> {
  const corpus = typeof io.text === 'string' ? corpusOf(io.text, spec.lowercase, spec.tokenizer) : io.text;
  let trainer: Trainer;
  let resumedFrom: number | null = null;
  if (spec.resume) {
    const restored = restoreTrainer(io.readLatest(), corpus, io.backend);
    if (restored.tokenizer.vocab.join('') !== corpus.tokenizer.vocab.join('')) {
      restored.trainer.dispose();
      throw new UserError(`${io.textName} has changed since the run started (its characters differ): resume needs the same text`);
    }
    trainer = restored.trainer;
    resumedFrom = trainer.step;
  } else {
    trainer = new Trainer(spec.config, corpus, io.backend);
  }
  const c = trainer.config;
  // a prompt the text cannot spell (a newline in a one-line text) falls back to the text's first character
  const samplePrompt =
    corpus.tokenizer.kind === 'word' || [...spec.samplePrompt].every((ch) => corpus.tokenizer.vocab.includes(ch))
      ? spec.samplePrompt
      : corpus.tokenizer.decode(corpus.train.subarray(0, 1));
  emit({
    type: 'started',
    step: trainer.step,
    totalSteps: c.steps,
    vocabSize: corpus.tokenizer.vocabSize,
    resumedFrom,
    device: io.device ?? trainer.backend.name,
  });
  // two clocks: wall time since the start, and active time, which stops while the run is paused
  // (a chart's "active time" axis and the time budget count the latter)
  const t0 = performance.now();
  const activeOffsetMs = spec.activeOffsetMs ?? spec.wallOffsetMs;
  let pausedMs = 0;
  let pausedSince: number | null = null;
  let bestVal = spec.bestValLoss ?? Infinity;
  let lastGood: number | null = null;
  /** The last step's position on the token and time axes (for an evaluation made after it). */
  let at: { tokens: number; elapsedMs: number; activeMs: number } | null = null;
  // every evaluation is logged, whenever it is made (at eval_interval, at a checkpoint, at a stop):
  // the val loss a checkpoint records is always a point of the val_loss series. A diverged loss
  // ends the run before its checkpoint is written: the last good one stays.
  const evaluate = (step: number, tokens: number, elapsedMs: number, activeMs: number): number => {
    const e = trainer.evaluateBoth();
    trainer.checkConverging(e.trainLoss, step, 'loss on the training text');
    trainer.checkConverging(e.valLoss, step, 'validation loss');
    emit({ type: 'eval', step, tokens, elapsedMs, activeMs, trainLoss: e.trainLoss, valLoss: e.valLoss });
    return e.valLoss;
  };
  const saveCheckpoint = (valLoss: number | null) => {
    const best = valLoss !== null && valLoss < bestVal;
    io.saveCheckpoint(encodeCheckpoint(trainer, corpus.tokenizer), trainer.step, valLoss, best);
    if (best) bestVal = valLoss;
    lastGood = trainer.step;
  };
  try {
    while (trainer.step < c.steps) {
      await yieldToEvents();
      if (control.stopRequested) break;
      if (control.paused) {
        pausedSince ??= performance.now();
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      if (pausedSince !== null) {
        pausedMs += performance.now() - pausedSince;
        pausedSince = null;
      }
      const s0 = performance.now();
      const m = trainer.trainStep();
      io.afterStep?.();
      const now = performance.now();
      const elapsedMs = spec.wallOffsetMs + now - t0;
      const activeMs = activeOffsetMs + now - t0 - pausedMs;
      const outOfTime = spec.timeBudgetMs !== null && activeMs >= spec.timeBudgetMs;
      if (spec.timeBudgetMs !== null && c.schedule.kind === 'cosine') {
        // the horizon is the number of steps that fit in the budget at the speed measured so far
        const fit = Math.floor((m.step * spec.timeBudgetMs) / activeMs);
        c.schedule.lr_decay_iters = Math.max(c.schedule.warmup_iters, Math.min(c.steps, fit));
      }
      emit({ type: 'step', ...m, tokensPerSec: (c.batch_size * c.seq_len) / ((now - s0) / 1000), elapsedMs, activeMs });
      at = { tokens: m.tokens, elapsedMs, activeMs };
      const last = m.step === c.steps || outOfTime;
      const evalNow = m.step % c.eval_interval === 0 || last;
      let valLoss: number | null = null;
      if (evalNow) valLoss = evaluate(m.step, m.tokens, elapsedMs, activeMs);
      if (spec.sampleInterval > 0 && (m.step % spec.sampleInterval === 0 || last)) {
        const settings = { temperature: 0.8, length: 200, seed: 1 };
        const text = [...generate(trainer.model, corpus.tokenizer, { prompt: samplePrompt, ...settings })].map((t) => t.text).join('');
        emit({ type: 'sample', step: m.step, prompt: samplePrompt, settings, text });
      }
      if (m.step % spec.checkpointInterval === 0 || last) {
        if (valLoss === null) valLoss = evaluate(m.step, m.tokens, elapsedMs, activeMs);
        saveCheckpoint(valLoss);
      }
      if (outOfTime) break;
    }
    if (control.stopRequested && trainer.step !== lastGood && at !== null) saveCheckpoint(evaluate(trainer.step, at.tokens, at.elapsedMs, at.activeMs));
    emit({
      type: 'end',
      status: control.stopRequested ? 'stopped' : 'finished',
      reason: control.stopRequested ? 'stopped by the user' : null,
      step: trainer.step,
    });
  } catch (error) {
    // the last good checkpoint stays as it was: a diverged step or evaluation never reaches the disk
    emit({
      type: 'end',
      status: 'failed',
      reason: (error as Error).message,
      step: trainer.step,
      ...(error instanceof DivergedError ? { diverged: true } : {}),
    });
  } finally {
    trainer.dispose();
  }
}
