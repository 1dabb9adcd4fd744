import { readFileSync } from 'node:fs';
import { encodeCheckpoint, restoreTrainer } from '../engine/checkpoint/checkpoint';
import { decodeText, splitCorpus, type Corpus } from '../engine/data/corpus';
import type { TokenizerSpec } from '../engine/data/tokenizer';
import { generate } from '../engine/generate';
import { Trainer, type TrainConfig } from '../engine/train';
import { readCheckpointFolder, writeCheckpointFolder } from '../store/checkpoint-files';
import { checkpointDir } from './lab-home';

// One training run from start (or a checkpoint) to its end, as a stream of events. It runs inside
// a worker thread (jobs/worker.ts) and yields to the event loop between steps, so pause, resume
// and stop messages are seen within one step.

export interface RunSpec {
  home: string;
  runId: number;
  config: TrainConfig;
  /** The corpus file; the bundled corpus by its path too. */
  dataPath: string;
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
  /** Training time already spent before this resume (the wall-time axis continues from it). */
  wallOffsetMs: number;
}

export type RunEvent =
  | { type: 'started'; step: number; totalSteps: number; vocabSize: number; resumedFrom: number | null }
  | { type: 'step'; step: number; loss: number; lr: number; gradNorm: number; tokens: number; tokensPerSec: number; elapsedMs: number }
  | { type: 'eval'; step: number; tokens: number; elapsedMs: number; trainLoss: number; valLoss: number }
  | { type: 'sample'; step: number; prompt: string; settings: { temperature: number; length: number; seed: number }; text: string }
  | { type: 'checkpoint'; step: number; path: string; valLoss: number | null; kind: 'latest' | 'best' }
  | { type: 'end'; status: 'finished' | 'stopped' | 'failed'; reason: string | null; step: number };

export interface RunControl {
  paused: boolean;
  stopRequested: boolean;
}

export function loadCorpus(path: string, lowercase = false, tokenizer: TokenizerSpec = { kind: 'char' }): Corpus {
  const text = decodeText(new Uint8Array(readFileSync(path)), path);
  return splitCorpus(lowercase ? text.toLowerCase() : text, 0.1, 2, tokenizer);
}

export async function executeRun(spec: RunSpec, control: RunControl, emit: (e: RunEvent) => void): Promise<void> {
  const corpus = loadCorpus(spec.dataPath, spec.lowercase, spec.tokenizer);
  let trainer: Trainer;
  let resumedFrom: number | null = null;
  if (spec.resume) {
    const restored = restoreTrainer(readCheckpointFolder(checkpointDir(spec.home, spec.runId, 'latest')), corpus);
    if (restored.tokenizer.vocab.join('') !== corpus.tokenizer.vocab.join('')) {
      restored.trainer.dispose();
      throw new Error(`${spec.dataPath} has changed since the run started (its characters differ): resume needs the same text`);
    }
    trainer = restored.trainer;
    resumedFrom = trainer.step;
  } else {
    trainer = new Trainer(spec.config, corpus);
  }
  const c = trainer.config;
  // a prompt the text cannot spell (a newline in a one-line text) falls back to the text's first character
  const samplePrompt = corpus.tokenizer.kind === 'word' || [...spec.samplePrompt].every((ch) => corpus.tokenizer.vocab.includes(ch))
    ? spec.samplePrompt
    : corpus.tokenizer.decode(corpus.train.subarray(0, 1));
  emit({ type: 'started', step: trainer.step, totalSteps: c.steps, vocabSize: corpus.tokenizer.vocabSize, resumedFrom });
  const t0 = performance.now() - spec.wallOffsetMs;
  let bestVal = Infinity;
  let lastGood: number | null = null;
  const saveCheckpoint = (valLoss: number | null) => {
    const files = encodeCheckpoint(trainer, corpus.tokenizer);
    const latest = checkpointDir(spec.home, spec.runId, 'latest');
    writeCheckpointFolder(latest, files);
    lastGood = trainer.step;
    emit({ type: 'checkpoint', step: trainer.step, path: latest, valLoss, kind: 'latest' });
    if (valLoss !== null && valLoss < bestVal) {
      bestVal = valLoss;
      const best = checkpointDir(spec.home, spec.runId, 'best');
      writeCheckpointFolder(best, files);
      emit({ type: 'checkpoint', step: trainer.step, path: best, valLoss, kind: 'best' });
    }
  };
  try {
    while (trainer.step < c.steps) {
      await new Promise((r) => setImmediate(r)); // let control messages in
      if (control.stopRequested) break;
      if (control.paused) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const s0 = performance.now();
      const m = trainer.trainStep();
      const elapsedMs = performance.now() - t0;
      const outOfTime = spec.timeBudgetMs !== null && elapsedMs >= spec.timeBudgetMs;
      if (spec.timeBudgetMs !== null && c.schedule.kind === 'cosine') {
        // the horizon is the number of steps that fit in the budget at the speed measured so far
        const fit = Math.floor((m.step * spec.timeBudgetMs) / elapsedMs);
        c.schedule.lr_decay_iters = Math.max(c.schedule.warmup_iters, Math.min(c.steps, fit));
      }
      emit({ type: 'step', ...m, tokensPerSec: (c.batch_size * c.seq_len) / ((performance.now() - s0) / 1000), elapsedMs });
      const last = m.step === c.steps || outOfTime;
      const evalNow = m.step % c.eval_interval === 0 || last;
      let valLoss: number | null = null;
      if (evalNow) {
        const e = trainer.evaluateBoth();
        valLoss = e.valLoss;
        emit({ type: 'eval', step: m.step, tokens: m.tokens, elapsedMs, trainLoss: e.trainLoss, valLoss: e.valLoss });
      }
      if (spec.sampleInterval > 0 && (m.step % spec.sampleInterval === 0 || last)) {
        const settings = { temperature: 0.8, length: 200, seed: 1 };
        const text = [...generate(trainer.model, corpus.tokenizer, { prompt: samplePrompt, ...settings })].map((t) => t.text).join('');
        emit({ type: 'sample', step: m.step, prompt: samplePrompt, settings, text });
      }
      if (m.step % spec.checkpointInterval === 0 || last) {
        if (valLoss === null) valLoss = trainer.evaluate('val');
        saveCheckpoint(valLoss);
      }
      if (outOfTime) break;
    }
    if (control.stopRequested && trainer.step !== lastGood && trainer.step > 0) saveCheckpoint(trainer.evaluate('val'));
    emit({ type: 'end', status: control.stopRequested ? 'stopped' : 'finished', reason: control.stopRequested ? 'stopped by the user' : null, step: trainer.step });
  } catch (error) {
    // the last good checkpoint stays as it was: a diverged step never reaches the disk
    emit({ type: 'end', status: 'failed', reason: (error as Error).message, step: trainer.step });
  } finally {
    trainer.dispose();
  }
}
