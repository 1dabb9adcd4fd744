import { Graph } from '../autograd';
import { UserError } from '../errors';
import { Rng } from '../rng';
import type { Linear } from '../nn/linear';
import type { MultiHeadAttention } from '../nn/encoder-decoder';
import type { Seq2Seq } from '../models/seq2seq';
import type { Tensor } from '../tensor';

// The attention lesson's arithmetic for one query of a trained encoder–decoder, with that model's
// own numbers: q = x·W_qᵀ + b for one head, its keys K and values V, the scores q·kᵀ, ÷√d_k,
// + mask·(−1e9), the softmax, and weights·V. The teacher-forced forward pass runs once; the
// chosen attention module's inputs are taken as it sees them (after the layer norm in pre-LN,
// the residual stream itself in post-LN), the rest is computed here in float64 and checked
// against the module's own softmax row and its head's slice of the output before W_o.

export const ATTENTION_KINDS = ['encoder', 'decoder', 'cross'] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

/** What the lesson adds to a masked score: mask · −1e9. */
export const MASK_VALUE = -1e9;

export interface AttentionArithmeticInput {
  /** Source ids (S), padding allowed (pad_id is masked as a key). */
  src: ArrayLike<number>;
  /** The decoder input (T): <bos> then the target's tokens, teacher-forced. */
  decoderInput: ArrayLike<number>;
  kind: AttentionKind;
  layer: number;
  head: number;
  /** The query's position in its sequence: the source for encoder, the decoder input for decoder and cross. */
  query: number;
  /** Token texts of the source and decoder-input positions (ids as text when left out). */
  sourceLabels?: readonly string[];
  targetLabels?: readonly string[];
}

export interface AttentionArithmetic {
  kind: AttentionKind;
  layer: number;
  head: number;
  query: number;
  dModel: number;
  dK: number;
  numHeads: number;
  numLayers: number;
  normPosition: 'pre' | 'post';
  /** The query sequence's tokens (source for encoder, decoder input otherwise) and the key positions' tokens. */
  queryLabels: string[];
  keyLabels: string[];
  /** The row W_q sees (d_model). */
  x: number[];
  /** x·W_qᵀ + b_q, this head's d_k columns. */
  q: number[];
  /** One row per key position (Tk × d_k): this head's keys and values. */
  keys: number[][];
  values: number[][];
  /** q·k for every key (Tk). */
  scores: number[];
  /** scores ÷ √d_k. */
  scaled: number[];
  /** 1 = masked (the lesson's convention), 0 = kept (Tk). */
  mask: number[];
  /** scaled + mask · −1e9. */
  masked: number[];
  /** softmax(masked): the attention weights (Tk), summing to 1. */
  weights: number[];
  /** weights · V (d_k). */
  output: number[];
  /** The model's own numbers for the same row, from its forward pass (float32). */
  model: { weights: number[]; output: number[] };
  /** Largest |difference| between this arithmetic and the model's numbers. */
  check: { weights: number; output: number };
}

function checkIndex(what: string, value: number, count: number, advice: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= count) {
    throw new UserError(`${what} ${value} is out of range: this model has ${count} (0 … ${count - 1}); ${advice}`);
  }
}

/** Rows h·d_k … (h+1)·d_k − 1 of a Linear applied to one input row, in float64. */
function headProjection(weight: Float32Array, bias: Float32Array | null, x: ArrayLike<number>, head: number, dK: number): number[] {
  const dIn = x.length;
  const out: number[] = [];
  for (let j = head * dK; j < (head + 1) * dK; j++) {
    let s = bias ? bias[j] : 0;
    for (let i = 0; i < dIn; i++) s += x[i] * weight[j * dIn + i];
    out.push(s);
  }
  return out;
}

function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

/** The module a kind of attention runs in, at a layer. */
function attentionModule(model: Seq2Seq, kind: AttentionKind, layer: number): MultiHeadAttention {
  if (kind === 'encoder') return model.encoderLayers[layer].mha;
  return kind === 'decoder' ? model.decoderLayers[layer].mha1 : model.decoderLayers[layer].mha2;
}

/** What the chosen module saw and produced in one forward pass: its inputs, its mask and the heads before W_o. */
interface Captured {
  query: Float32Array;
  keyValue: Float32Array;
  mask: Float32Array | null;
  heads: Float32Array;
}

/** Runs the teacher-forced forward pass with `mha` observed; returns what it saw and the softmax of its layer. */
function observe(model: Seq2Seq, mha: MultiHeadAttention, input: AttentionArithmeticInput): { captured: Captured; probs: Float32Array } {
  const backend = model.backend;
  const copy = (t: Tensor) => Float32Array.from(backend.read(t));
  let captured: Partial<Captured> = {};
  const forward = mha.forward;
  const outputProjection: Linear = mha.wO;
  const projectOut = outputProjection.forward;
  mha.forward = (g, query, keyValue, mask) => {
    captured = { query: copy(query), keyValue: copy(keyValue), mask: mask ? copy(mask) : null };
    return forward.call(mha, g, query, keyValue, mask);
  };
  outputProjection.forward = (g, x) => {
    captured.heads = copy(x);
    return projectOut.call(outputProjection, g, x);
  };
  try {
    return backend.scoped(() => {
      const S = input.src.length,
        T = input.decoderInput.length;
      const g = new Graph(backend, new Rng(0), false, false);
      const out = model.forward(g, { B: 1, S, T, src: Int32Array.from(input.src), decoderInput: Int32Array.from(input.decoderInput) });
      const maps = input.kind === 'encoder' ? out.attention.encoderSelf : input.kind === 'decoder' ? out.attention.decoderSelf : out.attention.decoderCross;
      if (!captured.query || !captured.heads) throw new Error('the attention module was not called in the forward pass');
      return { captured: captured as Captured, probs: copy(maps[input.layer]) };
    });
  } finally {
    Reflect.deleteProperty(mha, 'forward');
    Reflect.deleteProperty(outputProjection, 'forward');
  }
}

