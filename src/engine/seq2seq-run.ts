import type { LoopEvent, RunControl, RunIO, RunSettings } from './run';
import { DivergedError } from './train';
import { encodeSeq2SeqCheckpoint, pairsCorpusOf, restoreSeq2SeqTrainer, Seq2SeqTrainer, type Seq2SeqTrainConfig } from './seq2seq-train';
import { UserError } from './errors';

// The run loop of engine/run.ts for the encoder–decoder: the same events (started, step, eval,
// checkpoint, end; no samples), with each evaluation's greedy-decoding scores (exact match, CER,
// BLEU on held-out pairs) in its `decode` field. The host hands it the pairs as TSV text.

/** Whether a run's config is a seq2seq run's. */
export function isSeq2SeqConfig(config: unknown): config is Seq2SeqTrainConfig {
  return (config as { model?: { family?: string } } | null)?.model?.family === 'seq2seq';
}

function yieldToEvents(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return immediate ? new Promise((r) => immediate(r)) : new Promise((r) => setTimeout(r, 0));
}

export async function runSeq2SeqTraining(
  spec: Omit<RunSettings, 'config'> & { config: Seq2SeqTrainConfig },
  io: RunIO,
  control: RunControl,
  emit: (e: LoopEvent) => void,
): Promise<void> {
  if (typeof io.text !== 'string') throw new UserError('a seq2seq run reads its pairs as TSV text');
  const corpus = pairsCorpusOf(io.text, io.textName, spec.config);
  let trainer: Seq2SeqTrainer;
  let resumedFrom: number | null = null;
  if (spec.resume) {
    trainer = restoreSeq2SeqTrainer(io.readLatest(), corpus, io.backend);
    resumedFrom = trainer.step;
  } else {
    trainer = new Seq2SeqTrainer(spec.config, corpus, io.backend);
  }
  const c = trainer.config;
  emit({
    type: 'started',
    step: trainer.step,
    totalSteps: c.steps,
    vocabSize: corpus.target.vocabSize,
    resumedFrom,
    device: io.device ?? trainer.backend.name,
  });
  const t0 = performance.now();
  const activeOffsetMs = spec.activeOffsetMs ?? spec.wallOffsetMs;
  let pausedMs = 0;
  let pausedSince: number | null = null;
  let bestVal = spec.bestValLoss ?? Infinity;
  let lastGood: number | null = null;
  let at: { tokens: number; elapsedMs: number; activeMs: number } | null = null;
  const evaluate = (step: number, tokens: number, elapsedMs: number, activeMs: number): number => {
    const e = trainer.evaluate();
    trainer.checkConverging(e.valLoss, step, 'validation loss');
    const { exact_match, cer, bleu, pairs } = e.decode;
    emit({
      type: 'eval',
      step,
      tokens,
      elapsedMs,
      activeMs,
      trainLoss: e.trainLoss,
      valLoss: e.valLoss,
      trainBpc: e.trainBpc,
      valBpc: e.valBpc,
      decode: { exact_match, cer, bleu, pairs },
    });
    return e.valLoss;
  };
  const saveCheckpoint = (valLoss: number | null) => {
    const best = valLoss !== null && valLoss < bestVal;
    io.saveCheckpoint(encodeSeq2SeqCheckpoint(trainer), trainer.step, valLoss, best);
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
      const before = trainer.tokensSeen;
      const m = trainer.trainStep();
      io.afterStep?.();
      const now = performance.now();
      const elapsedMs = spec.wallOffsetMs + now - t0;
      const activeMs = activeOffsetMs + now - t0 - pausedMs;
      const outOfTime = spec.timeBudgetMs !== null && activeMs >= spec.timeBudgetMs;
      emit({ type: 'step', ...m, tokensPerSec: (m.tokens - before) / ((now - s0) / 1000), elapsedMs, activeMs });
      at = { tokens: m.tokens, elapsedMs, activeMs };
      const last = m.step === c.steps || outOfTime;
      let valLoss: number | null = null;
      if (m.step % c.eval_interval === 0 || last) valLoss = evaluate(m.step, m.tokens, elapsedMs, activeMs);
      if (m.step % spec.checkpointInterval === 0 || last) {
        if (valLoss === null) valLoss = evaluate(m.step, m.tokens, elapsedMs, activeMs);
        saveCheckpoint(valLoss);
      }
      if (outOfTime) break;
    }
    if (control.stopRequested && trainer.step !== lastGood && trainer.step > 0 && at) {
      saveCheckpoint(evaluate(trainer.step, at.tokens, at.elapsedMs, at.activeMs));
    }
    const status = control.stopRequested ? 'stopped' : 'finished';
    emit({ type: 'end', status, reason: null, step: trainer.step });
  } catch (error) {
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
