import { describe, it, expect } from 'vitest';
import { effectiveSmoothing, isSparse, smooth, SPARSE_POINTS } from '../../src/renderer/src/lib/smoothing';

describe('smooth (debiased EMA)', () => {
  it('returns the raw values at weight 0', () => {
    expect(smooth([3, 1, 2], 0)).toEqual([3, 1, 2]);
  });

  it('starts at the first value (debiased, not pulled to zero)', () => {
    expect(smooth([5, 5, 5], 0.9)[0]).toBeCloseTo(5, 12);
  });

  it('keeps a constant series constant', () => {
    for (const v of smooth([2, 2, 2, 2, 2], 0.99)) expect(v).toBeCloseTo(2, 12);
  });

  it('matches the hand-computed debiased EMA', () => {
    // w = 0.5: last = 0.5*0 + 0.5*1 = 0.5 → /0.5 = 1; last = 0.25 + 1.5 = 1.75 → /0.75 = 2.333…
    const s = smooth([1, 3], 0.5);
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo(7 / 3, 12);
  });

  it('lets non-finite values through without disturbing the average', () => {
    const s = smooth([1, Number.NaN, 3], 0.5);
    expect(Number.isNaN(s[1])).toBe(true);
    expect(s[2]).toBeCloseTo(7 / 3, 12);
  });

  it('clamps the weight to [0, 0.999]', () => {
    expect(smooth([1, 2], -1)).toEqual([1, 2]);
    const s = smooth([1, 100], 5);
    expect(s[1]).toBeGreaterThan(1);
    expect(s[1]).toBeLessThan(100);
  });

  it('does not change its input', () => {
    const v = [1, 2, 3];
    smooth(v, 0.6);
    expect(v).toEqual([1, 2, 3]);
  });
});

describe('sparse series are never smoothed', () => {
  it('calls a series with fewer than SPARSE_POINTS finite points sparse', () => {
    expect(isSparse(Array.from({ length: SPARSE_POINTS - 1 }, (_, i) => i))).toBe(true);
    expect(isSparse(Array.from({ length: SPARSE_POINTS }, (_, i) => i))).toBe(false);
    // non-finite values do not count
    expect(isSparse([...Array.from({ length: SPARSE_POINTS - 1 }, (_, i) => i), Number.NaN])).toBe(true);
  });

  it('smooths a dense series with the chosen weight and a sparse one not at all', () => {
    expect(effectiveSmoothing([2.9, 2.5, 2.315], 0.6)).toBe(0);
    expect(
      effectiveSmoothing(
        Array.from({ length: 100 }, () => 1),
        0.6,
      ),
    ).toBe(0.6);
    expect(
      effectiveSmoothing(
        Array.from({ length: 100 }, () => 1),
        2,
      ),
    ).toBe(0.999);
  });
});
