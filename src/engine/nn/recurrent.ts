import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import type { ParameterStore } from './parameters';

export type CellKind = 'rnn' | 'lstm' | 'gru';

/** Gate blocks stacked in the weight rows: rnn 1, lstm 4 (i,f,g,o), gru 3 (r,z,n). */
export const GATES: Record<CellKind, number> = { rnn: 1, lstm: 4, gru: 3 };

/**
 * Layer k of torch.nn.RNN / LSTM / GRU, with its state_dict names (`rnn.weight_ih_l{k}` …) and
 * PyTorch's default init, U(±1/√H) for every weight and both bias vectors.
 */
export class RecurrentLayer {
  readonly weightIh: Tensor;
  readonly weightHh: Tensor;
  readonly biasIh: Tensor;
  readonly biasHh: Tensor;

  constructor(
    params: ParameterStore,
    prefix: string,
    layer: number,
    readonly kind: CellKind,
    inputSize: number,
    readonly hiddenSize: number,
  ) {
    const G = GATES[kind] * hiddenSize;
    const init = { kind: 'uniform', bound: 1 / Math.sqrt(hiddenSize) } as const;
    this.weightIh = params.create(`${prefix}.weight_ih_l${layer}`, [G, inputSize], init);
    this.weightHh = params.create(`${prefix}.weight_hh_l${layer}`, [G, hiddenSize], init);
    this.biasIh = params.create(`${prefix}.bias_ih_l${layer}`, [G], init);
    this.biasHh = params.create(`${prefix}.bias_hh_l${layer}`, [G], init);
  }

  /**
   * x (T, B, in), time-major; h0, c0 (B, H) carry no gradient (truncated BPTT).
   * Returns hs (T, B, H) and, for the LSTM, the cell states cs (T, B, H).
   */
  forward(g: Graph, x: Tensor, h0: Tensor, c0: Tensor | null): { hs: Tensor; cs: Tensor | null } {
    const gi = g.linear(x, this.weightIh, this.biasIh); // (T, B, in) -> (T, B, G·H), every step at once
    switch (this.kind) {
      case 'rnn':
        return { hs: g.rnnTanh(gi, this.weightHh, this.biasHh, h0), cs: null };
      case 'lstm':
        if (!c0) throw new Error('an LSTM layer needs an initial cell state');
        return g.lstm(gi, this.weightHh, this.biasHh, h0, c0);
      case 'gru':
        return { hs: g.gru(gi, this.weightHh, this.biasHh, h0), cs: null };
    }
  }
}
