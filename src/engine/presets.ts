import type { ModelFamily } from './models';
import { UserError } from './errors';

// Presets are small typed objects, like nanoGPT's config/train_shakespeare_char.py: a family plus
// flat settings in the CLI's `--set` namespace, stored with every run that uses them.

export interface Preset {
  name: string;
  description: string;
  family: ModelFamily;
  settings: Record<string, string | number | boolean>;
  /** Train on lower-cased text (the seed lesson does). */
  lowercase?: boolean;
}

export const PRESETS: Record<string, Preset[]> = {
  'char-rnn-lstm': [
    {
      name: 'char-rnn LSTM',
      description: "Karpathy's char-rnn: a 2×128 LSTM on sequences of 50, RMSprop 2e-3 (alpha 0.95), gradients clipped at 5",
      family: 'lstm',
      settings: {
        hidden_size: 128,
        num_layers: 2,
        embedding_dim: 64,
        seq_len: 50,
        batch_size: 50,
        optimizer: 'rmsprop',
        lr: 2e-3,
        alpha: 0.95,
        grad_clip: 0,
        grad_clip_value: 5,
        steps: 2000,
        eval_interval: 200,
        eval_iters: 20,
        batching: 'sequential',
      },
    },
  ],
  'nanogpt-cpu': [
    {
      name: 'nanoGPT CPU',
      description: "nanoGPT's Shakespeare-char model at CPU size: 4 layers, 4 heads, 128 wide, context 64, batch 12, AdamW 1e-3 with warmup and cosine decay",
      family: 'gpt',
      settings: {
        n_layer: 4,
        n_head: 4,
        n_embd: 128,
        block_size: 64,
        seq_len: 64,
        batch_size: 12,
        dropout: 0,
        lr: 1e-3,
        min_lr: 1e-4,
        beta2: 0.99,
        weight_decay: 0.1,
        warmup_iters: 100,
        lr_decay_iters: 2000,
        steps: 2000,
        eval_interval: 250,
        eval_iters: 20,
      },
    },
  ],
  'seed-transformer': [
    {
      name: 'seed Transformer',
      description:
        "the lesson's Transformer: post-LN, sinusoidal positions, ReLU MLP 512, separate output head, 2 layers × 4 heads × 128, dropout 0.1, context 100, lower-cased characters",
      family: 'gpt',
      lowercase: true,
      settings: {
        n_layer: 2,
        n_head: 4,
        n_embd: 128,
        mlp_ratio: 4,
        block_size: 100,
        seq_len: 100,
        norm_position: 'post',
        position_encoding: 'sinusoidal',
        activation: 'relu',
        final_layer_norm: false,
        tie_word_embeddings: false,
        lm_head_bias: true,
        dropout: 0.1,
        batch_size: 16,
        lr: 1e-3,
        steps: 1500,
        eval_interval: 250,
        eval_iters: 20,
      },
    },
  ],
  'rnn-vs-gpt': [
    {
      name: 'LSTM (matched to the GPT)',
      description: 'a 2×245 LSTM with about as many parameters as nanoGPT CPU (807k vs 810k)',
      family: 'lstm',
      settings: { hidden_size: 245, num_layers: 2, embedding_dim: 64, seq_len: 64, batch_size: 12, lr: 2e-3, steps: 2000, eval_interval: 250, eval_iters: 20 },
    },
    {
      name: 'GPT (nanoGPT CPU)',
      description: "nanoGPT's CPU model, 810k parameters",
      family: 'gpt',
      settings: {
        n_layer: 4,
        n_head: 4,
        n_embd: 128,
        block_size: 64,
        seq_len: 64,
        batch_size: 12,
        lr: 1e-3,
        min_lr: 1e-4,
        beta2: 0.99,
        weight_decay: 0.1,
        warmup_iters: 100,
        lr_decay_iters: 2000,
        steps: 2000,
        eval_interval: 250,
        eval_iters: 20,
      },
    },
  ],
};

export function getPreset(name: string): Preset[] {
  const p = PRESETS[name];
  if (!p) throw new UserError(`unknown preset "${name}": choose one of ${Object.keys(PRESETS).join(', ')}`);
  return p;
}

/** A preset of the encoder–decoder: a bundled pairs task and `--set` settings (engine/seq2seq-train.ts). */
export interface Seq2SeqPreset {
  name: string;
  description: string;
  family: 'seq2seq';
  /** A bundled task id (engine/data/tasks.ts). */
  task: string;
  /** Pairs generated for the task. */
  taskPairs: number;
  settings: Record<string, string | number>;
}

/**
 * The encoder–decoder's presets, apart from PRESETS (whose runs are language models the app's
 * New-run form lists): `nanolab train --preset NAME` takes both.
 */
export const SEQ2SEQ_PRESETS: Record<string, Seq2SeqPreset> = {
  'seq2seq-lesson': {
    name: 'seq2seq lesson',
    description:
      'the attention lesson\'s encoder–decoder at a size that trains in minutes (2+2 layers × 4 heads × 128, d_ff 512, dropout 0.1, Adam 2e-3 with warm-up and cosine decay) learns to normalise dates ("March 3, 2024" → "2024-03-03")',
    family: 'seq2seq',
    task: 'dates',
    taskPairs: 20000,
    // the bench (nanolab bench --models seq2seq-lesson) trains this architecture at this batch against PyTorch
    settings: {
      d_model: 128,
      num_heads: 4,
      num_layers: 2,
      d_ff: 512,
      dropout: 0.1,
      lr: 2e-3,
      warmup_iters: 100,
      min_lr: 1e-4,
      batch_size: 64,
      steps: 2000,
      eval_interval: 250,
    },
  },
  'seq2seq-reverse': {
    name: 'seq2seq reverse',
    description:
      'a one-minute demo: a small encoder–decoder (2+2 layers × 4 heads × 64, Adam 2e-3 with cosine decay) learns to reverse strings of 3-10 letters',
    family: 'seq2seq',
    task: 'reverse',
    taskPairs: 20000,
    // measured here (2 cores, ~50 s): 77 % exact match, CER 0.08, BLEU 0.87 on 200 held-out pairs
    settings: {
      d_model: 64,
      num_heads: 4,
      num_layers: 2,
      d_ff: 256,
      dropout: 0,
      lr: 2e-3,
      warmup_iters: 50,
      min_lr: 1e-4,
      batch_size: 32,
      steps: 1500,
      eval_interval: 250,
    },
  },
};
