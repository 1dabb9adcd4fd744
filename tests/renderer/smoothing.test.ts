import { describe, it, expect } from 'vitest';
import { smooth } from '../../src/renderer/src/lib/smoothing';

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
