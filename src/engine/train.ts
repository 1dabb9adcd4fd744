import { Graph } from './autograd';
import type { Backend } from './backend/backend';
import { CpuBackend } from './backend/cpu';
import { randomBatch, SequentialBatcher, type Batch } from './data/batches';
import {
  createModel,
  isRecurrent,
  RecurrentLM,
  resolveModelConfig,
  type LanguageModel,
  type ModelConfig,
  type ModelFamily,
  type RecurrentState,
} from './models';
import { clipGradNorm, clipGradValue, gradNorm } from './optim/clip';
import { Optimizer, OPTIMIZER_DEFAULTS, resolveOptimizerConfig, type OptimizerConfig } from './optim/optimizer';
import { learningRate, validateSchedule, type LrSchedule } from './optim/schedule';
import { Rng, type RngState } from './rng';
import type { OptimizerState } from './optim/optimizer';
import type { FloatArray, Tensor } from './tensor';
import { settingBoundError, settingKeys } from '../shared/hyperparameters';
import { SettingError, UserError } from './errors';

// The training loop, pure: no files, no clock but the one passed in, no threads. A host (the CLI,
// a worker, a test) feeds it token arrays and reads its events.

export interface TrainConfig {
  model: ModelConfig;
  optimizer: OptimizerConfig;
  schedule: LrSchedule;
  batch_size: number;
  /** Context length: tokens per row of a batch. */
  seq_len: number;
  steps: number;
  /** Global-norm clipping (clip_grad_norm_); 0 turns it off. */
  grad_clip: number;
  /** Per-element clipping (clip_grad_value_, char-rnn's "clip 5"); 0 turns it off. */
  grad_clip_value: number;
  eval_interval: number;
  eval_iters: number;
  /** random windows (nanoGPT) or sequential lanes with carried state (char-rnn). */
  batching: 'random' | 'sequential';
  seed: number;
}

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
}

/**
 * An evaluation of one split: the mean loss per token, and the totals behind it. Bits per
 * character come from the totals (bitsPerChar), so a char run and a word run are measured on the
 * same scale: the text's characters, not the tokenizer's tokens.
 */
export interface SplitEvaluation {
  /** Mean cross-entropy per target token, in nats. */
  loss: number;
  /** Total cross-entropy of the evaluated target tokens, in nats. */
  nats: number;
  /** How many target tokens were evaluated. */
  tokens: number;
  /** How many characters (code points) those target tokens decode to. */
  chars: number;
}

export interface EvalMetrics {
  step: number;
  /** Mean loss per token on training text (nats). */
  trainLoss: number;
  /** Mean loss per token on held-out text (nats). */
  valLoss: number;
  /** Bits per character of the training text and of the held-out text. */
  trainBpc: number;
  valBpc: number;
  train: SplitEvaluation;
  val: SplitEvaluation;
}

/**
 * Bits per character of the original text: the total nats of the evaluated tokens over the
 * characters they decode to, over ln 2. For a char tokenizer (one character per token) it is the
 * loss per token / ln 2; a word tokenizer's larger tokens spread their loss over more characters.
 */
export function bitsPerChar(e: { nats: number; chars: number }): number {
  return e.nats / e.chars / Math.LN2;
}

/**
 * The characters (code points) each token id decodes to: what bits per character divides by.
 * A word vocabulary's <unk> counts as the characters it decodes to ("<unk>"), as its text does.
 */
export function charsPerToken(vocab: readonly string[]): Int32Array {
  return Int32Array.from(vocab, (token) => [...token].length);
}

/**
 * What a trainer trains and evaluates on: token ids, split. With the tokenizer's vocabulary the
 * evaluation counts the characters the tokens decode to; without it, one character per token.
 */
export interface TrainData {
  train: Int32Array;
  val: Int32Array;
  tokenizer?: { readonly vocab: readonly string[] };
}

const TRAIN_DEFAULTS = { steps: 200, grad_clip: 1, grad_clip_value: 0, eval_interval: 100, eval_iters: 20 };

