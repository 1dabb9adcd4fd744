import { readFileSync } from 'node:fs';
import { isSeq2SeqConfig } from '../../engine/seq2seq-run';
import type { Corpus } from '../../engine/data/corpus';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import { readCheckpointFolder, writeCheckpointFolder } from '../store/checkpoint-files';
import { loadCorpusFile } from './corpus-file';
import { checkpointDir, corpusFile } from '../store/paths';
import { runTraining, type RunControl, type RunEvent, type RunSettings } from '../../engine/run';

// A run on the CPU, inside a worker thread (jobs/worker.ts): the training loop of engine/run.ts with
// the text read from disk and checkpoints written to the run's folders.

export type { RunControl, RunEvent } from '../../engine/run';

export interface RunSpec extends RunSettings {
  home: string;
  /** The corpus as the run stores it: relative to the lab home, bundled:NAME, or (older runs) absolute. */
  dataPath: string;
}

/** A corpus file (a path the caller resolved), tokenized and split within the corpus limit in force. */
export function loadCorpus(path: string, lowercase = false, tokenizer: TokenizerSpec = { kind: 'char' }): Corpus {
  return loadCorpusFile(path, { lowercase, tokenizer });
}

export async function executeRun(spec: RunSpec, control: RunControl, emit: (e: RunEvent) => void): Promise<void> {
  const latest = checkpointDir(spec.home, spec.runId, 'latest');
  const path = corpusFile(spec.home, spec.dataPath);
  await runTraining(
    spec,
    {
      // tokenized here, from the file: a large text never becomes one string
      // a seq2seq run reads its pairs (a TSV, small) as one text
      text: isSeq2SeqConfig(spec.config as unknown) ? readFileSync(path, 'utf8') : loadCorpus(path, spec.lowercase, spec.tokenizer),
      textName: path,
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
    },
    control,
    emit,
  );
}
