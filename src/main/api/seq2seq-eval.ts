import { readFileSync } from 'node:fs';
import { PairVocab, UNK_ID, type LinePair, type PairSideKind } from '../../engine/data/pairs';
import { seq2seqMetrics } from '../../engine/eval/seq2seq-metrics';
import { beamSearch } from '../../engine/models/seq2seq-decode';
import { isSeq2SeqConfig } from '../../engine/seq2seq-run';
import { loadSeq2SeqModel, pairsCorpusOf, translateGreedy, type Seq2SeqTrainConfig } from '../../engine/seq2seq-train';
import { UserError } from '../../shared/errors';
import { readCheckpointFolder } from '../store/checkpoint-files';
import { corpusFile } from '../store/paths';
import type { RunStore } from '../store/run-store';
import { chosenCheckpoint } from './run-model';

// `nanolab eval`: how well a seq2seq run's checkpoint translates a set of pairs (a file, or the
// run's own held-out pairs): exact match, character error rate and corpus BLEU of its greedy (or
// beam search) outputs, which source pieces it has never seen (they become <unk>), and a few of
// its mistakes to read.

export interface Seq2SeqEvalOptions {
  checkpoint?: 'best' | 'latest';
  /** Pairs to score (parsed from a TSV or two aligned files, `name` for messages); the run's held-out pairs when absent. */
  pairs?: { pairs: LinePair[]; name: string };
  /** Beam width (1: greedy, batched). */
  beam?: number;
  /** GNMT length penalty α for beam search. */
  lengthPenalty?: number;
  /** Mistakes to return, at most (default 5). */
  examples?: number;
  /** Called after each batch of decoded sources. */
  onProgress?: (done: number, total: number) => void;
}

/** Pieces of one side outside the run's vocabulary: they encode as <unk>. */
export interface UnknownPieces {
  /** How many pieces (characters or words) in all became <unk>. */
  count: number;
  /** In how many pairs. */
  pairs: number;
  /** The distinct pieces, most frequent first (at most 20). */
  pieces: string[];
  /** Distinct pieces in all. */
  distinct: number;
  kind: PairSideKind;
}

export interface Seq2SeqEvalResult {
  run_id: number;
  checkpoint: { kind: string; step: number; path: string };
  /** The file(s) scored, or "held-out pairs of run N". */
  data: string;
  pairs: number;
  decoding: 'greedy' | 'beam';
  beam: number;
  length_penalty: number | null;
  exact_match: number;
  cer: number;
  bleu: number;
  /** BLEU's tokens: characters for a char-level target, words otherwise. */
  bleu_tokens: 'char' | 'whitespace';
  unknown: { source: UnknownPieces; target: UnknownPieces };
  /** The first few pairs whose output is not the reference. */
  mistakes: { line: number; source: string; expected: string; got: string }[];
  /** Wrong outputs in all. */
  wrong: number;
}

/** The pieces of `texts` that `vocab` does not hold. */
export function unknownPieces(texts: readonly string[], vocab: PairVocab): UnknownPieces {
  const counts = new Map<string, number>();
  let count = 0;
  let pairs = 0;
  for (const text of texts) {
    const ids = vocab.encode(text);
    const pieces = PairVocab.split(vocab.lowercase ? text.toLowerCase() : text, vocab.kind);
    let here = 0;
    ids.forEach((id, i) => {
      if (id !== UNK_ID || pieces[i] === '<unk>') return;
      here++;
      counts.set(pieces[i], (counts.get(pieces[i]) ?? 0) + 1);
    });
    count += here;
    if (here > 0) pairs++;
  }
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([p]) => p);
  return { count, pairs, pieces: sorted.slice(0, 20), distinct: sorted.length, kind: vocab.kind };
}

/** The held-out pairs of a seq2seq run, read from the pairs file it trained on. */
export function heldOutPairsOf(home: string, runId: number, stored: { train: Seq2SeqTrainConfig; data: { path: string } }): LinePair[] {
  const path = corpusFile(home, stored.data.path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(
      `run ${runId}'s pairs file ${path} cannot be read (${(error as NodeJS.ErrnoException).code}): give the pairs to score with --pairs FILE.tsv`,
    );
  }
  return pairsCorpusOf(text, path, stored.train).val.map(({ source, target, line }) => ({ source, target, line }));
}

