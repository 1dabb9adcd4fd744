import type { Backend } from '../backend/backend';
import type { Graph } from '../autograd';
import type { Tensor } from '../tensor';
import { Linear, torchDefaultLinearInit } from './linear';
import type { ParameterStore } from './parameters';
import { sinusoidalTable } from './position';

// The building blocks of the attention lesson's encoder–decoder Transformer, with the lesson's
// module names (mha.W_q …, ffn.fc1, layernorm1.gamma), so a state_dict maps onto them 1:1.

/** The lesson's MultiHeadAttention: W_q, W_k, W_v, W_o (Linear with bias), scores + mask · −1e9. */
export class MultiHeadAttention {
  readonly wQ: Linear;
  readonly wK: Linear;
  readonly wV: Linear;
  readonly wO: Linear;

  constructor(
    params: ParameterStore,
    name: string,
    dModel: number,
    readonly numHeads: number,
  ) {
    const init = torchDefaultLinearInit(dModel);
    this.wQ = new Linear(params, `${name}.W_q`, dModel, dModel, init);
    this.wK = new Linear(params, `${name}.W_k`, dModel, dModel, init);
    this.wV = new Linear(params, `${name}.W_v`, dModel, dModel, init);
    this.wO = new Linear(params, `${name}.W_o`, dModel, dModel, init);
  }

  /**
   * query (B, Tq, C) attends over keyValue (B, Tk, C): the same tensor for self-attention, the
   * encoder's output for cross-attention. mask (B, 1, Tk) or (B, Tq, Tk), 1 = masked.
   * Returns y (B, Tq, C) and probs (B, nh, Tq, Tk).
   */
  forward(g: Graph, query: Tensor, keyValue: Tensor, mask: Tensor | null): { y: Tensor; probs: Tensor } {
    const q = this.wQ.forward(g, query);
    const k = this.wK.forward(g, keyValue);
    const v = this.wV.forward(g, keyValue);
    const { y, probs } = g.maskedAttention(q, k, v, mask, this.numHeads);
    return { y: this.wO.forward(g, y), probs };
  }
}

/** The lesson's position-wise FeedForward: fc1 (d_model → d_ff), ReLU, fc2 (d_ff → d_model). */
export class FeedForward {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(params: ParameterStore, name: string, dModel: number, dFf: number) {
    this.fc1 = new Linear(params, `${name}.fc1`, dModel, dFf, torchDefaultLinearInit(dModel));
    this.fc2 = new Linear(params, `${name}.fc2`, dFf, dModel, torchDefaultLinearInit(dFf));
  }

  forward(g: Graph, x: Tensor): Tensor {
    return this.fc2.forward(g, g.activation('relu', this.fc1.forward(g, x)));
  }
}

export type NormKind = 'torch' | 'seed';

/**
 * The lesson's LayerNorm module (parameters gamma, beta). `seed`: the lesson's own formula,
 * gamma · (x − mean) / (std + 1e-6) + beta with the unbiased std; `torch`: nn.LayerNorm's (eps 1e-5).
 */
export class NormLayer {
  readonly gamma: Tensor;
  readonly beta: Tensor;

  constructor(
    params: ParameterStore,
    name: string,
    dim: number,
    readonly kind: NormKind,
  ) {
    this.gamma = params.create(`${name}.gamma`, [dim], { kind: 'ones' });
    this.beta = params.create(`${name}.beta`, [dim], { kind: 'zeros' });
  }

  forward(g: Graph, x: Tensor): Tensor {
    return this.kind === 'seed' ? g.seedLayerNorm(x, this.gamma, this.beta, 1e-6) : g.layerNorm(x, this.gamma, this.beta, 1e-5);
  }
}

/**
 * A sublayer with its Add & Norm. Post-LN (the lesson): norm(x + dropout(f(x))); pre-LN:
 * x + dropout(f(norm(x))).
 */
function addAndNorm(g: Graph, x: Tensor, norm: NormLayer, pre: boolean, dropout: number, f: (x: Tensor) => Tensor): Tensor {
  if (pre) return g.add(x, g.dropout(f(norm.forward(g, x)), dropout));
  return norm.forward(g, g.add(x, g.dropout(f(x), dropout)));
}

/** The lesson's EncoderLayer: self-attention (mha), then the feed-forward (ffn), each with Add & Norm. */
export class EncoderLayer {
  readonly mha: MultiHeadAttention;
  readonly ffn: FeedForward;
  readonly layernorm1: NormLayer;
  readonly layernorm2: NormLayer;

