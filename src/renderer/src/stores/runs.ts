import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import type { Request, RunSummary } from '../../../shared/contract'
import { api } from '../api/transport'
import { messageOf } from './toasts'

// The list of runs, filtered by the host (family, status, tag), refreshed whenever the host
// says the list changed.

export type RunFilter = Pick<Request<'runs.list'>, 'family' | 'status' | 'tag'>

export const useRuns = defineStore('runs', () => {
  const runs = ref<RunSummary[]>([])
  const filter = ref<RunFilter>({})
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<string | null>(null)
  let generation = 0
  let subscribed = false

  async function refresh(): Promise<void> {
    const mine = ++generation
    loading.value = true
    try {
      const list = await api.invoke('runs.list', { ...filter.value, sort: 'created', descending: true })
      if (mine !== generation) return
      runs.value = list
      error.value = null
      loaded.value = true
    } catch (e) {
      if (mine === generation) error.value = messageOf(e)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /** Loads the list once and keeps it fresh from 'runs.changed'. */
  function start(): void {
    if (subscribed) return
    subscribed = true
    api.on('runs.changed', () => void refresh())
    watch(filter, () => void refresh(), { deep: true })
    void refresh()
  }

  return { runs, filter, loaded, loading, error, refresh, start, byId: (id: number) => runs.value.find((r) => r.id === id) }
})
