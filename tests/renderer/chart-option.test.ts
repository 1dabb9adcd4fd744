import { describe, it, expect } from 'vitest';
import {
  buildChartOption,
  drawnEnds,
  drawnSeries,
  escapeHtml,
  exportOverlay,
  nearestIndex,
  quantile,
  robustRange,
  tooltipHtml,
  tooltipRows,
} from '../../src/renderer/src/lib/chart-option';

const series = [
  {
    name: 'val <loss>',
    color: '#123456',
    points: [
      { x: 0, y: 4 },
      { x: 1, y: 0 },
      { x: 2, y: 2 },
    ],
  },
];
/** A dense train-loss-like series: 200 noisy, falling points. */
const dense = {
  name: 'train',
  color: '#e8710a',
  points: Array.from({ length: 200 }, (_, i) => ({ x: i, y: 4 - i / 100 + (i % 2 === 0 ? 0.2 : -0.2) })),
};
const base = { xLabel: 'step', xFormat: 'number' as const, logY: false, smoothing: 0 };
type Line = { id: string; data: [number, number][]; lineStyle: { opacity?: number }; showSymbol: boolean };

describe('chart option', () => {
  it('draws one solid line per series without smoothing', () => {
    const lines = buildChartOption(series, base).series as Line[];
    expect(lines).toHaveLength(1);
    expect(lines[0].data).toEqual([
      [0, 4],
      [1, 0],
      [2, 2],
    ]);
  });

  it('draws a dense series smoothed over its faint raw line', () => {
    const lines = buildChartOption([dense], { ...base, smoothing: 0.6 }).series as Line[];
    expect(lines.map((l) => l.id)).toEqual(['0:faint', '0:smooth']);
    expect(lines[0].lineStyle.opacity).toBeLessThan(0.5);
    expect(lines[0].data).toHaveLength(200);
    expect(lines[1].data[0]).toEqual([0, dense.points[0].y]);
    expect(lines[1].data[199][1]).not.toBe(dense.points[199].y);
  });

  it('never smooths a sparse (val) series: the end drawn is the value logged', () => {
    // the GPT: val 2.315 at its last evaluation was drawn at ≈2.36 by smoothing
    const val = { name: 'gpt val', color: '#1a73e8', points: [2.9, 2.52, 2.315].map((y, i) => ({ x: (i + 1) * 200, y })) };
    const option = buildChartOption([val, dense], { ...base, smoothing: 0.6 });
    const lines = option.series as Line[];
    expect(lines.map((l) => l.id)).toEqual(['0:raw', '1:faint', '1:smooth']);
    expect(lines[0].lineStyle.opacity).toBe(1);
    expect(lines[0].showSymbol).toBe(true);
    expect(lines[0].data.at(-1)).toEqual([600, 2.315]);
    const ends = drawnEnds(drawnSeries([val, dense], { logY: false, smoothing: 0.6 }));
    expect(ends[0]).toEqual({ name: 'gpt val', x: 600, y: 2.315, smoothed: false });
    expect(ends[1].smoothed).toBe(true);
  });

  it('leaves out points a log axis cannot show', () => {
    const option = buildChartOption(series, { ...base, logY: true });
    expect((option.yAxis as { type: string }).type).toBe('log');
    expect((option.series as Line[])[0].data).toEqual([
      [0, 4],
      [2, 2],
    ]);
  });

  it('puts the title in the image only when exporting', () => {
    expect((buildChartOption(series, base).title as { show: boolean }).show).toBe(false);
    const overlay = exportOverlay('Loss', true) as { title: { text: string; show: boolean }; backgroundColor: string };
    expect(overlay.title).toMatchObject({ text: 'Loss', show: true });
    expect(overlay.backgroundColor).toBe('#ffffff');
  });
});

describe('ignore outliers', () => {
  it('interpolates quantiles as numpy does', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([0, 10], 0.02)).toBeCloseTo(0.2, 12);
  });

  it('clips the y range to the 2nd–98th percentile, padded by 5 %', () => {
    // 0..100 plus one spike at 10 000 (a first-step loss, a diverging step)
    const values = [...Array.from({ length: 101 }, (_, i) => i), 10_000];
    const r = robustRange(values)!;
    const lo = quantile(
      [...values].sort((a, b) => a - b),
      0.02,
    );
    const hi = quantile(
      [...values].sort((a, b) => a - b),
      0.98,
    );
    expect(hi).toBeLessThan(100);
    expect(r.min).toBeCloseTo(lo - (hi - lo) * 0.05, 9);
    expect(r.max).toBeCloseTo(hi + (hi - lo) * 0.05, 9);
  });

  it('pads in log space on a log axis and skips non-positive values there', () => {
    const r = robustRange([0, -1, ...Array.from({ length: 99 }, () => 1), 100], true, 0)!;
    expect(r.min).toBeCloseTo(10 ** -0.1, 9);
    expect(r.max).toBeCloseTo(10 ** 2.1, 9);
  });

  it('gives no range for nothing or a constant', () => {
    expect(robustRange([])).toBeNull();
    expect(robustRange([2, 2, 2])).toBeNull();
  });

  it('sets the y axis bounds only when asked', () => {
    const values = { ...dense, points: [...dense.points, { x: 200, y: 1000 }] };
    const y = buildChartOption([values], { ...base, ignoreOutliers: true }).yAxis as { min?: number; max?: number };
    expect(y.max).toBeLessThan(10);
    expect((buildChartOption([values], base).yAxis as { max?: number }).max).toBeUndefined();
  });
});

describe('tooltip', () => {
  it('finds the nearest point by x', () => {
    const pts = [0, 10, 20, 30].map((x) => ({ x, y: x }));
    expect(nearestIndex(pts, -5)).toBe(0);
    expect(nearestIndex(pts, 14)).toBe(1);
    expect(nearestIndex(pts, 16)).toBe(2);
    expect(nearestIndex(pts, 99)).toBe(3);
    expect(nearestIndex([], 1)).toBe(-1);
  });

  it("lists every series' raw value at the hovered x, whatever its spacing", () => {
    const val = { name: 'val', color: '#00f', points: [200, 400].map((x, i) => ({ x, y: [2.5, 2.3][i] })) };
    const drawn = drawnSeries([dense, val], { logY: false, smoothing: 0.6 });
    const rows = tooltipRows(drawn, 150);
    expect(rows.map((r) => r.name)).toEqual(['train', 'val']);
    expect(rows[0]).toMatchObject({ x: 150, raw: dense.points[150].y });
    expect(rows[0].smoothed).not.toBeNull();
    expect(rows[0].smoothed).not.toBe(dense.points[150].y);
    expect(rows[1]).toMatchObject({ x: 200, raw: 2.5, smoothed: null });
    // the last value shown is the logged one, not the smoothed one
    expect(tooltipRows(drawn, 199)[0].raw).toBe(dense.points[199].y);
  });

  it('writes escaped names, the raw value in bold and the smoothed one beside it', () => {
    const html = tooltipHtml(
      1000,
      [
        { name: 'a<b', color: '#f00', x: 1000, raw: 2, smoothed: 1.5 },
        { name: 'c', color: '#0f0', x: 1200, raw: 3, smoothed: null },
      ],
      'number',
    );
    expect(html).toContain('a&#60;b');
    expect(html).toContain('<b>2</b>');
    expect(html).toContain('smoothed 1.5');
    expect(html).toContain('at 1.2k');
    expect(html).toContain('1k');
    expect(escapeHtml('"&\'')).toBe('&#34;&#38;&#39;');
  });
});
