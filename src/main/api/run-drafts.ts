import type { CorpusOutline } from '../engine/data/corpus';
import type { TokenizerSpec } from '../engine/data/tokenizer';
import { countParameters, isRecurrent } from '../engine/models';
import { resolveTrainConfig, type TrainConfig } from '../engine/train';
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

/**
 * Float32 bytes one training step holds: weights, gradients and optimizer state, plus the
 * activations saved for the backward pass (an estimate from the shapes, within a small factor).
 */
export function estimateTrainingMemory(config: TrainConfig): number {
  const params = countParameters(config.model);
  const m = config.model;
  const B = config.batch_size, T = config.seq_len;
  let activations: number;
  if (isRecurrent(m)) {
    const gates = m.family === 'lstm' ? 4 : m.family === 'gru' ? 3 : 1;
    // per layer and time step: gate pre-activations, cell and hidden state; plus logits
    activations = B * T * (m.embedding_dim + m.num_layers * m.hidden_size * (gates + 2) + 2 * m.vocab_size);
  } else {
    const C = m.n_embd, hidden = m.mlp_ratio * C;
    // per block: 2 layer norms, qkv, attention probabilities (nh·T·T), projection, MLP in and out
    const perBlock = B * T * (2 * C + 3 * C + C + 2 * hidden + C) + B * m.n_head * T * T * 2;
    activations = B * T * C + m.n_layer * perBlock + 2 * B * T * m.vocab_size;
  }
  return 4 * (params * (2 + optimizerSlots(config.optimizer)) + activations);
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