/** Settings that are not the model's or the optimizer's, with their defaults per family. */
function familyDefaults(
  family: ModelFamily,
): Omit<TrainConfig, 'model' | 'optimizer' | 'seed'> & { optimizerName: OptimizerConfig['name']; optimizer: Record<string, unknown> } {
  if (family === 'gpt') {
    return {
      // nanoGPT's Shakespeare-char settings: beta2 0.99, weight decay 0.1 on matrices only
      ...TRAIN_DEFAULTS,
      batch_size: 12,
      seq_len: 64,
      batching: 'random',
      optimizerName: 'adamw',
      optimizer: { lr: 1e-3, beta2: 0.99, weight_decay: 0.1, decay: 'matrices' },
      schedule: { kind: 'cosine', warmup_iters: 20, lr_decay_iters: TRAIN_DEFAULTS.steps, min_lr: 1e-4 },
    };
  }
  return {
    ...TRAIN_DEFAULTS,
    batch_size: 32,
    seq_len: 64,
    batching: 'sequential',
    optimizerName: 'adamw',
    optimizer: { lr: 3e-3 },
    schedule: { kind: 'constant' },
  };
}

// the loop's and the schedule's flat settings, as the settings catalogue groups them (the model's
// and the optimizer's are their configs' own keys)
const TRAIN_KEYS = settingKeys('training');
const SCHEDULE_KEYS = settingKeys('schedule');

/**
 * A complete training config from a family, a vocabulary size and flat `key=value` overrides
 * (model, optimizer, schedule and loop settings share one namespace; unknown keys are refused).
 */
export function resolveTrainConfig(family: ModelFamily, vocabSize: number, overrides: Record<string, unknown> = {}, seed = 1337): TrainConfig {
  const d = familyDefaults(family);
  const modelKeys: Record<string, unknown> = {};
  const optimKeys: Record<string, unknown> = {};
  const trainKeys: Record<string, unknown> = {};
  const schedKeys: Record<string, unknown> = {};
  const optimizerName = String(overrides.optimizer ?? d.optimizerName);
  if (!(optimizerName in OPTIMIZER_DEFAULTS)) {
    throw new UserError(`unknown optimizer "${optimizerName}": choose one of ${Object.keys(OPTIMIZER_DEFAULTS).join(', ')}`);
  }
  const optimizerKnown = Object.keys(OPTIMIZER_DEFAULTS[optimizerName as OptimizerConfig['name']]);
  const probe = resolveModelConfig(family, vocabSize);
  const modelKnown = new Set([...Object.keys(probe), 'dropout']);
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'optimizer') continue;
    if (TRAIN_KEYS.includes(key)) trainKeys[key] = value;
    else if (SCHEDULE_KEYS.includes(key)) schedKeys[key] = value;
    else if (optimizerKnown.includes(key)) optimKeys[key] = value;
    else if (modelKnown.has(key) && key !== 'family' && key !== 'vocab_size') modelKeys[key] = value;
    else {
      const known = [...TRAIN_KEYS, ...SCHEDULE_KEYS, ...optimizerKnown, ...[...modelKnown].filter((k) => k !== 'family' && k !== 'vocab_size')];
      throw new SettingError(key, `unknown setting "${key}" for a ${family} run with ${optimizerName}; known settings: ${known.sort().join(', ')}`);
    }
  }
  const model = resolveModelConfig(family, vocabSize, modelKeys);
  // the family's optimizer defaults hold only when its default optimizer is used
  const familyOptim = optimizerName === d.optimizerName ? d.optimizer : { lr: d.optimizer.lr };
  const optimizer = resolveOptimizerConfig(optimizerName, { ...familyOptim, ...optimKeys });
  const loop = { ...d, ...trainKeys } as typeof d;
  const steps = Number(loop.steps);
  const kind =
    schedKeys.schedule ?? ('step_size' in schedKeys || 'gamma' in schedKeys ? 'step' : Object.keys(schedKeys).length > 0 ? 'cosine' : d.schedule.kind);
  const allowed: Record<string, string[]> = {
    constant: ['schedule'],
    cosine: ['schedule', 'warmup_iters', 'lr_decay_iters', 'min_lr'],
    step: ['schedule', 'step_size', 'gamma'],
  };
  if (!(String(kind) in allowed)) throw new UserError(`unknown schedule "${String(kind)}": choose constant, cosine or step`);
  for (const key of Object.keys(schedKeys)) {
    if (!allowed[String(kind)].includes(key)) throw new UserError(`${key} does not apply to the ${String(kind)} schedule`);
  }
  let schedule: LrSchedule;
  if (kind === 'cosine') {
    const base = d.schedule.kind === 'cosine' ? d.schedule : { warmup_iters: 0, min_lr: optimizer.lr / 10 };
    schedule = {
      kind: 'cosine',
      warmup_iters: Number(schedKeys.warmup_iters ?? Math.min(base.warmup_iters, Math.floor(steps / 10))),
      lr_decay_iters: Number(schedKeys.lr_decay_iters ?? steps),
      min_lr: Number(schedKeys.min_lr ?? base.min_lr),
    };
  } else if (kind === 'step') {
    schedule = { kind: 'step', step_size: Number(schedKeys.step_size ?? Math.max(1, Math.floor(steps / 3))), gamma: Number(schedKeys.gamma ?? 0.1) };
  } else {
    schedule = { kind: 'constant' };
  }
  validateSchedule(schedule);
  const config: TrainConfig = {
    model,
    optimizer,
    schedule,
    batch_size: Number(loop.batch_size),
    seq_len: Number(loop.seq_len),
    steps,
    grad_clip: Number(loop.grad_clip),
    grad_clip_value: Number(loop.grad_clip_value),
    eval_interval: Number(loop.eval_interval),
    eval_iters: Number(loop.eval_iters),
    batching: loop.batching,
    seed,
  };
  validateTrainConfig(config);
  checkBounds(config, overrides);
  return config;
}

