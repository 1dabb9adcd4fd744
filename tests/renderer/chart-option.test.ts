import { describe, it, expect } from 'vitest';
import { buildChartOption, escapeHtml, tooltipHtml } from '../../src/renderer/src/lib/chart-option';

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
const base = { xLabel: 'step', xFormat: 'number' as const, logY: false, smoothing: 0 };
type Line = { id: string; data: [number, number][]; lineStyle: { opacity?: number } };

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

  it('draws the raw line faint behind the smoothed one', () => {
    const lines = buildChartOption(series, { ...base, smoothing: 0.6 }).series as Line[];
    expect(lines.map((l) => l.id)).toEqual(['0:raw', '0:smooth']);
    expect(lines[0].lineStyle.opacity).toBeLessThan(0.5);
    expect(lines[1].data[0]).toEqual([0, 4]);
    expect(lines[1].data[2][1]).not.toBe(2);
  });

  it('leaves out points a log axis cannot show', () => {
    const option = buildChartOption(series, { ...base, logY: true });
    expect((option.yAxis as { type: string }).type).toBe('log');
    expect((option.series as Line[])[0].data).toEqual([
      [0, 4],
      [2, 2],
    ]);
  });

  it('writes a tooltip with escaped names and raw values next to smoothed ones', () => {
    const html = tooltipHtml(
      [
        { seriesId: '0:raw', seriesName: 'a<b', color: '#f00', value: [1000, 2] },
        { seriesId: '0:smooth', seriesName: 'a<b', color: '#f00', value: [1000, 1.5] },
      ],
      { xFormat: 'number', smoothing: 0.5 },
    );
    expect(html).toContain('a&#60;b');
    expect(html).toContain('<b>1.5</b>');
    expect(html).toContain('raw 2');
    expect(html).toContain('1k');
    expect(escapeHtml('"&\'')).toBe('&#34;&#38;&#39;');
  });
});
