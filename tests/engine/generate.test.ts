import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { splitCorpus } from '../../src/engine/data/corpus';
import { generate, nextTokenLogits } from '../../src/engine/generate';
import type { LanguageModel } from '../../src/engine/models';
import { Rng } from '../../src/engine/rng';
import { bannedByNgram, cellStats, distinctNgrams, sampleStats, samplingDistribution, softmaxWithTemperature } from '../../src/engine/sample';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';

const corpus = splitCorpus('To be, or not to be, that is the question: whether tis nobler in the mind to suffer. '.repeat(40));
const tok = corpus.tokenizer;

function trained(family: 'lstm' | 'gpt'): Trainer {
  const o = family === 'gpt' ? { n_layer: 1, n_head: 2, n_embd: 16, block_size: 8, seq_len: 8 } : { hidden_size: 16, embedding_dim: 8, seq_len: 8 };
  const t = new Trainer(resolveTrainConfig(family, tok.vocabSize, { ...o, batch_size: 4, lr: 1e-2 }, 2), corpus);
  for (let i = 0; i < 30; i++) t.trainStep();
  return t;
}

/** Model probabilities of every next token for a whole sequence at once (no state carrying). */
function probsAt(model: LanguageModel, ids: number[], position: number, window = Infinity): Float64Array {
  const start = Math.max(0, position + 1 - window);
  const slice = ids.slice(start, position + 1);
  return model.backend.scoped(() => {
    const out = model.forward(new Graph(model.backend, new Rng(0), false), Int32Array.from(slice), 1, slice.length);
    const V = out.logits.shape[2];
    return softmaxWithTemperature(Array.from(model.backend.read(out.logits).subarray((slice.length - 1) * V)), 1);
  });
}

describe('KV cache', () => {
  it('feeding a prompt then one token at a time gives the full forward pass logits, both position encodings', async () => {
    const { GPT, resolveModelConfig } = await import('../../src/engine/models');
    const { CpuBackend } = await import('../../src/engine/backend/cpu');
    const backend = new CpuBackend();
    for (const position_encoding of ['learned', 'sinusoidal'] as const) {
      const config = resolveModelConfig('gpt', 11, {
        n_layer: 2,
        n_head: 2,
        n_embd: 16,
        block_size: 10,
        position_encoding,
        norm_position: position_encoding === 'learned' ? 'pre' : 'post',
      });
      const model = new GPT(config as never, backend, new Rng(3));
      for (const [, p] of model.params.entries())
        backend.write(
          p,
          Array.from(backend.read(p), (v, i) => v * 30 + 0.01 * Math.sin(i)),
        );
      const B = 2,
        T = 10;
      const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 11);
      const full = backend.scoped(() => Array.from(backend.read(model.forward(new Graph(backend, new Rng(0), false), ids, B, T).logits)));
      const cache = model.createCache(B);
      const stepLogits: number[][] = [];
      const prompt = 4;
      const take = (t0: number, n: number) => Int32Array.from({ length: B * n }, (_, i) => ids[Math.floor(i / n) * T + t0 + (i % n)]);
      backend.scoped(() =>
        stepLogits.push(Array.from(backend.read(model.forwardCached(new Graph(backend, new Rng(0), false), take(0, prompt), B, prompt, cache)))),
      );
      for (let t = prompt; t < T; t++) {
        backend.scoped(() => stepLogits.push(Array.from(backend.read(model.forwardCached(new Graph(backend, new Rng(0), false), take(t, 1), B, 1, cache)))));
      }
      const V = 11;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const got = t < prompt ? stepLogits[0].slice((b * prompt + t) * V, (b * prompt + t + 1) * V) : stepLogits[t - prompt + 1].slice(b * V, (b + 1) * V);
          const want = full.slice((b * T + t) * V, (b * T + t + 1) * V);
          got.forEach((x, i) => expect(x).toBeCloseTo(want[i], 4));
        }
      }
      expect(() => backend.scoped(() => model.forwardCached(new Graph(backend, new Rng(0), false), take(0, 1), B, 1, cache))).toThrow(
        'the cache holds 10 positions; 10 used, 1 more asked',
      );
      model.disposeCache(cache);
    }
  });
});

