import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import type { ParameterStore } from './parameters';

/** torch.nn.LayerNorm over the last dimension: eps 1e-5, biased variance, gain 1 and bias 0 at init. */
export class LayerNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    params: ParameterStore,
    name: string,
    dim: number,
    readonly eps = 1e-5,
  ) {
    this.weight = params.create(`${name}.weight`, [dim], { kind: 'ones' });
    this.bias = params.create(`${name}.bias`, [dim], { kind: 'zeros' });
  }

  forward(g: Graph, x: Tensor): Tensor {
    return g.layerNorm(x, this.weight, this.bias, this.eps);
  }
}
