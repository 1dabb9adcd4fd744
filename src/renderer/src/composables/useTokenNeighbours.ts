import { ref, shallowRef, watch, type Ref } from 'vue';
import type { Response } from '../../../shared/contract';
import { api } from '../api/transport';
import type { ModelChoice } from '../components/RunPickerCheckpoint.vue';
import { defaultRowTokens } from '../lib/neighbours-view';
import { messageOf } from '../stores/toasts';

export type Neighbours = Response<'analysis.neighbours'>;
export type EmbeddingRows = Response<'analysis.embeddingRows'>;

/**
 * The nearest tokens of `token` in the chosen model (cosine similarity of the full vectors, asked
 * of the host), and the raw embedding rows of `rowTokens` (the chosen token and its closest
 * neighbours until the reader picks others). Each answer is kept only if nothing changed since.
 */
export function useTokenNeighbours(choice: Ref<ModelChoice | null>, token: Ref<string>, dims: Ref<number>) {
  const neighbours = shallowRef<Neighbours | null>(null);
  const rows = shallowRef<EmbeddingRows | null>(null);
  const rowTokens = ref<string[]>([]);
  const error = ref<string | null>(null);
  const rowsError = ref<string | null>(null);
  const loading = ref(false);
  let asked = 0;
  let askedRows = 0;

  async function loadNeighbours(): Promise<void> {
    const c = choice.value;
    const t = token.value;
    const mine = ++asked;
    if (!c || t === '') {
      neighbours.value = null;
      return;
    }
    loading.value = true;
    try {
      const r = await api.invoke('analysis.neighbours', { runId: c.runId, checkpoint: c.checkpoint, token: t, count: 10 });
      if (mine !== asked) return;
      neighbours.value = r;
      error.value = null;
      rowTokens.value = defaultRowTokens(r.token, r.neighbours);
    } catch (e) {
      if (mine !== asked) return;
      neighbours.value = null;
      error.value = messageOf(e);
    } finally {
      if (mine === asked) loading.value = false;
    }
  }

  async function loadRows(): Promise<void> {
    const c = choice.value;
    const tokens = rowTokens.value;
    const mine = ++askedRows;
    if (!c || tokens.length === 0 || !Number.isInteger(dims.value) || dims.value < 1 || dims.value > 64) return;
    try {
      const r = await api.invoke('analysis.embeddingRows', { runId: c.runId, checkpoint: c.checkpoint, tokens, dims: dims.value });
      if (mine !== askedRows) return;
      rows.value = r;
      rowsError.value = null;
    } catch (e) {
      if (mine === askedRows) rowsError.value = messageOf(e);
    }
  }

  let debounce: ReturnType<typeof setTimeout> | null = null;
  watch(
    [() => choice.value?.runId, () => choice.value?.checkpoint, () => choice.value?.run.steps, token],
    () => {
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => void loadNeighbours(), 200);
    },
    { immediate: true },
  );
  watch([rowTokens, dims], () => void loadRows(), { deep: true });

  return { neighbours, rows, rowTokens, error, rowsError, loading };
}