describe('generation', () => {
  for (const family of ['lstm', 'gpt'] as const) {
    it(`${family}: streamed tokens carry the probabilities of a full forward pass (state carried / window cropped)`, () => {
      const t = trained(family);
      const prompt = 'To be, o';
      const out = [...generate(t.model, tok, { prompt, length: 20, seed: 1, temperature: 0.9 })];
      expect(out).toHaveLength(20);
      const ids = [...tok.encode(prompt), ...out.map((o) => o.id)];
      const window = family === 'gpt' ? 8 : Infinity;
      out.forEach((o, i) => {
        const p = probsAt(t.model, ids, prompt.length - 1 + i, window);
        expect(o.prob).toBeCloseTo(p[o.id], 5);
        expect(o.top).toHaveLength(5);
        expect(o.top[0].prob).toBeCloseTo(Math.max(...p), 5);
        expect(o.text).toBe(tok.vocab[o.id]);
      });
      t.dispose();
    });
  }

  it('is reproducible from its seed; greedy is deterministic and picks the argmax', () => {
    const t = trained('lstm');
    const text = (seed: number, temperature: number) =>
      [...generate(t.model, tok, { prompt: 'th', length: 30, seed, temperature })].map((o) => o.text).join('');
    expect(text(5, 1)).toBe(text(5, 1));
    expect(text(5, 1)).not.toBe(text(6, 1));
    expect(text(1, 0)).toBe(text(2, 0));
    for (const o of generate(t.model, tok, { prompt: 'th', length: 10, seed: 1, temperature: 0 })) expect(o.id).toBe(o.top[0].id);
    t.dispose();
  });

  it('never repeats an n-gram with no-repeat-ngram', () => {
    const t = trained('lstm');
    const prompt = 'to be';
    const out = [...generate(t.model, tok, { prompt, length: 60, seed: 3, temperature: 0, noRepeatNgram: 3 })].map((o) => o.text).join('');
    const all = prompt + out;
    const seen = new Set<string>();
    for (let i = 0; i + 3 <= all.length; i++) {
      expect(seen.has(all.slice(i, i + 3)), all.slice(i, i + 3)).toBe(false);
      seen.add(all.slice(i, i + 3));
    }
    t.dispose();
  });

  it('bans exactly the tokens that would complete a seen n-gram', () => {
    expect(bannedByNgram([1, 2, 3, 1, 2, 4, 1, 2], 3).sort()).toEqual([3, 4]);
    expect(bannedByNgram([1, 2, 3], 1).sort()).toEqual([1, 2, 3]);
    expect(bannedByNgram([1], 3)).toEqual([]);
  });

  it('names unknown prompt characters and refuses bad settings', () => {
    const t = trained('gpt');
    expect(() => [...generate(t.model, tok, { prompt: 'Zebra§', length: 1, seed: 1 })]).toThrow('text has characters the vocabulary does not: "Z", "§"');
    expect(() => [...generate(t.model, tok, { prompt: 'to', length: -1, seed: 1 })]).toThrow('length (-1) must be a whole number ≥ 0');
    expect(() => [...generate(t.model, tok, { prompt: 'to', length: 1, seed: 1, topP: 2 })]).toThrow('top-p (2) must be in (0, 1]');
    t.dispose();
  });
});

/**
 * Hugging Face's NoRepeatNGramLogitsProcessor (transformers, generation/logits_process.py),
 * transcribed: every n-gram of the sequence maps its first n-1 tokens to the tokens that followed;
 * the tokens banned next are those after the sequence's last n-1 tokens; nothing is banned
 * while the sequence is shorter than n-1 (`cur_len + 1 < ngram_size`).
 */
function huggingFaceBanned(ids: number[], n: number): number[] {
  const curLen = ids.length;
  if (curLen + 1 < n) return [];
  const generated = new Map<string, number[]>();
  for (let i = 0; i + n <= ids.length; i++) {
    const key = ids.slice(i, i + n - 1).join(',');
    generated.set(key, [...(generated.get(key) ?? []), ids[i + n - 1]]);
  }
  return generated.get(ids.slice(curLen + 1 - n, curLen).join(',')) ?? [];
}

describe('no-repeat-ngram as Hugging Face defines it', () => {
  it('bans the same tokens as NoRepeatNGramLogitsProcessor on random sequences, n = 1 to 4', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 300; trial++) {
      const ids = Array.from({ length: Math.floor(rng.random() * 30) }, () => Math.floor(rng.random() * 4));
      const n = 1 + (trial % 4);
      expect(bannedByNgram(ids, n).sort(), `${ids} n=${n}`).toEqual([...new Set(huggingFaceBanned(ids, n))].sort());
    }
  });

  it('gives a banned token probability 0 whatever the other filters, and counts the prompt', () => {
    const logits = [3, 2.5, 1, 0.5, -1];
    const banned = bannedByNgram([0, 1, 0], 2); // "0 1" seen: after "0", 1 is banned
    expect(banned).toEqual([1]);
    for (const options of [{}, { temperature: 0 }, { temperature: 0.7, topK: 2 }, { topP: 0.9 }]) {
      const p = samplingDistribution(logits, { ...options, banned });
      expect(p[1]).toBe(0);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    // greedy with a ban takes the next best
    expect(Array.from(samplingDistribution(logits, { temperature: 0, banned: [0] }))).toEqual([0, 1, 0, 0, 0]);
  });

  it('generate with no_repeat_ngram_size 2 never writes a bigram twice, prompt included', () => {
    const t = trained('gpt');
    const prompt = 'to be, or';
    const out = [...generate(t.model, tok, { prompt, length: 40, seed: 2, temperature: 1.5, noRepeatNgram: 2 })].map((o) => o.text).join('');
    const all = prompt + out;
    const pairs = Array.from({ length: all.length - 1 }, (_, i) => all.slice(i, i + 2));
    expect(new Set(pairs).size).toBe(pairs.length);
    t.dispose();
  });
});

