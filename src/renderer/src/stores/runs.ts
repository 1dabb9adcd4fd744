import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { RunSummary } from '../../../shared/contract';
import { api } from '../api/transport';
import { messageOf } from './toasts';

// Every run in the lab, newest first, refreshed whenever the host says the list changed. (The
// Runs view asks the host for filtered lists itself; this one stays whole for the pickers.)

export const useRuns = defineStore('runs', () => {
  const runs = ref<RunSummary[]>([]);
  const loaded = ref(false);
  const loading = ref(false);
  const error = ref<string | null>(null);
  let generation = 0;
  let subscribed = false;

  async function refresh(): Promise<void> {
    const mine = ++generation;
    loading.value = true;
    try {
      const list = await api.invoke('runs.list', { sort: 'created', descending: true });
      if (mine !== generation) return;
      runs.value = list;
      error.value = null;
      loaded.value = true;
    } catch (e) {
      if (mine === generation) error.value = messageOf(e);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  /** Loads the list once and keeps it fresh from 'runs.changed'. */
  function start(): void {
    if (subscribed) return;
    subscribed = true;
    api.on('runs.changed', () => void refresh());
    // the host announces list changes, not every step: keep a training run's step count and
    // throughput current from its step events
    api.on('run.event', ({ runId, event }) => {
      if (event.type !== 'step') return;
      const run = runs.value.find((r) => r.id === runId);
      if (!run) return;
      run.steps = Math.max(run.steps, event.step);
      run.tokensPerSec = event.tokensPerSec;
    });
    void refresh();
  }

  return { runs, loaded, loading, error, refresh, start, byId: (id: number) => runs.value.find((r) => r.id === id) };
});
