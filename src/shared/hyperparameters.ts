// Every setting a run can take, with what it means, for the New-run form's fields and hover
// help. The keys are the engine's flat settings (the CLI's `--set key=value` namespace); the host
// resolves defaults and validates (runs.preview). Every number here has finite bounds, the one
// declaration of them: the form checks them as the user types, the engine refuses a config
// outside them (settingBoundError), and the memory preflight judges what is left. The names of the
// model families, optimizers and schedules are declared here too: the contract's schemas and the
// engine's resolver read them (tests/shared/vocabulary.test.ts holds the engine's types to them).

/** The model families, in the order the UI lists them. */
export const FAMILIES = ['rnn', 'lstm', 'gru', 'gpt'] as const;
export type Family = (typeof FAMILIES)[number];
/**
 * The families the app offers: the language models above and the encoder–decoder, which trains
 * on pairs (its settings: shared/seq2seq-settings.ts; its start: main/api/seq2seq-start.ts).
 */
export const APP_FAMILIES = [...FAMILIES, 'seq2seq'] as const;
export type AppFamily = (typeof APP_FAMILIES)[number];

export const OPTIMIZERS = ['adamw', 'adam', 'sgd', 'rmsprop', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export const SCHEDULES = ['constant', 'cosine', 'step'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export type SettingKind = 'integer' | 'number' | 'boolean' | 'choice';

export interface SettingInfo {
  key: string;
  label: string;
  group: 'model' | 'optimizer' | 'schedule' | 'training';
  kind: SettingKind;
  /** Which model families take it. */
  families: readonly AppFamily[];
  /** Only with these optimizers (optimizer settings) or schedules (schedule settings). */
  when?: { optimizer?: readonly OptimizerName[]; schedule?: readonly ScheduleKind[] };
  choices?: readonly string[];
  /** Bounds, inclusive; every integer and number setting has both. */
  min?: number;
  max?: number;
  step?: number;
  help: string;
}

const ALL: readonly Family[] = FAMILIES;
const RECURRENT: readonly Family[] = ['rnn', 'lstm', 'gru'];
const GPT: readonly Family[] = ['gpt'];

export const SETTINGS: readonly SettingInfo[] = [
  // model: recurrent
  {
    key: 'embedding_dim',
    label: 'Embedding size',
    group: 'model',
    kind: 'integer',
    families: RECURRENT,
    min: 1,
    max: 65536,
    help: 'Length of the vector each character (or word) is turned into before it enters the recurrent layers.',
  },
  {
    key: 'hidden_size',
    label: 'Hidden size',
    group: 'model',
    kind: 'integer',
    families: RECURRENT,
    min: 1,
    max: 65536,
    help: 'Width of the recurrent state: how much the network can remember from one step to the next.',
  },
  {
    key: 'num_layers',
    label: 'Layers',
    group: 'model',
    kind: 'integer',
    families: RECURRENT,
    min: 1,
    max: 256,
    help: 'Recurrent layers stacked on each other; each reads the hidden states of the one below.',
  },
  // model: transformer
  {
    key: 'n_layer',
    label: 'Layers',
    group: 'model',
    kind: 'integer',
    families: GPT,
    min: 1,
    max: 256,
    help: 'Transformer blocks (attention + MLP) stacked on each other.',
  },
  {
    key: 'n_head',
    label: 'Attention heads',
    group: 'model',
    kind: 'integer',
    families: GPT,
    min: 1,
    max: 1024,
    help: 'Attention is split into this many heads, each looking at the context in its own way. n_embd must divide by it.',
  },
  {
    key: 'n_embd',
    label: 'Width (n_embd)',
    group: 'model',
    kind: 'integer',
    families: GPT,
    min: 1,
    max: 65536,
    help: 'Length of the vector that represents each position as it flows through the blocks.',
  },
  {
    key: 'block_size',
    label: 'Context (block_size)',
    group: 'model',
    kind: 'integer',
    families: GPT,
    min: 1,
    max: 65536,
    help: 'Most tokens the model can look back over; the position table has this many rows. seq_len must not exceed it.',
  },
  {
    key: 'mlp_ratio',
    label: 'MLP width ×',
    group: 'model',
    kind: 'integer',
    families: GPT,
    min: 1,
    max: 64,
    help: "Hidden width of each block's MLP, as a multiple of n_embd (4 in GPT-2).",
  },
  {
    key: 'activation',
    label: 'Activation',
    group: 'model',
    kind: 'choice',
    families: GPT,
    choices: ['gelu', 'relu'],
    help: 'Non-linearity inside the MLP: GELU (GPT-2) or ReLU (the original Transformer).',
  },
  {
    key: 'norm_position',
    label: 'Layer norm',
    group: 'model',
    kind: 'choice',
    families: GPT,
    choices: ['pre', 'post'],
    help: 'pre: normalise before attention and MLP (GPT-2, trains more easily); post: after the residual add (the original Transformer).',
  },
  {
    key: 'position_encoding',
    label: 'Positions',
    group: 'model',
    kind: 'choice',
    families: GPT,
    choices: ['learned', 'sinusoidal'],
    help: 'How the model knows where a token is: a learned vector per position, or fixed sine and cosine waves.',
  },
  {
    key: 'final_layer_norm',
    label: 'Final layer norm',
    group: 'model',
    kind: 'boolean',
    families: GPT,
    help: 'A layer norm after the last block, before the output head (ln_f in GPT-2).',
  },
  {
    key: 'tie_word_embeddings',
    label: 'Tie output to embedding',
    group: 'model',
    kind: 'boolean',
    families: GPT,
    help: 'The output head reuses the token embedding matrix: fewer parameters, often better on small data.',
  },
  {
    key: 'lm_head_bias',
    label: 'Output bias',
    group: 'model',
    kind: 'boolean',
    families: GPT,
    help: 'A bias on a separate output head (ignored when the head is tied to the embedding).',
  },
  { key: 'bias', label: 'Biases in blocks', group: 'model', kind: 'boolean', families: GPT, help: 'Bias vectors in the attention and MLP linear layers.' },
  {
    key: 'dropout',
    label: 'Dropout',
    group: 'model',
    kind: 'number',
    families: ALL,
    min: 0,
    max: 0.99,
    step: 0.05,
    help: 'Share of activations zeroed at random during training, to fight overfitting. 0 for short runs.',
  },
  // optimizer
  {
    key: 'optimizer',
    label: 'Optimizer',
    group: 'optimizer',
    kind: 'choice',
    families: ALL,
    choices: OPTIMIZERS,
    help: 'The update rule. AdamW is the default for Transformers; char-rnn used RMSprop.',
  },
  {
    key: 'lr',
    label: 'Learning rate',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    min: 0,
    max: 1000,
    step: 1e-4,
    help: 'Size of each update step. Too high and the loss jumps or diverges; too low and it crawls.',
  },
  {
    key: 'weight_decay',
    label: 'Weight decay',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    min: 0,
    max: 10,
    step: 0.01,
    help: 'Pulls weights towards zero at every step (decoupled in AdamW), a regulariser.',
  },
  {
    key: 'beta1',
    label: 'β1',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    when: { optimizer: ['adamw', 'adam'] },
    min: 0,
    max: 0.9999,
    step: 0.01,
    help: "Adam's momentum: how much of the past gradient direction each step keeps.",
  },
  {
    key: 'beta2',
    label: 'β2',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    when: { optimizer: ['adamw', 'adam'] },
    min: 0,
    max: 0.99999,
    step: 0.001,
    help: "Adam's memory of squared gradients; nanoGPT uses 0.99 for small models.",
  },
  {
    key: 'eps',
    label: 'ε',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    when: { optimizer: ['adamw', 'adam', 'rmsprop', 'adagrad'] },
    min: 0,
    max: 1,
    help: 'Added to the denominator so a tiny gradient history does not blow the step up.',
  },
  {
    key: 'momentum',
    label: 'Momentum',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    when: { optimizer: ['sgd', 'rmsprop'] },
    min: 0,
    max: 0.9999,
    step: 0.05,
    help: 'Share of the previous update carried into the next one.',
  },
  {
    key: 'nesterov',
    label: 'Nesterov',
    group: 'optimizer',
    kind: 'boolean',
    families: ALL,
    when: { optimizer: ['sgd'] },
    help: 'Look-ahead momentum (needs momentum > 0).',
  },
  {
    key: 'alpha',
    label: 'α (RMSprop decay)',
    group: 'optimizer',
    kind: 'number',
    families: ALL,
    when: { optimizer: ['rmsprop'] },
    min: 0,
    max: 0.9999,
    step: 0.01,
    help: "How slowly RMSprop's average of squared gradients forgets; char-rnn used 0.95.",
  },
  {
    key: 'centered',
    label: 'Centered',
    group: 'optimizer',
    kind: 'boolean',
    families: ALL,
    when: { optimizer: ['rmsprop'] },
    help: "Divide by the gradient's variance instead of its raw second moment.",
  },
  {
    key: 'decay',
    label: 'Decay applies to',
    group: 'optimizer',
    kind: 'choice',
    families: ALL,
    choices: ['all', 'matrices'],
    help: 'matrices: weight decay skips biases, norms and (as in nanoGPT) keeps to 2-D weights.',
  },
  // schedule
  {
    key: 'schedule',
    label: 'LR schedule',
    group: 'schedule',
    kind: 'choice',
    families: ALL,
    choices: SCHEDULES,
    help: 'constant; cosine (nanoGPT: linear warm-up, then a cosine down to min_lr); step (multiply by γ every step_size steps).',
  },
  {
    key: 'warmup_iters',
    label: 'Warm-up steps',
    group: 'schedule',
    kind: 'integer',
    families: ALL,
    when: { schedule: ['cosine'] },
    min: 0,
    max: 100_000_000,
    help: 'Steps over which the learning rate rises linearly from 0.',
  },
  {
    key: 'lr_decay_iters',
    label: 'Decay until step',
    group: 'schedule',
    kind: 'integer',
    families: ALL,
    when: { schedule: ['cosine'] },
    min: 0,
    max: 100_000_000,
    help: 'Step at which the cosine reaches min_lr (usually the number of steps).',
  },
  {
    key: 'min_lr',
    label: 'Minimum LR',
    group: 'schedule',
    kind: 'number',
    families: ALL,
    when: { schedule: ['cosine'] },
    min: 0,
    max: 1000,
    help: 'Where the cosine ends; nanoGPT uses lr / 10.',
  },
  {
    key: 'step_size',
    label: 'Step size',
    group: 'schedule',
    kind: 'integer',
    families: ALL,
    when: { schedule: ['step'] },
    min: 1,
    max: 100_000_000,
    help: 'Steps between learning-rate drops.',
  },
  {
    key: 'gamma',
    label: 'γ',
    group: 'schedule',
    kind: 'number',
    families: ALL,
    when: { schedule: ['step'] },
    min: 0,
    max: 1,
    step: 0.05,
    help: 'Factor the learning rate is multiplied by at each drop.',
  },
  // training loop
  {
    key: 'steps',
    label: 'Steps',
    group: 'training',
    kind: 'integer',
    families: ALL,
    min: 1,
    max: 100_000_000,
    help: 'Optimizer updates to make. Each sees batch_size × seq_len tokens.',
  },
  {
    key: 'batch_size',
    label: 'Batch size',
    group: 'training',
    kind: 'integer',
    families: ALL,
    min: 1,
    max: 65536,
    help: 'Sequences per step; their gradients are averaged.',
  },
  {
    key: 'seq_len',
    label: 'Sequence length',
    group: 'training',
    kind: 'integer',
    families: ALL,
    min: 1,
    max: 65536,
    help: 'Tokens per sequence: how far back gradients flow (backprop through time for RNNs).',
  },
  {
    key: 'grad_clip',
    label: 'Clip grad norm',
    group: 'training',
    kind: 'number',
    families: ALL,
    min: 0,
    max: 1_000_000,
    help: 'Scale the whole gradient down when its norm exceeds this (0: off). Keeps a rare huge gradient from wrecking training.',
  },
  {
    key: 'grad_clip_value',
    label: 'Clip grad value',
    group: 'training',
    kind: 'number',
    families: ALL,
    min: 0,
    max: 1_000_000,
    help: 'Clamp every gradient element to ±this (0: off); char-rnn\'s "clip 5".',
  },
  {
    key: 'eval_interval',
    label: 'Eval every',
    group: 'training',
    kind: 'integer',
    families: ALL,
    min: 1,
    max: 100_000_000,
    help: 'Steps between validation-loss measurements (and checkpoints).',
  },
  {
    key: 'eval_iters',
    label: 'Eval batches',
    group: 'training',
    kind: 'integer',
    families: ALL,
    min: 1,
    max: 10_000,
    help: 'Batches averaged for each validation loss: more is steadier, slower.',
  },
  {
    key: 'batching',
    label: 'Batching',
    group: 'training',
    kind: 'choice',
    families: ALL,
    choices: ['random', 'sequential'],
    help: 'random windows (nanoGPT) or sequential lanes that carry the recurrent state across steps (char-rnn).',
  },
];

/**
 * Why a value is outside its setting's bounds ("hidden_size (1e+308) must be a whole number from 1
 * to 65536"), or null when it is inside them or the key is not a numeric setting.
 */
export function settingBoundError(key: string, value: unknown): string | null {
  const info = SETTINGS.find((s) => s.key === key);
  if (!info || (info.kind !== 'integer' && info.kind !== 'number')) return null;
  const min = info.min ?? 0;
  const max = info.max ?? Number.MAX_SAFE_INTEGER;
  const n = typeof value === 'number' ? value : Number.NaN;
  if (n >= min && n <= max && (info.kind === 'number' || Number.isInteger(n))) return null;
  return `${key} (${String(value)}) must be ${info.kind === 'integer' ? 'a whole number' : 'a number'} from ${min} to ${max}`;
}

/** The groups of settings in the order the New-run form and a run's Configuration panel show them. */
export const SETTING_GROUPS: readonly { key: SettingInfo['group']; label: string }[] = [
  { key: 'model', label: 'Model' },
  { key: 'optimizer', label: 'Optimizer' },
  { key: 'schedule', label: 'Learning-rate schedule' },
  { key: 'training', label: 'Training loop' },
];

/** The keys of one group of settings, in catalogue order: the engine sorts flat settings by them. */
export function settingKeys(group: SettingInfo['group']): string[] {
  return SETTINGS.filter((s) => s.group === group).map((s) => s.key);
}

/** The settings that apply to a family under the chosen optimizer and schedule. */
export function settingsFor(family: AppFamily, optimizer: string, schedule: string): SettingInfo[] {
  return SETTINGS.filter(
    (s) =>
      s.families.includes(family) &&
      (!s.when?.optimizer || s.when.optimizer.some((o) => o === optimizer)) &&
      (!s.when?.schedule || s.when.schedule.some((k) => k === schedule)),
  );
}

/** Plain-language names of the metrics a run logs. */
export const METRICS: Record<string, { label: string; help: string }> = {
  train_loss: { label: 'train loss (nats/token)', help: 'Cross-entropy on each training batch, in nats per token.' },
  val_loss: {
    label: 'val loss (nats/token)',
    help: 'Cross-entropy on held-out text, in nats per token: the number that says whether the model generalises. Per token, so it compares runs with the same tokenizer only.',
  },
  eval_train_loss: {
    label: 'train loss (eval, nats/token)',
    help: 'Cross-entropy on training text, measured like val loss, for an apples-to-apples comparison.',
  },
  val_bpc: {
    label: 'val bits/char',
    help: 'Held-out loss in bits per character of the original text: the total nats of the evaluated tokens divided by the characters they decode to, over ln 2. For a char tokenizer it is val loss / ln 2; a word token spreads its loss over its characters, so this is the scale that compares runs across tokenizers.',
  },
  eval_train_bpc: { label: 'train bits/char (eval)', help: 'Training text in bits per character, measured like val bits/char.' },
  lr: { label: 'learning rate', help: 'The learning rate the schedule gave this step.' },
  grad_norm: { label: 'gradient norm', help: 'Global L2 norm of the gradient before clipping.' },
  tokens_per_sec: { label: 'tokens/s', help: 'Training throughput.' },
  exact_match: {
    label: 'exact match',
    help: 'Seq2seq runs: the fraction of held-out pairs (up to 200) whose greedy output equals the target exactly.',
  },
  cer: {
    label: 'character error rate',
    help: 'Seq2seq runs: edits (insertions, deletions, substitutions) to turn the greedy outputs into the targets, per target character.',
  },
  bleu: { label: 'BLEU', help: 'Seq2seq runs: corpus BLEU (4-gram, brevity penalty) of the greedy outputs of held-out pairs, from 0 to 1.' },
};
