import { describe, it, expect } from 'vitest';
import { appendPoint, countPoints, metricPointsOf, positiveOnly, progressOf, thin, toXY } from '../../src/renderer/src/lib/series';
import type { SeriesPoint } from '../../src/shared/contract';

const p = (step: number, value: number): SeriesPoint => ({ step, tokens: step * 10, wallMs: step * 100, activeMs: step * 90, value });

describe('series', () => {
  it('maps points onto the chosen x axis', () => {
    expect(toXY([p(2, 1.5)], 'step')).toEqual([{ x: 2, y: 1.5 }]);
    expect(toXY([p(2, 1.5)], 'tokens')).toEqual([{ x: 20, y: 1.5 }]);
    expect(toXY([p(2, 1.5)], 'wall')).toEqual([{ x: 200, y: 1.5 }]);
    expect(toXY([p(2, 1.5)], 'active')).toEqual([{ x: 180, y: 1.5 }]);
  });

  it('appends growing steps and rewinds on a resume from an earlier step', () => {
    const pts = [p(1, 3), p(2, 2), p(3, 1)];
    appendPoint(pts, p(4, 0.5));
    expect(pts.map((q) => q.step)).toEqual([1, 2, 3, 4]);
    appendPoint(pts, p(3, 0.9));
    expect(pts.map((q) => q.step)).toEqual([1, 2, 3]);
    expect(pts[2].value).toBe(0.9);
  });

  it('turns step and eval events into metric points', () => {
    const step = metricPointsOf({ type: 'step', step: 5, loss: 2, lr: 1e-3, gradNorm: 0.7, tokens: 500, tokensPerSec: 1000, elapsedMs: 50, activeMs: 40 });
    expect(step.map((m) => m.name)).toEqual(['train_loss', 'lr', 'grad_norm', 'tokens_per_sec']);
    expect(step[0].point).toEqual({ step: 5, tokens: 500, wallMs: 50, activeMs: 40, value: 2 });
    const evalPoints = metricPointsOf({
      type: 'eval',
      step: 5,
      tokens: 500,
      elapsedMs: 60,
      activeMs: 45,
      trainLoss: 1.9,
      valLoss: Math.LN2 * 2,
      trainBpc: 2.5,
      valBpc: 2,
    });
    expect(evalPoints.find((m) => m.name === 'val_loss')?.point.value).toBeCloseTo(Math.LN2 * 2);
    expect(evalPoints.find((m) => m.name === 'val_bpc')?.point.value).toBeCloseTo(2);
    expect(metricPointsOf({ type: 'status', status: 'paused' })).toEqual([]);
  });

  it('counts, filters for log scale and thins', () => {
    expect(
      countPoints([
        { name: 'a', points: [{ x: 1, y: 1 }] },
        {
          name: 'b',
          points: [
            { x: 1, y: 1 },
            { x: 2, y: 2 },
          ],
        },
      ]),
    ).toBe(3);
    expect(
      positiveOnly([
        { x: 1, y: 0 },
        { x: 2, y: -1 },
        { x: 3, y: 2 },
      ]),
    ).toEqual([{ x: 3, y: 2 }]);
    const many = Array.from({ length: 101 }, (_, i) => ({ x: i, y: i }));
    const few = thin(many, 11);
    expect(few).toHaveLength(11);
    expect(few[0].x).toBe(0);
    expect(few[10].x).toBe(100);
    expect(thin(many.slice(0, 5), 11)).toHaveLength(5);
  });

  it('estimates progress by steps or by a time budget', () => {
    expect(progressOf({ step: 250, totalSteps: 1000, elapsedMs: 10_000, timeBudgetMs: null })).toEqual({ fraction: 0.25, etaMs: 30_000 });
    expect(progressOf({ step: 0, totalSteps: 1000, elapsedMs: null, timeBudgetMs: null })).toEqual({ fraction: 0, etaMs: null });
    expect(progressOf({ step: 10, totalSteps: null, elapsedMs: 30_000, timeBudgetMs: 120_000 })).toEqual({ fraction: 0.25, etaMs: 90_000 });
    expect(progressOf({ step: 10, totalSteps: null, elapsedMs: 5, timeBudgetMs: null })).toEqual({ fraction: null, etaMs: null });
  });
});
