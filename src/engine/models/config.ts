// Model configurations as plain data, with nanoGPT's / PyTorch's names, so that a config can be
// stored with a run, written next to a checkpoint and read by PyTorch code without translation.

import { FAMILIES, settingBoundError } from '../../shared/hyperparameters';
import { SettingError, UserError } from '../errors';

export type RecurrentFamily = 'rnn' | 'lstm' | 'gru';
export type ModelFamily = RecurrentFamily | 'gpt';
/** The settings catalogue's list (tests/shared/vocabulary.test.ts: the same families as ModelFamily). */
export const MODEL_FAMILIES: readonly ModelFamily[] = FAMILIES;
/** Families the engine builds that the catalogue does not offer yet (no training on pairs): models/seq2seq.ts. */
export const ENGINE_ONLY_FAMILIES = ['seq2seq'] as const;

export interface RecurrentConfig {
  family: RecurrentFamily;
  vocab_size: number;
  embedding_dim: number;
  hidden_size: number;
  num_layers: number;
  /** Dropout between recurrent layers (not after the last), as torch.nn.LSTM's `dropout`. */
  dropout: number;
}

export interface TransformerConfig {
  family: 'gpt';
  vocab_size: number;
  /** Longest context (number of positions). */
  block_size: number;
  n_layer: number;
  n_head: number;
  n_embd: number;
  /** MLP hidden width = mlp_ratio · n_embd. */
  mlp_ratio: number;
  activation: 'gelu' | 'relu';
  norm_position: 'pre' | 'post';
  position_encoding: 'learned' | 'sinusoidal';
  final_layer_norm: boolean;
  /** The output head reuses the token embedding (transformer.wte.weight). */
  tie_word_embeddings: boolean;
  /** Bias on a separate output head (ignored when tied). */
  lm_head_bias: boolean;
  /** Biases in the Linear layers of the blocks. */
  bias: boolean;
  embd_dropout: number;
  attn_dropout: number;
  resid_dropout: number;
}

export type ModelConfig = RecurrentConfig | TransformerConfig;

export function isRecurrent(c: ModelConfig): c is RecurrentConfig {
  return c.family !== 'gpt';
}

export const RECURRENT_DEFAULTS: Omit<RecurrentConfig, 'family' | 'vocab_size'> = {
  embedding_dim: 64,
  hidden_size: 128,
  num_layers: 2,
  dropout: 0,
};

/** nanoGPT's GPT defaults at a CPU-friendly size (its Shakespeare-char CPU example). */
export const TRANSFORMER_DEFAULTS: Omit<TransformerConfig, 'family' | 'vocab_size'> = {
  block_size: 64,
  n_layer: 4,
  n_head: 4,
  n_embd: 128,
  mlp_ratio: 4,
  activation: 'gelu',
  norm_position: 'pre',
  position_encoding: 'learned',
  final_layer_norm: true,
  tie_word_embeddings: true,
  lm_head_bias: false,
  bias: true,
  embd_dropout: 0,
  attn_dropout: 0,
  resid_dropout: 0,
};

/**
 * Fills defaults for a family and validates. `overrides` may also hold `dropout`, which sets the
 * Transformer's three dropout rates at once (nanoGPT's single knob).
 */
