import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import { Linear } from './linear';
import type { Init, ParameterStore } from './parameters';

/** nanoGPT's CausalSelfAttention: one fused q,k,v projection, causal softmax attention, output projection. */
export class CausalSelfAttention {
  readonly cAttn: Linear;
  readonly cProj: Linear;

  constructor(
    params: ParameterStore, name: string, nEmbd: number, readonly nHead: number,
    init: { weight: Init; projWeight: Init; bias: Init | null },
    readonly attnDropout: number, readonly residDropout: number,
  ) {
    this.cAttn = new Linear(params, `${name}.c_attn`, nEmbd, 3 * nEmbd, { weight: init.weight, bias: init.bias });
    this.cProj = new Linear(params, `${name}.c_proj`, nEmbd, nEmbd, { weight: init.projWeight, bias: init.bias });
  }

  /** x (B, T, C) -> y (B, T, C); probs (B, nh, T, T) */
  forward(g: Graph, x: Tensor): { y: Tensor; probs: Tensor } {
    const qkv = this.cAttn.forward(g, x); // (B, T, C) -> (B, T, 3C)
    const { y, probs } = g.attention(qkv, this.nHead, this.attnDropout); // (B, T, 3C) -> (B, T, C)
    return { y: g.dropout(this.cProj.forward(g, y), this.residDropout), probs };
  }
}
