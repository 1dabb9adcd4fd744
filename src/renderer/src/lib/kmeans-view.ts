// The k-means view's logic: which k the slider offers, each cluster's members, the caption of an
// iteration, and the scatter chart's option (points coloured by cluster, centroids as large marks).
import type { KMeansView } from '../../../shared/contract';
import { clusterColor } from './colors';
import { visibleText } from './sampling-view';

/** The largest k the slider offers: 20, or fewer when there are fewer points. */
export function maxK(pointCount: number): number {
  return Math.max(1, Math.min(20, pointCount));
}

/** A point's label as drawn: a character with its whitespace visible, or the point's number. */
export function pointLabel(label: string, index: number): string {
  return label === '' ? `#${index + 1}` : visibleText(label);
}

/** Members of every cluster (labels as drawn), cluster by cluster, in vocabulary order. */
export function clusterMembers(labels: readonly string[], assignments: readonly number[], k: number): string[][] {
  const members: string[][] = Array.from({ length: k }, () => []);
  assignments.forEach((cluster, i) => members[cluster]?.push(pointLabel(labels[i] ?? '', i)));
  return members;
}

/** “iteration 3 of 7” and whether this is where k-means stopped. */
export function iterationCaption(index: number, view: Pick<KMeansView, 'iterations' | 'converged'>): string {
  const n = view.iterations.length;
  const last = index === n - 1;
  const end = last ? (view.converged ? ' (converged: no centroid moved)' : ' (stopped at the iteration limit)') : '';
  return `iteration ${index + 1} of ${n}${end}`;
}

/** An axis title: the principal component and its share of the variance, or plain x / y. */
export function axisTitle(axis: 0 | 1, explained: readonly number[]): string {
  const share = explained[axis];
  if (share === undefined) return axis === 0 ? 'x' : 'y';
  return `PC${axis + 1} (${(share * 100).toFixed(1)}% of variance)`;
}

/** Axis bounds that hold every point and every centroid of every iteration, so playback does not rescale. */
export function scatterBounds(view: Pick<KMeansView, 'points' | 'iterations'>): { x: [number, number]; y: [number, number] } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [x, y] of [...view.points, ...view.iterations.flatMap((it) => it.centroids)]) {
    xs.push(x);
    ys.push(y);
  }
  const range = (v: number[]): [number, number] => {
    if (v.length === 0) return [-1, 1];
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    const pad = (hi - lo) * 0.06 || 1;
    return [Number((lo - pad).toPrecision(3)), Number((hi + pad).toPrecision(3))];
  };
  return { x: range(xs), y: range(ys) };
}

interface TooltipParams {
  seriesIndex?: number;
  dataIndex?: number;
}

/** A chosen token and its nearest neighbours, drawn larger (and so labelled first). */
export interface ScatterFocus {
  index: number;
  neighbours: readonly number[];
}

/** A point's mark: the chosen token largest, its neighbours larger, the rest plain. */
function pointMark(i: number, labelled: boolean, focus: ScatterFocus | null): { symbolSize: number; borderWidth: number } {
  if (focus?.index === i) return { symbolSize: 17, borderWidth: 2.5 };
  if (focus?.neighbours.includes(i)) return { symbolSize: 12, borderWidth: 1.5 };
  return { symbolSize: labelled ? 9 : 8, borderWidth: 0 };
}

/**
 * The ECharts option for one iteration: a plain object, so it can be tested without a canvas.
 * Labels that would overlap a placed one are hidden (ECharts places larger marks first, so the
 * chosen token and its neighbours keep theirs); hovering shows a point's token, and the wheel
 * zooms in until the labels have room.
 */
