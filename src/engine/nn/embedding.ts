import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import type { Init, ParameterStore } from './parameters';

/** torch.nn.Embedding: weight (V, C); row t is the vector of token t. */
export class Embedding {
  readonly weight: Tensor;

  constructor(params: ParameterStore, name: string, count: number, dim: number, init: Init) {
    this.weight = params.create(`${name}.weight`, [count, dim], init);
  }

  forward(g: Graph, ids: Int32Array, idsShape: readonly number[]): Tensor {
    return g.embedding(this.weight, ids, idsShape); // (…) -> (…, C)
  }
}
