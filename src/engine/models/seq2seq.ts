import type { Backend } from '../backend/backend';
import { Graph } from '../autograd';
import { SettingError } from '../errors';
import { Embedding } from '../nn/embedding';
import { DecoderLayer, EncoderLayer, PositionalEncodingBuffer, type NormKind } from '../nn/encoder-decoder';
import { Linear, torchDefaultLinearInit } from '../nn/linear';
import { ParameterStore } from '../nn/parameters';
import { Rng } from '../rng';
import type { Tensor } from '../tensor';

// The full Transformer of the attention lesson: an encoder over the source, a decoder with masked
// self-attention and cross-attention over the encoder's output, in the lesson's module tree
// (encoder.embedding, encoder.encoder_layers.{i}.mha.W_q …, decoder.decoder_layers.{i}.mha1/mha2,
// final_layer), so its parameters and `pe` buffers are the lesson's state_dict name for name.

export interface Seq2SeqConfig {
  family: 'seq2seq';
  src_vocab_size: number;
  tgt_vocab_size: number;
  d_model: number;
  num_heads: number;
  /** Encoder layers and decoder layers (N of each). */
  num_layers: number;
  d_ff: number;
  /** Rows of the sinusoidal table: the longest source or target sequence. */
  max_seq_length: number;
  /** `torch`: nn.LayerNorm (eps 1e-5); `seed`: the lesson's gamma · (x − mean) / (std + 1e-6) + beta, unbiased std. */
  layer_norm: NormKind;
  /** post: the lesson's Add & Norm, norm(x + f(x)); pre: x + f(norm(x)). */
  norm_position: 'pre' | 'post';
  /** After the embeddings + positions and after every sublayer, before its residual add. */
  dropout: number;
  pad_id: number;
  bos_id: number;
  eos_id: number;
}

/** The lesson's architecture at a size that trains on a laptop's CPU. */
export const SEQ2SEQ_DEFAULTS: Omit<Seq2SeqConfig, 'family' | 'src_vocab_size' | 'tgt_vocab_size'> = {
  d_model: 128,
  num_heads: 4,
  num_layers: 2,
  d_ff: 512,
  max_seq_length: 64,
  layer_norm: 'torch',
  norm_position: 'post',
  dropout: 0.1,
  pad_id: 0,
  bos_id: 1,
  eos_id: 2,
};

export function resolveSeq2SeqConfig(srcVocabSize: number, tgtVocabSize: number, overrides: Record<string, unknown> = {}): Seq2SeqConfig {
  const config = { ...SEQ2SEQ_DEFAULTS, ...overrides, family: 'seq2seq', src_vocab_size: srcVocabSize, tgt_vocab_size: tgtVocabSize } as Seq2SeqConfig;
  validateSeq2SeqConfig(config);
  return config;
}

/** Throws a SettingError that names the field, its value and what is allowed. */
export function validateSeq2SeqConfig(config: Seq2SeqConfig): void {
  const known = new Set([...Object.keys(SEQ2SEQ_DEFAULTS), 'family', 'src_vocab_size', 'tgt_vocab_size']);
  for (const key of Object.keys(config)) {
    if (!known.has(key)) throw new SettingError(key, `unknown setting "${key}" for a seq2seq model; known settings: ${[...known].sort().join(', ')}`);
  }
  const c = config as unknown as Record<string, unknown>;
  for (const key of ['src_vocab_size', 'tgt_vocab_size', 'd_model', 'num_heads', 'num_layers', 'd_ff', 'max_seq_length']) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new SettingError(key, `${key} (${String(v)}) must be a positive integer`);
  }
  if (config.d_model % config.num_heads !== 0) {
    throw new SettingError('d_model', `d_model (${config.d_model}) must be divisible by num_heads (${config.num_heads})`);
  }
  if (config.d_model % 2 !== 0) throw new SettingError('d_model', `d_model (${config.d_model}) must be even for the sinusoidal table`);
  if (!['torch', 'seed'].includes(config.layer_norm))
    throw new SettingError('layer_norm', `layer_norm (${String(config.layer_norm)}) must be one of torch, seed`);
  if (!['pre', 'post'].includes(config.norm_position)) {
    throw new SettingError('norm_position', `norm_position (${String(config.norm_position)}) must be one of pre, post`);
  }
  if (typeof config.dropout !== 'number' || !(config.dropout >= 0 && config.dropout < 1)) {
    throw new SettingError('dropout', `dropout (${String(config.dropout)}) must be a number in [0, 1)`);
  }
  for (const key of ['pad_id', 'bos_id', 'eos_id']) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= config.tgt_vocab_size) {
      throw new SettingError(key, `${key} (${String(v)}) must be a token id below tgt_vocab_size (${config.tgt_vocab_size})`);
    }
  }
}

