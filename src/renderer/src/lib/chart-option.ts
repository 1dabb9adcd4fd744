// The ECharts option for a TensorBoard-style scalar chart: each series drawn smoothed (solid)
// over its raw values (faint), a value x axis (step, tokens or wall time), linear or log y,
// wheel/drag zoom on x and a tooltip listing every series at the hovered x.
import { positiveOnly, type ChartSeries, type XY } from './series';
import { formatCount, formatDuration, formatValue } from './format';
import { smooth } from './smoothing';

export type XFormat = 'number' | 'duration';

export interface ChartOptions {
  xLabel: string;
  xFormat: XFormat;
  yLabel?: string;
  logY: boolean;
  smoothing: number;
}

const FALLBACK_COLOR = '#425066';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function formatX(x: number, format: XFormat): string {
  return format === 'duration' ? formatDuration(x) : formatCount(x);
}

interface TooltipParam {
  seriesId?: string;
  seriesName?: string;
  color?: unknown;
  value?: unknown;
}

/** The tooltip's HTML: x, then per series its smoothed value and (when smoothing) the raw one. */
export function tooltipHtml(params: readonly TooltipParam[], options: Pick<ChartOptions, 'xFormat' | 'smoothing'>): string {
  if (params.length === 0) return '';
  const x = (params[0].value as [number, number])[0];
  const rows = new Map<string, { color: string; smooth?: number; raw?: number }>();
  for (const p of params) {
    const name = p.seriesName ?? '';
    const y = (p.value as [number, number])[1];
    const row = rows.get(name) ?? { color: typeof p.color === 'string' ? p.color : FALLBACK_COLOR };
    if (p.seriesId?.endsWith(':raw')) row.raw = y;
    else row.smooth = y;
    rows.set(name, row);
  }
  const lines = [...rows].map(([name, r]) => {
    const raw = options.smoothing > 0 && r.raw !== undefined ? ` <span style="opacity:.6">(raw ${formatValue(r.raw)})</span>` : '';
    return `<div><span style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:6px;background:${r.color}"></span>${escapeHtml(name)}: <b>${formatValue(r.smooth ?? r.raw)}</b>${raw}</div>`;
  });
  return `<div style="font-size:12px"><div style="opacity:.7;margin-bottom:2px">${formatX(x, options.xFormat)}</div>${lines.join('')}</div>`;
}

const pairs = (points: readonly XY[]): [number, number][] => points.map((p) => [p.x, p.y]);

function seriesOptions(series: readonly ChartSeries[], o: ChartOptions): object[] {
  const out: object[] = [];
  series.forEach((s, i) => {
    const color = s.color ?? FALLBACK_COLOR;
    const raw = o.logY ? positiveOnly(s.points) : s.points;
    const common = { type: 'line', name: s.name, showSymbol: raw.length < 3, symbolSize: 5, sampling: 'lttb', itemStyle: { color }, connectNulls: true };
    if (o.smoothing > 0) {
      const ys = smooth(
        s.points.map((p) => p.y),
        o.smoothing,
      );
      const smoothed = s.points.map((p, j) => ({ x: p.x, y: ys[j] }));
      out.push({
        ...common,
        id: `${i}:raw`,
        data: pairs(raw),
        z: 1,
        silent: true,
        lineStyle: { width: 1, color, opacity: 0.25 },
        emphasis: { disabled: true },
      });
      out.push({ ...common, id: `${i}:smooth`, data: pairs(o.logY ? positiveOnly(smoothed) : smoothed), z: 2, lineStyle: { width: 2, color } });
    } else out.push({ ...common, id: `${i}:raw`, data: pairs(raw), z: 2, lineStyle: { width: 1.5, color } });
  });
  return out;
}

export function buildChartOption(series: readonly ChartSeries[], o: ChartOptions): Record<string, unknown> {
  const legend = series.length > 1;
  return {
    animation: false,
    textStyle: { fontFamily: 'inherit' },
    grid: { left: 8, right: 20, top: legend ? 34 : 14, bottom: 30, containLabel: true },
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
      formatter: (params: unknown) => tooltipHtml(Array.isArray(params) ? (params as TooltipParam[]) : [params as TooltipParam], o),
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
      name: o.yLabel ?? '',
      nameTextStyle: { color: '#555', fontSize: 11, align: 'left' },
      axisLabel: { color: '#555', fontSize: 11, formatter: (y: number) => formatValue(y, 3) },
      splitLine: { lineStyle: { color: '#eee' } },
    },
    dataZoom: [{ type: 'inside', xAxisIndex: 0, filterMode: 'none' }],
    series: seriesOptions(series, o),
  };
}
