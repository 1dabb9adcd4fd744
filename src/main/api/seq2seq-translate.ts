import { Graph } from '../../engine/autograd';
import { encodeSourceText, PAD_ID, PairVocab, UNK_ID } from '../../engine/data/pairs';
import type { Seq2Seq } from '../../engine/models/seq2seq';
import { beamSearch, greedyDecodeCached, logSoftmax, type DecodedToken } from '../../engine/models/seq2seq-decode';
import { Rng } from '../../engine/rng';
import { loadSeq2SeqModel } from '../../engine/seq2seq-train';
import type { Request, Response } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { readCheckpointFolder } from '../store/checkpoint-files';
import type { RunStore } from '../store/run-store';
import { chosenCheckpoint } from './run-model';

// The Translate view's server side: one source decoded greedily and by beam search with a seq2seq
// run's checkpoint, each output token with its probability, and for the greedy and the best beam
// output the attention maps of a teacher-forced forward pass over the source and that output
// (the decoder fed <bos> and the output's tokens but its last): the same numbers the decoder
// produced step by step with its KV cache, now as whole matrices (tests/api/seq2seq-translate).

type TranslateRequest = Request<'seq2seq.translate'>;
type TranslateResponse = Response<'seq2seq.translate'>;
type Output = TranslateResponse['greedy'];

/** [layer][head][row][column] of a (1, nh, rows, cols) probability tensor per layer. */
export interface AttentionMaps {
  /** Decoder layers × heads × target positions × source positions. */
  cross: number[][][][];
  /** Decoder layers × heads × target × target (0 above the diagonal: the look-ahead mask). */
  decoderSelf: number[][][][];
  /** Encoder layers × heads × source × source. */
  encoderSelf: number[][][][];
}

/**
 * The teacher-forced forward pass of one source and one output: the decoder reads <bos> and the
 * output's ids but its last (what it was fed while decoding it), so row t of every decoder map is
 * the step that chose output token t. Returns the maps and each output token's probability.
 */
export function teacherForced(model: Seq2Seq, src: ArrayLike<number>, output: readonly number[]): AttentionMaps & { probs: number[] } {
  const { bos_id: bos } = model.config;
  const S = src.length;
  const T = output.length;
  if (T === 0) throw new Error('teacherForced: an output of no tokens has no decoder steps');
  const decoderInput = Int32Array.from([bos, ...output.slice(0, -1)]);
  const backend = model.backend;
  return backend.scoped(() => {
    const g = new Graph(backend, new Rng(0), false, false);
    const out = model.forward(g, { src: Int32Array.from(src), S, decoderInput, T, B: 1 });
    const maps = (layers: typeof out.attention.decoderCross) =>
      layers.map((t) => {
        const [, nh, rows, cols] = t.shape;
        const data = backend.read(t);
        return Array.from({ length: nh }, (_, h) =>
          Array.from({ length: rows }, (_, r) => Array.from(data.subarray((h * rows + r) * cols, (h * rows + r + 1) * cols))),
        );
      });
    const logits = backend.read(out.logits);
    const V = out.logits.shape[2];
    const probs = output.map((id, t) => Math.exp(logSoftmax(logits.subarray(t * V, (t + 1) * V))[id]));
    return { cross: maps(out.attention.decoderCross), decoderSelf: maps(out.attention.decoderSelf), encoderSelf: maps(out.attention.encoderSelf), probs };
  });
}

/** The pieces of a source text the vocabulary does not hold (each once, in order): the model reads them as <unk>. */
export function unknownPieces(text: string, vocab: PairVocab): string[] {
  const known = new Set(vocab.vocab);
  const pieces = PairVocab.split(vocab.lowercase ? text.toLowerCase() : text, vocab.kind);
  return [...new Set(pieces.filter((p) => !known.has(p)))];
}

function tokensOf(tokens: readonly DecodedToken[], target: PairVocab): Output['tokens'] {
  return tokens.map((t) => ({ id: t.id, token: target.vocab[t.id], prob: t.prob, logProb: t.logProb }));
}

/** Decodes `request.source` with the run's checkpoint: greedy, beam search, and the attention of both best outputs. */
export function translate(store: RunStore, request: TranslateRequest): TranslateResponse {
  const { runId, checkpoint: kind, source } = request;
  const beamWidth = request.beamWidth ?? 4;
  const lengthPenalty = request.lengthPenalty ?? 0.6;
  const run = store.getRun(runId);
  if (run.family !== 'seq2seq') {
    throw new UserError(
      `run ${runId} is a ${run.family} language model, not an encoder–decoder (seq2seq): it continues a prompt rather than translating a source, so open it in the Sample view, or pick a seq2seq run here`,
    );
  }
  const ck = chosenCheckpoint(store, runId, kind);
  if (!ck) throw new UserError(`run ${runId} has no checkpoint yet: one is written at every evaluation (eval_interval) and when a run stops`);
  const { model, source: srcVocab, target } = loadSeq2SeqModel(readCheckpointFolder(ck.path));
  try {
    const maxSeq = model.config.max_seq_length;
    if (source.length === 0) throw new UserError('the source is empty: type something to translate');
    const ids = [...encodeSourceText(source, srcVocab, maxSeq)];
    const unknown = unknownPieces(source, srcVocab);
    const padTo = request.padTo ?? 0;
    if (padTo > maxSeq) throw new UserError(`padding the source to ${padTo} tokens is more than max_seq_length (${maxSeq}): choose at most ${maxSeq}`);
    const src = [...ids, ...new Array<number>(Math.max(0, padTo - ids.length)).fill(PAD_ID)];
    // the decoder's positions: <bos> and the output but its last token, at most max_seq_length
    const maxNew = Math.min(request.maxLength ?? maxSeq - 1, maxSeq);
    const withMaps = (out: Omit<Output, 'attention'>): Output => {
      const { probs: _probs, ...maps } = teacherForced(
        model,
        src,
        out.tokens.map((t) => t.id),
      );
      return { ...out, attention: maps };
    };
    const greedy = greedyDecodeCached(model, src, { maxNew });
    const hyps = beamSearch(model, src, { beamWidth, lengthPenalty, nBest: beamWidth, maxNew });
    const beam = hyps.map((h, i) => {
      const out = { text: target.decode(h.ids), tokens: tokensOf(h.tokens, target), logProb: h.logProb, score: h.score, finished: h.finished };
      return i === 0 ? withMaps(out) : { ...out, attention: null };
    });
    const greedyLogProb = greedy.tokens.reduce((s, t) => s + t.logProb, 0);
    return {
      runId,
      checkpoint: { kind: ck.kind as 'best' | 'latest', step: ck.step },
      source,
      sourceIds: src,
      sourceTokens: src.map((id) => srcVocab.vocab[id]),
      sourcePadding: src.map((id) => id === PAD_ID),
      unknown,
      notice:
        unknown.length === 0
          ? null
          : `${unknown.map((p) => JSON.stringify(p)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the source vocabulary: the model reads ${unknown.length === 1 ? 'it' : 'each'} as <unk> (id ${UNK_ID}), which it rarely or never saw in training, so expect a poor translation; use only characters of the task's pairs`,
      maxNew,
      maxSeqLength: maxSeq,
      greedy: withMaps({
        text: target.decode(greedy.ids),
        tokens: tokensOf(greedy.tokens, target),
        logProb: greedyLogProb,
        score: greedyLogProb,
        finished: greedy.finished,
      }),
      beam: { width: beamWidth, lengthPenalty, hypotheses: beam },
    };
  } finally {
    model.dispose();
  }
}
