import { Graph } from './autograd';
import type { Backend } from './backend/backend';
import { CpuBackend } from './backend/cpu';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './checkpoint/safetensors';
import {
  buildPairsCorpus,
  collatePairs,
  DEFAULT_PAIRS_TOKENIZATION,
  PairSampler,
  PairVocab,
  pairBatchesInOrder,
  parsePairsTsv,
  type EncodedPair,
  type PairBatch,
  type PairsCorpus,
  type PairsTokenization,
  type PairVocabJson,
} from './data/pairs';
import { seq2seqMetrics, type Seq2SeqMetrics } from './eval/seq2seq-metrics';
import { greedyDecodeBatched } from './models/seq2seq-decode';
import { countSeq2SeqParameters, resolveSeq2SeqConfig, Seq2Seq, type Seq2SeqConfig } from './models/seq2seq';
import { clipGradNorm, gradNorm } from './optim/clip';
import { Optimizer, resolveOptimizerConfig, type OptimizerConfig } from './optim/optimizer';
import { learningRate, type LrSchedule } from './optim/schedule';
import { Rng, type RngState } from './rng';
import { DivergedError, divergence, divergenceLimit, type StepMetrics } from './train';
import { SettingError, UserError } from './errors';

// Training the encoder–decoder on pairs: teacher forcing (the decoder reads tgt[:, :-1] and learns
// tgt[:, 1:]), cross-entropy that ignores <pad> (id 0), Adam with the lesson's betas (0.9, 0.98)
// and eps 1e-9. Evaluations give the loss per target token on held-out pairs and, from greedy
// decoding of (at most eval_pairs of) them, exact match, character error rate and BLEU. A
// separate class from the language models' Trainer: a batch is a pair of padded blocks, not a window.

/** Everything a seq2seq run is: the model, the optimizer, the loop, and how its pairs are read. */
export interface Seq2SeqTrainConfig {
  model: Seq2SeqConfig;
  optimizer: OptimizerConfig;
  schedule: LrSchedule;
  batch_size: number;
  /** The longest row (max_seq_length): the loop's "context", for hosts that show one. */
  seq_len: number;
  steps: number;
  /** Global gradient-norm clip (0: off). */
  grad_clip: number;
  eval_interval: number;
  /** Held-out (and training) pairs the loss is measured on at each evaluation, at most. */
  eval_iters: number;
  /** Held-out pairs decoded greedily at each evaluation (exact match, CER, BLEU), at most. */
  eval_pairs: number;
  seed: number;
  data: {
    /** The bundled task the pairs were generated from (null: the user's file). */
    task: string | null;
    tokenization: PairsTokenization;
    /** Fraction held out, and the seed of the shuffle that picks them. */
    val_fraction: number;
    split_seed: number;
  };
}

/** A small model that learns the bundled tasks on a laptop's CPU in a minute or two. */
export const SEQ2SEQ_TRAIN_DEFAULTS = {
  model: { d_model: 64, num_heads: 4, num_layers: 2, d_ff: 256, max_seq_length: 32, dropout: 0.1, layer_norm: 'torch', norm_position: 'post' },
  lr: 2e-3,
  batch_size: 32,
  steps: 600,
  grad_clip: 1,
  eval_interval: 100,
  eval_iters: 256,
  eval_pairs: 200,
} as const;

const MODEL_KEYS = ['d_model', 'num_heads', 'num_layers', 'd_ff', 'max_seq_length', 'dropout', 'layer_norm', 'norm_position'];
const LOOP_KEYS = ['batch_size', 'steps', 'grad_clip', 'eval_interval', 'eval_iters', 'eval_pairs'];
const OPTIM_KEYS = ['lr', 'beta1', 'beta2', 'eps', 'weight_decay'];

/** The settings a seq2seq run takes with `--set`. */
export const SEQ2SEQ_SETTING_KEYS: readonly string[] = [...MODEL_KEYS, ...LOOP_KEYS, ...OPTIM_KEYS, 'warmup_iters', 'min_lr'];

/**
 * A seq2seq run's config from vocabulary sizes and flat `key=value` overrides (unknown keys are
 * refused, naming the known ones). Adam, betas (0.9, 0.98), eps 1e-9; constant lr after an
 * optional linear warm-up (warmup_iters), or with min_lr a cosine decay to it over the steps.
 */
