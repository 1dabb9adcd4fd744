// A chart as a PNG that stands on its own: the title (and a subtitle: the run, the checkpoint)
// drawn in the image above the plot, the axis names kept, a white background. The picture is
// drawn by a second, off-screen chart, so the one on the page keeps its zoom and animation.
import { TitleComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { downloadUrl } from './download';

echarts.use([TitleComponent]);

/** Room above the plot for the title lines, in pixels. */
export function titleSpace(subtitle?: string): number {
  return subtitle ? 52 : 34;
}

/** The option of the exported picture: the chart's own, with a title, no animation, a white ground. */
export function exportOption(option: Record<string, unknown>, title: string, subtitle?: string, width?: number): Record<string, unknown> {
  const space = titleSpace(subtitle);
  const grid = (option.grid ?? {}) as Record<string, unknown>;
  const top = typeof grid.top === 'number' ? grid.top : 16;
  return {
    ...option,
    animation: false,
    backgroundColor: '#ffffff',
    title: {
      text: title,
      subtext: subtitle ?? '',
      left: 'center',
      top: 6,
      itemGap: 4,
      // a title wider than the picture ends in an ellipsis rather than running off both edges
      textStyle: { fontSize: 15, fontWeight: 600, color: '#1f2328', ...(width ? { width: width - 24, overflow: 'truncate' } : {}) },
      subtextStyle: { fontSize: 11, color: '#555', ...(width ? { width: width - 24, overflow: 'truncate' } : {}) },
    },
    grid: { ...grid, top: top + space },
  };
}

/** A safe file name from a chart's title: “Layer 1, head 2” → “layer-1-head-2”. */
export function pngFilename(title: string): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  return `nanolab-${slug || 'chart'}.png`;
}

/** Draws `option` off screen at the given size (plus the title's room) and downloads it as a PNG. */
export function saveChartPng(option: Record<string, unknown>, size: { width: number; height: number }, title: string, subtitle?: string): void {
  const height = size.height + titleSpace(subtitle);
  const host = document.createElement('div');
  host.style.cssText = `position: fixed; left: -100000px; top: 0; width: ${size.width}px; height: ${height}px;`;
  document.body.appendChild(host);
  const chart = echarts.init(host, undefined, { renderer: 'canvas', width: size.width, height });
  try {
    chart.setOption(exportOption(option, title, subtitle, size.width));
    downloadUrl(pngFilename(title), chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: '#ffffff' }));
  } finally {
    chart.dispose();
    host.remove();
  }
}
