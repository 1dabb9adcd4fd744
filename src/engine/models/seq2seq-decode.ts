import { Graph } from '../autograd';
import type { Backend } from '../backend/backend';
import type { NormLayer } from '../nn/encoder-decoder';
import { UserError } from '../errors';
import { Rng } from '../rng';
import { sampleNext, validateSamplingOptions, type SamplingOptions } from '../sample';
import type { Tensor } from '../tensor';
import { sourcePaddingMask, type Seq2Seq } from './seq2seq';

// Decoding for the encoder–decoder, inference only: the encoder runs once per source, the
// cross-attention's keys and values of its output are computed once per decoder layer, and the
// decoder's masked self-attention keeps a KV cache, so every step computes only the new position
// (its q, k, v; k and v appended to the cache). On top of that one step: greedy decoding, beam
// search with a GNMT length penalty, and sampling (temperature / top-k / top-p).

/** One generated token. */
export interface DecodedToken {
  id: number;
  /** Its probability under the model: softmax of the step's logits (temperature 1, no filters). */
  prob: number;
  /** ln prob, from log-softmax in float64. */
  logProb: number;
  /**
   * With `attention: true`: this step's cross-attention weights, [layers][heads][src_len] over the
   * source positions as given (removed padding columns are 0; each row sums to 1).
   */
  cross?: number[][][];
}

export interface DecodeOptions {
  /** Most new tokens (EOS included); also capped by max_seq_length. */
  maxNew: number;
  /** Return each token's cross-attention weights. Default false. */
  attention?: boolean;
}

export interface Seq2SeqDecoded {
  /** BOS first, then the generated ids (EOS last when it was produced). */
  ids: number[];
  /** One per generated id. */
  tokens: DecodedToken[];
  /** At every step, the logits (V_tgt) the token was chosen from. */
  stepLogits: Float64Array[];
  /** true when EOS ended it, false when maxNew / max_seq_length did. */
  finished: boolean;
}

// ---- the cached decoder -------------------------------------------------------------------------

interface LayerCache {
  /** Self-attention keys and values, (R, L, C), positions 0 … position−1 filled. */
  k: Tensor;
  v: Tensor;
}

/** Pre- or post-LN Add & Norm for one sublayer, as encoder-decoder.ts does (dropout is off in inference). */
function addAndNorm(g: Graph, x: Tensor, norm: NormLayer, pre: boolean, f: (h: Tensor) => Tensor): Tensor {
  if (pre) return g.add(x, f(norm.forward(g, x)));
  return norm.forward(g, g.add(x, f(x)));
}

function copyRows(backend: Backend, src: Tensor, dst: Tensor, rowSize: number, origins: readonly number[], count = rowSize): void {
  origins.forEach((from, to) => backend.copy(src, dst, from * rowSize, to * rowSize, count));
}

/**
 * Source sequences encoded once, decoded by R rows in parallel (the hypotheses of a beam, or one
 * row per source), one position per `step`; each row reads the encoder output of its own source.
 * Holds persistent tensors: call `dispose()` (the decode functions do).
 */
export class Seq2SeqStepDecoder {
  readonly S: number;
  readonly capacity: number;
  /** Positions fed so far (the next step's position). */
  position = 0;
  rows: number;
  /** The source each row decodes. */
  private rowSource: number[];
  private readonly backend: Backend;
  private readonly g: Graph;
  /** Per decoder layer: the cross-attention's K and V of the encoder output, (sources, S, C). */
  private readonly memoryKV: { k: Tensor; v: Tensor }[] = [];
  private readonly srcMask: Tensor;
  /** Gathered to the rows' sources, by the rows' sources (e.g. "0,0,0" for a beam of 3). */
  private readonly repeated = new Map<string, { kv: { k: Tensor; v: Tensor }[]; mask: Tensor }>();
  private caches: LayerCache[] = [];
  private disposed = false;

