import { describe, expect, it } from 'vitest';
import type { KMeansView } from '../../src/shared/contract';
import { attentionRgb, clusterColor, divergingRgb, gradientCss, inkOn, surpriseRgb } from '../../src/renderer/src/lib/colors';
import { exportOption, pngFilename, titleSpace } from '../../src/renderer/src/lib/chart-png';
import { defaultRowTokens, similarityBar, toggleRowToken, tokenFromInput } from '../../src/renderer/src/lib/neighbours-view';
import { describeHead, headPattern, heatmapCells, heatmapOption, heatmapPixels, tokenAxisLabels } from '../../src/renderer/src/lib/heatmap';
import {
  axisTitle,
  checkKMeansSettings,
  clusterMembers,
  iterationCaption,
  maxK,
  pointLabel,
  scatterBounds,
  scatterOption,
} from '../../src/renderer/src/lib/kmeans-view';

const view: KMeansView = {
  labels: ['a', ' ', '\n'],
  points: [
    [0, 0],
    [1, 1],
    [4, -2],
  ],
  explained: [0.5, 0.25],
  iterations: [
    {
      centroids: [
        [0, 0],
        [5, 5],
      ],
      assignments: [0, 0, 1],
      inertia: 30,
    },
    {
      centroids: [
        [0.5, 0.5],
        [4, -2],
      ],
      assignments: [0, 0, 1],
      inertia: 1,
    },
  ],
  converged: true,
};

describe('colour scales', () => {
  it('runs from white to the scale colour and clamps', () => {
    expect(surpriseRgb(0, 4)).toEqual([255, 255, 255]);
    expect(surpriseRgb(8, 4)).toEqual(surpriseRgb(4, 4));
    expect(attentionRgb(0)).toEqual([255, 255, 255]);
    expect(divergingRgb(0)).toEqual([255, 255, 255]);
    const [r, , b] = divergingRgb(1);
    expect(r).toBeGreaterThan(b);
    const [r2, , b2] = divergingRgb(-1);
    expect(b2).toBeGreaterThan(r2);
  });

  it('picks readable ink and cycles cluster colours', () => {
    expect(inkOn([255, 255, 255])).toBe('#1f2328');
    expect(inkOn([20, 20, 120])).toBe('#ffffff');
    expect(clusterColor(10)).toBe(clusterColor(0));
    expect(gradientCss(attentionRgb, 2)).toMatch(/^linear-gradient\(to right, rgb\(255, 255, 255\), .*\)$/);
  });
});