/** Trainable parameters from the config alone (the `pe` buffers are not parameters). */
export function countSeq2SeqParameters(c: Seq2SeqConfig): number {
  const d = c.d_model;
  const mha = 4 * (d * d + d);
  const ffn = d * c.d_ff + c.d_ff + c.d_ff * d + d;
  const norm = 2 * d;
  const encoder = c.src_vocab_size * d + c.num_layers * (mha + ffn + 2 * norm);
  const decoder = c.tgt_vocab_size * d + c.num_layers * (2 * mha + ffn + 3 * norm);
  return encoder + decoder + c.tgt_vocab_size * d + c.tgt_vocab_size;
}

/** The source padding mask as the lesson shapes it, (B, 1, 1, S) (stored (B, 1, S)): 1 where src is padding. */
export function sourcePaddingMask(src: ArrayLike<number>, B: number, S: number, padId = 0): Float32Array {
  const m = new Float32Array(B * S);
  for (let i = 0; i < B * S; i++) m[i] = src[i] === padId ? 1 : 0;
  return m;
}

/**
 * The target mask (B, 1, T, T) (stored (B, T, T)): max(padding mask of the decoder input ids
 * (B, T), look-ahead mask triu(ones, 1)), 1 = masked; `ids` null: look-ahead only.
 */
export function targetMask(ids: ArrayLike<number> | null, B: number, T: number, padId = 0): Float32Array {
  const m = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) m[(b * T + i) * T + j] = j > i || (ids !== null && ids[b * T + j] === padId) ? 1 : 0;
    }
  }
  return m;
}

export interface Seq2SeqAttention {
  /** Per encoder layer, (B, nh, S, S). */
  encoderSelf: Tensor[];
  /** Per decoder layer, (B, nh, T, T). */
  decoderSelf: Tensor[];
  /** Per decoder layer, (B, nh, T, S). */
  decoderCross: Tensor[];
}

export interface Seq2SeqForward {
  /** (B, T, tgt_vocab_size), before softmax. */
  logits: Tensor;
  attention: Seq2SeqAttention;
}

/** A teacher-forced batch: source ids (B, S) and decoder input ids (B, T) = tgt[:, :-1], padded with pad_id. */
export interface Seq2SeqBatch {
  src: Int32Array;
  S: number;
  decoderInput: Int32Array;
  T: number;
  B: number;
}

export class Seq2Seq {
  readonly params: ParameterStore;
  readonly encoderEmbedding: Embedding;
  readonly decoderEmbedding: Embedding;
  readonly encoderPe: PositionalEncodingBuffer;
  readonly decoderPe: PositionalEncodingBuffer;
  readonly encoderLayers: EncoderLayer[] = [];
  readonly decoderLayers: DecoderLayer[] = [];
  readonly finalLayer: Linear;

  /**
   * Initialised as the lesson's modules are by PyTorch's defaults: embeddings N(0, 1), every
   * Linear U(±1/√in), norms gamma 1 and beta 0.
   */
  constructor(
    readonly config: Seq2SeqConfig,
    readonly backend: Backend,
    rng: Rng,
  ) {
    validateSeq2SeqConfig(config);
    const { d_model: d, num_heads: h, d_ff: ff, num_layers: N, layer_norm: norm, dropout } = config;
    const pre = config.norm_position === 'pre';
    const p = (this.params = new ParameterStore(backend, rng));
    this.encoderEmbedding = new Embedding(p, 'encoder.embedding', config.src_vocab_size, d, { kind: 'normal', std: 1 });
    this.encoderPe = new PositionalEncodingBuffer(backend, config.max_seq_length, d);
    for (let i = 0; i < N; i++) this.encoderLayers.push(new EncoderLayer(p, `encoder.encoder_layers.${i}`, d, h, ff, norm, pre, dropout));
    this.decoderEmbedding = new Embedding(p, 'decoder.embedding', config.tgt_vocab_size, d, { kind: 'normal', std: 1 });
    this.decoderPe = new PositionalEncodingBuffer(backend, config.max_seq_length, d);
    for (let i = 0; i < N; i++) this.decoderLayers.push(new DecoderLayer(p, `decoder.decoder_layers.${i}`, d, h, ff, norm, pre, dropout));
    this.finalLayer = new Linear(p, 'final_layer', d, config.tgt_vocab_size, torchDefaultLinearInit(d));
  }

  /** The non-parameter entries of the lesson's state_dict: both sinusoidal tables. */
  buffers(): Record<string, Tensor> {
    return { 'encoder.pos_encoding.pe': this.encoderPe.pe, 'decoder.pos_encoding.pe': this.decoderPe.pe };
  }

  /** Sets the `pe` buffers from host values (a state_dict's), each (1, max_seq_length, d_model). */
  loadBuffers(values: Record<string, ArrayLike<number>>): void {
    for (const [name, t] of Object.entries(this.buffers())) {
      const v = values[name];
      if (!v) throw new Error(`missing buffer ${name}`);
      if (v.length !== t.size) throw new Error(`buffer ${name} has ${v.length} values; the model needs shape [${t.shape.join(', ')}] (${t.size})`);
      this.backend.write(t, v);
    }
  }

