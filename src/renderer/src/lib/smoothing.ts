// TensorBoard's scalar smoothing: an exponential moving average, debiased so the first points
// are not dragged towards zero (the same correction Adam applies to its moments).

/** Largest weight the slider offers; 1 would freeze the curve at its first value. */
export const MAX_SMOOTHING = 0.999;

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
