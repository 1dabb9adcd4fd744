import { computed, onBeforeUnmount, ref, watch, type Ref } from 'vue';
import type { Response, SampleRow, SeriesPoint } from '../../../shared/contract';
import { api } from '../api/transport';
import { appendPoint, metricPointsOf } from '../lib/series';
import { messageOf } from '../stores/toasts';
import { useThrottledVersion } from './useThrottled';

export type RunDetail = Response<'runs.get'>;

/** The metrics the live-run view charts (exact_match, cer, bleu: a seq2seq run's greedy decoding of held-out pairs). */
export const LIVE_METRICS = ['train_loss', 'val_loss', 'val_bpc', 'lr', 'grad_norm', 'tokens_per_sec', 'exact_match', 'cer', 'bleu'] as const;

/**
 * One run as it trains: its header ('runs.get'), its metric series (loaded once, then grown from
 * 'run.event'), its samples and its latest step. Points arriving before the stored series has
 * loaded wait in a buffer, so none is lost or drawn twice. Charts read `series` when `version`
 * changes, which happens at most 4 times a second.
 */
export function useLiveRun(id: Ref<number>) {
  const run = ref<RunDetail | null>(null);
  const error = ref<string | null>(null);
  const loading = ref(true);
  const samples = ref<SampleRow[]>([]);
  const { version, touch } = useThrottledVersion(4);

  let series = new Map<string, SeriesPoint[]>();
  let buffer: { name: string; point: SeriesPoint }[] | null = [];
  /** The newest step: wall time since the start (`elapsedMs`) and training time (`activeMs`, pauses excluded). */
  let latest: { step: number; elapsedMs: number; activeMs: number; tokensPerSec: number | null } | null = null;
  let generation = 0;

  const seriesOf = (name: string): SeriesPoint[] => {
    let s = series.get(name);
    if (!s) series.set(name, (s = []));
    return s;
  };

  async function refreshHeader(): Promise<void> {
    const mine = generation;
    try {
      const r = await api.invoke('runs.get', { id: id.value });
      if (mine !== generation) return;
      run.value = r;
      error.value = null;
    } catch (e) {
      if (mine === generation) error.value = messageOf(e);
    }
  }

  async function load(): Promise<void> {
    const mine = ++generation;
    run.value = null;
    error.value = null;
    loading.value = true;
    samples.value = [];
    series = new Map();
    buffer = [];
    latest = null;
    touch();
    try {
      const [detail, stored] = await Promise.all([
        api.invoke('runs.get', { id: id.value }),
        api.invoke('runs.series', { ids: [id.value], names: [...LIVE_METRICS] }),
      ]);
      if (mine !== generation) return;
      run.value = detail;
      for (const s of stored) series.set(s.name, s.points.slice());
      for (const { name, point } of buffer ?? []) appendPoint(seriesOf(name), point);
      buffer = null;
      const loss = series.get('train_loss');
      const last = loss?.[loss.length - 1];
      const rate = series.get('tokens_per_sec');
      if (last)
        latest = { step: last.step, elapsedMs: last.wallMs, activeMs: last.activeMs, tokensPerSec: rate?.[rate.length - 1]?.value ?? detail.tokensPerSec };
      // samples streamed during the load are already in the list; keep them after the stored ones
      const stepsSeen = new Set(detail.samples.map((s) => s.step));
      samples.value = [...detail.samples, ...samples.value.filter((s) => !stepsSeen.has(s.step))];
    } catch (e) {
      if (mine === generation) error.value = messageOf(e);
    } finally {
      if (mine === generation) loading.value = false;
      touch();
    }
  }

  const off = api.on('run.event', ({ runId, event }) => {
    if (runId !== id.value) return;
    for (const m of metricPointsOf(event)) {
      if (buffer) buffer.push(m);
      else appendPoint(seriesOf(m.name), m.point);
    }
    if (event.type === 'step') {
      latest = { step: event.step, elapsedMs: event.elapsedMs, activeMs: event.activeMs, tokensPerSec: event.tokensPerSec };
      touch();
    } else if (event.type === 'eval') touch();
    else if (event.type === 'sample')
      samples.value = [...samples.value, { step: event.step, prompt: event.prompt, settings: event.settings, text: event.text }];
    // a run that moved (GPU → CPU) dropped its steps past the checkpoint: reload the stored series
    else if (event.type === 'moved') void load();
    else void refreshHeader();
  });
  // the host says a run is no longer live (and so can be continued) with 'runs.changed', after its 'end'
  const offChanged = api.on('runs.changed', () => void refreshHeader());
  onBeforeUnmount(() => {
    off();
    offChanged();
  });
  watch(id, () => void load(), { immediate: true });

  return {
    run,
    error,
    loading,
    samples,
    version,
    refreshHeader,
    reload: load,
    /** The stored + live points of a metric (read inside a computed that depends on `version`). */
    points: (name: string): readonly SeriesPoint[] => series.get(name) ?? [],
    latest: computed(() => {
      void version.value;
      return latest;
    }),
  };
}