export function resolveSeq2SeqTrainConfig(
  srcVocab: number,
  tgtVocab: number,
  overrides: Record<string, unknown> = {},
  seed = 1337,
  data: Seq2SeqTrainConfig['data'] = { task: null, tokenization: DEFAULT_PAIRS_TOKENIZATION, val_fraction: 0.1, split_seed: 0 },
): Seq2SeqTrainConfig {
  const d = SEQ2SEQ_TRAIN_DEFAULTS;
  const model: Record<string, unknown> = { ...d.model };
  const loop: Record<string, number> = {
    batch_size: d.batch_size,
    steps: d.steps,
    grad_clip: d.grad_clip,
    eval_interval: d.eval_interval,
    eval_iters: d.eval_iters,
    eval_pairs: d.eval_pairs,
  };
  const optim: Record<string, unknown> = { lr: d.lr, beta1: 0.9, beta2: 0.98, eps: 1e-9, weight_decay: 0 };
  let warmup = 0;
  let minLr: number | null = null;
  for (const [key, value] of Object.entries(overrides)) {
    if (MODEL_KEYS.includes(key)) model[key] = typeof value === 'string' && !['layer_norm', 'norm_position'].includes(key) ? Number(value) : value;
    else if (LOOP_KEYS.includes(key)) loop[key] = Number(value);
    else if (OPTIM_KEYS.includes(key)) optim[key] = Number(value);
    else if (key === 'warmup_iters') warmup = Number(value);
    else if (key === 'min_lr') minLr = Number(value);
    else throw new SettingError(key, `unknown setting "${key}" for a seq2seq run; known settings: ${[...SEQ2SEQ_SETTING_KEYS].sort().join(', ')}`);
  }
  for (const key of LOOP_KEYS) {
    const v = loop[key];
    const ok = key === 'grad_clip' ? v >= 0 : Number.isInteger(v) && v >= 1;
    if (!ok) throw new SettingError(key, `${key} (${v}) must be ${key === 'grad_clip' ? 'a number ≥ 0 (0 turns it off)' : 'a positive integer'}`);
  }
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new SettingError('warmup_iters', `warmup_iters (${warmup}) must be a whole number ≥ 0`);
  const config = resolveSeq2SeqConfig(srcVocab, tgtVocab, model);
  const optimizer = resolveOptimizerConfig('adam', optim);
  if (minLr !== null && !(minLr >= 0 && minLr <= optimizer.lr))
    throw new SettingError('min_lr', `min_lr (${minLr}) must be between 0 and lr (${optimizer.lr})`);
  // min_lr: a cosine decay from lr to min_lr over the run's steps; without it the lr stays (after any warm-up)
  const schedule: LrSchedule =
    minLr !== null
      ? { kind: 'cosine', warmup_iters: warmup, lr_decay_iters: Math.max(warmup, loop.steps), min_lr: minLr }
      : warmup > 0
        ? { kind: 'cosine', warmup_iters: warmup, lr_decay_iters: warmup, min_lr: optimizer.lr }
        : { kind: 'constant' };
  return {
    model: config,
    optimizer,
    schedule,
    batch_size: loop.batch_size,
    seq_len: config.max_seq_length,
    steps: loop.steps,
    grad_clip: loop.grad_clip,
    eval_interval: loop.eval_interval,
    eval_iters: loop.eval_iters,
    eval_pairs: loop.eval_pairs,
    seed,
    data,
  };
}

/** The pairs corpus a run trains on, from its TSV text and its config's data settings. */
export function pairsCorpusOf(tsv: string, name: string, c: Pick<Seq2SeqTrainConfig, 'data'> & { model: { max_seq_length: number } }): PairsCorpus {
  return buildPairsCorpus(parsePairsTsv(tsv, name), {
    name,
    tokenization: c.data.tokenization,
    max_seq_length: c.model.max_seq_length,
    valFraction: c.data.val_fraction,
    seed: c.data.split_seed,
  });
}

/** What an evaluation measures. */
export interface Seq2SeqEvaluation {
  /** Mean loss per target token (nats), <eos> included, padding not. */
  trainLoss: number;
  valLoss: number;
  /** Bits per character of the target text (the target tokens' nats / their characters / ln 2). */
  trainBpc: number;
  valBpc: number;
  /** Greedy decoding of up to eval_pairs held-out pairs. */
  decode: Seq2SeqMetrics;
}

/**
 * Greedy decoding of many sources at once (greedyDecodeBatched: the encoder once per batch, the
 * decoder one cached step per position). Each row is BOS, the generated ids, and EOS when it came;
 * a row cut off by the length limit drops any <pad> it generated.
 */
export function greedyDecodeBatch(model: Seq2Seq, sources: readonly Int32Array[], maxNew: number): number[][] {
  const { pad_id: pad, max_seq_length } = model.config;
  const batch = collatePairs(sources.map((src) => ({ src, tgt: new Int32Array(2) })));
  const decoded = greedyDecodeBatched(model, batch.src, batch.B, batch.S, { maxNew: Math.min(maxNew, max_seq_length - 1) });
  return decoded.map((d) => (d.finished ? d.ids : d.ids.filter((id) => id !== pad)));
}

