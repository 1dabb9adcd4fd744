// What a preset costs on this computer, from a short calibration (runs.calibrate: tokens per
// second of a few training steps): how long its run takes, and how many steps fit in a minute
// for a "quick look".

/** The loop settings that decide a run's length (a resolved config has them all). */
export interface RunLength {
  steps: number;
  batch_size: number;
  seq_len: number;
  eval_interval: number;
  eval_iters: number;
}

/**
 * Seconds a run of r.steps steps takes at the measured speed, evaluations included: every
 * eval_interval steps and once at the end the run averages eval_iters batches on the training
 * and on the validation text, forward only (about a third of a training step each).
 */
export function estimateRunSeconds(r: RunLength, tokensPerSec: number): number {
  const step = (r.batch_size * r.seq_len) / tokensPerSec;
  const evaluations = Math.floor(r.steps / r.eval_interval) + 1;
  return r.steps * step + (evaluations * 2 * r.eval_iters * step) / 3;
}

/** A run's length and the speed measured for it. */
export interface TimedRun {
  length: RunLength;
  tokensPerSec: number;
}

/** Seconds the runs of a preset take one after the other (runs started together share the cores). */
export function estimatePresetSeconds(runs: readonly TimedRun[], steps?: number): number {
  return runs.reduce((sum, r) => sum + estimateRunSeconds(steps === undefined ? r.length : { ...r.length, steps }, r.tokensPerSec), 0);
}

/**
 * The most steps (the same for every run of the preset, as runs.startPreset takes one count) that
 * fit in `seconds`: at least 10 and at most the preset's own steps. A quick look's length.
 */
export function stepsForSeconds(runs: readonly TimedRun[], seconds: number): number {
  let hi = Math.max(...runs.map((r) => r.length.steps));
  let lo = Math.min(10, hi);
  if (estimatePresetSeconds(runs, hi) <= seconds) return hi;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (estimatePresetSeconds(runs, mid) <= seconds) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** "about 9 minutes", "under a minute", "about 1 h 20 min": an estimate, said as one. */
export function describeDuration(seconds: number): string {
  if (seconds < 45) return 'under a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `about ${h} h${m > 0 ? ` ${m} min` : ''}`;
}
