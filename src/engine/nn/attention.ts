import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import { Linear } from './linear';
import type { Init, ParameterStore } from './parameters';

/** One layer's keys and values for generation, (B, block_size, C) each. */
export interface KVCache {
  k: Tensor;
  v: Tensor;
}

/** nanoGPT's CausalSelfAttention: one fused q,k,v projection, causal softmax attention, output projection. */
export class CausalSelfAttention {
  readonly cAttn: Linear;
  readonly cProj: Linear;

  constructor(
    params: ParameterStore,
    name: string,
    nEmbd: number,
    readonly nHead: number,
    init: { weight: Init; projWeight: Init; bias: Init | null },
    readonly attnDropout: number,
    readonly residDropout: number,
  ) {
    this.cAttn = new Linear(params, `${name}.c_attn`, nEmbd, 3 * nEmbd, { weight: init.weight, bias: init.bias });
    this.cProj = new Linear(params, `${name}.c_proj`, nEmbd, nEmbd, { weight: init.projWeight, bias: init.bias });
  }

  /**
   * x (B, T, C) -> y (B, T, C); probs (B, nh, T, T). With a cache (generation, no gradients): the
   * new positions' k, v are stored at `offset`; a single new token attends over the whole cache.
   */
  forward(g: Graph, x: Tensor, cache?: KVCache, offset = 0): { y: Tensor; probs: Tensor | null } {
    const qkv = this.cAttn.forward(g, x); // (B, T, C) -> (B, T, 3C)
    if (cache) g.backend.kvCacheWrite(qkv, cache.k, cache.v, offset);
    if (cache && offset > 0) {
      if (x.shape[1] !== 1) throw new Error('a cached attention step takes one new token at a time');
      const y = g.backend.alloc(x.shape);
      g.backend.attentionDecodeForward(qkv, cache.k, cache.v, offset + 1, this.nHead, y);
      return { y: this.cProj.forward(g, y), probs: null };
    }
    const { y, probs } = g.attention(qkv, this.nHead, this.attnDropout); // (B, T, 3C) -> (B, T, C)
    return { y: g.dropout(this.cProj.forward(g, y), this.residDropout), probs };
  }
}