/** Translates texts greedily with a model and its vocabularies. */
export function translateGreedy(model: Seq2Seq, vocabs: { source: PairVocab; target: PairVocab }, sources: readonly Int32Array[], batchSize = 64): string[] {
  const out: string[] = [];
  const maxNew = model.config.max_seq_length - 1;
  for (let i = 0; i < sources.length; i += batchSize) {
    for (const ids of greedyDecodeBatch(model, sources.slice(i, i + batchSize), maxNew)) out.push(vocabs.target.decode(ids));
  }
  return out;
}

/** Everything a seq2seq run needs to continue where it stopped. */
export interface Seq2SeqSnapshot {
  step: number;
  tokensSeen: number;
  params: Record<string, Float32Array | Float64Array>;
  optimizer: { step: number; buffers: Record<string, Float32Array | Float64Array> };
  rng: RngState;
}

export class Seq2SeqTrainer {
  readonly model: Seq2Seq;
  readonly optimizer: Optimizer;
  readonly rng: Rng;
  step = 0;
  /** Target tokens trained on (padding excluded). */
  tokensSeen = 0;
  private firstLoss: number | null = null;
  private readonly sampler: PairSampler;

  constructor(
    readonly config: Seq2SeqTrainConfig,
    readonly corpus: PairsCorpus,
    readonly backend: Backend = new CpuBackend(),
  ) {
    if (config.model.src_vocab_size !== corpus.source.vocabSize || config.model.tgt_vocab_size !== corpus.target.vocabSize) {
      throw new UserError(
        `the pairs' vocabularies (${corpus.source.vocabSize} source, ${corpus.target.vocabSize} target entries) differ from the model's (${config.model.src_vocab_size}, ${config.model.tgt_vocab_size})`,
      );
    }
    this.rng = new Rng(config.seed);
    this.model = new Seq2Seq(config.model, backend, this.rng);
    this.optimizer = new Optimizer(config.optimizer, this.model.params);
    this.sampler = new PairSampler(corpus.train, { batchSize: config.batch_size });
  }

  /** The teacher-forced loss of a batch (mean over non-padding target tokens) and how many tokens counted. */
  private batchLoss(g: Graph, batch: PairBatch): { loss: ReturnType<Graph['crossEntropy']>['loss']; value: number; count: number } {
    const T = batch.T - 1;
    const { logits } = this.model.forward(g, { src: batch.src, S: batch.S, decoderInput: batch.decoderInput, T, B: batch.B });
    const { loss, value } = g.crossEntropy(logits, batch.target, this.model.config.pad_id);
    let count = 0;
    for (let i = 0; i < batch.target.length; i++) if (batch.target[i] !== this.model.config.pad_id) count++;
    return { loss, value, count };
  }

  /** One optimisation step: a bucketed batch (or the one given: the bench's), forward, backward, clip, update. */
  trainStep(given?: PairBatch): StepMetrics {
    const c = this.config;
    const batch = given ?? this.sampler.nextBatch(this.rng);
    const lr = learningRate(c.schedule, c.optimizer.lr, this.step);
    let count = 0;
    const loss = this.backend.scoped(() => {
      this.model.params.zeroGrad();
      const g = new Graph(this.backend, this.rng, true);
      const out = this.batchLoss(g, batch);
      count = out.count;
      g.backward(out.loss);
      return out.value;
    });
    if (this.firstLoss === null && Number.isFinite(loss)) this.firstLoss = loss;
    this.checkConverging(loss, this.step + 1);
    const norm = c.grad_clip > 0 ? clipGradNorm(this.model.params, c.grad_clip).norm : gradNorm(this.model.params);
    this.optimizer.step(lr);
    this.step++;
    this.tokensSeen += count;
    return { step: this.step, loss, lr, gradNorm: norm, tokens: this.tokensSeen };
  }

  /** Throws DivergedError when a loss left the healthy range (as the language models' Trainer does). */
  checkConverging(loss: number, step: number, what = 'loss'): void {
    const why = divergence(loss, divergenceLimit(this.config.model.tgt_vocab_size, this.firstLoss ?? 0), step, what);
    if (why) throw new DivergedError(`${why}: lower the learning rate (lr ${this.config.optimizer.lr}) or clip gradients (grad_clip ${this.config.grad_clip})`);
  }

