import { readFileSync } from 'node:fs';
import { decodeText, type Corpus } from '../engine/data/corpus';
import type { TokenizerSpec } from '../engine/data/tokenizer';
import { readCheckpointFolder, writeCheckpointFolder } from '../store/checkpoint-files';
import { checkpointDir } from './lab-home';
import { corpusOf, runTraining, type RunControl, type RunEvent, type RunSettings } from './run-core';

// A run on the CPU, inside a worker thread (jobs/worker.ts): the training loop of run-core.ts with
// the text read from disk and checkpoints written to the run's folders.

export type { RunControl, RunEvent } from './run-core';

export interface RunSpec extends RunSettings {
  home: string;
  /** The corpus file; the bundled corpus by its path too. */
  dataPath: string;
}

export function loadCorpus(path: string, lowercase = false, tokenizer: TokenizerSpec = { kind: 'char' }): Corpus {
  return corpusOf(decodeText(new Uint8Array(readFileSync(path)), path), lowercase, tokenizer);
}

export async function executeRun(spec: RunSpec, control: RunControl, emit: (e: RunEvent) => void): Promise<void> {
  const latest = checkpointDir(spec.home, spec.runId, 'latest');
  await runTraining(spec, {
    text: decodeText(new Uint8Array(readFileSync(spec.dataPath)), spec.dataPath),
    textName: spec.dataPath,
    readLatest: () => readCheckpointFolder(latest),
    saveCheckpoint(files, step, valLoss, best) {
      writeCheckpointFolder(latest, files);
      emit({ type: 'checkpoint', step, path: latest, valLoss, kind: 'latest' });
      if (best) {
        const dir = checkpointDir(spec.home, spec.runId, 'best');
        writeCheckpointFolder(dir, files);
        emit({ type: 'checkpoint', step, path: dir, valLoss, kind: 'best' });
      }
    },
  }, control, emit);
}
