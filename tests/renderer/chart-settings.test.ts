import { describe, it, expect } from 'vitest';
import { CHART_DEFAULTS, sanitizeChartSettings } from '../../src/renderer/src/stores/chart-settings';
import { readViewSettings, type KeyValueStore } from '../../src/renderer/src/lib/persisted';

function memoryStorage(initial: Record<string, string> = {}): KeyValueStore {
  const data = new Map(Object.entries(initial));
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => void data.set(k, v) };
}

describe('chart settings', () => {
  it('keeps valid settings as they are (the same object)', () => {
    const s = { ...CHART_DEFAULTS, axis: 'active' as const, smoothing: 0.9 };
    expect(sanitizeChartSettings(s)).toBe(s);
  });

  it('puts an unknown axis and an out-of-range smoothing back to the defaults', () => {
    const stored = memoryStorage({ 'nanolab.view.compare': JSON.stringify({ axis: 'epochs', smoothing: 7, logY: true, metric: 'val_bpc' }) });
    const read = readViewSettings('compare', { ...CHART_DEFAULTS, metric: '' }, stored);
    const clean = sanitizeChartSettings(read);
    expect(clean).toEqual({ smoothing: 0.999, axis: 'step', logY: true, ignoreOutliers: false, metric: 'val_bpc' });
    expect(sanitizeChartSettings({ ...CHART_DEFAULTS, smoothing: Number.NaN }).smoothing).toBe(CHART_DEFAULTS.smoothing);
  });
});
