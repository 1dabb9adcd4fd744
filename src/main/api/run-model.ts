import { EXPORTED_FILES, restoreModel, validateCheckpoint } from '../../engine/checkpoint/checkpoint';
import { encodeSeq2SeqExport } from '../../engine/checkpoint/seq2seq-export';
import { loadSeq2SeqModel } from '../../engine/seq2seq-train';
import { readCheckpointFolder } from '../store/checkpoint-files';
import type { RunStore } from '../store/run-store';
import { UserError } from '../../shared/errors';

// A run's trained model, read back from its checkpoint folder alone (the folder holds the
// tokenizer; the training text is needed only to resume), for the read-side tools (sample,
// surprise, embeddings, attention, export) of the CLI and the app alike.

/** Which checkpoint a read-side tool uses: the one asked for, or latest when no best was written yet. */
export function chosenCheckpoint(store: RunStore, id: number, kind: 'best' | 'latest' = 'best') {
  const all = store.checkpoints(id);
  return all.find((x) => x.kind === kind) ?? all.find((x) => x.kind === 'latest') ?? null;
}

/** Reads the chosen checkpoint's folder and runs `use` on its files; a refusal names the run and the checkpoint. */
function withCheckpoint<T>(
  store: RunStore,
  id: number,
  kind: 'best' | 'latest',
  use: (files: Record<string, Uint8Array>) => T,
): T & { path: string; step: number } {
  store.getRun(id); // "no run with id N" before "no checkpoint"
  const c = chosenCheckpoint(store, id, kind);
  if (!c) throw new UserError(`run ${id} has no checkpoint yet: one is written at every evaluation (eval_interval) and when a run stops`);
  const files = readCheckpointFolder(c.path);
  let result: T;
  try {
    result = use(files);
  } catch (error) {
    throw new UserError(`run ${id}'s ${c.kind} checkpoint (step ${c.step}, ${c.path}): ${(error as Error).message}`);
  }
  return { ...result, path: c.path, step: c.step };
}

/** The files of a run's checkpoint (best by default; latest when no best was written yet), validated for export. */
export function checkpointFiles(
  store: RunStore,
  id: number,
  kind: 'best' | 'latest' = 'best',
): { files: Record<string, Uint8Array>; path: string; step: number } {
  return withCheckpoint(store, id, kind, (files) => {
    validateCheckpoint(files, 'inference');
    return { files };
  });
}

/**
 * What an export writes for a run's checkpoint: a language model's model.safetensors, config.json
 * and tokenizer.json as they are; an encoder–decoder's model in the lesson's PyTorch layout
 * (model.safetensors with both `pe` buffers, config.json of format nanolab-seq2seq, and the
 * source_tokenizer.json / target_tokenizer.json of its two vocabularies).
 */
export function exportedCheckpointFiles(
  store: RunStore,
  id: number,
  kind: 'best' | 'latest' = 'best',
): { files: Record<string, Uint8Array>; path: string; step: number } {
  if (store.getRun(id).family === 'seq2seq') {
    return withCheckpoint(store, id, kind, (files) => {
      const { model, source, target } = loadSeq2SeqModel(files);
      try {
        return { files: encodeSeq2SeqExport(model, { source, target }) };
      } finally {
        model.dispose();
      }
    });
  }
  const { files, path, step } = checkpointFiles(store, id, kind);
  return { files: Object.fromEntries(EXPORTED_FILES.map((n) => [n, files[n]])), path, step };
}

/** A run's model restored from its checkpoint, with the tokenizer it was trained with; the caller disposes it. */
export function loadRunModel(store: RunStore, id: number, kind: 'best' | 'latest' = 'best') {
  // an encoder–decoder reads a source and writes a target: the language-model tools (sample,
  // surprise, embeddings, next-token bars) do not apply, and say what does
  if (store.getRun(id).family === 'seq2seq') {
    throw new UserError(
      `run ${id} is an encoder–decoder (seq2seq): it translates a source text rather than continuing a prompt, so this tool (made for the RNN, LSTM, GRU and GPT language models) does not apply; translate with \`nanolab translate ${id} "text"\``,
    );
  }
  return withCheckpoint(store, id, kind, (files) => restoreModel(files));
}
