import type { LoopEvent, RunControl, RunIO, RunSettings } from './run';
import { DivergedError } from './train';

// The training loop every family runs (engine/run.ts for the language models, engine/seq2seq-run.ts
// for the encoder–decoder): steps, evaluations, samples and checkpoints at their intervals, pause
// and stop between steps, and two clocks — wall time since the start, and active time, which stops
// while the run is paused (a chart's "active time" axis and the time budget count the latter). A
// family provides its trainer as a LoopTrainee; the loop emits the same events for all.

/** The figures of one evaluation (the loop adds the run's position: step, tokens, times). */
export type EvalFigures = Omit<Extract<LoopEvent, { type: 'eval' }>, 'type' | 'step' | 'tokens' | 'elapsedMs' | 'activeMs'>;

export interface LoopTrainee {
  readonly step: number;
  readonly tokensSeen: number;
  /** Steps the run trains for, and between evaluations. */
  readonly steps: number;
  readonly evalInterval: number;
  trainStep(): { step: number; loss: number; lr: number; gradNorm: number; tokens: number };
  /** One evaluation; throws DivergedError when its loss left the healthy range. */
  evaluate(step: number): EvalFigures;
  /** The files of a checkpoint of the trainer as it is now. */
  checkpoint(): Record<string, Uint8Array>;
  /** A sample to show at `step` (families that write none return null). */
  sample?(step: number): Extract<LoopEvent, { type: 'sample' }> | null;
  dispose(): void;
}

/** The 'end' of a run that failed with `error` (a diverged loss says so: another device would not help). */
export function failedEnd(error: unknown, step: number): LoopEvent {
  return { type: 'end', status: 'failed', reason: (error as Error).message, step, ...(error instanceof DivergedError ? { diverged: true } : {}) };
}

/** Lets pending messages in (pause, stop) between steps, in a Node worker and in a Web Worker alike. */
export function yieldToEvents(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return immediate ? new Promise((r) => immediate(r)) : new Promise((r) => setTimeout(r, 0));
}

/** Trains `trainee` to its last step (or the time budget, or a stop), then emits 'end' and disposes it. */
export async function trainLoop(
  trainee: LoopTrainee,
  spec: Pick<RunSettings, 'checkpointInterval' | 'sampleInterval' | 'timeBudgetMs' | 'wallOffsetMs' | 'activeOffsetMs' | 'bestValLoss'>,
  io: Pick<RunIO, 'saveCheckpoint' | 'afterStep'>,
  control: RunControl,
  emit: (e: LoopEvent) => void,
): Promise<void> {
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
  const evaluate = (step: number, position: { tokens: number; elapsedMs: number; activeMs: number }): number => {
    const figures = trainee.evaluate(step);
    emit({ type: 'eval', step, ...position, ...figures });
    return figures.valLoss;
  };
  const saveCheckpoint = (valLoss: number | null) => {
    const best = valLoss !== null && valLoss < bestVal;
    io.saveCheckpoint(trainee.checkpoint(), trainee.step, valLoss, best);
    if (best) bestVal = valLoss;
    lastGood = trainee.step;
  };
  try {
    while (trainee.step < trainee.steps) {
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
      const before = trainee.tokensSeen;
      const m = trainee.trainStep();
      io.afterStep?.();
      const now = performance.now();
      const elapsedMs = spec.wallOffsetMs + now - t0;
      const activeMs = activeOffsetMs + now - t0 - pausedMs;
      const outOfTime = spec.timeBudgetMs !== null && activeMs >= spec.timeBudgetMs;
      emit({ type: 'step', ...m, tokensPerSec: (m.tokens - before) / ((now - s0) / 1000), elapsedMs, activeMs });
      at = { tokens: m.tokens, elapsedMs, activeMs };
      const last = m.step === trainee.steps || outOfTime;
      let valLoss: number | null = null;
      if (m.step % trainee.evalInterval === 0 || last) valLoss = evaluate(m.step, at);
      if (trainee.sample && spec.sampleInterval > 0 && (m.step % spec.sampleInterval === 0 || last)) {
        const sample = trainee.sample(m.step);
        if (sample) emit(sample);
      }
      if (m.step % spec.checkpointInterval === 0 || last) {
        if (valLoss === null) valLoss = evaluate(m.step, at);
        saveCheckpoint(valLoss);
      }
      if (outOfTime) break;
    }
    if (control.stopRequested && trainee.step !== lastGood && at !== null) saveCheckpoint(evaluate(trainee.step, at));
    emit({
      type: 'end',
      status: control.stopRequested ? 'stopped' : 'finished',
      reason: control.stopRequested ? 'stopped by the user' : null,
      step: trainee.step,
    });
  } catch (error) {
    // the last good checkpoint stays as it was: a diverged step or evaluation never reaches the disk
    emit(failedEnd(error, trainee.step));
  } finally {
    trainee.dispose();
  }
}
