import { attentionArithmetic } from '../../engine/analysis/attention-arithmetic';
import { BOS_ID, PairVocab } from '../../engine/data/pairs';
import { greedyDecodeCached } from '../../engine/models/seq2seq-decode';
import { loadSeq2SeqModel } from '../../engine/seq2seq-train';
import type { parseRequest, Response } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { readCheckpointFolder } from '../store/checkpoint-files';
import type { RunStore } from '../store/run-store';
import { chosenCheckpoint } from './run-model';

// The Attention arithmetic view's server side: a seq2seq run's checkpoint, a source and a target
// (the model's greedy output when none is given), and the step-by-step numbers of one query of
// one head (engine/analysis/attention-arithmetic.ts), with the tokens that label them.

/** As the contract parsed it (defaults filled in). */
type ArithmeticRequest = ReturnType<typeof parseRequest<'seq2seq.arithmetic'>>;
type ArithmeticResponse = Response<'seq2seq.arithmetic'>;

/** The ids of a text, refused in one sentence when it has pieces its vocabulary lacks (the model would read <unk>). */
function encodeKnown(text: string, vocab: PairVocab, side: 'source' | 'target'): Int32Array {
  const known = new Set(vocab.vocab);
  const pieces = PairVocab.split(vocab.lowercase ? text.toLowerCase() : text, vocab.kind);
  const unknown = [...new Set(pieces.filter((p) => !known.has(p)))];
  if (unknown.length > 0) {
    const what = vocab.kind === 'char' ? 'characters' : 'words';
    throw new UserError(
      `the ${side} has ${what} this model never saw: ${unknown.map((p) => JSON.stringify(p)).join(' ')}; remove them or use only ${what} of the run's pairs`,
    );
  }
  return vocab.encode(text);
}

export function seq2seqArithmetic(store: RunStore, request: ArithmeticRequest): ArithmeticResponse {
  const { runId, checkpoint: kind, source } = request;
  const run = store.getRun(runId);
  if (run.family !== 'seq2seq') {
    throw new UserError(
      `run ${runId} is a ${run.family} language model, not an encoder–decoder (seq2seq): this view needs a source and a target; pick a seq2seq run, or see a GPT's attention in the Attention view`,
    );
  }
  const ck = chosenCheckpoint(store, runId, kind);
  if (!ck) throw new UserError(`run ${runId} has no checkpoint yet: one is written at every evaluation (eval_interval) and when a run stops`);
  const { model, source: srcVocab, target: tgtVocab } = loadSeq2SeqModel(readCheckpointFolder(ck.path));
  try {
    const maxSeq = model.config.max_seq_length;
    if (source.length === 0) throw new UserError('the source is empty: type a source text');
    const src = encodeKnown(source, srcVocab, 'source');
    if (src.length > maxSeq) throw new UserError(`the source is ${src.length} tokens, more than max_seq_length (${maxSeq}): shorten it`);
    const given = request.target ?? null;
    let targetIds: Int32Array;
    if (given === null) {
      const decoded = greedyDecodeCached(model, src, { maxNew: maxSeq - 1 });
      targetIds = tgtVocab.encode(tgtVocab.decode(decoded.ids));
    } else {
      targetIds = encodeKnown(given, tgtVocab, 'target');
    }
    if (targetIds.length + 1 > maxSeq) {
      throw new UserError(`the target is ${targetIds.length} tokens; with <bos> that is more than max_seq_length (${maxSeq}): shorten it`);
    }
    const decoderInput = Int32Array.from([BOS_ID, ...targetIds]);
    const sourceTokens = Array.from(src, (id) => srcVocab.vocab[id]);
    const targetTokens = Array.from(decoderInput, (id) => tgtVocab.vocab[id]);
    const a = attentionArithmetic(model, {
      src,
      decoderInput,
      kind: request.kind,
      layer: request.layer,
      head: request.head,
      query: request.query,
      sourceLabels: sourceTokens,
      targetLabels: targetTokens,
    });
    const { model: _ownNumbers, ...numbers } = a;
    return {
      ...numbers,
      runId,
      checkpoint: { kind: ck.kind as 'best' | 'latest', step: ck.step },
      source,
      target: tgtVocab.decode(targetIds),
      targetFromModel: given === null,
      sourceTokens,
      targetTokens,
    };
  } finally {
    model.dispose();
  }
}
