// The ECharts option for a TensorBoard-style scalar chart: each dense series drawn smoothed (solid)
// over its raw values (faint), sparse series drawn raw with their points marked, a value x axis
// (step, tokens, active or wall time), linear or log y (optionally ignoring outliers), wheel/drag
// zoom on x and a tooltip listing every series' raw value at the hovered x.
import { positiveOnly, type ChartSeries, type XY } from './series';
import { formatCount, formatDuration, formatValue } from './format';
import { effectiveSmoothing, SPARSE_POINTS, smooth } from './smoothing';

export type XFormat = 'number' | 'duration';

export interface ChartOptions {
  xLabel: string;
  xFormat: XFormat;
  yLabel?: string;
  logY: boolean;
  smoothing: number;
  /** Clip the y range to the 2nd–98th percentile of the values, as TensorBoard's "ignore outliers". */
  ignoreOutliers?: boolean;
}

const FALLBACK_COLOR = '#425066';

/** The share of values left out at each end of the y range when ignoring outliers. */
export const OUTLIER_QUANTILE = 0.02;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function formatX(x: number, format: XFormat): string {
  return format === 'duration' ? formatDuration(x) : formatCount(x);
}

/** The q-quantile (0..1) of sorted values, linearly interpolated (numpy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * The y range that ignores outliers: from the `q` to the `1 − q` quantile of the finite values
 * (positive ones on a log axis), widened by 5 % on each side so the clipped lines stay readable.
 * Null when there is nothing to clip (no values, or all equal).
 */
export function robustRange(values: readonly number[], logY = false, q = OUTLIER_QUANTILE): { min: number; max: number } | null {
  const v = values.filter((y) => Number.isFinite(y) && (!logY || y > 0)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const lo = quantile(v, q);
  const hi = quantile(v, 1 - q);
  if (!(hi > lo)) return null;
  if (logY) {
    const pad = (Math.log10(hi) - Math.log10(lo)) * 0.05;
    return { min: 10 ** (Math.log10(lo) - pad), max: 10 ** (Math.log10(hi) + pad) };
  }
  const pad = (hi - lo) * 0.05;
  return { min: lo - pad, max: hi + pad };
}

/** A series as the chart draws it: its raw points, and the smoothed line when it is smoothed. */
export interface DrawnSeries {
  name: string;
  color: string;
  raw: XY[];
  /** Null when the series is drawn raw (no smoothing, or too sparse to smooth). */
  smoothed: XY[] | null;
}

export function drawnSeries(series: readonly ChartSeries[], o: Pick<ChartOptions, 'logY' | 'smoothing'>): DrawnSeries[] {
  return series.map((s) => {
    const ys = s.points.map((p) => p.y);
    const weight = effectiveSmoothing(ys, o.smoothing);
    const raw = o.logY ? positiveOnly(s.points) : s.points.slice();
    let smoothed: XY[] | null = null;
    if (weight > 0) {
      const sm = smooth(ys, weight);
      const line = s.points.map((p, j) => ({ x: p.x, y: sm[j] }));
      smoothed = o.logY ? positiveOnly(line) : line;
    }
    return { name: s.name, color: s.color ?? FALLBACK_COLOR, raw, smoothed };
  });
}

/** The last point each series' top line ends on (what a reader sees as "where it ended"). */
export function drawnEnds(drawn: readonly DrawnSeries[]): { name: string; x: number; y: number; smoothed: boolean }[] {
  return drawn.flatMap((d) => {
    const line = d.smoothed ?? d.raw;
    const last = line[line.length - 1];
    return last ? [{ name: d.name, x: last.x, y: last.y, smoothed: d.smoothed !== null }] : [];
  });
}

/** The index of the point of `points` (sorted by x) nearest to `x`; -1 when there are none. */
export function nearestIndex(points: readonly XY[], x: number): number {
  if (points.length === 0) return -1;
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid].x <= x) lo = mid;
    else hi = mid;
  }
  return Math.abs(points[lo].x - x) <= Math.abs(points[hi].x - x) ? lo : hi;
}

export interface TooltipRow {
  name: string;
  color: string;
  /** The logged value of the series' point nearest the hovered x, and that point's x. */
  x: number;
  raw: number;
  /** The smoothed line's value there, when the series is smoothed. */
  smoothed: number | null;
}

/**
 * Every series' value at the hovered x: the nearest point of each series, whatever its own x
 * spacing (ECharts' axis tooltip keeps only the series whose point is nearest of all, which
 * drops a val series beside a train series, or a slower run beside a faster one).
 */
export function tooltipRows(drawn: readonly DrawnSeries[], x: number): TooltipRow[] {
  const rows: TooltipRow[] = [];
  for (const d of drawn) {
    const i = nearestIndex(d.raw, x);
    if (i < 0) continue;
    const p = d.raw[i];
    const s = d.smoothed ? d.smoothed[nearestIndex(d.smoothed, p.x)] : null;
    rows.push({ name: d.name, color: d.color, x: p.x, raw: p.y, smoothed: s ? s.y : null });
  }
  return rows;
}