  /** Loss per target token over (the first eval_iters of) some pairs, dropout off; and bits per target character. */
  lossOn(pairs: readonly EncodedPair[]): { loss: number; bpc: number } {
    const some = pairs.slice(0, this.config.eval_iters);
    let nats = 0,
      tokens = 0,
      chars = 0;
    for (const { batch } of pairBatchesInOrder(some, this.config.batch_size)) {
      const { value, count } = this.backend.scoped(() => {
        const out = this.batchLoss(new Graph(this.backend, new Rng(0), false), batch);
        return { value: out.value, count: out.count };
      });
      nats += value * count;
      tokens += count;
    }
    for (const p of some) chars += [...p.target].length;
    return { loss: tokens > 0 ? nats / tokens : NaN, bpc: nats / Math.max(1, chars) / Math.LN2 };
  }

  /** Greedy decoding of the first eval_pairs held-out pairs, scored against their targets. */
  decodeMetrics(): Seq2SeqEvaluation['decode'] {
    const pairs = this.corpus.val.slice(0, this.config.eval_pairs);
    const hyps = translateGreedy(
      this.model,
      this.corpus,
      pairs.map((p) => p.src),
    );
    const char = this.corpus.target.kind === 'char';
    return seq2seqMetrics(
      hyps,
      pairs.map((p) => p.target),
      { tokenize: char ? 'char' : 'whitespace' },
    );
  }

  evaluate(): Seq2SeqEvaluation {
    const train = this.lossOn(this.corpus.train);
    const val = this.lossOn(this.corpus.val);
    return { trainLoss: train.loss, valLoss: val.loss, trainBpc: train.bpc, valBpc: val.bpc, decode: this.decodeMetrics() };
  }

  snapshot(): Seq2SeqSnapshot {
    const o = this.optimizer.getState();
    return {
      step: this.step,
      tokensSeen: this.tokensSeen,
      params: this.model.params.read(),
      optimizer: { step: o.step, buffers: o.buffers },
      rng: this.rng.getState(),
    };
  }