  /**
   * `src`: `sources` rows of S ids each, (sources, S) row-major (padding is masked as in training);
   * one row per source to start with. `capacity`: most positions the decoder will be fed (BOS
   * included), at most max_seq_length.
   */
  constructor(
    readonly model: Seq2Seq,
    src: ArrayLike<number>,
    capacity: number,
    readonly sources = 1,
  ) {
    const backend = (this.backend = model.backend);
    const { pad_id: pad, max_seq_length: maxLen, d_model: C } = model.config;
    if (!Number.isInteger(sources) || sources < 1 || src.length % sources !== 0) {
      throw new Error(`${src.length} source ids do not make ${sources} rows of equal length`);
    }
    this.S = src.length / sources;
    this.rows = sources;
    this.rowSource = Array.from({ length: sources }, (_, b) => b);
    if (this.S === 0) throw new UserError('cannot decode an empty source sequence: give at least one token');
    if (this.S > maxLen) throw new UserError(`a source of ${this.S} tokens is longer than max_seq_length (${maxLen}): shorten it`);
    this.capacity = Math.min(capacity, maxLen);
    if (this.capacity < 1) throw new Error(`decoder capacity (${capacity}) must be at least 1`);
    this.g = new Graph(backend, new Rng(0), false, false);
    const ids = Int32Array.from(src);
    this.srcMask = backend.fromArray([sources, 1, this.S], sourcePaddingMask(ids, sources, this.S, pad), true);
    try {
      backend.scoped(() => {
        const { memory } = model.encode(this.g, ids, sources, this.S, this.srcMask); // (sources, S, C)
        for (const layer of model.decoderLayers) {
          const k = backend.allocPersistent([sources, this.S, C]);
          const v = backend.allocPersistent([sources, this.S, C]);
          backend.copy(layer.mha2.wK.forward(this.g, memory), k);
          backend.copy(layer.mha2.wV.forward(this.g, memory), v);
          this.memoryKV.push({ k, v });
        }
      });
      this.caches = model.decoderLayers.map(() => this.allocCache(sources));
    } catch (e) {
      this.dispose(); // e.g. a source id outside the vocabulary: release what was made
      throw e;
    }
  }

  private allocCache(R: number): LayerCache {
    const shape = [R, this.capacity, this.model.config.d_model];
    return { k: this.backend.allocPersistent(shape), v: this.backend.allocPersistent(shape) };
  }

  /** The encoder's K/V and the source mask gathered to the rows' sources (made once per arrangement). */
  private forRows(): { kv: { k: Tensor; v: Tensor }[]; mask: Tensor } {
    const key = this.rowSource.join(',');
    let r = this.repeated.get(key);
    if (!r) {
      const backend = this.backend;
      const SC = this.S * this.model.config.d_model;
      const origins = this.rowSource;
      const R = origins.length;
      const kv = this.memoryKV.map(({ k, v }) => {
        const kR = backend.allocPersistent([R, this.S, this.model.config.d_model]);
        const vR = backend.allocPersistent([R, this.S, this.model.config.d_model]);
        copyRows(backend, k, kR, SC, origins);
        copyRows(backend, v, vR, SC, origins);
        return { k: kR, v: vR };
      });
      const mask = backend.allocPersistent([R, 1, this.S]);
      copyRows(backend, this.srcMask, mask, this.S, origins);
      r = { kv, mask };
      this.repeated.set(key, r);
    }
    return r;
  }

  /**
   * Keeps the rows named by `origins` (row i of the new state continues old row origins[i]), e.g.
   * the beams that survived a step; the row count becomes origins.length.
   */
  reorder(origins: readonly number[]): void {
    if (origins.length === 0) throw new Error('reorder: no rows left');
    for (const o of origins) if (!(Number.isInteger(o) && o >= 0 && o < this.rows)) throw new Error(`reorder: row ${o} does not exist (${this.rows} rows)`);
    const rowSize = this.capacity * this.model.config.d_model;
    const used = this.position * this.model.config.d_model;
    const next = this.caches.map((old) => {
      const fresh = this.allocCache(origins.length);
      if (used > 0) {
        copyRows(this.backend, old.k, fresh.k, rowSize, origins, used);
        copyRows(this.backend, old.v, fresh.v, rowSize, origins, used);
      }
      this.backend.dispose(old.k);
      this.backend.dispose(old.v);
      return fresh;
    });
    this.caches = next;
    this.rowSource = origins.map((o) => this.rowSource[o]);
    this.rows = origins.length;
  }

