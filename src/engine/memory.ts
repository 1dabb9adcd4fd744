import { countParameters, isRecurrent } from './models';
import type { TrainConfig } from './train';

// What a training run holds in memory, by part, before it starts: the New-run preview's figure
// and the preflight check that refuses a run that cannot fit.

/** Optimizer slots per parameter (moment buffers), as torch.optim keeps them. */
function optimizerSlots(o: TrainConfig['optimizer']): number {
  switch (o.name) {
    case 'adamw':
    case 'adam':
      return 2;
    case 'sgd':
      return o.momentum > 0 ? 1 : 0;
    case 'rmsprop':
      return 1 + (o.centered ? 1 : 0) + (o.momentum > 0 ? 1 : 0);
    case 'adagrad':
      return 1;
  }
}

/** Bytes a training run holds, by part (float32 throughout). */
export interface MemoryEstimate {
  weights: number;
  gradients: number;
  optimizer: number;
  /** What a step saves for its backward pass, with the gradients of those tensors. */
  activations: number;
  /** The heap's own scratch: gemm packing space for the training thread and its helper threads. */
  overhead: number;
  /** All of the above: what the WebAssembly heap must hold. */
  total: number;
  /** Copies of the weights and optimizer state a checkpoint write makes outside the heap. */
  checkpoint: number;
}

const HEAP_OVERHEAD = 16 * 2 ** 20;

/** The wasm32 limit: every float32 tensor of the CPU backend lives in one WebAssembly memory. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * Floats per token of a batch that a training step keeps alive, fitted to the CPU backend's heap
 * (its peak over training steps and an evaluation, for each family while varying vocabulary,
 * width, depth, heads, context and dropout; the fit is within 5 % and errs high). The backward
 * pass frees into lists by size, so temporaries of one layer are reused by the next and count once.
 */
function activationFloatsPerToken(config: TrainConfig): number {
  const m = config.model;
  if (isRecurrent(m)) {
    // per layer and time step: gate pre-activations and activations, cell and hidden state, and their gradients
    const { layer, base } = { lstm: { layer: 15.5, base: 8 }, gru: { layer: 12.5, base: 9 }, rnn: { layer: 4.2, base: 3.5 } }[m.family];
    const dropout = m.dropout > 0 ? 2 * (m.num_layers - 1) * m.hidden_size : 0;
    return 3 * m.vocab_size + 2 * m.embedding_dim + (base + m.num_layers * layer) * m.hidden_size + dropout;
  }
  const C = m.n_embd,
    hidden = m.mlp_ratio * C;
  const attention = m.n_head * config.seq_len; // a token's row of attention probabilities in every head
  const dropout = Math.max(m.embd_dropout, m.attn_dropout, m.resid_dropout) > 0 ? 2 * C + m.n_layer * (2 * attention + 4.5 * C) : 0;
  return 3 * m.vocab_size + 6.4 * C + m.n_layer * (20 * C + 4 * hidden + attention) + dropout;
}

/**
 * What training `config` holds on the CPU backend: weights, gradients, optimizer state and a
 * step's activations (an evaluation reuses the step's buffers: same batch shape, no backward pass).
 */
export function trainingMemory(config: TrainConfig): MemoryEstimate {
  const params = countParameters(config.model);
  const weights = 4 * params;
  const gradients = 4 * params;
  const optimizer = 4 * params * optimizerSlots(config.optimizer);
  const activations = 4 * config.batch_size * config.seq_len * activationFloatsPerToken(config);
  const total = weights + gradients + optimizer + activations + HEAP_OVERHEAD;
  // encodeCheckpoint reads weights and optimizer state out of the heap, then writes them as bytes
  return { weights, gradients, optimizer, activations, overhead: HEAP_OVERHEAD, total, checkpoint: 2 * (weights + optimizer) };
}

/** Bytes one training run holds in the heap (trainingMemory's total): the New-run preview's figure. */
export function estimateTrainingMemory(config: TrainConfig): number {
  return trainingMemory(config).total;
}
