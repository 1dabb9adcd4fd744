import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { Response } from '../../../shared/contract';
import { MAX_UPLOAD_BYTES } from '../../../shared/contract';
import { api } from '../api/transport';
import { messageOf } from './toasts';

// What the host says about itself ('app.info'): presets, model families, host kind, upload limit.
// Fetched once; views await `load()`.

export type AppInfo = Response<'app.info'>;
export type Preset = AppInfo['presets'][number];

export const useAppInfo = defineStore('app-info', () => {
  const info = ref<AppInfo | null>(null);
  const error = ref<string | null>(null);
  let pending: Promise<AppInfo | null> | null = null;

  function load(): Promise<AppInfo | null> {
    if (info.value) return Promise.resolve(info.value);
    pending ??= api.invoke('app.info', {}).then(
      (r) => (info.value = r),
      (e: unknown) => {
        error.value = messageOf(e);
        pending = null;
        return null;
      },
    );
    return pending;
  }

  const presets = computed(() => info.value?.presets ?? []);
  const families = computed(() => info.value?.families ?? ['rnn', 'lstm', 'gru', 'gpt']);
  const maxCorpusBytes = computed(() => info.value?.maxCorpusBytes ?? MAX_UPLOAD_BYTES);

  return { info, error, load, presets, families, maxCorpusBytes, preset: (id: string) => presets.value.find((p) => p.id === id) };
});
