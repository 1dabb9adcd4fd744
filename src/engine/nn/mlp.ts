import type { Activation } from '../backend/backend';
import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import { Linear } from './linear';
import type { Init, ParameterStore } from './parameters';

/** The block's feed-forward: c_fc (C -> hidden), GELU or ReLU, c_proj (hidden -> C), dropout. */
export class MLP {
  readonly cFc: Linear;
  readonly cProj: Linear;

  constructor(
    params: ParameterStore,
    name: string,
    nEmbd: number,
    hidden: number,
    readonly activation: Activation,
    init: { weight: Init; projWeight: Init; bias: Init | null },
    readonly dropout: number,
  ) {
    this.cFc = new Linear(params, `${name}.c_fc`, nEmbd, hidden, { weight: init.weight, bias: init.bias });
    this.cProj = new Linear(params, `${name}.c_proj`, hidden, nEmbd, { weight: init.projWeight, bias: init.bias });
  }

  forward(g: Graph, x: Tensor): Tensor {
    const h = g.activation(this.activation, this.cFc.forward(g, x)); // (B, T, C) -> (B, T, hidden)
    return g.dropout(this.cProj.forward(g, h), this.dropout); // -> (B, T, C)
  }
}
