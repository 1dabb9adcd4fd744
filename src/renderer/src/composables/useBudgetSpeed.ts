import { onBeforeUnmount, ref, watch, type Ref } from 'vue';
import type { RunDraft } from '../../../shared/contract';
import { api } from '../api/transport';
import { messageOf } from '../stores/toasts';

/** Speeds measured this session, by model and text (a time budget's length does not change them). */
const speeds = new Map<string, Promise<number>>();

/**
 * The training speed (tokens/s) of a time-budget draft on this computer, from a short calibration
 * ('runs.calibrate', a few steps in the host's worker) made 600 ms after the model settles and
 * kept for the session: the preview sizes the run's horizon with it, as the run will before
 * step 1. Null for a step budget or while it is measured (`measuring`).
 */
export function useBudgetSpeed(draft: Ref<RunDraft | null>, delayMs = 600) {
  const tokensPerSec = ref<number | null>(null);
  const measuring = ref(false);
  const error = ref<string | null>(null);
  let timer: ReturnType<typeof setTimeout> | null = null;

  const keyOf = (d: RunDraft): string => JSON.stringify([d.family, d.settings, d.corpusId, d.lowercase, d.tokenizer, d.seed]);

  async function measure(d: RunDraft, key: string): Promise<void> {
    let request = speeds.get(key);
    if (!request) {
      request = api.invoke('runs.calibrate', { draft: d, steps: 3 }).then((r) => r.tokensPerSec);
      speeds.set(key, request);
    }
    measuring.value = true;
    try {
      const speed = await request;
      if (draft.value && keyOf(draft.value) === key) {
        tokensPerSec.value = speed;
        error.value = null;
      }
    } catch (e) {
      speeds.delete(key);
      if (draft.value && keyOf(draft.value) === key) error.value = `Could not time this model: ${messageOf(e)}`;
    } finally {
      if (!draft.value || keyOf(draft.value) === key) measuring.value = false;
    }
  }

  watch(
    () => (draft.value && draft.value.minutes !== null ? keyOf(draft.value) : null),
    (key) => {
      if (timer !== null) clearTimeout(timer);
      tokensPerSec.value = null;
      error.value = null;
      const d = draft.value;
      if (key === null || !d) {
        measuring.value = false;
        return;
      }
      measuring.value = true;
      timer = setTimeout(() => void measure(d, key), delayMs);
    },
    { immediate: true },
  );

  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer);
  });
  return { tokensPerSec, measuring, error };
}