describe('k-means view', () => {
  it('offers k up to 20 or the number of points', () => {
    expect(maxK(65)).toBe(20);
    expect(maxK(3)).toBe(3);
    expect(maxK(0)).toBe(1);
  });

  it("labels points and lists each cluster's members", () => {
    expect(pointLabel(' ', 0)).toBe('␣');
    expect(pointLabel('', 4)).toBe('#5');
    expect(clusterMembers(view.labels, view.iterations[1].assignments, 3)).toEqual([['a', '␣'], ['⏎'], []]);
  });

  it('captions iterations and axes', () => {
    expect(iterationCaption(0, view)).toBe('iteration 1 of 2');
    expect(iterationCaption(1, view)).toBe('iteration 2 of 2 (converged: no centroid moved)');
    expect(iterationCaption(1, { ...view, converged: false })).toContain('iteration limit');
    expect(axisTitle(0, [0.123, 0.05])).toBe('PC1 (12.3% of variance)');
    expect(axisTitle(1, [])).toBe('y');
  });

  it('keeps one frame for every iteration', () => {
    const b = scatterBounds(view);
    expect(b.x[0]).toBeLessThan(0);
    expect(b.x[1]).toBeGreaterThan(5);
    expect(b.y[1]).toBeGreaterThan(5);
  });

  it('checks the settings before asking the host', () => {
    const ok = { k: 3, seed: 0, init: 'random' as const, maxIterations: 100, data: 'gaussian' as const, dataSeed: 0 };
    expect(checkKMeansSettings(ok, 20)).toBeNull();
    expect(checkKMeansSettings({ ...ok, k: 21 }, 20)).toBe('k must be a whole number from 1 to 20 (got 21)');
    expect(checkKMeansSettings({ ...ok, seed: NaN }, 20)).toContain('seed');
    expect(checkKMeansSettings({ ...ok, maxIterations: 0 }, 20)).toContain('max iterations');
  });

  it('draws points coloured by cluster and centroids as large marks', () => {
    const option = scatterOption(view, 0) as unknown as ScatterShape;
    expect(option.series[0].data.map((d) => d.itemStyle.color)).toEqual([clusterColor(0), clusterColor(0), clusterColor(1)]);
    expect(option.series[1].data.map((d) => d.value)).toEqual([
      [0, 0],
      [5, 5],
    ]);
    expect(option.series[0].data.every((d) => option.series[1].symbolSize! > d.symbolSize)).toBe(true);
  });

  it('hides labels that would overlap, shows them on hover, and zooms', () => {
    const option = scatterOption(view, 0) as unknown as ScatterShape;
    expect(option.series[0].labelLayout).toEqual({ hideOverlap: true });
    expect(option.series[0].emphasis.label.show).toBe(true);
    expect(option.dataZoom[0]).toMatchObject({ type: 'inside', xAxisIndex: 0, yAxisIndex: 0 });
  });

  it('draws the chosen token largest and its neighbours larger, so their labels win a collision', () => {
    const plain = scatterOption(view, 0) as unknown as ScatterShape;
    const focused = scatterOption(view, 0, { index: 2, neighbours: [0] }) as unknown as ScatterShape;
    const sizes = (o: ScatterShape) => o.series[0].data.map((d) => d.symbolSize);
    expect(new Set(sizes(plain)).size).toBe(1);
    const [neighbour, other, chosen] = sizes(focused);
    expect(chosen).toBeGreaterThan(neighbour);
    expect(neighbour).toBeGreaterThan(other);
    expect(other).toBe(sizes(plain)[1]);
    expect(focused.series[0].data[2].itemStyle.borderWidth).toBeGreaterThan(0);
    expect(focused.series[0].data[1].itemStyle.borderWidth).toBe(0);
  });
});

interface ScatterShape {
  dataZoom: Record<string, unknown>[];
  series: {
    data: { value: number[]; symbolSize: number; itemStyle: { color: string; borderWidth: number } }[];
    symbolSize?: number;
    labelLayout?: unknown;
    emphasis: { label: { show: boolean } };
  }[];
}

describe('chart pictures', () => {
  const spec = {
    matrix: [
      [1, 0],
      [0.25, 0.75],
    ],
    xLabels: ['a', 'b'],
    yLabels: ['a', 'b'],
    xName: 'key (attended to)',
    yName: 'query (reading)',
    min: 0,
    max: 1,
    scale: attentionRgb,
    tooltip: () => '',
    causal: true,
  };

  it('builds the heatmap with named axes, a legend and only the causal cells', () => {
    const o = heatmapOption(spec) as {
      xAxis: { name: string };
      yAxis: { name: string; inverse: boolean };
      series: { data: unknown[] }[];
      visualMap: { min: number };
    };
    expect(o.xAxis.name).toBe('key (attended to)');
    expect(o.yAxis).toMatchObject({ name: 'query (reading)', inverse: true });
    expect(o.series[0].data).toEqual([
      [0, 0, 1],
      [0, 1, 0.25],
      [1, 1, 0.75],
    ]);
    expect(o.visualMap.min).toBe(0);
  });

  it('exports with the title drawn above the plot, axis names kept, on white', () => {
    const base = heatmapOption(spec);
    const png = exportOption(base, 'Layer 1, head 2', 'run #3 tiny · best checkpoint') as Record<string, any>;
    expect(png.title).toMatchObject({ text: 'Layer 1, head 2', subtext: 'run #3 tiny · best checkpoint', left: 'center' });
    expect(png.backgroundColor).toBe('#ffffff');
    expect(png.animation).toBe(false);
    expect(png.grid.top).toBe(12 + titleSpace('run'));
    expect(png.xAxis.name).toBe('key (attended to)');
    expect(png.series).toBe((base as { series: unknown }).series);
    expect((exportOption({}, 't') as { grid: { top: number } }).grid.top).toBe(16 + titleSpace());
    const narrow = exportOption({}, 'a long title', 'a subtitle', 300) as { title: { textStyle: { width: number; overflow: string } } };
    expect(narrow.title.textStyle).toMatchObject({ width: 276, overflow: 'truncate' });
    expect(pngFilename('Attention: layer 1, head 2 (run #3)')).toBe('nanolab-attention-layer-1-head-2-run-3.png');
    expect(pngFilename('…')).toBe('nanolab-chart.png');
  });
});

