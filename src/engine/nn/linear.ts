import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import type { Init, ParameterStore } from './parameters';

/** torch.nn.Linear: weight (out, in), optional bias (out); y = x·Wᵀ + b. */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(params: ParameterStore, name: string, inFeatures: number, outFeatures: number, init: { weight: Init; bias: Init | null }) {
    this.weight = params.create(`${name}.weight`, [outFeatures, inFeatures], init.weight);
    this.bias = init.bias ? params.create(`${name}.bias`, [outFeatures], init.bias) : null;
  }

  forward(g: Graph, x: Tensor): Tensor {
    return g.linear(x, this.weight, this.bias); // (…, in) -> (…, out)
  }
}

/** PyTorch's default Linear init: kaiming_uniform(a=√5) = U(±1/√in) for weight and bias. */
export function torchDefaultLinearInit(inFeatures: number, bias = true): { weight: Init; bias: Init | null } {
  const bound = 1 / Math.sqrt(inFeatures);
  return { weight: { kind: 'uniform', bound }, bias: bias ? { kind: 'uniform', bound } : null };
}