export function resolveModelConfig(family: ModelFamily, vocabSize: number, overrides: Record<string, unknown> = {}): ModelConfig {
  const { dropout, ...rest } = overrides;
  // named as the user gave it, before it is spread over the Transformer's three rates
  if (dropout !== undefined && !(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) {
    throw new SettingError('dropout', `dropout (${String(dropout)}) must be a number in [0, 1)`);
  }
  let config: ModelConfig;
  if (family === 'gpt') {
    const d = dropout === undefined ? {} : { embd_dropout: dropout, attn_dropout: dropout, resid_dropout: dropout };
    config = { ...TRANSFORMER_DEFAULTS, ...d, ...rest, family, vocab_size: vocabSize } as TransformerConfig;
  } else if (family === 'rnn' || family === 'lstm' || family === 'gru') {
    config = { ...RECURRENT_DEFAULTS, ...(dropout === undefined ? {} : { dropout }), ...rest, family, vocab_size: vocabSize } as RecurrentConfig;
  } else {
    throw new UserError(`unknown model family "${String(family)}": choose one of ${MODEL_FAMILIES.join(', ')}`);
  }
  validateModelConfig(config);
  return config;
}

function positiveInt(config: object, key: string): void {
  const v = (config as Record<string, unknown>)[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new SettingError(key, `${key} (${String(v)}) must be a positive integer`);
  }
}

function probability(config: object, key: string): void {
  const v = (config as Record<string, unknown>)[key];
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new SettingError(key, `${key} (${String(v)}) must be a number in [0, 1)`);
}

function oneOf(config: object, key: string, allowed: readonly unknown[]): void {
  const v = (config as Record<string, unknown>)[key];
  if (!allowed.includes(v)) throw new SettingError(key, `${key} (${String(v)}) must be one of ${allowed.join(', ')}`);
}

/** The most tokens a vocabulary can hold: every Unicode code point (a character vocabulary's limit). */
export const MAX_VOCAB_SIZE = 0x110000;

/** Each numeric setting within the finite bounds the settings catalogue declares. */
function withinBounds(config: ModelConfig): void {
  for (const [key, value] of Object.entries(config)) {
    const error = settingBoundError(key, value);
    if (error) throw new SettingError(key, error);
  }
  if (config.vocab_size > MAX_VOCAB_SIZE) {
    throw new SettingError(
      'vocab_size',
      `vocab_size (${config.vocab_size}) must be a whole number from 1 to ${MAX_VOCAB_SIZE}: lower the word tokenizer's vocabulary size`,
    );
  }
}

/** Throws an error that names the field, its value and what is allowed. */
export function validateModelConfig(config: ModelConfig): void {
  const known = new Set(Object.keys(config.family === 'gpt' ? TRANSFORMER_DEFAULTS : RECURRENT_DEFAULTS));
  known.add('family');
  known.add('vocab_size');
  for (const key of Object.keys(config)) {
    if (!known.has(key)) {
      throw new SettingError(key, `unknown setting "${key}" for a ${config.family} model; known settings: ${[...known].sort().join(', ')}`);
    }
  }
  positiveInt(config, 'vocab_size');
  if (isRecurrent(config)) {
    positiveInt(config, 'embedding_dim');
    positiveInt(config, 'hidden_size');
    positiveInt(config, 'num_layers');
    probability(config, 'dropout');
    withinBounds(config);
    return;
  }
  for (const key of ['block_size', 'n_layer', 'n_head', 'n_embd']) positiveInt(config, key);
  const hidden = config.mlp_ratio * config.n_embd;
  if (typeof config.mlp_ratio !== 'number' || !(config.mlp_ratio > 0) || !Number.isInteger(hidden)) {
    throw new SettingError('mlp_ratio', `mlp_ratio (${String(config.mlp_ratio)}) must be positive and give a whole MLP width (mlp_ratio · n_embd = ${hidden})`);
  }
  if (config.n_embd % config.n_head !== 0) {
    throw new SettingError('n_embd', `n_embd (${config.n_embd}) must be divisible by n_head (${config.n_head})`);
  }
  if (config.position_encoding === 'sinusoidal' && config.n_embd % 2 !== 0) {
    throw new SettingError('n_embd', `n_embd (${config.n_embd}) must be even for sinusoidal position encoding`);
  }
  oneOf(config, 'activation', ['gelu', 'relu']);
  oneOf(config, 'norm_position', ['pre', 'post']);
  oneOf(config, 'position_encoding', ['learned', 'sinusoidal']);
  for (const key of ['final_layer_norm', 'tie_word_embeddings', 'lm_head_bias', 'bias']) oneOf(config, key, [true, false]);
  for (const key of ['embd_dropout', 'attn_dropout', 'resid_dropout']) probability(config, key);
  withinBounds(config);
}

/** Number of trainable parameters, from the config alone (the New-run view shows it as you type). */
export function countParameters(config: ModelConfig): number {
  const V = config.vocab_size;
  if (isRecurrent(config)) {
    const G = { rnn: 1, lstm: 4, gru: 3 }[config.family] * config.hidden_size;
    const H = config.hidden_size;
    let n = V * config.embedding_dim + V * H + V; // embedding, head weight and bias
    for (let k = 0; k < config.num_layers; k++) {
      const inputSize = k === 0 ? config.embedding_dim : H;
      n += G * inputSize + G * H + 2 * G;
    }
    return n;
  }
  const C = config.n_embd;
  const hidden = config.mlp_ratio * C;
  const b = config.bias ? 1 : 0;
  const perBlock = 2 * 2 * C + (3 * C * C + b * 3 * C) + (C * C + b * C) + (hidden * C + b * hidden) + (C * hidden + b * C);
  let n = V * C + config.n_layer * perBlock;
  if (config.position_encoding === 'learned') n += config.block_size * C;
  if (config.final_layer_norm) n += 2 * C;
  if (!config.tie_word_embeddings) n += V * C + (config.lm_head_bias ? V : 0);
  return n;
}
