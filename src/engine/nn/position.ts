import type { Backend } from '../backend/backend';
import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import { Embedding } from './embedding';
import type { ParameterStore } from './parameters';

/**
 * The fixed table of "Attention Is All You Need":
 * PE[pos][2i] = sin(pos / 10000^(2i/C)), PE[pos][2i+1] = cos(pos / 10000^(2i/C)).
 */
export function sinusoidalTable(positions: number, dim: number): Float64Array {
  const pe = new Float64Array(positions * dim);
  for (let pos = 0; pos < positions; pos++) {
    for (let i = 0; 2 * i < dim; i++) {
      const angle = pos / Math.pow(10000, (2 * i) / dim);
      pe[pos * dim + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < dim) pe[pos * dim + 2 * i + 1] = Math.cos(angle);
    }
  }
  return pe;
}

export interface PositionEncoding {
  /** Position vectors for positions offset … offset+T−1, (T, C). */
  forward(g: Graph, T: number, offset?: number): Tensor;
  /** Releases buffers that are not parameters (the parameter store releases those). */
  dispose(): void;
}

/** Learned positions (nanoGPT's wpe): an embedding of the position index. */
export class LearnedPosition implements PositionEncoding {
  private readonly table: Embedding;

  constructor(params: ParameterStore, name: string, blockSize: number, dim: number, std: number) {
    this.table = new Embedding(params, name, blockSize, dim, { kind: 'normal', std });
  }

  dispose(): void {
    // the embedding table is a parameter: the store releases it
  }

  forward(g: Graph, T: number, offset = 0): Tensor {
    const pos = new Int32Array(T);
    for (let t = 0; t < T; t++) pos[t] = offset + t;
    return this.table.forward(g, pos, [T]);
  }
}

/** Sinusoidal positions: a buffer, not a parameter (no gradient). */
export class SinusoidalPosition implements PositionEncoding {
  readonly table: Tensor;

  constructor(
    private readonly backend: Backend,
    blockSize: number,
    private readonly dim: number,
  ) {
    this.table = backend.fromArray([blockSize, dim], sinusoidalTable(blockSize, dim), true);
  }

  dispose(): void {
    this.backend.dispose(this.table);
  }

  forward(g: Graph, T: number, offset = 0): Tensor {
    const pe = g.backend.alloc([T, this.dim]);
    g.backend.copy(this.table, pe, offset * this.dim, 0, T * this.dim);
    return pe;
  }
}