/**
 * Every numeric setting within the finite bounds of the settings catalogue (the model's are
 * checked by validateModelConfig). Checked after the rules above, so a value that breaks one of
 * them ("batch_size (0) must be a positive integer") is named by it.
 */
function checkBounds(c: TrainConfig, overrides: Record<string, unknown>): void {
  const values: Record<string, unknown> = { ...c.optimizer, ...c.schedule };
  for (const key of TRAIN_KEYS) values[key] = c[key as keyof TrainConfig];
  // the Transformer spreads dropout over three rates; the user gave (and knows) the one
  if ('dropout' in overrides) values.dropout = overrides.dropout;
  for (const [key, value] of Object.entries(values)) {
    const error = settingBoundError(key, value);
    if (error) throw new SettingError(key, error);
  }
}

/**
 * When a run has diverged. A model that knows nothing scores the uniform loss ln(vocab) per token,
 * and a fresh model starts near it. Healthy runs stay below it: every preset, and runs at learning
 * rates high enough to make the loss jump (AdamW at lr 0.3 on a small GPT peaks at 4.6 × ln(vocab)
 * and recovers below it; char-rnn's SGD at lr 5 peaks at 4.5 ×). Exploding runs leave it behind
 * within a step or two (an LSTM at lr 1e3 is at 6000 × on its second step, a GPT at lr 10 at 57 ×),
 * and runs that climb past 10 × (char-rnn's SGD at lr 10, a small GPT's AdamW at lr 1) were still
 * 8-10 × above it a hundred steps later: saturated logits, confidently wrong. Ten times the
 * larger of the uniform loss and the run's first loss sits between the two, with a margin of two
 * on the healthy side. The first loss counts for a model that starts worse than uniform (a
 * fine-tune on a new text); a floor of 1 nat keeps a tiny vocabulary (ln 2 = 0.69) from a limit
 * one unlucky batch could cross. A step's loss is judged before its update, and a validation loss
 * before its checkpoint, so the last checkpoint written is a good one.
 */
export const DIVERGENCE_FACTOR = 10;

/** A run whose loss left the healthy range: its own stop reason, not a fault of the device it ran on. */
export class DivergedError extends Error {}

export function divergenceLimit(vocabSize: number, firstLoss: number): number {
  return DIVERGENCE_FACTOR * Math.max(Math.log(vocabSize), firstLoss, 1);
}

/**
 * Why a loss (a step's, or a validation loss) means the run diverged, or null when it does not:
 * not finite, or above the limit.
 */
export function divergence(loss: number, limit: number, step: number, what = 'loss'): string | null {
  if (Number.isFinite(loss) && loss <= limit) return null;
  const value = Number.isFinite(loss) ? (loss >= 1e4 ? loss.toExponential(2) : loss.toFixed(2)) : String(loss);
  return `diverged at step ${step} (${what} ${value}${Number.isFinite(loss) ? `, above the limit ${limit.toFixed(1)}` : ''})`;
}

