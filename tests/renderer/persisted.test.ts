import { nextTick } from 'vue';
import { describe, expect, it } from 'vitest';
import { readViewSettings, storageKey, useViewSettings, writeViewSettings, type KeyValueStore } from '../../src/renderer/src/lib/persisted';

function memory(initial: Record<string, string> = {}): KeyValueStore & { data: Record<string, string> } {
  const data = { ...initial };
  return { data, getItem: (k) => data[k] ?? null, setItem: (k, v) => void (data[k] = v) };
}

describe('view settings kept across reloads', () => {
  const defaults = { metric: 'train_loss', smoothing: 0.6, logY: false, hidden: [] as number[] };

  it('gives the defaults when nothing is stored', () => {
    expect(readViewSettings('compare', defaults, memory())).toEqual(defaults);
  });

  it('reads back what was written', () => {
    const store = memory();
    writeViewSettings('compare', { ...defaults, metric: 'val_bpc', smoothing: 0, hidden: [3] }, store);
    expect(readViewSettings('compare', defaults, store)).toEqual({ metric: 'val_bpc', smoothing: 0, logY: false, hidden: [3] });
  });

  it('ignores entries of the wrong type, unknown keys and broken JSON', () => {
    const store = memory({ [storageKey('compare')]: JSON.stringify({ metric: 3, smoothing: '0.9', logY: true, extra: 1, hidden: 'x' }) });
    expect(readViewSettings('compare', defaults, store)).toEqual({ ...defaults, logY: true });
    expect(readViewSettings('compare', defaults, memory({ [storageKey('compare')]: '{oops' }))).toEqual(defaults);
  });

  it('keeps views apart and survives a missing storage', () => {
    const store = memory();
    writeViewSettings('runs', { filter: 'gpt' }, store);
    expect(readViewSettings('compare', defaults, store)).toEqual(defaults);
    expect(readViewSettings('compare', defaults, null)).toEqual(defaults);
  });

  it('writes every change back', async () => {
    const store = memory();
    const s = useViewSettings('live', { smoothing: 0.6 }, store);
    s.value.smoothing = 0.2;
    await nextTick();
    expect(JSON.parse(store.data[storageKey('live')])).toEqual({ smoothing: 0.2 });
  });
});
