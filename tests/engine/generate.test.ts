import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { splitCorpus } from '../../src/engine/data/corpus';
import { generate } from '../../src/engine/generate';
import type { LanguageModel } from '../../src/engine/models';
import { Rng } from '../../src/engine/rng';
import { bannedByNgram, softmaxWithTemperature } from '../../src/engine/sample';
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