  constructor(
    params: ParameterStore,
    name: string,
    dModel: number,
    numHeads: number,
    dFf: number,
    norm: NormKind,
    readonly pre: boolean,
    readonly dropout: number,
  ) {
    this.mha = new MultiHeadAttention(params, `${name}.mha`, dModel, numHeads);
    this.ffn = new FeedForward(params, `${name}.ffn`, dModel, dFf);
    this.layernorm1 = new NormLayer(params, `${name}.layernorm1`, dModel, norm);
    this.layernorm2 = new NormLayer(params, `${name}.layernorm2`, dModel, norm);
  }

  /** x (B, S, C), srcMask (B, 1, S) -> (B, S, C); probs (B, nh, S, S). */
  forward(g: Graph, x: Tensor, srcMask: Tensor | null): { x: Tensor; probs: Tensor } {
    let probs: Tensor | null = null;
    x = addAndNorm(g, x, this.layernorm1, this.pre, this.dropout, (h) => {
      const a = this.mha.forward(g, h, h, srcMask);
      probs = a.probs;
      return a.y;
    });
    x = addAndNorm(g, x, this.layernorm2, this.pre, this.dropout, (h) => this.ffn.forward(g, h));
    return { x, probs: probs! };
  }
}

/**
 * The lesson's DecoderLayer: masked self-attention (mha1), cross-attention over the encoder's
 * output (mha2: queries from the decoder, keys and values from the encoder), the feed-forward.
 */
export class DecoderLayer {
  readonly mha1: MultiHeadAttention;
  readonly mha2: MultiHeadAttention;
  readonly ffn: FeedForward;
  readonly layernorm1: NormLayer;
  readonly layernorm2: NormLayer;
  readonly layernorm3: NormLayer;

  constructor(
    params: ParameterStore,
    name: string,
    dModel: number,
    numHeads: number,
    dFf: number,
    norm: NormKind,
    readonly pre: boolean,
    readonly dropout: number,
  ) {
    this.mha1 = new MultiHeadAttention(params, `${name}.mha1`, dModel, numHeads);
    this.mha2 = new MultiHeadAttention(params, `${name}.mha2`, dModel, numHeads);
    this.ffn = new FeedForward(params, `${name}.ffn`, dModel, dFf);
    this.layernorm1 = new NormLayer(params, `${name}.layernorm1`, dModel, norm);
    this.layernorm2 = new NormLayer(params, `${name}.layernorm2`, dModel, norm);
    this.layernorm3 = new NormLayer(params, `${name}.layernorm3`, dModel, norm);
  }

  /**
   * x (B, T, C), memory (B, S, C) the encoder's output, tgtMask (B, T, T), srcMask (B, 1, S).
   * Returns (B, T, C) and the self (B, nh, T, T) and cross (B, nh, T, S) attention probabilities.
   */
  forward(g: Graph, x: Tensor, memory: Tensor, tgtMask: Tensor | null, srcMask: Tensor | null): { x: Tensor; selfProbs: Tensor; crossProbs: Tensor } {
    let selfProbs: Tensor | null = null,
      crossProbs: Tensor | null = null;
    x = addAndNorm(g, x, this.layernorm1, this.pre, this.dropout, (h) => {
      const a = this.mha1.forward(g, h, h, tgtMask);
      selfProbs = a.probs;
      return a.y;
    });
    x = addAndNorm(g, x, this.layernorm2, this.pre, this.dropout, (h) => {
      const a = this.mha2.forward(g, h, memory, srcMask);
      crossProbs = a.probs;
      return a.y;
    });
    x = addAndNorm(g, x, this.layernorm3, this.pre, this.dropout, (h) => this.ffn.forward(g, h));
    return { x, selfProbs: selfProbs!, crossProbs: crossProbs! };
  }
}

/** The lesson's PositionalEncoding: a `pe` buffer (1, max_seq_length, d_model), not a parameter. */
export class PositionalEncodingBuffer {
  readonly pe: Tensor;

  constructor(
    private readonly backend: Backend,
    readonly maxSeqLength: number,
    readonly dModel: number,
  ) {
    this.pe = backend.fromArray([1, maxSeqLength, dModel], sinusoidalTable(maxSeqLength, dModel), true);
  }

  /** Rows 0 … T−1 of the table, (T, C). */
  forward(g: Graph, T: number): Tensor {
    if (T > this.maxSeqLength) throw new Error(`a sequence of ${T} positions is longer than max_seq_length (${this.maxSeqLength})`);
    const out = g.backend.alloc([T, this.dModel]);
    g.backend.copy(this.pe, out, 0, 0, T * this.dModel);
    return out;
  }

  dispose(): void {
    this.backend.dispose(this.pe);
  }
}
