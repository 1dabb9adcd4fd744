import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import { CausalSelfAttention, type KVCache } from './attention';
import { LayerNorm } from './layernorm';
import { MLP } from './mlp';

/**
 * One Transformer block. Pre-LN (GPT-2, nanoGPT): x + attn(ln_1(x)), then x + mlp(ln_2(x)).
 * Post-LN (the original Transformer): ln_1(x + attn(x)), then ln_2(x + mlp(x)).
 */
export class Block {
  constructor(
    readonly ln1: LayerNorm,
    readonly attn: CausalSelfAttention,
    readonly ln2: LayerNorm,
    readonly mlp: MLP,
    readonly normPosition: 'pre' | 'post',
  ) {}

  forward(g: Graph, x: Tensor, cache?: KVCache, offset = 0): { x: Tensor; probs: Tensor | null } {
    if (this.normPosition === 'pre') {
      const a = this.attn.forward(g, this.ln1.forward(g, x), cache, offset);
      const x1 = g.add(x, a.y);
      return { x: g.add(x1, this.mlp.forward(g, this.ln2.forward(g, x1))), probs: a.probs };
    }
    const a = this.attn.forward(g, x, cache, offset);
    const x1 = this.ln1.forward(g, g.add(x, a.y));
    return { x: this.ln2.forward(g, g.add(x1, this.mlp.forward(g, x1))), probs: a.probs };
  }
}