  /**
   * Feeds one token per row at the next position; returns each row's logits (V_tgt) and, when
   * asked, each row's cross-attention [layers][heads][S].
   */
  step(tokens: readonly number[], attention = false): { logits: Float64Array[]; cross: number[][][][] | null } {
    if (this.disposed) throw new Error('this decoder was disposed');
    const R = this.rows;
    if (tokens.length !== R) throw new Error(`step: ${tokens.length} tokens for ${R} rows`);
    const t = this.position;
    if (t >= this.capacity) throw new Error(`step: position ${t} is past the decoder's capacity (${this.capacity})`);
    const { model, backend, g } = this;
    const { d_model: C, num_heads: nh } = model.config;
    const pre = model.config.norm_position === 'pre';
    const { kv, mask } = this.forRows();
    const out = backend.scoped(() => {
      // token embedding × √d_model + the table's row t, as Seq2Seq.embed does
      const emb = g.scale(model.decoderEmbedding.forward(g, Int32Array.from(tokens), [R, 1]), Math.sqrt(C)); // (R, 1, C)
      const pe = backend.alloc([1, C]);
      backend.copy(model.decoderPe.pe, pe, t * C, 0, C);
      let x = g.addRepeat(emb, pe);
      const crossProbs: Tensor[] = [];
      model.decoderLayers.forEach((layer, l) => {
        const cache = this.caches[l];
        x = addAndNorm(g, x, layer.layernorm1, pre, (h) => {
          const q = layer.mha1.wQ.forward(g, h);
          const k = layer.mha1.wK.forward(g, h);
          const v = layer.mha1.wV.forward(g, h);
          const qkv = backend.alloc([R, 1, 3 * C]); // the layout the cache kernels read: q | k | v per row
          for (let r = 0; r < R; r++) {
            backend.copy(q, qkv, r * C, 3 * r * C, C);
            backend.copy(k, qkv, r * C, (3 * r + 1) * C, C);
            backend.copy(v, qkv, r * C, (3 * r + 2) * C, C);
          }
          backend.kvCacheWrite(qkv, cache.k, cache.v, t);
          const y = backend.alloc([R, 1, C]);
          // every earlier position is visible: the look-ahead mask hides nothing from the newest query
          backend.attentionDecodeForward(qkv, cache.k, cache.v, t + 1, nh, y);
          return layer.mha1.wO.forward(g, y);
        });
        x = addAndNorm(g, x, layer.layernorm2, pre, (h) => {
          const q = layer.mha2.wQ.forward(g, h);
          const a = g.maskedAttention(q, kv[l].k, kv[l].v, mask, nh); // (R, 1, C) over (R, S, C); probs (R, nh, 1, S)
          crossProbs.push(a.probs);
          return layer.mha2.wO.forward(g, a.y);
        });
        x = addAndNorm(g, x, layer.layernorm3, pre, (h) => layer.ffn.forward(g, h));
      });
      const logitsT = model.finalLayer.forward(g, x); // (R, 1, V_tgt)
      const flat = backend.read(logitsT);
      const V = logitsT.shape[2];
      const logits = Array.from({ length: R }, (_, r) => Float64Array.from(flat.subarray(r * V, (r + 1) * V)));
      let cross: number[][][][] | null = null;
      if (attention) {
        const S = this.S;
        const layers = crossProbs.map((p) => backend.read(p)); // (R, nh, 1, S) each
        cross = Array.from({ length: R }, (_, r) =>
          layers.map((p) => Array.from({ length: nh }, (_, hd) => Array.from(p.subarray((r * nh + hd) * S, (r * nh + hd + 1) * S)))),
        );
      }
      return { logits, cross };
    });
    this.position++;
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const pairs = [...this.caches, ...this.memoryKV, ...[...this.repeated.values()].flatMap((r) => r.kv)];
    for (const { k, v } of pairs) {
      this.backend.dispose(k);
      this.backend.dispose(v);
    }
    for (const { mask } of this.repeated.values()) this.backend.dispose(mask);
    this.backend.dispose(this.srcMask);
  }
}

// ---- helpers --------------------------------------------------------------------------------------

