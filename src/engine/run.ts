import type { Backend } from './backend/backend';
import { encodeCheckpoint, restoreTrainer } from './checkpoint/checkpoint';
import { splitCorpus, type Corpus } from './data/corpus';
import type { TokenizerSpec } from './data/tokenizer';
import { generate } from './generate';
import { learningRate } from './optim/schedule';
import { Trainer, type TrainConfig } from './train';
import { UserError } from './errors';
import { isSeq2SeqConfig, runSeq2SeqTraining } from './seq2seq-run';
import { failedEnd, trainLoop, type LoopTrainee } from './run-loop';

// One training run from start (or a checkpoint) to its end, as a stream of events, with no I/O of
// its own: the host hands it the text and the checkpoint to resume from, and takes the checkpoints
// it makes. The CPU worker thread (main/jobs/cpu-run.ts, files on disk) and the GPU worker in a page
// (renderer/src/gpu, files posted to the host) both run this loop, so a run trains the same way
// on either. The loop itself (steps, evaluations, checkpoints, pause and stop between steps, the
// two clocks) is run-loop.ts, shared with the encoder–decoder's run (seq2seq-run.ts).

export interface RunSettings {
  runId: number;
  /** A language model's config; a seq2seq run's (engine/seq2seq-train.ts) travels here too, told apart by its model's family. */
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
  /**
   * Train for this much active time (pauses excluded). A new run sizes its horizon once, before
   * step 1, from a short calibration (budgetHorizon): `steps` and a cosine's `lr_decay_iters`
   * become the steps that fit, so the schedule never bends. It still stops when the budget is
   * spent, should the machine turn out slower.
   */
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
  /** `horizon`: how a time-budget run sized itself before step 1 (its calibrated speed and the steps that fit). */
  | {
      type: 'started';
      step: number;
      totalSteps: number;
      vocabSize: number;
      resumedFrom: number | null;
      device?: string;
      horizon?: { tokensPerSec: number; steps: number; budgetMs: number };
    }
  /** `elapsedMs`: wall time since the run started, pauses included; `activeMs`: training time, pauses excluded. */
  | { type: 'step'; step: number; loss: number; lr: number; gradNorm: number; tokens: number; tokensPerSec: number; elapsedMs: number; activeMs: number }
  /** Losses per token (nats) and bits per character of the original text (BPC), on training and held-out text. */
  /** `decode` (seq2seq runs): greedy decoding of held-out pairs, scored (exact match, character error rate, BLEU). */
  | {
      type: 'eval';
      step: number;
      tokens: number;
      elapsedMs: number;
      activeMs: number;
      trainLoss: number;
      valLoss: number;
      trainBpc: number;
      valBpc: number;
      decode?: { exact_match: number; cer: number; bleu: number; pairs: number };
    }
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

/** Steps a time budget's calibration times (after two untimed ones). */
const HORIZON_CALIBRATION_STEPS = 5;

/**
 * The steps that fit in `budgetMs` of training at `tokensPerSec` (a calibration's speed), at most
 * `config.steps` and at least 1. An evaluation every eval_interval steps runs 2 × eval_iters
 * forward passes, each about a third of a training step's work: its share is counted in, so the
 * horizon is reached within the budget. The run and the New-run preview both size a budget here.
 */
export function budgetHorizon(config: TrainConfig, budgetMs: number, tokensPerSec: number): number {
  const stepSeconds = (config.batch_size * config.seq_len) / tokensPerSec;
  const evalShare = (2 * config.eval_iters) / (3 * config.eval_interval);
  const fit = Math.floor(budgetMs / 1000 / (stepSeconds * (1 + evalShare)));
  return Math.max(1, Math.min(config.steps, Number.isFinite(fit) ? fit : config.steps));
}

/** `config` set to train `steps` steps: a cosine schedule decays over exactly those (from its warm-up on). */
export function withHorizon(config: TrainConfig, steps: number): TrainConfig {
  const schedule = config.schedule.kind === 'cosine' ? { ...config.schedule, lr_decay_iters: Math.max(config.schedule.warmup_iters, steps) } : config.schedule;
  return { ...config, steps, schedule };
}

/**
 * The learning rate a config's run uses at each of at most `maxPoints` steps, from step 1 to its
 * last: the step's lr is the schedule's at iteration step − 1, as the trainer computes it. The
 * points always include the end of the warm-up, the end of the decay, the last step and, for a
 * step schedule, both sides of each drop, so the curve keeps its corners.
 */
export function lrCurve(config: TrainConfig, maxPoints = 200): { step: number; lr: number }[] {
  const n = config.steps;
  const s = config.schedule;
  const corners = [1, n];
  if (s.kind === 'cosine') corners.push(s.warmup_iters, s.warmup_iters + 1, s.lr_decay_iters + 1);
  if (s.kind === 'step') for (let b = s.step_size; b < n && corners.length < maxPoints / 2; b += s.step_size) corners.push(b, b + 1);
  const kept = new Set(corners.filter((step) => step >= 1 && step <= n));
  const even = Math.max(2, maxPoints - kept.size);
  for (let i = 0; i < even && kept.size < maxPoints; i++) kept.add(1 + Math.round((i * (n - 1)) / (even - 1)));
  return [...kept].sort((a, b) => a - b).map((step) => ({ step, lr: learningRate(s, config.optimizer.lr, step - 1) }));
}

export async function runTraining(spec: RunSettings, io: RunIO, control: RunControl, emit: (e: LoopEvent) => void): Promise<void> {
  const config: unknown = spec.config;
  if (isSeq2SeqConfig(config)) return runSeq2SeqTraining({ ...spec, config }, io, control, emit);
  const corpus = typeof io.text === 'string' ? corpusOf(io.text, spec.lowercase, spec.tokenizer) : io.text;
  let trainer: Trainer;
  let resumedFrom: number | null = null;
  let horizon: { tokensPerSec: number; steps: number; budgetMs: number } | undefined;
  if (spec.resume) {
    const restored = restoreTrainer(io.readLatest(), corpus, io.backend);
    if (restored.tokenizer.vocab.join('') !== corpus.tokenizer.vocab.join('')) {
      restored.trainer.dispose();
      throw new UserError(`${io.textName} has changed since the run started (its characters differ): resume needs the same text`);
    }
    trainer = restored.trainer;
    resumedFrom = trainer.step;
  } else {
    let config = spec.config;
    if (spec.timeBudgetMs !== null) {
      // the horizon is fixed here, once, from a throwaway trainer's speed (the real one is not yet
      // built, so memory holds one model at a time): the schedule is known before step 1
      let tokensPerSec: number;
      try {
        tokensPerSec = calibrate(config, corpus, HORIZON_CALIBRATION_STEPS, io.backend);
      } catch (error) {
        // a loss that diverges in the calibration's first steps would in the run's too
        emit(failedEnd(error, 0));
        return;
      }
      config = withHorizon(config, budgetHorizon(config, spec.timeBudgetMs, tokensPerSec));
      horizon = { tokensPerSec, steps: config.steps, budgetMs: spec.timeBudgetMs };
    }
    trainer = new Trainer(config, corpus, io.backend);
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
    ...(horizon ? { horizon } : {}),
  });
  const trainee: LoopTrainee = {
    get step() {
      return trainer.step;
    },
    get tokensSeen() {
      return trainer.tokensSeen;
    },
    steps: c.steps,
    evalInterval: c.eval_interval,
    trainStep: () => trainer.trainStep(),
    evaluate: (step) => {
      const e = trainer.evaluateBoth();
      trainer.checkConverging(e.trainLoss, step, 'loss on the training text');
      trainer.checkConverging(e.valLoss, step, 'validation loss');
      return { trainLoss: e.trainLoss, valLoss: e.valLoss, trainBpc: e.trainBpc, valBpc: e.valBpc };
    },
    checkpoint: () => encodeCheckpoint(trainer, corpus.tokenizer),
    sample: (step) => {
      const settings = { temperature: 0.8, length: 200, seed: 1 };
      const text = [...generate(trainer.model, corpus.tokenizer, { prompt: samplePrompt, ...settings })].map((t) => t.text).join('');
      return { type: 'sample', step, prompt: samplePrompt, settings, text };
    },
    dispose: () => trainer.dispose(),
  };
  await trainLoop(trainee, spec, io, control, emit);
}