/** The tooltip's HTML: the hovered x, then each series' logged value (and its smoothed one, fainter). */
export function tooltipHtml(x: number, rows: readonly TooltipRow[], xFormat: XFormat): string {
  if (rows.length === 0) return '';
  const lines = rows.map((r) => {
    const smoothed = r.smoothed !== null ? ` <span style="opacity:.6">(smoothed ${formatValue(r.smoothed)})</span>` : '';
    const at = r.x !== x ? ` <span style="opacity:.6">at ${formatX(r.x, xFormat)}</span>` : '';
    return `<div><span style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:6px;background:${r.color}"></span>${escapeHtml(r.name)}: <b>${formatValue(r.raw)}</b>${smoothed}${at}</div>`;
  });
  return `<div style="font-size:12px"><div style="opacity:.7;margin-bottom:2px">${formatX(x, xFormat)}</div>${lines.join('')}</div>`;
}

const pairs = (points: readonly XY[]): [number, number][] => points.map((p) => [p.x, p.y]);

function seriesOptions(drawn: readonly DrawnSeries[]): object[] {
  const out: object[] = [];
  drawn.forEach((d, i) => {
    const color = d.color;
    const common = { type: 'line', name: d.name, symbolSize: 5, itemStyle: { color }, connectNulls: true };
    if (d.smoothed) {
      // ids differ from a raw-only line's, so a merge never carries the faint style over to it
      out.push({
        ...common,
        id: `${i}:faint`,
        data: pairs(d.raw),
        showSymbol: false,
        sampling: 'lttb',
        z: 1,
        silent: true,
        lineStyle: { width: 1, color, opacity: 0.25 },
        emphasis: { disabled: true },
      });
      out.push({
        ...common,
        id: `${i}:smooth`,
        data: pairs(d.smoothed),
        showSymbol: false,
        sampling: 'lttb',
        z: 2,
        lineStyle: { width: 2, color, opacity: 1 },
      });
    } else {
      // a sparse series shows each logged point; no sampling, so none is dropped
      const sparse = d.raw.length < SPARSE_POINTS;
      out.push({
        ...common,
        id: `${i}:raw`,
        data: pairs(d.raw),
        showSymbol: sparse,
        sampling: sparse ? undefined : 'lttb',
        z: 2,
        lineStyle: { width: 1.5, color, opacity: 1 },
      });
    }
  });
  return out;
}

export function buildChartOption(series: readonly ChartSeries[], o: ChartOptions): Record<string, unknown> {
  const legend = series.length > 1;
  const drawn = drawnSeries(series, o);
  const range = o.ignoreOutliers
    ? robustRange(
        drawn.flatMap((d) => d.raw.map((p) => p.y)),
        o.logY,
      )
    : null;
  return {
    animation: false,
    textStyle: { fontFamily: 'inherit' },
    title: { show: false },
    // the legend's row, then the y axis name's row above the plot
    grid: { left: 8, right: 20, top: legend ? 46 : 28, bottom: 30, containLabel: true },
    legend: {
      show: legend,
      type: 'scroll',
      top: 0,
      left: 0,
      icon: 'roundRect',
      itemWidth: 12,
      itemHeight: 4,
      textStyle: { fontSize: 12, color: '#333' },
      data: [...new Set(series.map((s) => s.name))],
    },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'line', lineStyle: { color: '#999', type: 'dashed' } },
      confine: true,
      formatter: (params: unknown) => {
        const first = (Array.isArray(params) ? params[0] : params) as { axisValue?: unknown; value?: unknown } | undefined;
        const x = typeof first?.axisValue === 'number' ? first.axisValue : Array.isArray(first?.value) ? Number(first.value[0]) : Number.NaN;
        return Number.isFinite(x) ? tooltipHtml(x, tooltipRows(drawn, x), o.xFormat) : '';
      },
    },
    xAxis: {
      type: 'value',
      name: o.xLabel,
      nameLocation: 'middle',
      nameGap: 24,
      nameTextStyle: { color: '#555', fontSize: 11 },
      min: 'dataMin',
      max: 'dataMax',
      axisLabel: { color: '#555', fontSize: 11, hideOverlap: true, formatter: (x: number) => formatX(x, o.xFormat) },
      axisLine: { lineStyle: { color: '#bbb' } },
      splitLine: { show: true, lineStyle: { color: '#eee' } },
    },
    yAxis: {
      type: o.logY ? 'log' : 'value',
      scale: true,
      ...(range ? { min: range.min, max: range.max } : {}),
      name: o.yLabel ?? '',
      nameTextStyle: { color: '#555', fontSize: 11, align: 'left' },
      axisLabel: { color: '#555', fontSize: 11, formatter: (y: number) => formatValue(y, 3) },
      splitLine: { lineStyle: { color: '#eee' } },
    },
    dataZoom: [{ type: 'inside', xAxisIndex: 0, filterMode: 'none' }],
    series: seriesOptions(drawn),
  };
}

/**
 * What a PNG export adds to the chart for the image only: the title at the top and room for it,
 * on a white background (the axis names are always in the option).
 */
export function exportOverlay(title: string, legend: boolean): Record<string, unknown> {
  return {
    title: { show: true, text: title, left: 8, top: 4, textStyle: { fontSize: 13, fontWeight: 600, color: '#222' } },
    legend: { top: 28 },
    grid: { top: legend ? 76 : 52 },
    backgroundColor: '#ffffff',
  };
}