describe('heatmaps', () => {
  const map = [
    [1, 0, 0],
    [0.2, 0.8, 0],
    [0.1, 0.7, 0.2],
  ];

  it('keeps only the causal cells', () => {
    expect(heatmapCells(map, true)).toEqual([
      [0, 0, 1],
      [0, 1, 0.2],
      [1, 1, 0.8],
      [0, 2, 0.1],
      [1, 2, 0.7],
      [2, 2, 0.2],
    ]);
    expect(heatmapCells([[1, -1]])).toEqual([
      [0, 0, 1],
      [1, 0, -1],
    ]);
  });

  it('paints thumbnails with the upper triangle transparent', () => {
    const px = heatmapPixels(map, attentionRgb, true);
    expect(px.length).toBe(36);
    expect(px[3]).toBe(255);
    expect(px[(0 * 3 + 1) * 4 + 3]).toBe(0);
    expect(Array.from(px.slice(4 * 4, 4 * 4 + 4))).toEqual([...attentionRgb(0.8), 255]);
  });

  it('reads what a head mostly does', () => {
    const p = headPattern(map);
    expect(p.self).toBeCloseTo((1 + 0.8 + 0.2) / 3);
    expect(p.previous).toBeCloseTo((0.2 + 0.7) / 2);
    expect(describeHead(p)).toBe('mostly looks at itself (67% on average)');
    expect(describeHead({ self: 0.1, previous: 0.2, first: 0.1 })).toBe('spreads its attention over earlier tokens');
    expect(tokenAxisLabels(['T', 'o', ' '])).toEqual(['T', 'o', '␣']);
  });
});

describe('embedding neighbours view', () => {
  it('reads whitespace marks back as whitespace', () => {
    expect(tokenFromInput('␣')).toBe(' ');
    expect(tokenFromInput('a⏎')).toBe('a\n');
    expect(tokenFromInput('the')).toBe('the');
  });

  it('starts the rows table with the chosen token and its closest neighbours, and toggles rows', () => {
    const n = [{ token: 'a' }, { token: 'o' }, { token: 'i' }, { token: 'u' }];
    expect(defaultRowTokens('e', n)).toEqual(['e', 'a', 'o', 'i']);
    expect(defaultRowTokens('e', [], 3)).toEqual(['e']);
    expect(toggleRowToken(['e', 'a'], 'a')).toEqual(['e']);
    expect(toggleRowToken(['e', 'a'], 'u')).toEqual(['e', 'a', 'u']);
    expect(toggleRowToken(['e', 'a', 'o'], 'u', 3)).toEqual(['a', 'o', 'u']);
  });

  it('draws a similarity as a half-bar on its side of zero', () => {
    expect(similarityBar(0.5)).toEqual({ width: 50, negative: false });
    expect(similarityBar(-0.25)).toEqual({ width: 25, negative: true });
    expect(similarityBar(3)).toEqual({ width: 100, negative: false });
    expect(similarityBar(Number.NaN)).toEqual({ width: 0, negative: false });
  });
});
