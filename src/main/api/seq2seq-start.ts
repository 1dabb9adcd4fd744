import { readFileSync } from 'node:fs';
import { DEFAULT_PAIRS_TOKENIZATION, type PairsCorpus } from '../../engine/data/pairs';
import { generateTaskTsv, PAIR_TASKS, pairTask } from '../../engine/data/tasks';
import { SettingError } from '../../engine/errors';
import { countSeq2SeqParameters } from '../../engine/models/seq2seq';
import { SEQ2SEQ_PRESETS, type Seq2SeqPreset } from '../../engine/presets';
import { lrCurve } from '../../engine/run';
import { pairsCorpusOf, resolveSeq2SeqTrainConfig, type Seq2SeqTrainConfig } from '../../engine/seq2seq-train';
import type { TrainConfig } from '../../engine/train';
import type { PairTaskInfo, PresetInfo, RunDraft, RunPreview } from '../../shared/contract';
import { UserError } from '../../shared/errors';
import { presetSettingsFor } from '../../shared/presets';
import { SEQ2SEQ_SETTINGS } from '../../shared/seq2seq-settings';
import { createRunRecord, type StoredRunConfig } from '../jobs/job-host';
import type { RunStore } from '../store/run-store';
import type { Corpora } from './corpora';

// A seq2seq run from the app: the pairs (a bundled task's, generated from the draft's seed, or a
// TSV the user uploaded or picked), the vocabularies they give, the config with their sizes, and
// the run's record, the pairs stored in the lab like a corpus. runs.preview and runs.start call it
// for a draft of family 'seq2seq'; the CLI's `train --model seq2seq` does the same steps itself
// and could call resolveSeq2SeqDraft / createSeq2SeqRun instead.

/** A seq2seq draft resolved: its config, the pairs' text and what they give. */
export interface ResolvedSeq2SeqDraft {
  config: Seq2SeqTrainConfig;
  /** The pairs as TSV text, and their name in messages and the preview. */
  text: string;
  dataName: string;
  corpus: Pick<PairsCorpus, 'train' | 'val' | 'source' | 'target'>;
}

/** The tasks as app.info lists them. */
export function pairTaskInfos(): PairTaskInfo[] {
  return PAIR_TASKS.map((t) => ({ id: t.id, name: t.name, teaches: t.teaches, example: { source: t.example.source, target: t.example.target } }));
}

/** The draft runs.startPreset starts for a seq2seq preset (its task's pairs from seed 1337, on the CPU). */
export function seq2seqPresetDraft(id: string, preset: Seq2SeqPreset, steps?: number): RunDraft {
  return {
    name: preset.name,
    family: 'seq2seq',
    settings: steps === undefined ? preset.settings : presetSettingsFor(preset.settings, steps),
    corpusId: 'tinyshakespeare',
    lowercase: false,
    tokenizer: { kind: 'char' },
    seed: 1337,
    minutes: null,
    preset: id,
    tags: [],
    device: 'cpu',
    pairs: { kind: 'task', task: preset.task, count: preset.taskPairs },
  };
}

/** The seq2seq presets as app.info lists them (parameters counted with the task's vocabularies). */
export function seq2seqPresetInfos(drafts: Seq2SeqDrafts): PresetInfo[] {
  return Object.entries(SEQ2SEQ_PRESETS).map(([id, p]) => {
    const { config } = drafts.resolve(seq2seqPresetDraft(id, p));
    return {
      id,
      runs: [
        {
          name: p.name,
          description: p.description,
          family: 'seq2seq' as const,
          settings: p.settings,
          lowercase: false,
          paramCount: countSeq2SeqParameters(config.model),
          pairs: { kind: 'task' as const, task: p.task, count: p.taskPairs },
        },
      ],
    };
  });
}

/** Rough bytes to train a seq2seq config, float32: weights, gradients, Adam's two moments, activations. */
export function seq2seqTrainingMemory(c: Seq2SeqTrainConfig): number {
  const m = c.model;
  const params = countSeq2SeqParameters(m);
  const L = m.max_seq_length;
  const rows = c.batch_size * L;
  // per layer: the residual stream's tensors (~10 per sub-layer), the FFN's hidden, the attention maps
  const encoder = m.num_layers * (rows * (12 * m.d_model + 2 * m.d_ff) + 2 * c.batch_size * m.num_heads * L * L);
  const decoder = m.num_layers * (rows * (20 * m.d_model + 2 * m.d_ff) + 4 * c.batch_size * m.num_heads * L * L);
  const logits = 3 * rows * m.tgt_vocab_size;
  return 4 * (4 * params + encoder + decoder + logits);
}

/** A resolved config in the flat namespace of the form and `--set` (what its fields show as defaults). */
export function flattenSeq2Seq(c: Seq2SeqTrainConfig): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  const model = c.model as unknown as Record<string, unknown>;
  for (const s of SEQ2SEQ_SETTINGS) {
    const v = model[s.key] ?? (c as unknown as Record<string, unknown>)[s.key];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[s.key] = v;
  }
  out.lr = c.optimizer.lr;
  const s = c.schedule;
  out.warmup_iters = s.kind === 'cosine' ? s.warmup_iters : 0;
  if (s.kind === 'cosine' && s.lr_decay_iters > s.warmup_iters) out.min_lr = s.min_lr;
  return out;
}

