import { Graph } from './autograd';
import type { Tokenizer } from './data/tokenizer';
import { GPT, RecurrentLM, type LanguageModel, type RecurrentState } from './models';
import type { GptCache } from './models/transformer';
import { Rng } from './rng';
import { bannedByNgram, sampleNext, softmaxWithTemperature, topTokens, validateSamplingOptions, type GenerateOptions, type GeneratedToken } from './sample';
import { UserError } from './errors';

// Text generation from a trained model, one token at a time, so a host can stream it. Recurrent
// models carry their state from token to token. The Transformer keeps a KV cache while the text
// fits its block_size; past that it sees the last block_size tokens, recomputed for every token
// (nanoGPT's sample.py crops the same way; positions shift, so a cache cannot be reused exactly).

function lastLogits(model: LanguageModel, ids: readonly number[], state?: RecurrentState): { logits: Float64Array; state: RecurrentState | null } {
  const backend = model.backend;
  return backend.scoped(() => {
    const g = new Graph(backend, new Rng(0), false);
    const out = model.forward(g, Int32Array.from(ids), 1, ids.length, state);
    if (state && out.state && model instanceof RecurrentLM) model.carryState(out.state, state);
    const all = backend.read(out.logits);
    const V = out.logits.shape[2];
    return { logits: Float64Array.from(all.subarray((ids.length - 1) * V)), state: out.state };
  });
}

function cachedLogits(model: GPT, ids: readonly number[], cache: GptCache): Float64Array {
  const backend = model.backend;
  return backend.scoped(() => {
    const logits = model.forwardCached(new Graph(backend, new Rng(0), false), Int32Array.from(ids), 1, ids.length, cache);
    const V = logits.shape[2];
    return Float64Array.from(backend.read(logits).subarray((ids.length - 1) * V));
  });
}

export function* generate(model: LanguageModel, tokenizer: Tokenizer, options: GenerateOptions): Generator<GeneratedToken> {
  validateSamplingOptions(options);
  if (!Number.isInteger(options.length) || options.length < 0) throw new UserError(`length (${options.length}) must be a whole number ≥ 0`);
  const n = options.noRepeatNgram ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new UserError(`no-repeat-ngram (${n}) must be a whole number ≥ 0 (0 = off)`);
  let prompt = options.prompt;
  if (prompt === '') {
    if (!tokenizer.vocab.includes('\n')) throw new UserError('give a prompt: this vocabulary has no newline to start from');
    prompt = '\n';
  }
  const ids = Array.from(tokenizer.encode(prompt)); // throws naming unknown characters
  const rng = new Rng(options.seed);
  const recurrent = model instanceof RecurrentLM ? model : null;
  const state = recurrent ? recurrent.zeroState(1) : undefined;
  const gpt = model instanceof GPT ? model : null;
  const blockSize = gpt ? gpt.config.block_size : Infinity;
  const cache = gpt && ids.length <= blockSize ? gpt.createCache(1) : null;
  try {
    // recurrent: the whole prompt once, then one token at a time from the carried state;
    // Transformer: the prompt into the cache, then one token at a time while it fits
    let next = recurrent ? lastLogits(model, ids, state).logits : gpt && cache ? cachedLogits(gpt, ids, cache) : null;
    for (let i = 0; i < options.length; i++) {
      const logits = next ?? lastLogits(model, ids.slice(Math.max(0, ids.length - blockSize))).logits;
      const modelProbs = softmaxWithTemperature(logits, 1);
      const banned = bannedByNgram(ids, n);
      const { id, probs } = sampleNext(logits, { ...options, banned }, rng);
      ids.push(id);
      yield {
        id,
        text: tokenizer.vocab[id],
        prob: modelProbs[id],
        sampledProb: probs[id],
        top: topTokens(modelProbs, 5).map((t) => ({ ...t, text: tokenizer.vocab[t.id] })),
      };
      const more = i + 1 < options.length;
      if (recurrent && more) next = lastLogits(model, [id], state).logits;
      else if (gpt && cache && more && cache.length < blockSize) next = cachedLogits(gpt, [id], cache);
      else next = null;
    }
  } finally {
    if (recurrent && state) recurrent.disposeState(state);
    if (gpt && cache) gpt.disposeCache(cache);
  }
}

/**
 * The model's logits for the token after `prompt` (an empty prompt starts from a newline, as
 * generate does), and the ids no-repeat-ngram would ban there: what generate's first draw
 * starts from, for a view that reshapes the distribution as its settings move.
 */
export function nextTokenLogits(model: LanguageModel, tokenizer: Tokenizer, prompt: string, noRepeatNgram = 0): { logits: Float64Array; banned: number[] } {
  if (!Number.isInteger(noRepeatNgram) || noRepeatNgram < 0) throw new UserError(`no-repeat-ngram (${noRepeatNgram}) must be a whole number ≥ 0 (0 = off)`);
  if (prompt === '' && !tokenizer.vocab.includes('\n')) throw new UserError('give a prompt: this vocabulary has no newline to start from');
  const ids = Array.from(tokenizer.encode(prompt === '' ? '\n' : prompt));
  const banned = bannedByNgram(ids, noRepeatNgram);
  if (model instanceof RecurrentLM) {
    const state = model.zeroState(1);
    try {
      return { logits: lastLogits(model, ids, state).logits, banned };
    } finally {
      model.disposeState(state);
    }
  }
  const blockSize = model instanceof GPT ? model.config.block_size : Infinity;
  return { logits: lastLogits(model, ids.slice(Math.max(0, ids.length - blockSize))).logits, banned };
}
