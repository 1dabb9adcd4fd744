import { restoreTrainer } from '../engine/checkpoint/checkpoint';
import type { TokenizerSpec } from '../engine/data/tokenizer';
import { readCheckpointFolder } from '../store/checkpoint-files';
import type { RunStore } from '../store/run-store';
import { loadCorpus } from './run-loop';

// A run's trained model, read back from its checkpoint folder, for the read-side tools (sample,
// surprise, embeddings, attention, export) of the CLI and the app alike.

export interface StoredData {
  data: { path: string; lowercase: boolean; tokenizer?: TokenizerSpec };
}

/** Which checkpoint a read-side tool uses: the one asked for, or latest when no best was written yet. */
export function chosenCheckpoint(store: RunStore, id: number, kind: 'best' | 'latest' = 'best') {
  const all = store.checkpoints(id);
  return all.find((x) => x.kind === kind) ?? all.find((x) => x.kind === 'latest') ?? null;
}

/** The files of a run's checkpoint (best by default; latest when no best was written yet). */
export function checkpointFiles(store: RunStore, id: number, kind: 'best' | 'latest' = 'best'): { files: Record<string, Uint8Array>; path: string; step: number } {
  const c = chosenCheckpoint(store, id, kind);
  if (!c) throw new Error(`run ${id} has no checkpoint yet: one is written at every evaluation (eval_interval) and when a run stops`);
  return { files: readCheckpointFolder(c.path), path: c.path, step: c.step };
}

/** A run's model restored from its checkpoint, with the tokenizer it was trained with. */
export function loadRunModel(store: RunStore, id: number, kind: 'best' | 'latest' = 'best') {
  const stored = store.getRun(id).config as StoredData;
  const { files, path, step } = checkpointFiles(store, id, kind);
  return { ...restoreTrainer(files, loadCorpus(stored.data.path, stored.data.lowercase, stored.data.tokenizer)), path, step };
}
