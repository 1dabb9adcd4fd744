import type { Backend } from '../backend/backend';
import type { Graph } from '../autograd';
import { Embedding } from '../nn/embedding';
import { Linear, torchDefaultLinearInit } from '../nn/linear';
import { ParameterStore } from '../nn/parameters';
import { RecurrentLayer } from '../nn/recurrent';
import type { Rng } from '../rng';
import type { Tensor } from '../tensor';
import type { RecurrentConfig } from './config';
import type { ForwardResult, LanguageModel } from './model';

/** Hidden (and, for the LSTM, cell) state per layer, each (B, H). */
export interface RecurrentState {
  h: Tensor[];
  c: Tensor[] | null;
}

/**
 * Embedding -> N recurrent layers (rnn | lstm | gru) -> Linear head at every step, with the
 * parameter names of a PyTorch module holding `embedding`, `rnn` (nn.LSTM etc.) and `head`.
 */
export class RecurrentLM implements LanguageModel {
  readonly params: ParameterStore;
  private readonly embedding: Embedding;
  private readonly layers: RecurrentLayer[] = [];
  private readonly head: Linear;

  constructor(
    readonly config: RecurrentConfig,
    readonly backend: Backend,
    rng: Rng,
  ) {
    const { vocab_size: V, embedding_dim: E, hidden_size: H, num_layers: L } = config;
    this.params = new ParameterStore(backend, rng);
    this.embedding = new Embedding(this.params, 'embedding', V, E, { kind: 'normal', std: 1 }); // nn.Embedding: N(0, 1)
    for (let k = 0; k < L; k++) {
      this.layers.push(new RecurrentLayer(this.params, 'rnn', k, config.family, k === 0 ? E : H, H));
    }
    this.head = new Linear(this.params, 'head', H, V, torchDefaultLinearInit(H));
  }

  /** A zero state for batch size B, persistent (carried from batch to batch by the trainer). */
  zeroState(B: number): RecurrentState {
    const H = this.config.hidden_size;
    const make = () => this.layers.map(() => this.backend.allocPersistent([B, H]));
    return { h: make(), c: this.config.family === 'lstm' ? make() : null };
  }

  dispose(): void {
    this.params.dispose();
  }

  disposeState(state: RecurrentState): void {
    for (const t of [...state.h, ...(state.c ?? [])]) this.backend.dispose(t);
  }

  /** Copies the final state of a forward pass into `into` (its gradient is not carried: truncated BPTT). */
  carryState(from: RecurrentState, into: RecurrentState): void {
    from.h.forEach((t, i) => this.backend.copy(t, into.h[i]));
    if (from.c && into.c) from.c.forEach((t, i) => this.backend.copy(t, into.c![i]));
  }

  /**
   * ids (B, T) batch-first. The layers run time-major so that each step's slice is contiguous;
   * the input is gathered in time-major order and the top layer's output transposed back.
   */
  forward(g: Graph, ids: Int32Array, B: number, T: number, state?: RecurrentState): ForwardResult {
    const H = this.config.hidden_size;
    const s = state ?? this.zeroStateInArena(g, B);
    const idsTB = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) idsTB[t * B + b] = ids[b * T + t];
    let x = this.embedding.forward(g, idsTB, [T, B]); // (T, B, E)
    const finalH: Tensor[] = [];
    const finalC: Tensor[] = [];
    this.layers.forEach((layer, k) => {
      const { hs, cs } = layer.forward(g, x, s.h[k], s.c ? s.c[k] : null); // (T, B, H)
      finalH.push(this.lastStep(g, hs, T, B, H));
      if (cs) finalC.push(this.lastStep(g, cs, T, B, H));
      x = k < this.layers.length - 1 ? g.dropout(hs, this.config.dropout) : hs;
    });
    const hidden = g.transpose01(x); // (T, B, H) -> (B, T, H)
    const logits = this.head.forward(g, hidden); // (B, T, V)
    return {
      logits,
      hidden,
      attention: [],
      state: { h: finalH, c: this.config.family === 'lstm' ? finalC : null },
    };
  }

  private zeroStateInArena(g: Graph, B: number): RecurrentState {
    const H = this.config.hidden_size;
    const make = () => this.layers.map(() => g.backend.alloc([B, H]));
    return { h: make(), c: this.config.family === 'lstm' ? make() : null };
  }

  /** seq (T, B, H) -> its last step (B, H), outside the graph. */
  private lastStep(g: Graph, seq: Tensor, T: number, B: number, H: number): Tensor {
    const out = g.backend.alloc([B, H]);
    g.backend.copy(seq, out, (T - 1) * B * H, 0, B * H);
    return out;
  }
}
