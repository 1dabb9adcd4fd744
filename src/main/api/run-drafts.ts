import { freemem } from 'node:os';
import type { CorpusOutline } from '../../engine/data/corpus';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import { countParameters, isRecurrent } from '../../engine/models';
import { resolveTrainConfig, type TrainConfig } from '../../engine/train';
import { outlineCorpusFile } from '../jobs/corpus-file';
import type { RunDraft, RunPreview } from '../../shared/contract';
import { SETTINGS } from '../../shared/hyperparameters';

// From what a New-run form describes (family, flat settings, corpus, tokenizer) to a complete,
// validated training config, and the live preview the form shows while the user types.

/** A corpus too short for one batch, or for one validation window, cannot train. */
export function checkCorpusFits(config: TrainConfig, corpus: CorpusOutline, name: string): void {
  if (corpus.val.length < config.seq_len + 1 || corpus.train.length < config.batch_size * (config.seq_len + 1)) {
    throw new Error(
      `${name} is too short for batch_size ${config.batch_size} × seq_len ${config.seq_len} ` +
        `(${corpus.train.length} training and ${corpus.val.length} validation tokens); use a longer text or smaller settings`,
    );
  }
}

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
  const C = m.n_embd, hidden = m.mlp_ratio * C;
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

/** The wasm32 limit: every float32 tensor of the CPU backend lives in one WebAssembly memory. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/** Memory this process could take now: the available memory (cgroup limits included where Node knows them). */
export function availableMemory(): number {
  const p = process as { availableMemory?: () => number };
  return p.availableMemory?.() ?? freemem();
}

/** Bytes in B, kB, MB, GB, TB (powers of 1024, one decimal), as the New-run preview shows them. */
function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let x = bytes, i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${x} B` : `${x.toFixed(1)} ${units[i]}`;
}

/**
 * Refuses a run that cannot fit, before it starts, with both numbers: what training needs, and
 * what this process can use, the smaller of the CPU backend's 4 GiB WebAssembly heap and the
 * machine's available memory. A GPU run is held to the same limit: when its page goes away it
 * continues on the CPU, from its checkpoint.
 */
export function preflight(config: TrainConfig, available = availableMemory()): void {
  const need = trainingMemory(config);
  const heapBound = need.total > WASM_HEAP_BYTES;
  if (!heapBound && need.total + need.checkpoint <= available) return;
  const m = config.model;
  const parts = `weights ${formatBytes(need.weights)}, gradients ${formatBytes(need.gradients)}, ` +
    `optimizer state ${formatBytes(need.optimizer)}, activations ${formatBytes(need.activations)}`;
  const size = isRecurrent(m) ? 'hidden_size or num_layers' : 'n_embd or n_layer';
  const lower = need.activations > need.weights + need.gradients + need.optimizer
    ? `lower batch_size or seq_len, or ${size}`
    : `lower ${size}, or batch_size`;
  if (heapBound) {
    throw new Error(
      `this model needs about ${formatBytes(need.total)} to train (${parts}) but this process can use ` +
        `${formatBytes(WASM_HEAP_BYTES)} (the CPU backend's 4 GiB WebAssembly heap): ${lower}`,
    );
  }
  throw new Error(
    `this model needs about ${formatBytes(need.total + need.checkpoint)} to train (${parts}, checkpoint copies ` +
      `${formatBytes(need.checkpoint)}) but this machine has ${formatBytes(available)} available: ${lower}, or close other programs`,
  );
}

/** Which form field an engine error is about (its messages start with the setting's name). */
export function fieldOf(message: string, settings: Record<string, unknown>): string | null {
  const known = new Set([...SETTINGS.map((s) => s.key), ...Object.keys(settings)]);
  const m = /^unknown setting "([^"]+)"/.exec(message) ?? /^(?:optimizer setting )?([a-z_0-9]+) \(/.exec(message);
  return m && known.has(m[1]) ? m[1] : null;
}

export interface ResolvedDraft {
  config: TrainConfig;
  corpus: CorpusOutline;
  tokenizer: TokenizerSpec;
  timeBudgetMs: number | null;
}

/** Outlines corpora for drafts (tokenizer and sizes, no ids), keeping the last one: a form re-previews on every keystroke. */
export class DraftResolver {
  private cached: { key: string; corpus: CorpusOutline } | null = null;

  constructor(private readonly corpusPath: (id: string) => string) {}

  corpus(corpusId: string, lowercase: boolean, tokenizer: TokenizerSpec): CorpusOutline {
    const key = JSON.stringify([corpusId, lowercase, tokenizer]);
    if (this.cached?.key !== key) this.cached = { key, corpus: outlineCorpusFile(this.corpusPath(corpusId), { lowercase, tokenizer }) };
    return this.cached.corpus;
  }

  resolve(draft: RunDraft): ResolvedDraft {
    const tokenizer: TokenizerSpec = draft.tokenizer.kind === 'word'
      ? { kind: 'word', vocab_size: draft.tokenizer.vocab_size, lowercase: draft.lowercase }
      : { kind: 'char' };
    const corpus = this.corpus(draft.corpusId, draft.lowercase, tokenizer);
    const settings: Record<string, unknown> = { ...draft.settings };
    if (draft.minutes !== null && settings.steps === undefined) settings.steps = 1_000_000;
    const config = resolveTrainConfig(draft.family, corpus.tokenizer.vocabSize, settings, draft.seed);
    checkCorpusFits(config, corpus, 'the chosen text');
    preflight(config);
    return { config, corpus, tokenizer, timeBudgetMs: draft.minutes === null ? null : draft.minutes * 60_000 };
  }

  preview(draft: RunDraft): RunPreview {
    try {
      const { config, corpus } = this.resolve(draft);
      return {
        ok: true, paramCount: countParameters(config.model), memoryBytes: estimateTrainingMemory(config),
        vocabSize: corpus.tokenizer.vocabSize, resolved: flatten(config),
      };
    } catch (error) {
      const message = (error as Error).message;
      return { ok: false, error: message, field: fieldOf(message, draft.settings) };
    }
  }
}

/** A resolved config in the flat namespace the form and `--set` use. */
export function flatten(config: TrainConfig): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const put = (o: object, skip: string[]) => {
    for (const [k, v] of Object.entries(o)) if (!skip.includes(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out[k] = v;
  };
  put(config.model, ['family', 'vocab_size']);
  if (!isRecurrent(config.model)) out.dropout = config.model.resid_dropout;
  put({ ...config.optimizer, optimizer: config.optimizer.name }, ['name']);
  put({ ...config.schedule, schedule: config.schedule.kind }, ['kind']);
  put(config, ['seed']);
  return out;
}
