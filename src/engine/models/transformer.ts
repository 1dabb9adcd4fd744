import type { Backend } from '../backend/backend';
import type { Graph } from '../autograd';
import { CausalSelfAttention, type KVCache } from '../nn/attention';
import { Block } from '../nn/block';
import { Embedding } from '../nn/embedding';
import { LayerNorm } from '../nn/layernorm';
import { Linear } from '../nn/linear';
import { MLP } from '../nn/mlp';
import { ParameterStore, type Init } from '../nn/parameters';
import { LearnedPosition, SinusoidalPosition, type PositionEncoding } from '../nn/position';
import type { Rng } from '../rng';
import type { Tensor } from '../tensor';
import type { TransformerConfig } from './config';
import type { ForwardResult, LanguageModel } from './model';

export interface GptCache {
  layers: KVCache[];
  /** Positions filled. */
  length: number;
}

/**
 * GPT-style decoder with nanoGPT's parameter names (transformer.wte, transformer.h.{l}.attn.c_attn,
 * …, lm_head). Initialised like nanoGPT: N(0, 0.02) for weights and embeddings, zero biases, and
 * the residual projections scaled by 1/√(2·n_layer) so the residual stream does not grow with depth.
 */
export class GPT implements LanguageModel {
  readonly params: ParameterStore;
  private readonly wte: Embedding;
  private readonly position: PositionEncoding;
  private readonly blocks: Block[] = [];
  private readonly lnF: LayerNorm | null;
  private readonly lmHead: Linear | null;

  constructor(
    readonly config: TransformerConfig,
    readonly backend: Backend,
    rng: Rng,
  ) {
    const { vocab_size: V, n_embd: C, n_layer: L, n_head: nh } = config;
    const p = (this.params = new ParameterStore(backend, rng));
    const normal: Init = { kind: 'normal', std: 0.02 };
    const proj: Init = { kind: 'normal', std: 0.02 / Math.sqrt(2 * L) };
    const bias: Init | null = config.bias ? { kind: 'zeros' } : null;
    this.wte = new Embedding(p, 'transformer.wte', V, C, normal);
    this.position =
      config.position_encoding === 'learned'
        ? new LearnedPosition(p, 'transformer.wpe', config.block_size, C, 0.02)
        : new SinusoidalPosition(backend, config.block_size, C);
    for (let l = 0; l < L; l++) {
      const name = `transformer.h.${l}`;
      const ln1 = new LayerNorm(p, `${name}.ln_1`, C);
      const attn = new CausalSelfAttention(p, `${name}.attn`, C, nh, { weight: normal, projWeight: proj, bias }, config.attn_dropout, config.resid_dropout);
      const ln2 = new LayerNorm(p, `${name}.ln_2`, C);
      const mlp = new MLP(p, `${name}.mlp`, C, config.mlp_ratio * C, config.activation, { weight: normal, projWeight: proj, bias }, config.resid_dropout);
      this.blocks.push(new Block(ln1, attn, ln2, mlp, config.norm_position));
    }
    this.lnF = config.final_layer_norm ? new LayerNorm(p, 'transformer.ln_f', C) : null;
    this.lmHead = config.tie_word_embeddings ? null : new Linear(p, 'lm_head', C, V, { weight: normal, bias: config.lm_head_bias ? { kind: 'zeros' } : null });
  }

  /** Names of parameters PyTorch's state_dict lists twice because they are shared. */
  get tiedParams(): Record<string, string> {
    return this.config.tie_word_embeddings ? { 'lm_head.weight': 'transformer.wte.weight' } : {};
  }

  forward(g: Graph, ids: Int32Array, B: number, T: number): ForwardResult {
    const { logits, hidden, attention } = this.run(g, ids, B, T, null);
    return { logits, hidden, attention: attention as Tensor[], state: null };
  }

  /** Keys and values of every layer for generating with batch size B, empty. */
  createCache(B: number): GptCache {
    const shape = [B, this.config.block_size, this.config.n_embd];
    return { layers: this.blocks.map(() => ({ k: this.backend.allocPersistent(shape), v: this.backend.allocPersistent(shape) })), length: 0 };
  }

  dispose(): void {
    this.params.dispose();
    this.position.dispose();
  }

  disposeCache(cache: GptCache): void {
    for (const l of cache.layers) {
      this.backend.dispose(l.k);
      this.backend.dispose(l.v);
    }
  }

  /**
   * Generation with a KV cache (no gradients): the first call feeds the prompt, each later call
   * one new token, which attends over every cached position. Returns logits (B, T, V) for the
   * tokens fed. The cache holds at most block_size positions.
   */
  forwardCached(g: Graph, ids: Int32Array, B: number, T: number, cache: GptCache): Tensor {
    if (cache.length > 0 && T !== 1) throw new Error('after the prompt, feed one token at a time');
    if (cache.length + T > this.config.block_size) {
      throw new Error(`the cache holds ${this.config.block_size} positions; ${cache.length} used, ${T} more asked`);
    }
    const { logits } = this.run(g, ids, B, T, cache);
    cache.length += T;
    return logits;
  }

  private run(g: Graph, ids: Int32Array, B: number, T: number, cache: GptCache | null): { logits: Tensor; hidden: Tensor; attention: (Tensor | null)[] } {
    const offset = cache ? cache.length : 0;
    if (offset + T > this.config.block_size) {
      throw new Error(`sequence length ${offset + T} is longer than the model's block_size (${this.config.block_size})`);
    }
    const tok = this.wte.forward(g, ids, [B, T]); // (B, T, C)
    const pos = this.position.forward(g, T, offset); // (T, C)
    let x = g.dropout(g.addRepeat(tok, pos), this.config.embd_dropout);
    const attention: (Tensor | null)[] = [];
    this.blocks.forEach((block, l) => {
      const out = block.forward(g, x, cache ? cache.layers[l] : undefined, offset);
      x = out.x;
      attention.push(out.probs);
    });
    if (this.lnF) x = this.lnF.forward(g, x);
    const logits = this.lmHead ? this.lmHead.forward(g, x) : g.linear(x, this.wte.weight, null); // tied: (B, T, C) · wteᵀ -> (B, T, V)
    return { logits, hidden: x, attention };
  }
}
