import type { Backend } from '../backend/backend';
import type { Graph } from '../autograd';
import type { ParameterStore } from '../nn/parameters';
import type { Tensor } from '../tensor';
import type { ModelConfig } from './config';
import type { RecurrentState } from './recurrent';

export interface ForwardResult {
  /** (B, T, V), before softmax. */
  logits: Tensor;
  /** The top layer's output at every position, (B, T, H or C): the head's input. */
  hidden: Tensor;
  /** Per layer, attention probabilities (B, nh, T, T); empty for recurrent models. */
  attention: Tensor[];
  /** Recurrent models: the state after the last step, per layer. */
  state: RecurrentState | null;
}

export interface LanguageModel {
  readonly config: ModelConfig;
  readonly backend: Backend;
  readonly params: ParameterStore;
  /** ids (B, T) token ids, batch-first. Recurrent models start from `state` (zeros when absent). */
  forward(g: Graph, ids: Int32Array, B: number, T: number, state?: RecurrentState): ForwardResult;
  /** Releases the model's parameters, their gradients and its buffers (a sinusoidal table). */
  dispose(): void;
}
