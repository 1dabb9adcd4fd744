import { freemem } from 'node:os';
import type { CorpusOutline } from '../../engine/data/corpus';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import { estimateTrainingMemory, trainingMemory, WASM_HEAP_BYTES } from '../../engine/memory';
import { countParameters, isRecurrent } from '../../engine/models';
import { SettingError } from '../../engine/errors';
import { budgetHorizon, lrCurve, withHorizon } from '../../engine/run';
import { resolveTrainConfig, type TrainConfig } from '../../engine/train';
import { outlineCorpusFile } from '../jobs/corpus-file';
import type { RunDraft, RunPreview } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { SETTINGS } from '../../shared/hyperparameters';

// From what a New-run form describes (family, flat settings, corpus, tokenizer) to a complete,
// validated training config, and the live preview the form shows while the user types.

/** A corpus too short for one batch, or for one validation window, cannot train. */
export function checkCorpusFits(config: TrainConfig, corpus: CorpusOutline, name: string): void {
  if (corpus.val.length < config.seq_len + 1 || corpus.train.length < config.batch_size * (config.seq_len + 1)) {
    throw new UserError(
      `${name} is too short for batch_size ${config.batch_size} × seq_len ${config.seq_len} ` +
        `(${corpus.train.length} training and ${corpus.val.length} validation tokens); use a longer text or smaller settings`,
    );
  }
}

/** Memory this process could take now: the available memory (cgroup limits included where Node knows them). */
export function availableMemory(): number {
  const p = process as { availableMemory?: () => number };
  return p.availableMemory?.() ?? freemem();
}

/** Bytes in B, kB, MB, GB, TB (powers of 1024, one decimal), as the New-run preview shows them. */
function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let x = bytes,
    i = 0;
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
  const parts =
    `weights ${formatBytes(need.weights)}, gradients ${formatBytes(need.gradients)}, ` +
    `optimizer state ${formatBytes(need.optimizer)}, activations ${formatBytes(need.activations)}`;
  const size = isRecurrent(m) ? 'hidden_size or num_layers' : 'n_embd or n_layer';
  const lower = need.activations > need.weights + need.gradients + need.optimizer ? `lower batch_size or seq_len, or ${size}` : `lower ${size}, or batch_size`;
  if (heapBound) {
    throw new UserError(
      `this model needs about ${formatBytes(need.total)} to train (${parts}) but this process can use ` +
        `${formatBytes(WASM_HEAP_BYTES)} (the CPU backend's 4 GiB WebAssembly heap): ${lower}`,
    );
  }
  throw new UserError(
    `this model needs about ${formatBytes(need.total + need.checkpoint)} to train (${parts}, checkpoint copies ` +
      `${formatBytes(need.checkpoint)}) but this machine has ${formatBytes(available)} available: ${lower}, or close other programs`,
  );
}

/**
 * The form field a refused setting is about: the setting the engine names (SettingError), when the
 * form has a field for it (a setting of the catalogue, or one the draft gave).
 */
function fieldOf(error: unknown, settings: Record<string, unknown>): string | null {
  if (!(error instanceof SettingError)) return null;
  return SETTINGS.some((s) => s.key === error.field) || Object.hasOwn(settings, error.field) ? error.field : null;
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
    const tokenizer: TokenizerSpec =
      draft.tokenizer.kind === 'word' ? { kind: 'word', vocab_size: draft.tokenizer.vocab_size, lowercase: draft.lowercase } : { kind: 'char' };
    if (draft.family === 'seq2seq') throw new UserError('a seq2seq draft trains on pairs: main/api/seq2seq-start.ts resolves it');
    const corpus = this.corpus(draft.corpusId, draft.lowercase, tokenizer);
    const settings: Record<string, unknown> = { ...draft.settings };
    if (draft.minutes !== null && settings.steps === undefined) settings.steps = 1_000_000;
    const config = resolveTrainConfig(draft.family, corpus.tokenizer.vocabSize, settings, draft.seed);
    checkCorpusFits(config, corpus, 'the chosen text');
    preflight(config);
    return { config, corpus, tokenizer, timeBudgetMs: draft.minutes === null ? null : draft.minutes * 60_000 };
  }

  /**
   * What the form shows while the user types. A time-budget draft is sized as its run will size
   * itself (budgetHorizon) when the page passes a measured `tokensPerSec` (from runs.calibrate):
   * `horizonSteps`, the resolved settings and the learning-rate curve then describe that horizon;
   * without one its horizon is unknown (null) and the curve empty.
   */
  preview(draft: RunDraft, tokensPerSec?: number): RunPreview {
    try {
      const resolved = this.resolve(draft);
      const { corpus, timeBudgetMs } = resolved;
      let config = resolved.config;
      let horizonSteps: number | null = config.steps;
      if (timeBudgetMs !== null) {
        horizonSteps = tokensPerSec === undefined ? null : budgetHorizon(config, timeBudgetMs, tokensPerSec);
        if (horizonSteps !== null) config = withHorizon(config, horizonSteps);
      }
      return {
        ok: true,
        paramCount: countParameters(config.model),
        memoryBytes: estimateTrainingMemory(config),
        vocabSize: corpus.tokenizer.vocabSize,
        resolved: flatten(config),
        horizonSteps,
        lrCurve: horizonSteps === null ? [] : lrCurve(config),
      };
    } catch (error) {
      return { ok: false, error: (error as Error).message, field: fieldOf(error, draft.settings) };
    }
  }
}

/**
 * A resolved config in the flat namespace the form and `--set` use: resolveTrainConfig reads it
 * back to the same config (tests/shared/vocabulary.test.ts), and it holds every catalogued setting.
 */
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