export function validateTrainConfig(c: TrainConfig): void {
  for (const key of ['batch_size', 'seq_len', 'steps', 'eval_interval', 'eval_iters'] as const) {
    if (!Number.isInteger(c[key]) || c[key] < 1) throw new SettingError(key, `${key} (${c[key]}) must be a positive integer`);
  }
  for (const key of ['grad_clip', 'grad_clip_value'] as const) {
    if (!(c[key] >= 0)) throw new SettingError(key, `${key} (${c[key]}) must be ≥ 0 (0 turns it off)`);
  }
  if (c.batching !== 'random' && c.batching !== 'sequential') {
    throw new SettingError('batching', `batching (${String(c.batching)}) must be random or sequential`);
  }
  if (c.batching === 'sequential' && !isRecurrent(c.model)) {
    throw new SettingError('batching', 'batching (sequential) needs a recurrent model: a Transformer carries no state between batches');
  }
  if (!isRecurrent(c.model) && c.seq_len > c.model.block_size) {
    throw new SettingError('seq_len', `seq_len (${c.seq_len}) must be ≤ block_size (${c.model.block_size})`);
  }
}

/** Everything a run needs to continue bit for bit where it stopped. */
export interface TrainerSnapshot {
  step: number;
  tokensSeen: number;
  params: Record<string, FloatArray>;
  optimizer: OptimizerState;
  rng: RngState;
  /** Sequential batching: offset within each lane of the next batch. */
  batcherPosition: number | null;
  /** Recurrent state carried into the next batch, per layer. */
  carried: { h: FloatArray[]; c: FloatArray[] | null } | null;
}

export class Trainer {
  readonly model: LanguageModel;
  readonly optimizer: Optimizer;
  readonly rng: Rng;
  step = 0;
  tokensSeen = 0;
  /** The first loss this trainer saw (divergenceLimit's starting point). */
  private firstLoss: number | null = null;
  private readonly batcher: SequentialBatcher | null;
  private state: RecurrentState | null = null;
  /** Characters per token id (null: one per token). */
  private readonly chars: Int32Array | null;

  constructor(
    readonly config: TrainConfig,
    private readonly data: TrainData,
    readonly backend: Backend = new CpuBackend(),
  ) {
    validateTrainConfig(config);
    this.rng = new Rng(config.seed);
    this.model = createModel(config.model, backend, this.rng);
    this.optimizer = new Optimizer(config.optimizer, this.model.params);
    this.batcher = config.batching === 'sequential' ? new SequentialBatcher(data.train, config.batch_size, config.seq_len) : null;
    if (this.model instanceof RecurrentLM && this.batcher) this.state = this.model.zeroState(config.batch_size);
    this.chars = data.tokenizer ? charsPerToken(data.tokenizer.vocab) : null;
  }

  private nextBatch(): Batch {
    if (!this.batcher) return randomBatch(this.data.train, this.config.batch_size, this.config.seq_len, this.rng);
    if (this.batcher.atEpochStart && this.state) for (const t of [...this.state.h, ...(this.state.c ?? [])]) this.backend.fill(t, 0);
    return this.batcher.next();
  }

  /** One optimisation step: batch, forward, backward, clip, schedule, update. */
  trainStep(): StepMetrics {
    const c = this.config;
    const batch = this.nextBatch();
    const lr = learningRate(c.schedule, c.optimizer.lr, this.step);
    const loss = this.backend.scoped(() => {
      this.model.params.zeroGrad();
      const g = new Graph(this.backend, this.rng, true);
      const out = this.model.forward(g, batch.x, batch.B, batch.T, this.state ?? undefined);
      const { loss, value } = g.crossEntropy(out.logits, batch.y);
      g.backward(loss);
      // truncated BPTT: the final state is carried to the next batch, its gradient is not
      if (this.state && out.state && this.model instanceof RecurrentLM) this.model.carryState(out.state, this.state);
      return value;
    });
    // stop before the update so the weights stay those of the last good step
    if (this.firstLoss === null && Number.isFinite(loss)) this.firstLoss = loss;
    this.checkConverging(loss, this.step + 1);
    let norm: number;
    if (c.grad_clip > 0) norm = clipGradNorm(this.model.params, c.grad_clip).norm;
    else norm = gradNorm(this.model.params);
    if (c.grad_clip_value > 0) clipGradValue(this.model.params, c.grad_clip_value);
    this.optimizer.step(lr);
    this.step++;
    this.tokensSeen += batch.B * batch.T;
    return { step: this.step, loss, lr, gradNorm: norm, tokens: this.tokensSeen };
  }

