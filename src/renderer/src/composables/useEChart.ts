import * as echarts from 'echarts/core';
import { onBeforeUnmount, onMounted, type Ref } from 'vue';

/**
 * The life of one ECharts instance in a component: created on mount in `el`, resized with its
 * container, disposed on unmount (a canvas and its listeners are not garbage-collected).
 */
export function useEChart(el: Ref<HTMLElement | null>, ready: (chart: echarts.ECharts) => void, disposed: () => void): void {
  let chart: echarts.ECharts | null = null;
  let observer: ResizeObserver | null = null;
  onMounted(() => {
    if (!el.value) return;
    chart = echarts.init(el.value, undefined, { renderer: 'canvas' });
    observer = new ResizeObserver(() => chart?.resize());
    observer.observe(el.value);
    ready(chart);
  });
  onBeforeUnmount(() => {
    observer?.disconnect();
    chart?.dispose();
    chart = null;
    disposed();
  });
}