describe('next-token logits', () => {
  it('are the logits generate draws its first token from, for both families', () => {
    for (const family of ['gpt', 'lstm'] as const) {
      const t = trained(family);
      const prompt = 'whether tis nobler in';
      const { logits, banned } = nextTokenLogits(t.model, tok, prompt, 2);
      const ids = Array.from(tok.encode(prompt));
      expect(banned.sort()).toEqual(bannedByNgram(ids, 2).sort());
      const [first] = generate(t.model, tok, { prompt, length: 1, seed: 1 });
      expect(first.prob).toBeCloseTo(softmaxWithTemperature(logits, 1)[first.id], 5);
      expect(first.top.map((x) => x.id)).toEqual(
        Array.from(softmaxWithTemperature(logits, 1).keys())
          .sort((a, b) => logits[b] - logits[a])
          .slice(0, 5),
      );
      t.dispose();
    }
  });
});

describe('sample diversity and surprise', () => {
  it('counts distinct tokens and n-grams of a hand-made sequence', () => {
    // a b a b a c: bigrams ab ba ab ba ac -> 3 distinct of 5; trigrams aba bab aba bac -> 3 of 4
    const ids = [0, 1, 0, 1, 0, 2];
    expect(distinctNgrams(ids, 2)).toEqual({ distinct: 3, total: 5, ratio: 3 / 5 });
    expect(distinctNgrams(ids, 3)).toEqual({ distinct: 3, total: 4, ratio: 3 / 4 });
    expect(distinctNgrams([0], 2)).toEqual({ distinct: 0, total: 0, ratio: 0 });
    const probs = [0.5, 0.25, 0.5, 0.25, 0.5, 1];
    const s = sampleStats(ids, probs);
    expect(s.tokens).toBe(6);
    expect(s.distinctTokens).toBe(3);
    expect([s.distinct2, s.distinct2Ratio, s.distinct3, s.distinct3Ratio]).toEqual([3, 0.6, 3, 0.75]);
    // 4-grams abab baba abac: none seen before -> 0
    expect(s.repetitionRate).toBe(0);
    // surprise: (3 ln 2 + 2 ln 4 + 0) / 6 = 7 ln 2 / 6 nats
    expect(s.meanSurprise).toBeCloseTo((7 * Math.LN2) / 6, 12);
  });

  it('a sequence that loops has a high repetition rate; one that never repeats has none', () => {
    const loop = Array.from({ length: 20 }, (_, i) => i % 2); // abab...: 17 4-grams, 2 distinct
    expect(
      sampleStats(
        loop,
        loop.map(() => 1),
      ).repetitionRate,
    ).toBeCloseTo(15 / 17, 12);
    expect(
      sampleStats(
        loop,
        loop.map(() => 1),
      ).meanSurprise,
    ).toBe(0);
    const fresh = Array.from({ length: 20 }, (_, i) => i);
    expect(
      sampleStats(
        fresh,
        fresh.map(() => 0.1),
      ).repetitionRate,
    ).toBe(0);
    expect(
      sampleStats(
        fresh,
        fresh.map(() => 0.1),
      ).meanSurprise,
    ).toBeCloseTo(Math.log(10), 12);
  });

  it('a cell averages its samples and pools the surprise over every token', () => {
    const a = { ids: [0, 0, 0, 0, 0, 0], probs: [1, 1, 1, 1, 1, 1] }; // 1 distinct token, 2 of its 3 4-grams repeat, surprise 0
    const b = { ids: [0, 1, 2, 3, 4, 5], probs: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5] }; // 6 distinct, ln 2 each
    const c = cellStats([a, b]);
    expect(c.tokens).toBe(12);
    expect(c.distinctTokens).toBe(3.5);
    expect(c.distinct2Ratio).toBeCloseTo((1 / 5 + 1) / 2, 12);
    expect(c.repetitionRate).toBeCloseTo((2 / 3 + 0) / 2, 12);
    expect(c.meanSurprise).toBeCloseTo((6 * Math.LN2) / 12, 12);
    expect(() => sampleStats([1, 2], [1])).toThrow('2 ids but 1 probabilities');
  });
});
