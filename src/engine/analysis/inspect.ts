import { Graph } from '../autograd';
import type { Tokenizer } from '../data/tokenizer';
import { GPT, type LanguageModel } from '../models';
import { sinusoidalTable } from '../nn/position';
import { Rng } from '../rng';
import { topTokens } from '../sample';

// The numbers behind the lab's "look inside" views, read from a model without training it.

/** The token embedding table, one vector per vocabulary entry (row t is token t). */
export function embeddingVectors(model: LanguageModel): Float64Array[] {
  const name = model instanceof GPT ? 'transformer.wte.weight' : 'embedding.weight';
  const w = model.params.get(name);
  const [V, C] = w.shape;
  const data = model.backend.read(w);
  return Array.from({ length: V }, (_, t) => Float64Array.from(data.subarray(t * C, (t + 1) * C)));
}

export interface SurprisePoint {
  char: string;
  /** −ln p(char | what precedes it). */
  loss: number;
  /** The model's five most probable guesses for this position. */
  top: { text: string; prob: number }[];
}

/** Per-token surprise over a text, for every token after the first, with the model's top guesses. */
export function surprise(model: LanguageModel, tokenizer: Tokenizer, text: string): SurprisePoint[] {
  const ids = tokenizer.encode(text);
  if (ids.length < 2) throw new Error('surprise needs a text of at least two characters');
  const window = model instanceof GPT ? model.config.block_size : ids.length - 1;
  const out: SurprisePoint[] = [];
  // the Transformer reads the text in block_size chunks, each starting with a fresh context
  for (let from = 0; from < ids.length - 1; from += window) {
    const x = ids.subarray(from, Math.min(ids.length - 1, from + window));
    model.backend.scoped(() => {
      const logits = model.forward(new Graph(model.backend, new Rng(0), false), x, 1, x.length).logits;
      const V = logits.shape[2];
      const all = model.backend.read(logits);
      for (let t = 0; t < x.length; t++) {
        const row = all.subarray(t * V, (t + 1) * V);
        let max = -Infinity;
        for (const v of row) if (v > max) max = v;
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        const target = ids[from + t + 1];
        const lse = Math.log(sum) + max;
        const top = topTokens(
          Array.from(row, (v) => Math.exp(v - lse)),
          5,
        ).map((g) => ({ text: tokenizer.vocab[g.id], prob: g.prob }));
        out.push({ char: tokenizer.vocab[target], loss: lse - row[target], top });
      }
    });
  }
  return out;
}

/**
 * Attention probabilities for a prompt: maps[layer][head] is a T×T matrix (query × key, zero above
 * the diagonal). Transformer models only; the prompt is cut to the last block_size characters.
 */
export function attentionMaps(model: LanguageModel, tokenizer: Tokenizer, prompt: string): { tokens: string[]; maps: number[][][][] } {
  if (!(model instanceof GPT)) {
    throw new Error(`attention maps need a Transformer; a ${model.config.family} model has no attention: it reads the text through its recurrent state`);
  }
  const all = tokenizer.encode(prompt);
  if (all.length === 0) throw new Error('give a prompt to see attention on');
  const ids = all.subarray(Math.max(0, all.length - model.config.block_size));
  const T = ids.length;
  return model.backend.scoped(() => {
    const out = model.forward(new Graph(model.backend, new Rng(0), false), ids, 1, T);
    const maps = out.attention.map((p) => {
      const data = model.backend.read(p);
      const nh = p.shape[1];
      return Array.from({ length: nh }, (_, h) => Array.from({ length: T }, (_, i) => Array.from(data.subarray((h * T + i) * T, (h * T + i + 1) * T))));
    });
    return { tokens: Array.from(ids, (id) => tokenizer.vocab[id]), maps };
  });
}

/** The sinusoidal position table as rows of the Transformer's width (for the heatmap view). */
export function positionTable(positions: number, dim: number): number[][] {
  const t = sinusoidalTable(positions, dim);
  return Array.from({ length: positions }, (_, p) => Array.from(t.subarray(p * dim, (p + 1) * dim)));
}
