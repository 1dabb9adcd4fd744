import type { RunStore } from '../store/run-store';
import { chosenCheckpoint, loadRunModel } from './run-model';

// The read-side tools' models (sample, surprise, embeddings, attention), kept loaded between
// requests: the few used last, each reloaded when its run has written a newer checkpoint. A model
// is lent for each use; a sample streams over many turns of the event loop, and other requests
// may evict its model meanwhile: an evicted model is only forgotten, and disposed when its last
// use ends.

type RunModel = ReturnType<typeof loadRunModel>;

/** A model lent to one use: `release` it when done (once; again is a no-op). */
export interface ModelLease {
  model: RunModel['model'];
  tokenizer: RunModel['tokenizer'];
  release(): void;
}

interface Entry {
  loaded: RunModel;
  /** Leases not yet released. */
  users: number;
  /** Out of the cache: disposed when `users` reaches 0. */
  evicted: boolean;
}

export class ModelCache {
  /** By `runId:kind`, least recently used first. */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: RunStore,
    readonly size = 3,
  ) {}

  /** A run's model (best or latest checkpoint), loaded or reused, lent until the lease is released. */
  acquire(runId: number, kind: 'best' | 'latest'): ModelLease {
    const entry = this.entry(runId, kind);
    entry.users++;
    let released = false;
    return {
      model: entry.loaded.model,
      tokenizer: entry.loaded.tokenizer,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        if (entry.evicted && entry.users === 0) entry.loaded.dispose();
      },
    };
  }

  /** Runs `use` with a run's model, lent for the call. */
  use<T>(runId: number, kind: 'best' | 'latest', use: (lease: ModelLease) => T): T {
    const lease = this.acquire(runId, kind);
    try {
      return use(lease);
    } finally {
      lease.release();
    }
  }

  /** Forgets a run's models (the run is being deleted). */
  forget(runId: number): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${runId}:`)) this.evict(key);
  }

  /** Forgets every model: those not in use are disposed now, the others when their use ends. */
  clear(): void {
    for (const key of [...this.entries.keys()]) this.evict(key);
  }

  private entry(runId: number, kind: 'best' | 'latest'): Entry {
    const key = `${runId}:${kind}`;
    const current = chosenCheckpoint(this.store, runId, kind);
    const cached = this.entries.get(key);
    if (cached && current && cached.loaded.path === current.path && cached.loaded.step === current.step) {
      this.entries.delete(key);
      this.entries.set(key, cached); // most recently used last
      return cached;
    }
    if (cached) this.evict(key);
    const entry: Entry = { loaded: loadRunModel(this.store, runId, kind), users: 0, evicted: false };
    this.entries.set(key, entry);
    for (const oldest of [...this.entries.keys()].slice(0, Math.max(0, this.entries.size - this.size))) this.evict(oldest);
    return entry;
  }

  private evict(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.evicted = true;
    if (entry.users === 0) entry.loaded.dispose();
  }
}