/** log-softmax in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function stepLimit(model: Seq2Seq, maxNew: number): number {
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new UserError(`maxNew (${maxNew}) must be a whole number ≥ 1`);
  return Math.min(maxNew, model.config.max_seq_length);
}

function token(id: number, logp: Float64Array, cross: number[][][] | undefined): DecodedToken {
  const t: DecodedToken = { id, prob: Math.exp(logp[id]), logProb: logp[id] };
  if (cross) t.cross = cross;
  return t;
}

/** Decodes one row token by token, `choose` picking each next id from the step's logits. */
function decodeOne(model: Seq2Seq, src: ArrayLike<number>, options: DecodeOptions, choose: (logits: Float64Array) => number): Seq2SeqDecoded {
  const limit = stepLimit(model, options.maxNew);
  const { bos_id: bos, eos_id: eos } = model.config;
  const dec = new Seq2SeqStepDecoder(model, src, limit);
  try {
    const ids = [bos];
    const tokens: DecodedToken[] = [];
    const stepLogits: Float64Array[] = [];
    let finished = false;
    for (let s = 0; s < limit; s++) {
      const { logits, cross } = dec.step([ids[ids.length - 1]], options.attention ?? false);
      stepLogits.push(logits[0]);
      const next = choose(logits[0]);
      ids.push(next);
      tokens.push(token(next, logSoftmax(logits[0]), cross?.[0]));
      if (next === eos) {
        finished = true;
        break;
      }
    }
    return { ids, tokens, stepLogits, finished };
  } finally {
    dec.dispose();
  }
}

// ---- greedy ---------------------------------------------------------------------------------------

/**
 * Greedy decoding of one source row with the KV cache: from BOS, the argmax (lowest id on ties)
 * until EOS or maxNew tokens. Same tokens and logits as `greedyDecode`, at a fraction of the cost.
 */
export function greedyDecodeCached(model: Seq2Seq, src: ArrayLike<number>, options: DecodeOptions): Seq2SeqDecoded {
  return decodeOne(model, src, options, argmax);
}

/**
 * Greedy decoding of every row of a padded (B, S) source batch at once: one encoder pass, one
 * decoder step per position for all rows still running (a row leaves the batch at its EOS).
 * Padding is masked, not removed, so logits agree with decoding each row alone (`decodeBatch`,
 * as the fixtures do) to float rounding rather than bit for bit; many times faster for evaluation.
 * Cross-attention (when asked) spans the S columns, padding columns 0.
 */
export function greedyDecodeBatched(model: Seq2Seq, src: ArrayLike<number>, B: number, S: number, options: DecodeOptions): Seq2SeqDecoded[] {
  stripPadding(src, B, S, model.config.pad_id); // refuses a ragged batch or an all-padding row
  const limit = stepLimit(model, options.maxNew);
  const { bos_id: bos, eos_id: eos } = model.config;
  const out: Seq2SeqDecoded[] = Array.from({ length: B }, () => ({ ids: [bos], tokens: [], stepLogits: [], finished: false }));
  const dec = new Seq2SeqStepDecoder(model, src, limit, B);
  try {
    let running = out.map((_, b) => b); // the source row each decoder row continues
    for (let s = 0; s < limit && running.length > 0; s++) {
      const { logits, cross } = dec.step(
        running.map((b) => out[b].ids[out[b].ids.length - 1]),
        options.attention ?? false,
      );
      const still: number[] = [];
      running.forEach((b, r) => {
        const next = argmax(logits[r]);
        out[b].ids.push(next);
        out[b].stepLogits.push(logits[r]);
        out[b].tokens.push(token(next, logSoftmax(logits[r]), cross?.[r]));
        if (next === eos) out[b].finished = true;
        else still.push(r);
      });
      if (still.length > 0 && still.length < running.length && s + 1 < limit) dec.reorder(still);
      running = still.map((r) => running[r]);
    }
    return out;
  } finally {
    dec.dispose();
  }
}

// ---- sampling -------------------------------------------------------------------------------------

export interface Seq2SeqSampleOptions extends DecodeOptions, Omit<SamplingOptions, 'banned'> {
  /** Seeds the draws (src/engine/rng.ts); the same seed gives the same output. */
  seed: number;
}

/**
 * Sampling with the KV cache: each next id is drawn from the step's logits filtered as every
 * family's sampler does (temperature → top-k → top-p; temperature 0 = argmax). Each token's `prob`
 * is under the unfiltered model (temperature 1).
 */
