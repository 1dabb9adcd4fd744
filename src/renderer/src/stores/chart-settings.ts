// The chart controls of a view (smoothing, x axis, log y, ignore outliers), kept per view across
// reloads (lib/persisted.ts), each checked on the way in: a stored axis this version does not
// know, or a smoothing out of range, falls back to the default.
import { watch, type Ref } from 'vue';
import { AXES, type Axis } from '../../../shared/contract';
import { useViewSettings } from '../lib/persisted';
import { MAX_SMOOTHING } from '../lib/smoothing';

export interface ChartSettings {
  smoothing: number;
  axis: Axis;
  logY: boolean;
  ignoreOutliers: boolean;
}

export const CHART_DEFAULTS: ChartSettings = { smoothing: 0.6, axis: 'step', logY: false, ignoreOutliers: false };

/** The settings with anything out of range put back to its default. */
export function sanitizeChartSettings<T extends ChartSettings>(s: T): T {
  const axis = (AXES as readonly string[]).includes(s.axis) ? s.axis : CHART_DEFAULTS.axis;
  const smoothing = Number.isFinite(s.smoothing) ? Math.min(Math.max(s.smoothing, 0), MAX_SMOOTHING) : CHART_DEFAULTS.smoothing;
  return axis === s.axis && smoothing === s.smoothing ? s : { ...s, axis, smoothing };
}

/**
 * A view's chart settings plus its own (`extra`: a metric, a filter…), persisted under `view`:
 * `const settings = useChartSettings('compare', { metric: '' })`.
 */
export function useChartSettings<E extends Record<string, unknown>>(view: string, extra: E): Ref<ChartSettings & E> {
  const settings = useViewSettings<ChartSettings & E>(view, { ...CHART_DEFAULTS, ...extra });
  watch(
    settings,
    (s) => {
      const clean = sanitizeChartSettings(s);
      if (clean !== s) settings.value = clean;
    },
    { immediate: true, deep: true },
  );
  return settings;
}
