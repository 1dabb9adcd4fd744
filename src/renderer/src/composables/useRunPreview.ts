import { computed, onBeforeUnmount, ref, watch, type Ref } from 'vue';
import type { Family, RunDraft, RunPreview } from '../../../shared/contract';
import { api } from '../api/transport';
import type { HostError } from '../lib/new-run-form';
import type { SettingValue } from '../lib/settings';
import { messageOf } from '../stores/toasts';

type OkPreview = Extract<RunPreview, { ok: true }>;

/** The defaults the host resolved for a family with no settings changed, kept for the session. */
const baselines = new Map<string, Promise<RunPreview>>();

/**
 * Asks the host to resolve the form's draft ('runs.preview') 150 ms after the last change. The
 * form never loses what it shows while it has errors:
 * - `probe` is always sent (the draft with its wrong fields left to their defaults), so the
 *   host's refusal and the resolved defaults always belong to the family on screen;
 * - `shown` is the preview of the draft as typed, or, while that is invalid, of the last valid
 *   draft (`stale` says so);
 * - `defaults` are the last resolved values for this family, else the family's own defaults
 *   (`baselineDraft`: the family and text with no settings, a second request cached for the
 *   session), so placeholders and checkboxes never go blank. The defaults follow the
 *   baseline's family, not the probe's, which depends on them.
 * A time-budget draft goes with the measured `speed` (tokens/s), which sizes its horizon and
 * learning-rate curve. Late answers to old drafts are dropped.
 */
export function useRunPreview(draft: Ref<RunDraft | null>, probe: Ref<RunDraft>, baselineDraft: Ref<RunDraft>, speed: Ref<number | null>, delayMs = 150) {
  const answer = ref<{ key: string; family: Family; preview: RunPreview } | null>(null);
  const lastValid = ref<{ key: string; preview: OkPreview } | null>(null);
  const lastOk = ref<{ family: Family; resolved: Record<string, SettingValue> } | null>(null);
  const baseline = ref<{ key: string; resolved: Record<string, SettingValue> } | null>(null);
  const pending = ref(false);
  const failure = ref<string | null>(null);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let generation = 0;

  type PreviewRequest = RunDraft & { tokensPerSec?: number };
  const requestOf = (d: RunDraft): PreviewRequest => (d.minutes !== null && speed.value !== null ? { ...d, tokensPerSec: speed.value } : d);
  const probeKey = computed(() => JSON.stringify(requestOf(probe.value)));
  const draftKey = computed(() => (draft.value ? JSON.stringify(requestOf(draft.value)) : null));
  const baselineKey = computed(() => JSON.stringify(baselineDraft.value));

  async function run(d: PreviewRequest, key: string): Promise<void> {
    const mine = ++generation;
    try {
      const result = await api.invoke('runs.preview', d);
      if (mine !== generation) return;
      answer.value = { key, family: d.family, preview: result };
      failure.value = null;
      if (result.ok) {
        lastOk.value = { family: d.family, resolved: result.resolved };
        if (key === draftKey.value) lastValid.value = { key, preview: result };
      }
    } catch (e) {
      if (mine === generation) failure.value = messageOf(e);
    } finally {
      if (mine === generation) pending.value = false;
    }
  }

  watch(
    probeKey,
    (key) => {
      if (timer !== null) clearTimeout(timer);
      const d = requestOf(probe.value);
      pending.value = true;
      timer = setTimeout(() => void run(d, key), delayMs);
    },
    { immediate: true },
  );

  const needBaseline = computed(() => lastOk.value?.family !== baselineDraft.value.family);
  watch(
    [needBaseline, baselineKey],
    async ([need, key]) => {
      if (!need || baseline.value?.key === key) return;
      let request = baselines.get(key);
      if (!request) {
        request = api.invoke('runs.preview', baselineDraft.value);
        baselines.set(key, request);
      }
      try {
        const result = await request;
        if (result.ok && key === baselineKey.value) baseline.value = { key, resolved: result.resolved };
      } catch (e) {
        baselines.delete(key);
        failure.value = messageOf(e);
      }
    },
    { immediate: true },
  );

  /** The host's refusal of the draft on screen (never one about an earlier draft or family). */
  const hostError = computed<HostError | null>(() => {
    const a = answer.value;
    return a && a.key === probeKey.value && !a.preview.ok ? { error: a.preview.error, field: a.preview.field } : null;
  });
  /** The host's answer for the draft on screen with its wrong fields at their defaults. */
  const probed = computed(() => {
    const a = answer.value;
    return a && a.key === probeKey.value && a.preview.ok ? a.preview : null;
  });
  const current = computed(() => (lastValid.value && lastValid.value.key === draftKey.value ? lastValid.value.preview : null));
  const shown = computed(() => current.value ?? lastValid.value?.preview ?? null);
  const stale = computed(() => shown.value !== null && current.value === null);
  const defaults = computed<Record<string, SettingValue>>(() => {
    const base = baseline.value?.key === baselineKey.value ? baseline.value.resolved : {};
    const last = lastOk.value?.family === baselineDraft.value.family ? lastOk.value.resolved : {};
    return { ...base, ...last };
  });

  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer);
  });
  return { shown, stale, current, probed, defaults, hostError, pending, failure };
}