export function sampleDecode(model: Seq2Seq, src: ArrayLike<number>, options: Seq2SeqSampleOptions): Seq2SeqDecoded {
  const sampling: SamplingOptions = { temperature: options.temperature, topK: options.topK, topP: options.topP };
  validateSamplingOptions(sampling);
  const rng = new Rng(options.seed);
  return decodeOne(model, src, options, (logits) => sampleNext(logits, sampling, rng).id);
}

// ---- beam search ----------------------------------------------------------------------------------

export interface BeamSearchOptions extends DecodeOptions {
  /** Beam width k (default 4). */
  beamWidth?: number;
  /**
   * α of the GNMT length penalty (Wu et al. 2016): score = logProb / ((5 + len) / 6)^α, len the
   * generated tokens (EOS included, BOS not). 0 ranks by the summed log-probability alone; larger
   * values favour longer outputs. Default 0.6.
   */
  lengthPenalty?: number;
  /** How many hypotheses to return, best first (default k; at most k finished ones are kept by rank). */
  nBest?: number;
  /**
   * Stop once k finished hypotheses score at least as well as any live one can still reach
   * (default true). false runs the live beams on to maxNew: the same n-best, for checking the rule.
   */
  stopEarly?: boolean;
}

export interface BeamHypothesis {
  /** BOS first, then the generated ids (EOS last when finished). */
  ids: number[];
  tokens: DecodedToken[];
  /** Σ ln p of the generated tokens. */
  logProb: number;
  /** logProb / ((5 + len) / 6)^α: what the n-best is ranked by. */
  score: number;
  /** true when it ended with EOS; false when it reached maxNew / max_seq_length. */
  finished: boolean;
}

/** GNMT's lp(len) = ((5 + len) / 6)^α. */
export function lengthPenaltyFactor(length: number, alpha: number): number {
  return Math.pow((5 + length) / 6, alpha);
}

interface Live {
  ids: number[];
  tokens: DecodedToken[];
  logProb: number;
}

/**
 * Beam search of width k over one source row, with the KV cache (one cache row per live beam).
 * Each step expands every live beam by every token and ranks the candidates by summed
 * log-probability; among the best 2k, one ending in EOS becomes a finished hypothesis when it
 * ranks within the top k (Hugging Face's rule; so width 1 with α = 0 is greedy decoding exactly),
 * and the best k others stay live. It stops when k finished hypotheses score at least as well as
 * any live one can still reach (its log-probability can only fall; with α > 0 its penalty can
 * grow to that of the longest allowed output), or at maxNew / max_seq_length, where the live ones
 * join the results unfinished. Returns the nBest hypotheses by normalised score.
 */
