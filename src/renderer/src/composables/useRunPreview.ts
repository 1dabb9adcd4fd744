import { onBeforeUnmount, ref, watch, type Ref } from 'vue';
import type { RunDraft, RunPreview } from '../../../shared/contract';
import { api } from '../api/transport';
import { messageOf } from '../stores/toasts';

/**
 * Asks the host to resolve the draft ('runs.preview') 150 ms after the last change: parameter
 * count, memory estimate and resolved defaults, or the first error with the field it is about.
 * A draft the form itself knows is invalid (null) is not sent. Late answers to old drafts are dropped.
 */
export function useRunPreview(draft: Ref<RunDraft | null>, delayMs = 150) {
  const preview = ref<RunPreview | null>(null);
  const pending = ref(false);
  const failure = ref<string | null>(null);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let generation = 0;

  async function run(d: RunDraft): Promise<void> {
    const mine = ++generation;
    try {
      const result = await api.invoke('runs.preview', d);
      if (mine !== generation) return;
      preview.value = result;
      failure.value = null;
    } catch (e) {
      if (mine === generation) failure.value = messageOf(e);
    } finally {
      if (mine === generation) pending.value = false;
    }
  }

  watch(
    () => JSON.stringify(draft.value),
    () => {
      if (timer !== null) clearTimeout(timer);
      const d = draft.value;
      if (!d) {
        generation++;
        pending.value = false;
        return;
      }
      pending.value = true;
      timer = setTimeout(() => void run(d), delayMs);
    },
    { immediate: true },
  );

  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer);
  });
  return { preview, pending, failure };
}