function fieldOf(error: unknown, settings: Record<string, unknown>): string | null {
  if (!(error instanceof SettingError)) return null;
  return SEQ2SEQ_SETTINGS.some((s) => s.key === error.field) || Object.hasOwn(settings, error.field) ? error.field : null;
}

/** Resolves seq2seq drafts, keeping the last pairs read: a form re-previews on every keystroke. */
export class Seq2SeqDrafts {
  private cached: { key: string; text: string; dataName: string; corpus: ResolvedSeq2SeqDraft['corpus'] } | null = null;

  constructor(private readonly corpora: Corpora) {}

  /** The pairs' text and name, refusing what a seq2seq run cannot take, each in a sentence. */
  private pairsText(draft: RunDraft): { text: string; dataName: string } {
    const pairs = draft.pairs;
    if (!pairs) throw new UserError('a seq2seq run trains on pairs: choose a bundled task or a TSV file of source<TAB>target lines');
    if (pairs.kind === 'task') {
      const task = pairTask(pairs.task);
      return { text: generateTaskTsv(task.id, pairs.count, draft.seed), dataName: `${task.id} (${pairs.count} pairs, seed ${draft.seed})` };
    }
    const info = this.corpora.info(pairs.corpusId);
    return { text: readFileSync(this.corpora.path(pairs.corpusId), 'utf8'), dataName: info.name };
  }

  resolve(draft: RunDraft): ResolvedSeq2SeqDraft {
    if (draft.family !== 'seq2seq') throw new UserError(`a ${draft.family} draft is not a seq2seq run`);
    if (draft.minutes !== null) {
      throw new UserError(`a seq2seq run trains for a number of steps, not a time (${draft.minutes} minutes): choose Steps and set steps`);
    }
    if (draft.device === 'gpu') throw new UserError('a seq2seq run trains on the CPU for now (its attention kernels have no GPU version yet): choose the CPU');
    const settings: Record<string, unknown> = { ...draft.settings };
    const task = draft.pairs?.kind === 'task' ? pairTask(draft.pairs.task) : null;
    const data: Seq2SeqTrainConfig['data'] = {
      task: task?.id ?? null,
      tokenization: task?.tokenization ?? DEFAULT_PAIRS_TOKENIZATION,
      val_fraction: 0.1,
      split_seed: 0,
    };
    // the settings checked first (with stand-in vocabularies), then the pairs read with them
    const probe = resolveSeq2SeqTrainConfig(4, 4, settings, draft.seed, data);
    const key = JSON.stringify([draft.pairs, task ? draft.seed : null, data.tokenization, probe.model.max_seq_length]);
    if (this.cached?.key !== key) {
      const { text, dataName } = this.pairsText(draft);
      const corpus = pairsCorpusOf(text, dataName, probe);
      this.cached = { key, text, dataName, corpus: { train: corpus.train, val: corpus.val, source: corpus.source, target: corpus.target } };
    }
    const { text, dataName, corpus } = this.cached;
    if (corpus.val.length === 0) {
      throw new UserError(`${dataName} has ${corpus.train.length} pairs: too few to hold 10 % of them out for evaluation; give at least 10 pairs`);
    }
    const config = resolveSeq2SeqTrainConfig(corpus.source.vocabSize, corpus.target.vocabSize, settings, draft.seed, data);
    return { config, text, dataName, corpus };
  }

  /** What the New-run form shows for a seq2seq draft: parameters, memory, the split, the lr curve. */
  preview(draft: RunDraft): RunPreview {
    try {
      const { config, corpus, dataName } = this.resolve(draft);
      return {
        ok: true,
        paramCount: countSeq2SeqParameters(config.model),
        memoryBytes: seq2seqTrainingMemory(config),
        vocabSize: corpus.target.vocabSize,
        resolved: flattenSeq2Seq(config),
        horizonSteps: config.steps,
        lrCurve: lrCurve(config as unknown as TrainConfig),
        pairs: {
          train: corpus.train.length,
          val: corpus.val.length,
          sourceVocab: corpus.source.vocabSize,
          targetVocab: corpus.target.vocabSize,
          name: dataName,
        },
      };
    } catch (error) {
      return { ok: false, error: (error as Error).message, field: fieldOf(error, draft.settings) };
    }
  }

  /**
   * The run's record for a draft: a task's pairs are stored in the lab as a corpus (a TSV picked or
   * uploaded already is one), and the run reads them from there, as `resume` will.
   */
  create(home: string, store: RunStore, draft: RunDraft): { runId: number; stored: StoredRunConfig } {
    const { config, text } = this.resolve(draft);
    const pairs = draft.pairs!;
    const corpusId = pairs.kind === 'tsv' ? pairs.corpusId : this.corpora.add(`${pairs.task}.tsv`, new TextEncoder().encode(text)).id;
    const params = countSeq2SeqParameters(config.model);
    const name =
      draft.name ||
      (draft.preset ? SEQ2SEQ_PRESETS[draft.preset]?.name : undefined) ||
      `seq2seq ${pairs.kind === 'task' ? pairs.task : 'pairs'} ${config.model.norm_position}-LN ${(params / 1000).toFixed(0)}k`;
    return createRunRecord({
      home,
      store,
      name,
      config: config as unknown as TrainConfig,
      dataPath: this.corpora.storedPath(corpusId),
      preset: draft.preset ?? undefined,
      tags: draft.tags,
      device: 'cpu',
    });
  }
}