export function beamSearch(model: Seq2Seq, src: ArrayLike<number>, options: BeamSearchOptions): BeamHypothesis[] {
  const k = options.beamWidth ?? 4;
  const alpha = options.lengthPenalty ?? 0.6;
  const nBest = options.nBest ?? k;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`beam width (${k}) must be a whole number ≥ 1`);
  if (!Number.isFinite(alpha)) throw new UserError(`length penalty α (${alpha}) must be a finite number`);
  if (!Number.isInteger(nBest) || nBest < 1) throw new UserError(`nBest (${nBest}) must be a whole number ≥ 1`);
  const limit = stepLimit(model, options.maxNew);
  const { bos_id: bos, eos_id: eos } = model.config;
  const score = (logProb: number, length: number) => logProb / lengthPenaltyFactor(length, alpha);
  const dec = new Seq2SeqStepDecoder(model, src, limit);
  try {
    let live: Live[] = [{ ids: [bos], tokens: [], logProb: 0 }];
    const finished: BeamHypothesis[] = [];
    for (let s = 0; s < limit && live.length > 0; s++) {
      const { logits, cross } = dec.step(
        live.map((h) => h.ids[h.ids.length - 1]),
        options.attention ?? false,
      );
      const logps = logits.map(logSoftmax);
      // the best 2k (beam, token) candidates by summed log-probability; ties: lower beam, lower id
      const cands: { beam: number; id: number; logProb: number }[] = [];
      const keep = 2 * k;
      for (let b = 0; b < live.length; b++) {
        const lp = logps[b];
        for (let id = 0; id < lp.length; id++) {
          const total = live[b].logProb + lp[id];
          if (cands.length === keep && !(total > cands[keep - 1].logProb)) continue;
          let i = cands.length;
          while (i > 0 && cands[i - 1].logProb < total) i--;
          cands.splice(i, 0, { beam: b, id, logProb: total });
          if (cands.length > keep) cands.pop();
        }
      }
      const next: Live[] = [];
      const origins: number[] = [];
      for (let rank = 0; rank < cands.length && next.length < k; rank++) {
        const c = cands[rank];
        const parent = live[c.beam];
        const tok = token(c.id, logps[c.beam], cross?.[c.beam]);
        const ids = [...parent.ids, c.id];
        const tokens = [...parent.tokens, tok];
        if (c.id === eos) {
          if (rank < k) finished.push({ ids, tokens, logProb: c.logProb, score: score(c.logProb, tokens.length), finished: true });
        } else {
          next.push({ ids, tokens, logProb: c.logProb });
          origins.push(c.beam);
        }
      }
      live = next;
      if (live.length === 0) break;
      if (s + 1 >= limit) break;
      if (finished.length >= k && (options.stopEarly ?? true)) {
        const kth = [...finished].sort((a, b) => b.score - a.score)[k - 1].score;
        const generated = s + 1;
        const longest = Math.max(lengthPenaltyFactor(generated + 1, alpha), lengthPenaltyFactor(limit, alpha));
        const reachable = Math.max(...live.map((h) => h.logProb / longest));
        if (kth >= reachable) break;
      }
      dec.reorder(origins);
    }
    const unfinished = live.map((h) => ({ ...h, score: score(h.logProb, h.tokens.length), finished: false }));
    // finished ones first, then (when fewer than nBest finished) those cut off by the length limit
    const byScore = (a: BeamHypothesis, b: BeamHypothesis) => b.score - a.score;
    return [...finished.sort(byScore), ...unfinished.sort(byScore)].slice(0, nBest);
  } finally {
    dec.dispose();
  }
}

// ---- batches of padded sources ----------------------------------------------------------------------

/** Each row of a padded (B, S) batch with its trailing padding removed, as the fixtures decode. */
export function stripPadding(src: ArrayLike<number>, B: number, S: number, padId: number): number[][] {
  if (src.length !== B * S) throw new Error(`source batch has ${src.length} ids, expected B·S = ${B}·${S}`);
  return Array.from({ length: B }, (_, b) => {
    const row = Array.from({ length: S }, (_, j) => src[b * S + j]);
    while (row.length > 0 && row[row.length - 1] === padId) row.pop();
    if (row.length === 0) throw new UserError(`source row ${b} is all padding: give each row at least one token`);
    return row;
  });
}

/** Widens cross-attention over a stripped row back to the batch's S columns (the padding columns 0). */
function widenCross(tokens: DecodedToken[], S: number): void {
  for (const t of tokens) {
    if (!t.cross) continue;
    t.cross = t.cross.map((layer) => layer.map((row) => [...row, ...new Array<number>(S - row.length).fill(0)]));
  }
}

export type BatchDecodeOptions = ({ strategy: 'greedy' } & DecodeOptions) | ({ strategy: 'sample' } & Seq2SeqSampleOptions);

/**
 * Greedy or sampled decoding of every row of a padded (B, S) source batch: each row's padding
 * removed first (as the fixtures do), then decoded alone; cross-attention (when asked) spans the
 * batch's S columns, padding columns 0. Sampling row b uses seed + b.
 */
export function decodeBatch(model: Seq2Seq, src: ArrayLike<number>, B: number, S: number, options: BatchDecodeOptions): Seq2SeqDecoded[] {
  return stripPadding(src, B, S, model.config.pad_id).map((row, b) => {
    const out = options.strategy === 'greedy' ? greedyDecodeCached(model, row, options) : sampleDecode(model, row, { ...options, seed: options.seed + b });
    widenCross(out.tokens, S);
    return out;
  });
}

/** Beam search over every row of a padded (B, S) source batch, each row's padding removed first: the n-best per row. */
export function beamSearchBatch(model: Seq2Seq, src: ArrayLike<number>, B: number, S: number, options: BeamSearchOptions): BeamHypothesis[][] {
  return stripPadding(src, B, S, model.config.pad_id).map((row) => {
    const hyps = beamSearch(model, row, options);
    for (const h of hyps) widenCross(h.tokens, S);
    return hyps;
  });
}
