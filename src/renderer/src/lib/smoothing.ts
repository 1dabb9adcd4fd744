// TensorBoard's scalar smoothing: an exponential moving average, debiased so the first points
// are not dragged towards zero (the same correction Adam applies to its moments).
//
// Smoothing must never make a chart say something the run did not log. Two rules keep it honest:
// - a sparse series (fewer than SPARSE_POINTS finite points, e.g. a val loss evaluated every few
//   hundred steps) is never smoothed: with so few points an EMA drags each one towards the
//   previous evaluations, and the last point drawn would not be the value logged;
// - a dense series is smoothed as TensorBoard does, with its raw points drawn faintly underneath,
//   and every number a reader is shown (tooltip, tables) is a raw logged value.

/** Largest weight the slider offers; 1 would freeze the curve at its first value. */
export const MAX_SMOOTHING = 0.999;

/** Series with fewer finite points than this are drawn raw, whatever the smoothing weight. */
export const SPARSE_POINTS = 30;

/**
 * Smooths `values` with weight `weight` (0: raw, towards 1: smoother). Non-finite values pass
 * through unchanged and do not disturb the average; a constant series stays exactly constant.
 */
export function smooth(values: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), MAX_SMOOTHING);
  if (w === 0) return values.slice();
  const out: number[] = [];
  let last = 0;
  let count = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(v);
      continue;
    }
    last = last * w + (1 - w) * v;
    count++;
    // debias: the average started at 0, so divide by the weight the real values have had
    out.push(last / (1 - w ** count));
  }
  return out;
}

/** Whether a series is too sparse to smooth (see SPARSE_POINTS). */
export function isSparse(values: readonly number[]): boolean {
  let finite = 0;
  for (const v of values) if (Number.isFinite(v) && ++finite >= SPARSE_POINTS) return false;
  return true;
}

/**
 * The weight a series is actually smoothed with: `weight` for a dense series, 0 for a sparse one.
 * Charts call this, so a val series of 3 points is drawn exactly as logged at any slider position.
 */
export function effectiveSmoothing(values: readonly number[], weight: number): number {
  return isSparse(values) ? 0 : Math.min(Math.max(weight, 0), MAX_SMOOTHING);
}
