import { ref, watch, type Ref } from 'vue';

// View settings that survive a reload (TensorBoard keeps its smoothing and filters): one
// localStorage entry per view, `nanolab.view.<view>`, holding that view's settings as JSON. A
// stored value is used only where it has the type of the default; anything else (an old shape, a
// hand-edited entry) falls back to the default, so a bad entry never breaks a view.

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function browserStorage(): KeyValueStore | null {
  try {
    return (globalThis as { localStorage?: KeyValueStore }).localStorage ?? null;
  } catch {
    // a page with storage disabled (a privacy setting) throws on access: settings last the session
    return null;
  }
}

export function storageKey(view: string): string {
  return `nanolab.view.${view}`;
}

/** The stored settings of `view`, each checked against the type of its default. */
export function readViewSettings<T extends Record<string, unknown>>(view: string, defaults: T, storage = browserStorage()): T {
  let stored: unknown = null;
  try {
    stored = JSON.parse(storage?.getItem(storageKey(view)) ?? 'null');
  } catch {
    stored = null;
  }
  const out = { ...defaults };
  if (stored && typeof stored === 'object' && !Array.isArray(stored)) {
    for (const key of Object.keys(defaults) as (keyof T)[]) {
      const value = (stored as Record<string, unknown>)[key as string];
      const initial = defaults[key];
      const sameType = Array.isArray(initial) ? Array.isArray(value) : value !== null && initial !== null ? typeof value === typeof initial : value === initial;
      if (value !== undefined && sameType) out[key] = value as T[keyof T];
    }
  }
  return out;
}

export function writeViewSettings(view: string, settings: Record<string, unknown>, storage = browserStorage()): void {
  try {
    storage?.setItem(storageKey(view), JSON.stringify(settings));
  } catch {
    // storage full or disabled: the settings still hold for this session
  }
}

/**
 * Reactive settings for `view`, read from storage once and written back on every change:
 * `const s = useViewSettings('compare', { metric: 'train_loss', smoothing: 0.6 })`.
 */
export function useViewSettings<T extends Record<string, unknown>>(view: string, defaults: T, storage = browserStorage()): Ref<T> {
  const settings = ref(readViewSettings(view, defaults, storage)) as Ref<T>;
  watch(settings, (value) => writeViewSettings(view, value, storage), { deep: true });
  return settings;
}