/** Scores a seq2seq run's checkpoint on pairs (see Seq2SeqEvalOptions). */
export function evaluateSeq2SeqRun(store: RunStore, home: string, runId: number, options: Seq2SeqEvalOptions = {}): Seq2SeqEvalResult {
  const run = store.getRun(runId);
  const stored = run.config as { train: unknown; data: { path: string } };
  if (run.family !== 'seq2seq' || !isSeq2SeqConfig(stored?.train)) {
    throw new UserError(`run ${runId} is a ${run.family} run; eval scores a seq2seq run's translations (nanolab train --model seq2seq)`);
  }
  const ck = chosenCheckpoint(store, runId, options.checkpoint ?? 'best');
  if (!ck) throw new UserError(`run ${runId} has no checkpoint yet: one is written at every evaluation (eval_interval) and when a run stops`);
  const beam = options.beam ?? 1;
  if (!(Number.isInteger(beam) && beam >= 1)) throw new UserError(`the beam width (${beam}) must be a whole number ≥ 1`);
  const lengthPenalty = options.lengthPenalty ?? 0.6;
  const pairs = options.pairs?.pairs ?? heldOutPairsOf(home, runId, stored as { train: Seq2SeqTrainConfig; data: { path: string } });
  const name = options.pairs?.name ?? `the held-out pairs of run ${runId}`;
  if (pairs.length === 0) throw new UserError(`${name} holds no pairs: give at least one source<TAB>target line`);
  const { model, source: srcVocab, target: tgtVocab } = loadSeq2SeqModel(readCheckpointFolder(ck.path));
  try {
    const max = model.config.max_seq_length;
    const sources = pairs.map((p) => {
      const ids = srcVocab.encode(p.source);
      if (ids.length > max) {
        throw new UserError(
          `line ${p.line} of ${name}: the source is ${ids.length} tokens, more than the run's max_seq_length (${max}): shorten it or leave that pair out`,
        );
      }
      return ids;
    });
    const outputs: string[] = [];
    const batch = beam === 1 ? 64 : 1;
    for (let i = 0; i < sources.length; i += batch) {
      const some = sources.slice(i, i + batch);
      if (beam === 1) outputs.push(...translateGreedy(model, { source: srcVocab, target: tgtVocab }, some, batch));
      else for (const ids of some) outputs.push(tgtVocab.decode(beamSearch(model, ids, { beamWidth: beam, lengthPenalty, nBest: 1, maxNew: max - 1 })[0].ids));
      options.onProgress?.(outputs.length, sources.length);
    }
    const references = pairs.map((p) => p.target);
    const bleuTokens = tgtVocab.kind === 'char' ? 'char' : 'whitespace';
    const metrics = seq2seqMetrics(outputs, references, { tokenize: bleuTokens });
    const wrongAt = outputs.flatMap((out, i) => (out === references[i] ? [] : [i]));
    return {
      run_id: runId,
      checkpoint: { kind: ck.kind, step: ck.step, path: ck.path },
      data: name,
      pairs: pairs.length,
      decoding: beam === 1 ? 'greedy' : 'beam',
      beam,
      length_penalty: beam === 1 ? null : lengthPenalty,
      exact_match: metrics.exact_match,
      cer: metrics.cer,
      bleu: metrics.bleu,
      bleu_tokens: bleuTokens,
      unknown: {
        source: unknownPieces(
          pairs.map((p) => p.source),
          srcVocab,
        ),
        target: unknownPieces(references, tgtVocab),
      },
      mistakes: wrongAt
        .slice(0, options.examples ?? 5)
        .map((i) => ({ line: pairs[i].line, source: pairs[i].source, expected: references[i], got: outputs[i] })),
      wrong: wrongAt.length,
    };
  } finally {
    model.dispose();
  }
}