  /**
   * Mean loss over `eval_iters` random windows of a split, with dropout off and a zero initial
   * state. The windows come from a generator seeded by the run's seed, so every evaluation of a
   * run sees the same batches and the curve moves only because the model does.
   */
  evaluate(split: 'train' | 'val'): number {
    return this.evaluateSplit(split).loss;
  }

  /** evaluate(), with the total nats and the characters of the evaluated target tokens (for bits per character). */
  evaluateSplit(split: 'train' | 'val'): SplitEvaluation {
    const c = this.config;
    const data = split === 'train' ? this.data.train : this.data.val;
    const rng = new Rng(c.seed + (split === 'train' ? 1 : 2));
    const T = Math.min(c.seq_len, data.length - 1);
    let total = 0;
    let nats = 0;
    let tokens = 0;
    let chars = 0;
    for (let i = 0; i < c.eval_iters; i++) {
      const batch = randomBatch(data, c.batch_size, T, rng);
      const mean = this.backend.scoped(() => {
        const g = new Graph(this.backend, rng, false);
        return g.crossEntropy(this.model.forward(g, batch.x, batch.B, batch.T).logits, batch.y).value;
      });
      total += mean;
      nats += mean * batch.y.length; // every target counts: evaluation windows ignore none
      tokens += batch.y.length;
      if (this.chars) for (let j = 0; j < batch.y.length; j++) chars += this.chars[batch.y[j]];
      else chars += batch.y.length;
    }
    return { loss: total / c.eval_iters, nats, tokens, chars };
  }

  /** The loss above which this run has diverged (see divergenceLimit). */
  get lossLimit(): number {
    return divergenceLimit(this.config.model.vocab_size, this.firstLoss ?? 0);
  }

  /** Throws "diverged at step N (loss X, …): lower the learning rate …" when `loss` says so. */
  checkConverging(loss: number, step: number, what = 'loss'): void {
    const why = divergence(loss, this.lossLimit, step, what);
    if (why) {
      const c = this.config;
      throw new DivergedError(`${why}: lower the learning rate (lr ${c.optimizer.lr}) or clip gradients (grad_clip ${c.grad_clip})`);
    }
  }

  evaluateBoth(): EvalMetrics {
    const train = this.evaluateSplit('train');
    const val = this.evaluateSplit('val');
    return { step: this.step, trainLoss: train.loss, valLoss: val.loss, trainBpc: bitsPerChar(train), valBpc: bitsPerChar(val), train, val };
  }

  snapshot(): TrainerSnapshot {
    const read = (ts: Tensor[]) => ts.map((t) => this.backend.read(t));
    return {
      step: this.step,
      tokensSeen: this.tokensSeen,
      params: this.model.params.read(),
      optimizer: this.optimizer.getState(),
      rng: this.rng.getState(),
      batcherPosition: this.batcher ? this.batcher.position : null,
      carried: this.state ? { h: read(this.state.h), c: this.state.c ? read(this.state.c) : null } : null,
    };
  }

  /** Continues from a snapshot taken by a trainer with the same config. */
  restore(s: TrainerSnapshot): void {
    this.model.params.load(s.params);
    this.optimizer.setState(s.optimizer);
    this.rng.setState(s.rng);
    this.step = s.step;
    this.tokensSeen = s.tokensSeen;
    if (this.batcher) {
      if (s.batcherPosition === null) throw new UserError('the checkpoint has no data position for sequential batching');
      this.batcher.position = s.batcherPosition;
    }
    if (this.state) {
      if (!s.carried) throw new UserError('the checkpoint has no carried recurrent state');
      this.state.h.forEach((t, i) => this.backend.write(t, s.carried!.h[i]));
      this.state.c?.forEach((t, i) => this.backend.write(t, s.carried!.c![i]));
    }
  }

  dispose(): void {
    if (this.state && this.model instanceof RecurrentLM) this.model.disposeState(this.state);
    this.optimizer.dispose();
    this.model.dispose();
  }
}
