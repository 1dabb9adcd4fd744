// Metric series as the charts draw them: the host's points ({step, tokens, wallMs, value}) on a
// chosen x axis, live points appended from run events (shared/metrics.ts reads them off the
// events, as the host does). A run's colour comes from its id (lib/colors.ts runColor).
import type { Axis, SeriesPoint } from '../../../shared/contract';

export { metricPointsOf } from '../../../shared/metrics';

export interface XY {
  x: number;
  y: number;
}

/** One line on a chart. */
export interface ChartSeries {
  name: string;
  color?: string;
  points: XY[];
}

export const AXIS_LABELS: Record<Axis, string> = { step: 'step', tokens: 'tokens seen', wall: 'wall time', active: 'active time' };

/** The x value of a point on an axis (times stay in milliseconds; the chart formats them). */
export function xOf(point: SeriesPoint, axis: Axis): number {
  return axis === 'step' ? point.step : axis === 'tokens' ? point.tokens : axis === 'wall' ? point.wallMs : point.activeMs;
}

export function toXY(points: readonly SeriesPoint[], axis: Axis): XY[] {
  return points.map((p) => ({ x: xOf(p, axis), y: p.value }));
}

/**
 * Appends a live point in place. Steps only grow within one training session; a point at or
 * before the last step means the run resumed from an earlier checkpoint, so the points it will
 * train again are dropped first (the chart then shows the resumed history, not both).
 */
export function appendPoint(points: SeriesPoint[], point: SeriesPoint): void {
  while (points.length > 0 && points[points.length - 1].step >= point.step) points.pop();
  points.push(point);
}

/** Total points across series (what a chart draws, before smoothing doubles the lines). */
export function countPoints(series: readonly ChartSeries[]): number {
  return series.reduce((n, s) => n + s.points.length, 0);
}

/** Points a log-scale axis can show (strictly positive, finite). */
export function positiveOnly(points: readonly XY[]): XY[] {
  return points.filter((p) => p.y > 0 && Number.isFinite(p.y));
}

/**
 * Keeps at most `max` points, evenly strided, always keeping the last one (the newest value is
 * the one a reader looks for).
 */
export function thin(points: readonly XY[], max: number): XY[] {
  if (points.length <= max || max < 2) return points.slice();
  const out: XY[] = [];
  const stride = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * stride)]);
  return out;
}

export interface Progress {
  /** 0..1, or null when the total is unknown. */
  fraction: number | null;
  /** Estimated milliseconds left, or null while unknown. */
  etaMs: number | null;
}

/**
 * How far a run is: by steps (the time per step so far predicts the rest), or by a time budget
 * (which ends when it ends).
 */
export function progressOf(p: { step: number; totalSteps: number | null; elapsedMs: number | null; timeBudgetMs: number | null }): Progress {
  if (p.timeBudgetMs !== null && p.timeBudgetMs > 0) {
    if (p.elapsedMs === null) return { fraction: 0, etaMs: null };
    const fraction = Math.min(1, p.elapsedMs / p.timeBudgetMs);
    return { fraction, etaMs: Math.max(0, p.timeBudgetMs - p.elapsedMs) };
  }
  if (p.totalSteps === null || p.totalSteps <= 0) return { fraction: null, etaMs: null };
  const fraction = Math.min(1, p.step / p.totalSteps);
  if (p.elapsedMs === null || p.step <= 0) return { fraction, etaMs: null };
  return { fraction, etaMs: Math.max(0, ((p.totalSteps - p.step) * p.elapsedMs) / p.step) };
}
