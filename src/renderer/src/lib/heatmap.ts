// Heatmaps of attention and of the position table: the cells ECharts draws, the RGBA pixels of
// a small-multiple thumbnail, and a one-line reading of what an attention head mostly does.
import { rgbCss, type Rgb } from './colors';
import { visibleText } from './sampling-view';

/** [column, row, value] cells of a matrix; with `causal`, only the cells at or below the diagonal. */
export function heatmapCells(matrix: readonly (readonly number[])[], causal = false): [number, number, number][] {
  const cells: [number, number, number][] = [];
  matrix.forEach((row, r) => {
    const end = causal ? Math.min(row.length, r + 1) : row.length;
    for (let c = 0; c < end; c++) cells.push([c, r, row[c]]);
  });
  return cells;
}

/**
 * A matrix as RGBA pixels, one per cell, row-major (for a canvas thumbnail). With `causal` the
 * cells above the diagonal are left transparent: a token cannot attend to later ones.
 */
export function heatmapPixels(matrix: readonly (readonly number[])[], color: (value: number) => Rgb, causal = false): Uint8ClampedArray<ArrayBuffer> {
  const rows = matrix.length;
  const cols = rows > 0 ? matrix[0].length : 0;
  const pixels = new Uint8ClampedArray(rows * cols * 4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (causal && c > r) continue;
      const [red, green, blue] = color(matrix[r][c]);
      const o = (r * cols + c) * 4;
      pixels[o] = red;
      pixels[o + 1] = green;
      pixels[o + 2] = blue;
      pixels[o + 3] = 255;
    }
  }
  return pixels;
}

/** Axis labels for a prompt's tokens, with whitespace visible. */
export function tokenAxisLabels(tokens: readonly string[]): string[] {
  return tokens.map((t) => visibleText(t));
}

export interface HeadPattern {
  /** Mean weight a query puts on itself. */
  self: number;
  /** Mean weight on the token just before it (queries after the first). */
  previous: number;
  /** Mean weight on the first token (queries after the first). */
  first: number;
}

/** Where a head's attention mostly goes, averaged over the queries. */
export function headPattern(map: readonly (readonly number[])[]): HeadPattern {
  const T = map.length;
  if (T === 0) return { self: 0, previous: 0, first: 0 };
  let self = 0;
  let previous = 0;
  let first = 0;
  for (let q = 0; q < T; q++) {
    self += map[q][q] ?? 0;
    if (q > 0) {
      previous += map[q][q - 1] ?? 0;
      first += map[q][0] ?? 0;
    }
  }
  return { self: self / T, previous: T > 1 ? previous / (T - 1) : 0, first: T > 1 ? first / (T - 1) : 0 };
}

/** A short reading of a head for a learner: “looks at the previous token (71%)”, or “spread out”. */
export function describeHead(pattern: HeadPattern): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const [name, value] = (
    [
      ['the previous token', pattern.previous],
      ['itself', pattern.self],
      ['the first token', pattern.first],
    ] as const
  ).reduce((best, next) => (next[1] > best[1] ? next : best));
  return value >= 0.4 ? `mostly looks at ${name} (${pct(value)} on average)` : 'spreads its attention over earlier tokens';
}

export interface HeatmapSpec {
  matrix: number[][];
  xLabels: string[];
  yLabels: string[];
  xName: string;
  yName: string;
  min: number;
  max: number;
  /** The colour of a value in min..max (sampled into the legend's stops). */
  scale: (value: number) => Rgb;
  tooltip: (column: number, row: number, value: number) => string;
  causal?: boolean;
}

/** Every label up to 40 per axis; beyond that ECharts thins them. */
function labelInterval(count: number): number | 'auto' {
  return count <= 40 ? 0 : 'auto';
}

/** The ECharts option of a labelled heatmap (rows top to bottom, a colour legend below): a plain object, testable without a canvas. */
export function heatmapOption(spec: HeatmapSpec): Record<string, unknown> {
  const { matrix, xLabels, yLabels, min, max } = spec;
  const stops = Array.from({ length: 11 }, (_, i) => rgbCss(spec.scale(min + ((max - min) * i) / 10)));
  const indices = (n: number) => Array.from({ length: n }, (_, i) => String(i));
  const axisName = { color: '#3c4650', fontSize: 12 };
  return {
    animation: false,
    grid: { left: 64, right: 24, top: 12, bottom: 86 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { value: [number, number, number] }) => spec.tooltip(p.value[0], p.value[1], p.value[2]),
    },
    xAxis: {
      type: 'category',
      data: indices(xLabels.length),
      name: spec.xName,
      nameLocation: 'middle',
      nameGap: 30,
      nameTextStyle: axisName,
      axisLabel: { interval: labelInterval(xLabels.length), fontFamily: 'monospace', formatter: (v: string) => xLabels[Number(v)] ?? v },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      data: indices(yLabels.length),
      inverse: true,
      name: spec.yName,
      nameLocation: 'middle',
      nameGap: 44,
      nameTextStyle: axisName,
      axisLabel: { interval: labelInterval(yLabels.length), fontFamily: 'monospace', formatter: (v: string) => yLabels[Number(v)] ?? v },
    },
    visualMap: {
      type: 'continuous',
      min,
      max,
      text: [String(max), String(min)],
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 4,
      itemWidth: 12,
      itemHeight: 180,
      precision: 2,
      inRange: { color: stops },
      textStyle: { fontSize: 11 },
    },
    series: [
      {
        type: 'heatmap',
        data: heatmapCells(matrix, spec.causal ?? false),
        progressive: 0,
        emphasis: { itemStyle: { borderColor: '#1f2328', borderWidth: 1 } },
      },
    ],
  };
}