  restore(s: Seq2SeqSnapshot): void {
    this.model.params.load(s.params);
    this.optimizer.setState(s.optimizer);
    this.rng.setState(s.rng);
    this.step = s.step;
    this.tokensSeen = s.tokensSeen;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}

// ---- checkpoints ------------------------------------------------------------------------------
// A folder like the language models' (model.safetensors under the lesson's state_dict names,
// config.json, optimizer.safetensors, state.json) with both vocabularies instead of tokenizer.json.

export const SEQ2SEQ_CHECKPOINT_FILES = {
  model: 'model.safetensors',
  config: 'config.json',
  sourceVocab: 'source_vocab.json',
  targetVocab: 'target_vocab.json',
  optimizer: 'optimizer.safetensors',
  state: 'state.json',
} as const;

export interface Seq2SeqCheckpointConfig {
  format: 'nanolab-checkpoint';
  version: 1;
  family: 'seq2seq';
  model: Seq2SeqConfig;
  parameter_count: number;
  train: Seq2SeqTrainConfig;
}

export function encodeSeq2SeqCheckpoint(trainer: Seq2SeqTrainer): Record<string, Uint8Array> {
  const s = trainer.snapshot();
  const shapes = Object.fromEntries(trainer.model.params.entries().map(([name, t]) => [name, [...t.shape]]));
  const f32 = (a: Float32Array | Float64Array) => (a instanceof Float32Array ? a : Float32Array.from(a));
  const model: NamedTensor[] = Object.entries(s.params).map(([name, data]) => ({ name, shape: shapes[name], data: f32(data) }));
  const optimizer: NamedTensor[] = Object.entries(s.optimizer.buffers).map(([name, data]) => ({
    name,
    shape: shapes[name.slice(0, name.lastIndexOf('.'))],
    data: f32(data),
  }));
  const config: Seq2SeqCheckpointConfig = {
    format: 'nanolab-checkpoint',
    version: 1,
    family: 'seq2seq',
    model: trainer.config.model,
    parameter_count: countSeq2SeqParameters(trainer.config.model),
    train: trainer.config,
  };
  const text = (o: unknown) => new TextEncoder().encode(JSON.stringify(o, null, 1) + '\n');
  const F = SEQ2SEQ_CHECKPOINT_FILES;
  return {
    [F.model]: encodeSafetensors(model, { producer: 'nanolab' }),
    [F.config]: text(config),
    [F.sourceVocab]: text(trainer.corpus.source.toJSON()),
    [F.targetVocab]: text(trainer.corpus.target.toJSON()),
    [F.optimizer]: encodeSafetensors(optimizer, { producer: 'nanolab', content: 'optimizer state' }),
    [F.state]: text({ step: s.step, tokens_seen: s.tokensSeen, optimizer_step: s.optimizer.step, rng: s.rng }),
  };
}

/** Whether a checkpoint folder's files are a seq2seq run's. */
export function isSeq2SeqCheckpoint(files: Record<string, Uint8Array>): boolean {
  return SEQ2SEQ_CHECKPOINT_FILES.sourceVocab in files;
}

export interface LoadedSeq2Seq {
  config: Seq2SeqCheckpointConfig;
  source: PairVocab;
  target: PairVocab;
  params: Record<string, Float32Array>;
  /** Only when loaded for resuming. */
  state: { step: number; tokens_seen: number; optimizer_step: number; rng: RngState } | null;
  optimizer: Record<string, Float32Array> | null;
}

/** Reads a seq2seq checkpoint's files, refusing one that is incomplete or inconsistent in one sentence. */
export function decodeSeq2SeqCheckpoint(files: Record<string, Uint8Array>, use: 'inference' | 'resume'): LoadedSeq2Seq {
  const F = SEQ2SEQ_CHECKPOINT_FILES;
  const need = use === 'resume' ? Object.values(F) : [F.model, F.config, F.sourceVocab, F.targetVocab];
  for (const file of need) if (!files[file]) throw new UserError(`the checkpoint has no ${file}: it is incomplete; use another checkpoint`);
  const json = <T>(file: string): T => {
    try {
      return JSON.parse(new TextDecoder().decode(files[file])) as T;
    } catch (error) {
      throw new UserError(`${file} of the checkpoint is not valid JSON (${(error as Error).message}): the file is damaged`);
    }
  };
  const config = json<Seq2SeqCheckpointConfig>(F.config);
  if (config.family !== 'seq2seq' || !config.model || !config.train) throw new UserError(`${F.config} of the checkpoint is not a seq2seq config`);
  const source = PairVocab.fromJSON(json<PairVocabJson>(F.sourceVocab));
  const target = PairVocab.fromJSON(json<PairVocabJson>(F.targetVocab));
  if (source.vocabSize !== config.model.src_vocab_size || target.vocabSize !== config.model.tgt_vocab_size) {
    throw new UserError(
      `the checkpoint's vocabularies (${source.vocabSize}, ${target.vocabSize}) do not match its model (${config.model.src_vocab_size}, ${config.model.tgt_vocab_size})`,
    );
  }
  const tensors = (file: string) => Object.fromEntries(decodeSafetensors(files[file], file).tensors.map((t) => [t.name, Float32Array.from(t.data)]));
  const params = tensors(F.model);
  const expected = countSeq2SeqParameters(config.model);
  const got = Object.values(params).reduce((n, a) => n + a.length, 0);
  if (got !== expected)
    throw new UserError(`${F.model} holds ${got} values but the model in ${F.config} has ${expected} parameters: the files are from different runs`);
  return {
    config,
    source,
    target,
    params,
    state: use === 'resume' ? json(F.state) : null,
    optimizer: use === 'resume' ? tensors(F.optimizer) : null,
  };
}

/** A trainer continued from a checkpoint's files, on the given pairs (with the same vocabularies). */
export function restoreSeq2SeqTrainer(files: Record<string, Uint8Array>, corpus: PairsCorpus, backend?: Backend): Seq2SeqTrainer {
  const ck = decodeSeq2SeqCheckpoint(files, 'resume');
  const same = (a: PairVocab, b: PairVocab) => a.kind === b.kind && a.vocab.join('\u0000') === b.vocab.join('\u0000');
  if (!same(ck.source, corpus.source) || !same(ck.target, corpus.target)) {
    throw new UserError('the pairs have changed since the run started (their vocabularies differ): resume needs the same pairs');
  }
  const trainer = new Seq2SeqTrainer(ck.config.train, corpus, backend);
  trainer.restore({
    step: ck.state!.step,
    tokensSeen: ck.state!.tokens_seen,
    params: ck.params,
    optimizer: { step: ck.state!.optimizer_step, buffers: ck.optimizer! },
    rng: ck.state!.rng,
  });
  return trainer;
}

/** A model for inference from a checkpoint's files alone. */
export function loadSeq2SeqModel(
  files: Record<string, Uint8Array>,
  backend: Backend = new CpuBackend(),
): { model: Seq2Seq; source: PairVocab; target: PairVocab; config: Seq2SeqCheckpointConfig } {
  const ck = decodeSeq2SeqCheckpoint(files, 'inference');
  const model = new Seq2Seq(ck.config.model, backend, new Rng(0));
  model.params.load(ck.params);
  return { model, source: ck.source, target: ck.target, config: ck.config };
}
