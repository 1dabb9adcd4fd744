// Colour scales for the analysis views, as plain functions so a legend, a canvas and an ECharts
// visual map all agree on what a value looks like.

export type Rgb = [number, number, number];

const WHITE: Rgb = [255, 255, 255];
const SURPRISE_HIGH: Rgb = [200, 30, 30];
const ATTENTION_HIGH: Rgb = [20, 70, 160];
const DIVERGING_LOW: Rgb = [33, 102, 172];
const DIVERGING_HIGH: Rgb = [178, 24, 43];

function clamp01(t: number): number {
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, Math.max(0, t));
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  const u = clamp01(t);
  return [Math.round(a[0] + (b[0] - a[0]) * u), Math.round(a[1] + (b[1] - a[1]) * u), Math.round(a[2] + (b[2] - a[2]) * u)];
}

export function rgbCss([r, g, b]: Rgb): string {
  return `rgb(${r}, ${g}, ${b})`;
}

/** A loss in nats on a white (0) → red (max) scale. */
export function surpriseRgb(loss: number, max: number): Rgb {
  return mix(WHITE, SURPRISE_HIGH, max > 0 ? loss / max : 0);
}

/** An attention weight (0..1) on a white → deep blue scale. */
export function attentionRgb(weight: number): Rgb {
  // a square root lifts the small weights a long row spreads its attention over
  return mix(WHITE, ATTENTION_HIGH, Math.sqrt(clamp01(weight)));
}

/** A value in −1..1 on a blue → white → red scale. */
export function divergingRgb(value: number): Rgb {
  const v = Math.min(1, Math.max(-1, Number.isFinite(value) ? value : 0));
  return v < 0 ? mix(WHITE, DIVERGING_LOW, -v) : mix(WHITE, DIVERGING_HIGH, v);
}

/** Black or white, whichever reads better on the background. */
export function inkOn([r, g, b]: Rgb): string {
  const luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
  return luminance > 0.55 ? '#1f2328' : '#ffffff';
}

/** Ten distinguishable cluster colours (Tableau 10), then the same hues again. */
export const CLUSTER_COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#7f7f7f'];

export function clusterColor(cluster: number): string {
  const n = CLUSTER_COLORS.length;
  return CLUSTER_COLORS[((cluster % n) + n) % n];
}

/** Stops for a CSS gradient legend of a scale, low to high. */
export function gradientCss(scale: (t: number) => Rgb, stops = 8): string {
  const parts = Array.from({ length: stops + 1 }, (_, i) => rgbCss(scale(i / stops)));
  return `linear-gradient(to right, ${parts.join(', ')})`;
}

/** Run colours (TensorBoard-like, readable on white). */
export const RUN_COLORS = ['#e8710a', '#1a73e8', '#12b5cb', '#e52592', '#9334e6', '#0b8043', '#f9ab00', '#425066', '#a50e0e', '#7cb342'];

/**
 * A run's colour, from its id (not its place in a list), so run 7 is the same colour in the
 * picker, the chart, the tables and every other view, whichever runs are shown beside it.
 * Consecutive ids get different colours; ids ten apart share one.
 */
export function runColor(runId: number): string {
  const n = RUN_COLORS.length;
  const i = Math.trunc(runId) - 1;
  return RUN_COLORS[((i % n) + n) % n];
}