/**
 * Q·Kᵀ, ÷√d_k, + mask·(−1e9), softmax, ×V for one query of one head, with the model's numbers.
 * Throws a UserError for a layer, head or query out of range, or a sequence longer than the model's table.
 */
export function attentionArithmetic(model: Seq2Seq, input: AttentionArithmeticInput): AttentionArithmetic {
  const c = model.config;
  const { kind, layer, head, query } = input;
  if (!ATTENTION_KINDS.includes(kind)) throw new UserError(`unknown attention kind "${String(kind)}": use one of ${ATTENTION_KINDS.join(', ')}`);
  const S = input.src.length,
    T = input.decoderInput.length;
  if (S < 1) throw new UserError('the source is empty: type a source text');
  if (T < 1) throw new UserError('the decoder input is empty: it starts with <bos>');
  for (const [name, n] of [
    ['source', S],
    ['decoder input', T],
  ] as const) {
    if (n > c.max_seq_length) throw new UserError(`the ${name} is ${n} tokens, more than max_seq_length (${c.max_seq_length}): shorten it`);
  }
  checkIndex('layer', layer, c.num_layers, 'pick a layer from the list');
  checkIndex('head', head, c.num_heads, 'pick a head from the list');
  const Tq = kind === 'encoder' ? S : T;
  const Tk = kind === 'decoder' ? T : S;
  if (!Number.isInteger(query) || query < 0 || query >= Tq) {
    const seq = kind === 'encoder' ? 'the source' : 'the decoder input (<bos> and the target)';
    throw new UserError(`query position ${query} is out of range: ${seq} has ${Tq} tokens (positions 0 … ${Tq - 1}); click one of its tokens`);
  }

  const dModel = c.d_model,
    dK = dModel / c.num_heads;
  const mha = attentionModule(model, kind, layer);
  const { captured, probs } = observe(model, mha, input);
  const read = (linear: Linear) => ({
    weight: Float32Array.from(model.backend.read(linear.weight)),
    bias: linear.bias ? Float32Array.from(model.backend.read(linear.bias)) : null,
  });
  const wQ = read(mha.wQ),
    wK = read(mha.wK),
    wV = read(mha.wV);

  const x = Array.from(captured.query.subarray(query * dModel, (query + 1) * dModel));
  const q = headProjection(wQ.weight, wQ.bias, x, head, dK);
  const keys: number[][] = [],
    values: number[][] = [];
  for (let p = 0; p < Tk; p++) {
    const row = captured.keyValue.subarray(p * dModel, (p + 1) * dModel);
    keys.push(headProjection(wK.weight, wK.bias, row, head, dK));
    values.push(headProjection(wV.weight, wV.bias, row, head, dK));
  }
  const scores = keys.map((k) => k.reduce((s, v, j) => s + v * q[j], 0));
  const sqrtDk = Math.sqrt(dK);
  const scaled = scores.map((s) => s / sqrtDk);
  // the mask as the model got it: (1, 1, S) broadcast over queries, or (1, T, T) one row per query
  const m = captured.mask;
  const mask = Array.from({ length: Tk }, (_, p) => (m === null ? 0 : m.length === Tk ? m[p] : m[query * Tk + p]));
  const masked = scaled.map((s, p) => s + mask[p] * MASK_VALUE);
  const weights = softmax(masked);
  const output = Array.from({ length: dK }, (_, j) => weights.reduce((s, w, p) => s + w * values[p][j], 0));

  const modelWeights = Array.from(probs.subarray((head * Tq + query) * Tk, (head * Tq + query + 1) * Tk));
  const modelOutput = Array.from(captured.heads.subarray(query * dModel + head * dK, query * dModel + (head + 1) * dK));
  const label = (labels: readonly string[] | undefined, ids: ArrayLike<number>) => Array.from(ids, (id, i) => labels?.[i] ?? String(id));
  const sourceLabels = label(input.sourceLabels, input.src),
    targetLabels = label(input.targetLabels, input.decoderInput);
  return {
    kind,
    layer,
    head,
    query,
    dModel,
    dK,
    numHeads: c.num_heads,
    numLayers: c.num_layers,
    normPosition: c.norm_position,
    queryLabels: kind === 'encoder' ? sourceLabels : targetLabels,
    keyLabels: kind === 'decoder' ? targetLabels : sourceLabels,
    x,
    q,
    keys,
    values,
    scores,
    scaled,
    mask,
    masked,
    weights,
    output,
    model: { weights: modelWeights, output: modelOutput },
    check: { weights: maxAbsDiff(weights, modelWeights), output: maxAbsDiff(output, modelOutput) },
  };
}