export function scatterOption(view: KMeansView, index: number, focus: ScatterFocus | null = null): Record<string, unknown> {
  const iteration = view.iterations[Math.min(Math.max(index, 0), view.iterations.length - 1)];
  const bounds = scatterBounds(view);
  const labelled = view.labels.some((l) => l !== '');
  const points = view.points.map(([x, y], i) => {
    const mark = pointMark(i, labelled, focus);
    return {
      value: [x, y],
      name: pointLabel(view.labels[i] ?? '', i),
      symbolSize: mark.symbolSize,
      itemStyle: { color: clusterColor(iteration?.assignments[i] ?? 0), borderColor: '#1f2328', borderWidth: mark.borderWidth },
      ...(focus?.index === i ? { label: { fontWeight: 'bold', fontSize: 13 } } : {}),
    };
  });
  const centroids = (iteration?.centroids ?? []).map(([x, y], j) => ({
    value: [x, y],
    name: `centroid ${j + 1}`,
    itemStyle: { color: clusterColor(j), borderColor: '#1f2328', borderWidth: 2 },
  }));
  const tooltip = (p: TooltipParams): string => {
    const i = p.dataIndex ?? 0;
    if (p.seriesIndex === 1) return `Centroid of cluster ${i + 1}`;
    const [x, y] = view.points[i];
    const what = labelled ? `Token ${pointLabel(view.labels[i], i)}` : `Point ${i + 1}`;
    return `${what} · cluster ${(iteration?.assignments[i] ?? 0) + 1}<br/>(${x.toFixed(3)}, ${y.toFixed(3)})`;
  };
  return {
    animationDurationUpdate: 400,
    grid: { left: 56, right: 20, top: 16, bottom: 44 },
    tooltip: { trigger: 'item', formatter: tooltip },
    dataZoom: [{ type: 'inside', xAxisIndex: 0, yAxisIndex: 0, filterMode: 'none' }],
    xAxis: {
      type: 'value',
      name: axisTitle(0, view.explained),
      nameLocation: 'middle',
      nameGap: 26,
      nameTextStyle: { color: '#3c4650', fontSize: 12 },
      min: bounds.x[0],
      max: bounds.x[1],
      splitLine: { lineStyle: { color: '#eef0f3' } },
      axisLine: { onZero: false },
      axisLabel: { showMinLabel: false, showMaxLabel: false },
    },
    yAxis: {
      type: 'value',
      name: axisTitle(1, view.explained),
      nameLocation: 'middle',
      nameGap: 40,
      nameTextStyle: { color: '#3c4650', fontSize: 12 },
      min: bounds.y[0],
      max: bounds.y[1],
      splitLine: { lineStyle: { color: '#eef0f3' } },
      axisLine: { onZero: false },
      axisLabel: { showMinLabel: false, showMaxLabel: false },
    },
    series: [
      {
        type: 'scatter',
        name: 'points',
        data: points,
        label: labelled
          ? { show: true, position: 'right', distance: 2, fontSize: 11, fontFamily: 'monospace', color: '#1f2328', formatter: '{b}' }
          : { show: false },
        labelLayout: { hideOverlap: true },
        emphasis: { scale: 1.6, label: { show: labelled } },
      },
      { type: 'scatter', name: 'centroids', symbol: 'diamond', symbolSize: 22, z: 3, data: centroids },
    ],
  };
}

export interface KMeansSettings {
  k: number;
  seed: number;
  init: 'random' | 'kmeans++';
  maxIterations: number;
  data: 'gaussian' | 'blobs';
  dataSeed: number;
}

/** What is wrong with the settings, as a sentence, or null when k-means can run. */
export function checkKMeansSettings(s: KMeansSettings, largestK: number): string | null {
  const whole = (n: number) => Number.isInteger(n);
  if (!whole(s.k) || s.k < 1 || s.k > largestK) return `k must be a whole number from 1 to ${largestK} (got ${s.k})`;
  if (!whole(s.seed) || s.seed < 0 || s.seed > 2 ** 32 - 1) return `the seed must be a whole number from 0 to ${2 ** 32 - 1} (got ${s.seed})`;
  if (!whole(s.maxIterations) || s.maxIterations < 1 || s.maxIterations > 500)
    return `max iterations must be a whole number from 1 to 500 (got ${s.maxIterations})`;
  if (!whole(s.dataSeed) || s.dataSeed < 0) return `the data seed must be a whole number, 0 or more (got ${s.dataSeed})`;
  return null;
}