  /** Token embeddings × √d_model + the sinusoidal table's first T rows, then dropout. */
  private embed(g: Graph, emb: Embedding, pe: PositionalEncodingBuffer, ids: Int32Array, B: number, T: number): Tensor {
    const x = g.scale(emb.forward(g, ids, [B, T]), Math.sqrt(this.config.d_model));
    return g.dropout(g.addRepeat(x, pe.forward(g, T)), this.config.dropout);
  }

  /** src (B, S) -> the encoder's output (B, S, C) and each layer's self-attention. */
  encode(g: Graph, src: Int32Array, B: number, S: number, srcMask: Tensor | null): { memory: Tensor; attention: Tensor[] } {
    let x = this.embed(g, this.encoderEmbedding, this.encoderPe, src, B, S);
    const attention: Tensor[] = [];
    for (const layer of this.encoderLayers) {
      const out = layer.forward(g, x, srcMask);
      x = out.x;
      attention.push(out.probs);
    }
    return { memory: x, attention };
  }

  /** Decoder input (B, T) over the encoder's output -> logits (B, T, V_tgt) and each layer's attention. */
  decode(
    g: Graph,
    ids: Int32Array,
    B: number,
    T: number,
    memory: Tensor,
    tgtMask: Tensor | null,
    srcMask: Tensor | null,
  ): { logits: Tensor; selfAttention: Tensor[]; crossAttention: Tensor[] } {
    let x = this.embed(g, this.decoderEmbedding, this.decoderPe, ids, B, T);
    const selfAttention: Tensor[] = [],
      crossAttention: Tensor[] = [];
    for (const layer of this.decoderLayers) {
      const out = layer.forward(g, x, memory, tgtMask, srcMask);
      x = out.x;
      selfAttention.push(out.selfProbs);
      crossAttention.push(out.crossProbs);
    }
    return { logits: this.finalLayer.forward(g, x), selfAttention, crossAttention };
  }

  /** The masks of a batch as the lesson builds them, on this model's backend (in the current arena). */
  masks(batch: Seq2SeqBatch): { src: Tensor; tgt: Tensor } {
    const { B, S, T } = batch;
    const pad = this.config.pad_id;
    return {
      src: this.backend.fromArray([B, 1, S], sourcePaddingMask(batch.src, B, S, pad)),
      tgt: this.backend.fromArray([B, T, T], targetMask(batch.decoderInput, B, T, pad)),
    };
  }

  /** Teacher-forced forward pass: logits for every decoder input position. */
  forward(g: Graph, batch: Seq2SeqBatch): Seq2SeqForward {
    const { B, S, T } = batch;
    const masks = this.masks(batch);
    const enc = this.encode(g, batch.src, B, S, masks.src);
    const dec = this.decode(g, batch.decoderInput, B, T, enc.memory, masks.tgt, masks.src);
    return { logits: dec.logits, attention: { encoderSelf: enc.attention, decoderSelf: dec.selfAttention, decoderCross: dec.crossAttention } };
  }

  dispose(): void {
    this.params.dispose();
    this.encoderPe.dispose();
    this.decoderPe.dispose();
  }
}

export interface GreedyResult {
  /** The decoded ids, BOS first (EOS last when it was produced). */
  ids: number[];
  /** At every step, the last position's logits (V_tgt). */
  stepLogits: Float64Array[];
}

/**
 * Greedy decoding of one source sequence (give it without padding): the encoder runs once, then
 * from BOS the decoder appends the argmax until EOS or maxNew tokens. Each step reruns the
 * decoder over the whole prefix (no cache yet).
 */
export function greedyDecode(model: Seq2Seq, src: ArrayLike<number>, maxNew: number): GreedyResult {
  const backend = model.backend;
  const { bos_id: bos, eos_id: eos, pad_id: pad } = model.config;
  const S = src.length;
  const limit = Math.min(maxNew, model.config.max_seq_length);
  return backend.scoped(() => {
    const g = new Graph(backend, new Rng(0), false, false);
    const srcIds = Int32Array.from(src);
    const srcMask = backend.fromArray([1, 1, S], sourcePaddingMask(srcIds, 1, S, pad));
    const { memory } = model.encode(g, srcIds, 1, S, srcMask);
    const ids = [bos];
    const stepLogits: Float64Array[] = [];
    for (let step = 0; step < limit; step++) {
      const T = ids.length;
      const next = backend.scoped(() => {
        const tgtMask = backend.fromArray([1, T, T], targetMask(null, 1, T, pad));
        const { logits } = model.decode(g, Int32Array.from(ids), 1, T, memory, tgtMask, srcMask);
        const V = logits.shape[2];
        const last = Float64Array.from(backend.read(logits).subarray((T - 1) * V, T * V));
        stepLogits.push(last);
        let best = 0;
        for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
        return best;
      });
      ids.push(next);
      if (next === eos) break;
    }
    return { ids, stepLogits };
  });
}
