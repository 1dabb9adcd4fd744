import type { Rng } from './rng';
import { UserError } from './errors';

// One sampling step: from the logits of the last position to a token id. Filters apply in this
// order: temperature -> banned tokens (no-repeat-ngram) -> top-k -> top-p -> renormalise.

export interface SamplingOptions {
  /** 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep the k most probable tokens (ties with the k-th kept, as nanoGPT). 0 or absent: off. */
  topK?: number;
  /** Keep the smallest most-probable prefix whose mass reaches p. 1 or absent: off. */
  topP?: number;
  /** Token ids that may not be chosen (e.g. those that would repeat an n-gram). */
  banned?: Iterable<number>;
}

export function validateSamplingOptions(o: SamplingOptions): void {
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new UserError(`temperature (${t}) must be a finite number ≥ 0 (0 = greedy)`);
  const k = o.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new UserError(`top-k (${k}) must be a whole number ≥ 0 (0 = off)`);
  const p = o.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new UserError(`top-p (${p}) must be in (0, 1] (1 = off)`);
}

/** softmax(logits / temperature) in float64. */
export function softmaxWithTemperature(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const n = logits.length;
  const out = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[i] / temperature;
    out[i] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = out[i] === -Infinity ? 0 : Math.exp(out[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** Ids ordered by probability, most probable first (ties: lower id first). */
function orderByProbability(probs: Float64Array): number[] {
  const ids = Array.from(probs.keys());
  ids.sort((a, b) => probs[b] - probs[a] || a - b);
  return ids;
}

/** Zeroes all but the smallest most-probable prefix whose mass reaches p, then renormalises. */
export function applyTopP(probs: Float64Array, p: number): Float64Array {
  const out = new Float64Array(probs.length);
  let before = 0; // probability mass strictly before this token
  let kept = 0;
  for (const id of orderByProbability(probs)) {
    if (!(before < p) || probs[id] === 0) break;
    out[id] = probs[id];
    before += probs[id];
    kept += probs[id];
  }
  for (let i = 0; i < out.length; i++) out[i] /= kept;
  return out;
}

/** The distribution a token is drawn from, after every filter in `options`. */
export function samplingDistribution(logits: ArrayLike<number>, options: SamplingOptions = {}): Float64Array {
  validateSamplingOptions(options);
  const temperature = options.temperature ?? 1;
  const n = logits.length;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = logits[i];
  for (const id of options.banned ?? []) if (id >= 0 && id < n) scaled[id] = -Infinity;
  if (scaled.every((v) => v === -Infinity)) throw new Error('sampling: every token was filtered out (is every token banned?)');
  if (temperature === 0) {
    let best = -1;
    for (let i = 0; i < n; i++) if (best < 0 || scaled[i] > scaled[best]) best = i;
    const onehot = new Float64Array(n);
    onehot[best] = 1;
    return onehot;
  }
  const topK = options.topK ?? 0;
  if (topK > 0 && topK < n) {
    const sorted = Array.from(scaled).sort((a, b) => b - a);
    const kth = sorted[topK - 1];
    for (let i = 0; i < n; i++) if (scaled[i] < kth) scaled[i] = -Infinity;
  }
  let probs = softmaxWithTemperature(scaled, temperature);
  const topP = options.topP ?? 1;
  if (topP < 1) probs = applyTopP(probs, topP);
  return probs;
}

/** Draws one id from the filtered distribution; returns it with that distribution. */
export function sampleNext(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): { id: number; probs: Float64Array } {
  const probs = samplingDistribution(logits, options);
  const u = rng.random();
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    last = i;
    cum += probs[i];
    if (u < cum) return { id: i, probs };
  }
  return { id: last, probs }; // u fell in the rounding gap at the top of the cumulative sum
}

// ---- generation from a model --------------------------------------------------------------------

export interface GenerateOptions extends Omit<SamplingOptions, 'banned'> {
  /** Text the model continues; empty starts from a newline, as nanoGPT's sample.py does. */
  prompt: string;
  /** Number of new tokens. */
  length: number;
  seed: number;
  /** Never repeat an n-gram of this size (0: off). */
  noRepeatNgram?: number;
}

export interface GeneratedToken {
  id: number;
  text: string;
  /** Probability of this token under the model (temperature 1, no filters). */
  prob: number;
  /** Probability under the distribution it was actually drawn from. */
  sampledProb: number;
  /** The five most probable tokens under the model, most probable first. */
  top: { id: number; text: string; prob: number }[];
}

/** Ids that would complete an n-gram already present in `ids` (no-repeat-ngram). */
export function bannedByNgram(ids: readonly number[], n: number): number[] {
  if (n <= 0 || ids.length < n - 1) return [];
  if (n === 1) return [...new Set(ids)];
  const prefix = ids.slice(ids.length - (n - 1));
  const banned = new Set<number>();
  for (let i = 0; i + n - 1 < ids.length; i++) {
    let match = true;
    for (let j = 0; j < n - 1 && match; j++) match = ids[i + j] === prefix[j];
    if (match) banned.add(ids[i + n - 1]);
  }
  return [...banned];
}

/** Top k of a distribution, most probable first. */
export function topTokens(probs: ArrayLike<number>, k: number): { id: number; prob: number }[] {
  return Array.from({ length: probs.length }, (_, id) => ({ id, prob: probs[id] }))
    .sort((a, b) => b.prob - a.prob || a.id - b.id)
    .slice(0, k);
}

// ---- how varied a sample is, and how surprising to its model -------------------------------------

/** Distinct n-grams of a token sequence: how many different ones, out of how many in all. */
export function distinctNgrams(ids: readonly number[], n: number): { distinct: number; total: number; ratio: number } {
  const total = Math.max(0, ids.length - n + 1);
  const seen = new Set<string>();
  for (let i = 0; i < total; i++) seen.add(ids.slice(i, i + n).join(','));
  return { distinct: seen.size, total, ratio: total === 0 ? 0 : seen.size / total };
}

/** The n-gram size the repetition rate counts: long enough that a repeat is a repeated phrase, not a common pair. */
export const REPETITION_NGRAM = 4;

export interface SampleStats {
  tokens: number;
  distinctTokens: number;
  distinct2: number;
  distinct2Ratio: number;
  distinct3: number;
  distinct3Ratio: number;
  /** Share of the sample's 4-grams that already occurred earlier in it (0: nothing repeats). */
  repetitionRate: number;
  /** Mean −ln p(token) under the model (temperature 1, no filters), in nats. */
  meanSurprise: number;
}

/** The diversity and surprise of one sample: its token ids and the model's probability of each. */
export function sampleStats(ids: readonly number[], probs: readonly number[]): SampleStats {
  if (ids.length !== probs.length) throw new Error(`sampleStats: ${ids.length} ids but ${probs.length} probabilities`);
  const d2 = distinctNgrams(ids, 2);
  const d3 = distinctNgrams(ids, 3);
  const d4 = distinctNgrams(ids, REPETITION_NGRAM);
  const surprise = probs.reduce((s, p) => s - Math.log(Math.max(p, 1e-12)), 0);
  return {
    tokens: ids.length,
    distinctTokens: new Set(ids).size,
    distinct2: d2.distinct,
    distinct2Ratio: d2.ratio,
    distinct3: d3.distinct,
    distinct3Ratio: d3.ratio,
    repetitionRate: d4.total === 0 ? 0 : 1 - d4.ratio,
    meanSurprise: ids.length === 0 ? 0 : surprise / ids.length,
  };
}

/**
 * One grid cell's figures from its samples: counts, ratios and the repetition rate are the mean
 * over the samples (each sample measured alone, so N samples do not inflate the counts); the mean
 * surprise is over every token of every sample.
 */
export function cellStats(samples: readonly { ids: readonly number[]; probs: readonly number[] }[]): SampleStats {
  const each = samples.map((s) => sampleStats(s.ids, s.probs));
  const tokens = each.reduce((n, s) => n + s.tokens, 0);
  const mean = (key: keyof SampleStats) => (each.length === 0 ? 0 : each.reduce((sum, s) => sum + s[key], 0) / each.length);
  return {
    tokens,
    distinctTokens: mean('distinctTokens'),
    distinct2: mean('distinct2'),
    distinct2Ratio: mean('distinct2Ratio'),
    distinct3: mean('distinct3'),
    distinct3Ratio: mean('distinct3Ratio'),
    repetitionRate: mean('repetitionRate'),
    meanSurprise: tokens === 0 ? 0 : each.reduce((sum, s) => sum + s.meanSurprise * s.tokens, 0) / tokens,
  };
}
