// The one contract between the UI and the host that runs the lab: every request, its response
// and every pushed event, declared once with a runtime schema (zod). The Electron main process
// (ipcMain), the preload (contextBridge), the browser mode's WebSocket server and the renderer's
// transport all use these names and validate with these schemas: a payload that crosses a
// process boundary is checked on arrival.
import { z } from 'zod';
import { APP_FAMILIES } from './hyperparameters';
import { TASK_PAIRS_MAX, TASK_PAIRS_MIN } from './seq2seq-settings';
import type { TokenizerSpec } from '../engine/data/tokenizer';
import type { RunSettings } from '../engine/run';
import type { TrainConfig } from '../engine/train';

export const APP_NAME = 'NanoLab';

/** Which process hosts the engine: the desktop app, `nanolab serve` for a browser, or a CLI command. */
export const HOST_KINDS = ['electron', 'browser', 'cli'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/**
 * Largest corpus a run trains on unless NANOLAB_MAX_CORPUS_MB (or `train --max-corpus-mb`) says
 * otherwise: CLI --data and a file picked in the desktop app alike; app.info reports the limit in force.
 */
export const DEFAULT_MAX_CORPUS_BYTES = 256 * 1024 * 1024;

/**
 * Largest text uploaded from the browser (`nanolab serve`): one WebSocket frame carries it, and the
 * server's frame limit follows from it. Larger texts go through `nanolab train --data`.
 */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

/** Versions shown in the About line. */
export interface AppVersions {
  app: string;
  electron: string;
  chrome: string;
  node: string;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const runId = z.number().int().positive();
const family = z.enum(APP_FAMILIES);
export type Family = z.infer<typeof family>;
const status = z.enum(['queued', 'running', 'paused', 'finished', 'stopped', 'failed', 'interrupted']);
export type RunStatusName = z.infer<typeof status>;
export const RUN_STATUSES: readonly RunStatusName[] = status.options;
const checkpointKind = z.enum(['best', 'latest']);
/**
 * The x axes a chart can plot a run's metrics against: the step, tokens seen, wall time since the
 * start (pauses included) and active time (training time only: pauses excluded).
 */
export const AXES = ['step', 'tokens', 'wall', 'active'] as const;
export type Axis = (typeof AXES)[number];
const settingValue = z.union([z.string(), z.number(), z.boolean()]);
const tag = z.string().trim().min(1, 'a tag cannot be empty').max(40, 'a tag is at most 40 characters');
const tokenizer = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('char') }),
  z.object({ kind: z.literal('word'), vocab_size: z.number().int().min(2).max(100_000) }),
]);

/**
 * A schema for a type the engine declares (the engine imports no zod, so the type cannot be
 * inferred from the schema): the compiler checks that they describe the same values, both ways.
 */
const describes =
  <T>() =>
  <S extends z.ZodType<T>>(schema: S & ([T] extends [z.infer<S>] ? unknown : never)): S =>
    schema;

/** The engine's TokenizerSpec: a char vocabulary, or the most frequent words (lower-cased or not). */
export const tokenizerSpec = describes<TokenizerSpec>()(
  z.discriminatedUnion('kind', [z.object({ kind: z.literal('char') }), z.object({ kind: z.literal('word'), vocab_size: z.number(), lowercase: z.boolean() })]),
);

const decayScope = z.enum(['all', 'matrices']);
const adamConfig = { lr: z.number(), beta1: z.number(), beta2: z.number(), eps: z.number(), weight_decay: z.number(), decay: decayScope };

/** The engine's TrainConfig: a resolved, validated config (model, optimizer, schedule, loop), as a run stores it. */
export const trainConfig = describes<TrainConfig>()(
  z.object({
    model: z.union([
      z.object({
        family: z.enum(['rnn', 'lstm', 'gru']),
        vocab_size: z.number(),
        embedding_dim: z.number(),
        hidden_size: z.number(),
        num_layers: z.number(),
        dropout: z.number(),
      }),
      z.object({
        family: z.literal('gpt'),
        vocab_size: z.number(),
        block_size: z.number(),
        n_layer: z.number(),
        n_head: z.number(),
        n_embd: z.number(),
        mlp_ratio: z.number(),
        activation: z.enum(['gelu', 'relu']),
        norm_position: z.enum(['pre', 'post']),
        position_encoding: z.enum(['learned', 'sinusoidal']),
        final_layer_norm: z.boolean(),
        tie_word_embeddings: z.boolean(),
        lm_head_bias: z.boolean(),
        bias: z.boolean(),
        embd_dropout: z.number(),
        attn_dropout: z.number(),
        resid_dropout: z.number(),
      }),
    ]),
    optimizer: z.discriminatedUnion('name', [
      z.object({ name: z.literal('adamw'), ...adamConfig }),
      z.object({ name: z.literal('adam'), ...adamConfig }),
      z.object({
        name: z.literal('sgd'),
        lr: z.number(),
        momentum: z.number(),
        dampening: z.number(),
        nesterov: z.boolean(),
        weight_decay: z.number(),
        decay: decayScope,
      }),
      z.object({
        name: z.literal('rmsprop'),
        lr: z.number(),
        alpha: z.number(),
        eps: z.number(),
        momentum: z.number(),
        centered: z.boolean(),
        weight_decay: z.number(),
        decay: decayScope,
      }),
      z.object({ name: z.literal('adagrad'), lr: z.number(), lr_decay: z.number(), eps: z.number(), weight_decay: z.number(), decay: decayScope }),
    ]),
    schedule: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('constant') }),
      z.object({ kind: z.literal('cosine'), warmup_iters: z.number(), lr_decay_iters: z.number(), min_lr: z.number() }),
      z.object({ kind: z.literal('step'), step_size: z.number(), gamma: z.number() }),
    ]),
    batch_size: z.number(),
    seq_len: z.number(),
    steps: z.number(),
    grad_clip: z.number(),
    grad_clip_value: z.number(),
    eval_interval: z.number(),
    eval_iters: z.number(),
    batching: z.enum(['random', 'sequential']),
    seed: z.number(),
  }),
);

/** The engine's RunSettings: what a run's training loop needs besides its text and checkpoint. */
const runSettings = describes<RunSettings>()(
  z.object({
    runId: z.number().int().positive(),
    config: trainConfig,
    checkpointInterval: z.number(),
    sampleInterval: z.number(),
    samplePrompt: z.string(),
    resume: z.boolean(),
    lowercase: z.boolean(),
    tokenizer: tokenizerSpec,
    timeBudgetMs: z.number().nullable(),
    wallOffsetMs: z.number(),
    activeOffsetMs: z.number().optional(),
    bestValLoss: z.number().nullable(),
  }),
);

export const runSummary = z.object({
  id: runId,
  name: z.string(),
  status,
  statusReason: z.string().nullable(),
  family: z.string(),
  paramCount: z.number(),
  createdAt: z.number(),
  finishedAt: z.number().nullable(),
  notes: z.string(),
  tags: z.array(z.string()),
  steps: z.number(),
  /** The validation loss of the run's best checkpoint (null until one exists): a figure always backed by a file. */
  bestValLoss: z.number().nullable(),
  /**
   * Bits per character of held-out text at the best checkpoint's step (its val_bpc point): the
   * figure that compares runs across tokenizers. Null without one; absent from a host older than it.
   */
  bestValBpc: z.number().nullable().optional(),
  /** The last logged training speed; null while the run is paused (a paused run trains at no speed). */
  tokensPerSec: z.number().nullable(),
});
export type RunSummary = z.infer<typeof runSummary>;

const checkpointInfo = z.object({ step: z.number(), path: z.string(), valLoss: z.number().nullable(), kind: checkpointKind });
const sampleRow = z.object({ step: z.number(), prompt: z.string(), settings: z.unknown(), text: z.string() });
export type SampleRow = z.infer<typeof sampleRow>;

/** A corpus the host knows: the bundled one, or one the user uploaded / picked (copied into the lab). */
export const corpusInfo = z.object({
  id: z.string(),
  name: z.string(),
  chars: z.number(),
  bytes: z.number(),
  vocabSize: z.number(),
  preview: z.string(),
  bundled: z.boolean(),
});
export type CorpusInfo = z.infer<typeof corpusInfo>;

/**
 * The pairs a seq2seq run trains on: `count` pairs of a bundled task (made from the draft's seed),
 * or a TSV of source<TAB>target lines the user uploaded or picked (a corpus id, corpus.upload / pick).
 */
export const pairsSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('task'), task: z.string(), count: z.number().int().min(TASK_PAIRS_MIN).max(TASK_PAIRS_MAX) }),
  z.object({ kind: z.literal('tsv'), corpusId: z.string() }),
]);
export type PairsSource = z.infer<typeof pairsSource>;

/** A bundled pairs task as the New-run form lists it. */
const pairTaskInfo = z.object({
  id: z.string(),
  name: z.string(),
  /** One sentence: what learning it shows about attention. */
  teaches: z.string(),
  example: z.object({ source: z.string(), target: z.string() }),
});
export type PairTaskInfo = z.infer<typeof pairTaskInfo>;

/** What a New-run form describes: a model family, flat settings (the CLI's --set namespace), data. */
export const runDraft = z.object({
  name: z.string().trim().max(120).optional(),
  family,
  settings: z.record(z.string(), settingValue),
  corpusId: z.string(),
  lowercase: z.boolean(),
  tokenizer,
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  minutes: z
    .number()
    .positive()
    .max(24 * 60)
    .nullable(),
  preset: z.string().nullable(),
  tags: z.array(tag).max(20).optional(),
  /**
   * Where the run trains: the CPU worker, or the GPU (gpu.js in a page's Web Worker). 'auto' is
   * resolved by the UI's calibration before the run starts; `calibration` keeps its numbers.
   */
  device: z.enum(['cpu', 'gpu']).default('cpu'),
  calibration: z.object({ cpuTokensPerSec: z.number(), gpuTokensPerSec: z.number().nullable(), adapter: z.string().nullable() }).nullable().optional(),
  /** A seq2seq draft's pairs (its corpusId, lowercase and tokenizer do not apply); absent for a language model. */
  pairs: pairsSource.optional(),
});
/** A draft as callers write it (`device` may be left out: the CPU). */
export type RunDraft = z.input<typeof runDraft>;

const preview = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    paramCount: z.number(),
    /** Bytes of weights + gradients + optimizer state + activations for one step, float32. */
    memoryBytes: z.number(),
    vocabSize: z.number(),
    /** Every setting after defaults, flat, as the run will store it. */
    resolved: z.record(z.string(), settingValue),
    /**
     * The steps the run will train: `steps`; for a time budget, the steps that fit at the request's
     * `tokensPerSec`, sized as the run sizes itself before step 1 (null when no speed was given).
     */
    horizonSteps: z.number().nullable(),
    /**
     * The learning rate at each of at most 200 steps (always the warm-up's end, the decay's end and
     * the last step), computed with the engine's own schedule for the resolved config: the curve
     * the run's lr series will follow. Empty while the horizon is unknown.
     */
    lrCurve: z.array(z.object({ step: z.number(), lr: z.number() })),
    /** A seq2seq draft's pairs: the split, and each side's vocabulary (vocabSize is the target's). */
    pairs: z.object({ train: z.number(), val: z.number(), sourceVocab: z.number(), targetVocab: z.number(), name: z.string() }).optional(),
  }),
  z.object({ ok: z.literal(false), error: z.string(), field: z.string().nullable() }),
]);
export type RunPreview = z.infer<typeof preview>;

const presetInfo = z.object({
  id: z.string(),
  runs: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      family,
      settings: z.record(z.string(), settingValue),
      lowercase: z.boolean(),
      paramCount: z.number(),
      /** A seq2seq preset's pairs (its bundled task and how many). */
      pairs: pairsSource.optional(),
    }),
  ),
});
export type PresetInfo = z.infer<typeof presetInfo>;

/** A metric's value at a step; `wallMs`: time since the run started, pauses included; `activeMs`: training time, pauses excluded. */
const seriesPoint = z.object({ step: z.number(), tokens: z.number(), wallMs: z.number(), activeMs: z.number(), value: z.number() });
export type SeriesPoint = z.infer<typeof seriesPoint>;

const samplingSettings = z.object({
  runId,
  checkpoint: checkpointKind,
  prompt: z.string().max(10_000),
  length: z.number().int().min(0).max(5000),
  temperature: z.number().min(0).max(10),
  topK: z.number().int().min(0),
  topP: z.number().gt(0).max(1),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  /** Never repeat an n-gram of this size, as Hugging Face's no_repeat_ngram_size (absent or 0: off). */
  noRepeatNgram: z.number().int().min(0).max(20).optional(),
});
export type SamplingSettings = z.infer<typeof samplingSettings>;

const gridCell = z.object({
  temperature: z.number(),
  topK: z.number(),
  topP: z.number(),
  /** Tokens generated in the cell, all samples together. */
  tokens: z.number(),
  /** Means over the cell's samples, each sample measured alone. */
  distinctTokens: z.number(),
  distinct2: z.number(),
  distinct2Ratio: z.number(),
  distinct3: z.number(),
  distinct3Ratio: z.number(),
  /** Share of a sample's 4-grams that already occurred earlier in it. */
  repetitionRate: z.number(),
  /** Mean −ln p(token) over every generated token, under the model (temperature 1, no filters), in nats. */
  meanSurprise: z.number(),
  /** The samples' texts, seed order. */
  texts: z.array(z.string()),
});
export type GridCell = z.infer<typeof gridCell>;

const generatedToken = z.object({
  text: z.string(),
  id: z.number(),
  /** Probability under the model (temperature 1, no filters). */
  prob: z.number(),
  /** Probability under the distribution it was drawn from (after temperature, top-k, top-p). */
  sampledProb: z.number(),
  top: z.array(z.object({ text: z.string(), prob: z.number() })),
});
export type GeneratedToken = z.infer<typeof generatedToken>;

const kmeansIteration = z.object({
  /** Centroids projected on the same 2-D plane as the points. */
  centroids: z.array(z.tuple([z.number(), z.number()])),
  assignments: z.array(z.number()),
  inertia: z.number(),
});
export type KMeansIterationView = z.infer<typeof kmeansIteration>;

const kmeansView = z.object({
  labels: z.array(z.string()),
  points: z.array(z.tuple([z.number(), z.number()])),
  /** Share of the variance the two plotted axes explain (1 for toy 2-D data). */
  explained: z.array(z.number()),
  iterations: z.array(kmeansIteration),
  converged: z.boolean(),
});
export type KMeansView = z.infer<typeof kmeansView>;

const kmeansOptions = z.object({
  k: z.number().int().min(1).max(64),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  init: z.enum(['random', 'kmeans++']),
  maxIterations: z.number().int().min(1).max(500),
});

// ---------------------------------------------------------------------------------------------
// Requests: method name → payload schema and result schema

// A run's events, each declared once and put together for where they travel: 'run.event' (all of
// them), 'gpu.report' (a GPU page's loop). The engine declares the same events as TypeScript types
// (LoopEvent, RunEvent in engine/run.ts); tests/shared/vocabulary.test.ts holds the two equal.
const startedEvent = z.object({
  type: z.literal('started'),
  step: z.number(),
  totalSteps: z.number(),
  vocabSize: z.number(),
  resumedFrom: z.number().nullable(),
  device: z.string().optional(),
  /** How a time-budget run sized itself before step 1: its calibrated speed, the steps that fit (also totalSteps), the budget. */
  horizon: z.object({ tokensPerSec: z.number(), steps: z.number(), budgetMs: z.number() }).optional(),
});
const stepEvent = z.object({
  type: z.literal('step'),
  step: z.number(),
  loss: z.number(),
  lr: z.number(),
  gradNorm: z.number(),
  tokens: z.number(),
  tokensPerSec: z.number(),
  /** Wall time since the run started (pauses included). */
  elapsedMs: z.number(),
  /** Training time since the run started, pauses excluded (what a time budget counts). */
  activeMs: z.number(),
});
const evalEvent = z.object({
  type: z.literal('eval'),
  step: z.number(),
  tokens: z.number(),
  elapsedMs: z.number(),
  activeMs: z.number(),
  /** Mean losses per token (nats). */
  trainLoss: z.number(),
  valLoss: z.number(),
  /** Bits per character of the original text: total nats of the evaluated tokens / the characters they decode to / ln 2. */
  trainBpc: z.number(),
  valBpc: z.number(),
  /** Seq2seq runs: greedy decoding of held-out pairs, scored (exact match and character error rate as fractions, BLEU 0–1). */
  decode: z.object({ exact_match: z.number(), cer: z.number(), bleu: z.number(), pairs: z.number() }).optional(),
});
const sampleEvent = z.object({
  type: z.literal('sample'),
  step: z.number(),
  prompt: z.string(),
  settings: z.object({ temperature: z.number(), length: z.number(), seed: z.number() }),
  text: z.string(),
});
const checkpointEvent = z.object({ type: z.literal('checkpoint'), step: z.number(), path: z.string(), valLoss: z.number().nullable(), kind: checkpointKind });
/** `diverged`: the loss left the healthy range (the run's own failure; another device would not help). */
const endEvent = z.object({
  type: z.literal('end'),
  status: z.enum(['finished', 'stopped', 'failed']),
  reason: z.string().nullable(),
  step: z.number(),
  diverged: z.boolean().optional(),
});
/** A line of the run's log, for people: where it trains, and why it moved (a GPU fault, a lost page). */
const logEvent = z.object({ type: z.literal('log'), step: z.number(), message: z.string() });
/** The run moved to the CPU after `step`, going on from the checkpoint at `fromStep` (null: the start). */
const movedEvent = z.object({ type: z.literal('moved'), step: z.number(), to: z.literal('cpu'), reason: z.string(), fromStep: z.number().nullable() });

/** Events a GPU executor reports: its loop's (checkpoints go as files), with `gpuFault` on an end the GPU caused. */
const gpuRunEvent = z.discriminatedUnion('type', [startedEvent, stepEvent, evalEvent, sampleEvent, endEvent.extend({ gpuFault: z.boolean().optional() })]);
export type GpuRunEvent = z.infer<typeof gpuRunEvent>;
/** What a GPU executor reports: its run's events, and checkpoints as files (base64 per file). */
const reportedEvent = z.union([
  gpuRunEvent,
  z.object({
    type: z.literal('checkpoint-files'),
    step: z.number(),
    valLoss: z.number().nullable(),
    best: z.boolean(),
    files: z.record(z.string(), z.string()),
  }),
]);
export type ReportedEvent = z.infer<typeof reportedEvent>;

/** One decoded output of seq2seq.translate. */
const attentionStack = z.array(z.array(z.array(z.array(z.number()))));
const translateOutput = z.object({
  text: z.string(),
  /** Each generated token (EOS last when it ended the output) with its probability under the model. */
  tokens: z.array(z.object({ id: z.number(), token: z.string(), prob: z.number(), logProb: z.number() })),
  /** Σ ln p of the tokens. */
  logProb: z.number(),
  /** What beam search ranks by: logProb / ((5 + len) / 6)^α (greedy: logProb). */
  score: z.number(),
  /** Ended by <eos> (false: cut at the length limit). */
  finished: z.boolean(),
  /** [layer][head][row][column]; null for beam hypotheses after the best. */
  attention: z.object({ cross: attentionStack, decoderSelf: attentionStack, encoderSelf: attentionStack }).nullable(),
});

export const methods = {
  'app.info': {
    request: z.object({}),
    response: z.object({
      host: z.enum(HOST_KINDS),
      versions: z.object({ app: z.string(), electron: z.string(), chrome: z.string(), node: z.string() }),
      home: z.string(),
      maxCorpusBytes: z.number(),
      presets: z.array(presetInfo),
      families: z.array(family),
      /** The bundled pairs tasks a seq2seq run can train on (absent from a host older than them). */
      pairTasks: z.array(pairTaskInfo).optional(),
    }),
  },
  'runs.list': {
    request: z.object({
      family: family.optional(),
      status: status.optional(),
      tag: z.string().optional(),
      sort: z.enum(['created', 'name', 'best_val_loss', 'best_val_bpc', 'steps', 'params']).optional(),
      descending: z.boolean().optional(),
    }),
    response: z.array(runSummary),
  },
  'runs.get': {
    request: z.object({ id: runId }),
    response: runSummary.extend({
      config: z.unknown(),
      checkpoints: z.array(checkpointInfo),
      samples: z.array(sampleRow),
      /** Steps the run is set to train for; with a time budget, the horizon it fixed before step 1 (null until then). */
      totalSteps: z.number().nullable(),
      timeBudgetMs: z.number().nullable(),
      live: z.boolean(),
      /** The run's log, oldest first: devices, calibration, fallbacks and their reasons. */
      log: z.array(z.object({ at: z.number(), step: z.number(), message: z.string(), device: z.enum(['cpu', 'gpu']).nullable() })),
    }),
  },
  'runs.rename': { request: z.object({ id: runId, name: z.string().trim().min(1, 'a name cannot be empty').max(120) }), response: z.object({}) },
  'runs.tag': {
    request: z.object({ id: runId, add: z.array(tag).default([]), remove: z.array(z.string()).default([]) }),
    response: z.object({ tags: z.array(z.string()) }),
  },
  'runs.delete': { request: z.object({ id: runId }), response: z.object({ deletedCheckpoints: z.number() }) },
  'runs.series': {
    request: z.object({
      ids: z.array(runId).min(1).max(20),
      names: z.array(z.string()).min(1).max(10),
      maxPoints: z.number().int().min(10).max(20_000).default(2000),
    }),
    response: z.array(z.object({ runId, name: z.string(), points: z.array(seriesPoint) })),
  },
  'runs.configDiff': {
    request: z.object({ ids: z.array(runId).min(2).max(20) }),
    response: z.array(z.object({ key: z.string(), values: z.array(z.unknown()) })),
  },
  'runs.metricsCsv': { request: z.object({ id: runId }), response: z.object({ filename: z.string(), csv: z.string() }) },
  /** `tokensPerSec`: a measured speed (runs.calibrate's) that sizes a time-budget draft's horizon. */
  'runs.preview': { request: runDraft.extend({ tokensPerSec: z.number().positive().optional() }), response: preview },
  'runs.start': { request: runDraft, response: z.object({ id: runId }) },
  'runs.startPreset': { request: z.object({ preset: z.string(), steps: z.number().int().positive().optional() }), response: z.object({ ids: z.array(runId) }) },
  'runs.control': { request: z.object({ id: runId, action: z.enum(['pause', 'resume', 'stop']) }), response: z.object({}) },
  'runs.continue': { request: z.object({ id: runId }), response: z.object({}) },
  'corpus.list': { request: z.object({}), response: z.array(corpusInfo) },
  'corpus.upload': {
    request: z.object({ name: z.string().min(1).max(255), text: z.string() }),
    response: corpusInfo,
  },
  /** Desktop only: the main process shows an Open dialog and copies the chosen file into the lab. */
  'corpus.pick': { request: z.object({}), response: corpusInfo.nullable() },
  'sample.generate': {
    request: samplingSettings.extend({ requestId: z.string().min(1).max(64) }),
    /** `stopped`: the request was cancelled (sample.cancel) and holds the tokens made until then. */
    response: z.object({ text: z.string(), tokens: z.array(generatedToken), stopped: z.boolean() }),
  },
  /** Stops a running sample.generate or sample.grid after the token it is on; unknown or finished ids are ignored. */
  'sample.cancel': { request: z.object({ requestId: z.string().min(1).max(64) }), response: z.object({}) },
  /**
   * The model's logits for the token after the prompt (all of the vocabulary), the texts of the
   * `shown` most likely, and the ids no-repeat-ngram bans there: the view reshapes them live.
   */
  'sample.next': {
    request: z.object({
      runId,
      checkpoint: checkpointKind,
      prompt: z.string().max(10_000),
      noRepeatNgram: z.number().int().min(0).max(20).default(0),
      shown: z.number().int().min(1).max(100).default(30),
    }),
    response: z.object({ logits: z.array(z.number()), top: z.array(z.object({ id: z.number(), text: z.string() })), banned: z.array(z.number()) }),
  },
  /**
   * The lesson's sampling experiment: `samples` seeded samples (seeds seed, seed+1, …, the same in
   * every cell) for each temperature × top-k × top-p, with each cell's diversity and surprise.
   * Progress streams as 'sample.gridProgress'; sample.cancel stops it (`stopped`: cells so far).
   */
  'sample.grid': {
    request: z.object({
      requestId: z.string().min(1).max(64),
      runId,
      checkpoint: checkpointKind,
      prompt: z.string().max(10_000),
      length: z.number().int().min(1).max(1000),
      temperatures: z.array(z.number().min(0).max(10)).min(1).max(8),
      topKs: z.array(z.number().int().min(0)).min(1).max(8),
      topPs: z.array(z.number().gt(0).max(1)).min(1).max(4).default([1]),
      samples: z.number().int().min(1).max(10).default(3),
      seed: z
        .number()
        .int()
        .min(0)
        .max(2 ** 32 - 1),
      noRepeatNgram: z.number().int().min(0).max(20).default(0),
    }),
    response: z.object({ cells: z.array(gridCell), stopped: z.boolean() }),
  },
  'sample.surprise': {
    request: z.object({ runId, checkpoint: checkpointKind, text: z.string().min(2).max(5000) }),
    response: z.array(z.object({ char: z.string(), loss: z.number(), top: z.array(z.object({ text: z.string(), prob: z.number() })) })),
  },
  'analysis.embeddings': {
    request: kmeansOptions.extend({ runId, checkpoint: checkpointKind }),
    response: kmeansView,
  },
  /** The tokens nearest a chosen one by cosine similarity of their full embedding vectors (not of the 2-D projection). */
  'analysis.neighbours': {
    request: z.object({ runId, checkpoint: checkpointKind, token: z.string().min(1).max(200), count: z.number().int().min(1).max(50).default(10) }),
    response: z.object({
      token: z.string(),
      index: z.number(),
      /** The embedding's width (n_embd or the embedding size). */
      dimension: z.number(),
      neighbours: z.array(z.object({ token: z.string(), index: z.number(), similarity: z.number() })),
    }),
  },
  /** The raw embedding rows of a few tokens, their first `dims` numbers. */
  'analysis.embeddingRows': {
    request: z.object({
      runId,
      checkpoint: checkpointKind,
      tokens: z.array(z.string().min(1).max(200)).min(1).max(16),
      dims: z.number().int().min(1).max(64).default(8),
    }),
    response: z.object({ dimension: z.number(), rows: z.array(z.object({ token: z.string(), index: z.number(), values: z.array(z.number()) })) }),
  },
  'analysis.toy': {
    request: kmeansOptions.extend({ data: z.enum(['gaussian', 'blobs']), dataSeed: z.number().int().min(0).default(0) }),
    response: kmeansView,
  },
  /**
   * The Attention arithmetic view: for one query of a seq2seq run's encoder, decoder or cross
   * attention (one layer, one head), q, K, V, q·kᵀ, ÷√d_k, + mask·−1e9, softmax and ×V with the
   * model's own numbers, from a teacher-forced pass over the source and the target.
   */
  'seq2seq.arithmetic': {
    request: z.object({
      runId,
      checkpoint: checkpointKind,
      source: z.string().max(2000),
      /** The decoder reads <bos> and this text's tokens; null or absent: the model's greedy output. */
      target: z.string().max(2000).nullable().optional(),
      kind: z.enum(['encoder', 'decoder', 'cross']),
      layer: z.number().int().min(0).default(0),
      head: z.number().int().min(0).default(0),
      /** The query's position: in the source (encoder), in the decoder input <bos> + target (decoder, cross). */
      query: z.number().int().min(0).default(0),
    }),
    response: z.object({
      runId,
      checkpoint: z.object({ kind: checkpointKind, step: z.number() }),
      source: z.string(),
      target: z.string(),
      /** true when `target` is the model's greedy output (none was given). */
      targetFromModel: z.boolean(),
      kind: z.enum(['encoder', 'decoder', 'cross']),
      layer: z.number(),
      head: z.number(),
      query: z.number(),
      numLayers: z.number(),
      numHeads: z.number(),
      dModel: z.number(),
      dK: z.number(),
      normPosition: z.enum(['pre', 'post']),
      /** The source's tokens and the decoder input's (<bos> first). */
      sourceTokens: z.array(z.string()),
      targetTokens: z.array(z.string()),
      /** The query sequence's tokens and the key positions' tokens. */
      queryLabels: z.array(z.string()),
      keyLabels: z.array(z.string()),
      /** The row W_q sees (d_model), q (d_k), K and V (keys × d_k). */
      x: z.array(z.number()),
      q: z.array(z.number()),
      keys: z.array(z.array(z.number())),
      values: z.array(z.array(z.number())),
      /** One per key: q·k, ÷√d_k, the mask (1 = masked), + mask·−1e9, the softmax. */
      scores: z.array(z.number()),
      scaled: z.array(z.number()),
      mask: z.array(z.number()),
      masked: z.array(z.number()),
      weights: z.array(z.number()),
      /** weights·V (d_k). */
      output: z.array(z.number()),
      /** Largest |difference| from the model's own softmax row and head output (float32). */
      check: z.object({ weights: z.number(), output: z.number() }),
    }),
  },
  'analysis.attention': {
    request: z.object({ runId, checkpoint: checkpointKind, prompt: z.string().min(1).max(512) }),
    response: z.discriminatedUnion('applies', [
      z.object({
        applies: z.literal(true),
        tokens: z.array(z.string()),
        /** maps[layer][head][query][key], causal (zero above the diagonal). */
        maps: z.array(z.array(z.array(z.array(z.number())))),
        /** The sinusoidal table (positions × n_embd) when the model uses it; null for learned positions. */
        positions: z.array(z.array(z.number())).nullable(),
        positionEncoding: z.string(),
      }),
      /** A recurrent run (its family): it has no attention, and the view says why. */
      z.object({ applies: z.literal(false), family: z.string() }),
    ]),
  },
  /**
   * The Translate view: one source decoded by a seq2seq run greedily and by beam search, each
   * token with its probability, and the attention maps of the greedy and the best beam output
   * (a teacher-forced forward pass: row t is the step that chose output token t).
   */
  'seq2seq.translate': {
    request: z.object({
      runId,
      checkpoint: checkpointKind,
      source: z.string().max(2000),
      beamWidth: z.number().int().min(1).max(32).default(4),
      /** α of the GNMT length penalty ((5 + len) / 6)^α; 0 ranks beams by log-probability alone. */
      lengthPenalty: z.number().min(-10).max(10).default(0.6),
      /** Most output tokens (EOS included); at most max_seq_length. Default max_seq_length − 1. */
      maxLength: z.number().int().min(1).max(4096).optional(),
      /** Pad the source with <pad> to this many tokens (masked as in a training batch); 0 = none. */
      padTo: z.number().int().min(0).max(4096).optional(),
    }),
    response: z.object({
      runId,
      checkpoint: z.object({ kind: checkpointKind, step: z.number() }),
      source: z.string(),
      sourceIds: z.array(z.number()),
      /** The source's tokens as the model reads them (<unk>, <pad> included). */
      sourceTokens: z.array(z.string()),
      /** true where the source position is padding (its attention columns are masked). */
      sourcePadding: z.array(z.boolean()),
      /** Pieces of the source outside its vocabulary, read as <unk>. */
      unknown: z.array(z.string()),
      notice: z.string().nullable(),
      maxNew: z.number(),
      maxSeqLength: z.number(),
      greedy: translateOutput,
      beam: z.object({ width: z.number(), lengthPenalty: z.number(), hypotheses: z.array(translateOutput) }),
    }),
  },
  /**
   * CPU side of Auto's calibration: a few training steps of the draft's model in a worker. Also
   * returns the resolved config and the start of the text, for the page to time its GPU the same way.
   */
  'runs.calibrate': {
    request: z.object({ draft: runDraft, steps: z.number().int().min(1).max(50).default(5) }),
    response: z.object({ tokensPerSec: z.number(), device: z.string(), config: trainConfig, tokenizer: tokenizerSpec, text: z.string() }),
  },
  /**
   * A page's GPU executor takes a GPU run that 'gpu.job' announced: the run's settings, its text
   * and, when it resumes, its latest checkpoint (base64 per file). Only the first claim wins.
   */
  'gpu.claim': {
    request: z.object({ runId, adapter: z.string().max(300) }),
    response: z.discriminatedUnion('granted', [
      z.object({
        granted: z.literal(true),
        settings: runSettings,
        text: z.string(),
        textName: z.string(),
        checkpoint: z.record(z.string(), z.string()).nullable(),
      }),
      z.object({ granted: z.literal(false), reason: z.string() }),
    ]),
  },
  /** GPU runs waiting for a page (a page that opens after 'gpu.job' was sent claims these). */
  'gpu.pending': { request: z.object({}), response: z.array(runId) },
  /** What the GPU executor's run did: the same events as a CPU run, and checkpoints as files. */
  'gpu.report': {
    request: z.object({ runId, events: z.array(reportedEvent).max(1000) }),
    response: z.object({}),
  },
  /** Desktop only: a Save dialog picks the folder; browser mode downloads `exportUrl` instead. */
  'checkpoint.export': {
    request: z.object({ runId, checkpoint: checkpointKind }),
    response: z.object({ path: z.string().nullable(), files: z.array(z.string()) }),
  },
} as const;

export type Method = keyof typeof methods;
export type Request<M extends Method> = z.input<(typeof methods)[M]['request']>;
export type Response<M extends Method> = z.output<(typeof methods)[M]['response']>;
export const METHOD_NAMES = Object.keys(methods) as Method[];

// ---------------------------------------------------------------------------------------------
// Events the host pushes (never polled)

/** A run's events as the host passes them on, and its status changes (pause, resume). */
const runEvent = z.discriminatedUnion('type', [
  startedEvent,
  stepEvent,
  evalEvent,
  sampleEvent,
  checkpointEvent,
  endEvent,
  logEvent,
  movedEvent,
  z.object({ type: z.literal('status'), status }),
]);
export type RunEventView = z.infer<typeof runEvent>;

export const events = {
  /** Something a run did: a step, an eval, a sample, a checkpoint, a status change, its end. */
  'run.event': z.object({ runId, event: runEvent }),
  /** The list of runs changed (created, renamed, tagged, deleted, status). */
  'runs.changed': z.object({}),
  /** A GPU run waits for a page's executor to claim it (gpu.claim). */
  'gpu.job': z.object({ runId }),
  /** Pause, resume or stop for the page executing a GPU run. */
  'gpu.control': z.object({ runId, action: z.enum(['pause', 'resume', 'stop']) }),
  /** Tokens of a `sample.generate` request as they are produced. */
  'sample.tokens': z.object({ requestId: z.string(), tokens: z.array(generatedToken) }),
  /** How far a `sample.grid` request is: tokens generated out of all its cells' tokens. */
  'sample.gridProgress': z.object({ requestId: z.string(), done: z.number(), total: z.number() }),
} as const;

export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;
export const EVENT_NAMES = Object.keys(events) as EventName[];

// ---------------------------------------------------------------------------------------------
// Validation helpers used on every side of a boundary

/** A request or payload the contract rejects; its message names the field and the problem. */
export class ContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContractError';
  }
}

/** A value the contract refused, short and on one line: `"abc"`, `0`, `an object`, `nothing`. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return value.length > 40 ? `${JSON.stringify(value.slice(0, 40))}…` : JSON.stringify(value);
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** One line that names the field, the rule and the value given: `runs.get request: id: expected number, got "abc"`. */
function describe(where: string, error: z.ZodError, input: unknown): string {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? issue.path.join('.') : 'payload';
  let value = input;
  for (const key of issue.path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  const rule = issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, '');
  return `${where}: ${path}: ${rule}, got ${shown(value)}`;
}

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.hasOwn(events, name);
}

export function parseRequest<M extends Method>(method: M, payload: unknown): z.output<(typeof methods)[M]['request']> {
  const input = payload ?? {};
  const r = methods[method].request.safeParse(input);
  if (!r.success) throw new ContractError(describe(`${method} request`, r.error, input));
  return r.data as z.output<(typeof methods)[M]['request']>;
}

export function parseResponse<M extends Method>(method: M, value: unknown): Response<M> {
  const r = methods[method].response.safeParse(value);
  if (!r.success) throw new ContractError(describe(`${method} response`, r.error, value));
  return r.data as Response<M>;
}

export function parseEvent<E extends EventName>(name: E, payload: unknown): EventPayload<E> {
  const r = events[name].safeParse(payload);
  if (!r.success) throw new ContractError(describe(`${name} event`, r.error, payload));
  return r.data as EventPayload<E>;
}

// ---------------------------------------------------------------------------------------------
// The API the renderer sees, whatever the transport

export interface NanoLabApi {
  readonly host: HostKind;
  invoke<M extends Method>(method: M, payload: Request<M>): Promise<Response<M>>;
  /** Subscribes to a pushed event; returns the unsubscribe function. */
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** What the desktop preload exposes on window.nanolab (the renderer wraps it in NanoLabApi). */
export interface PreloadBridge {
  readonly versions: AppVersions;
  invoke(method: string, payload: unknown): Promise<unknown>;
  on(name: string, listener: (payload: unknown) => void): () => void;
}

/** IPC channel names (Electron). */
export const IPC_INVOKE = 'nanolab:invoke';
export const IPC_EVENT = 'nanolab:event';

/** WebSocket frames (browser mode). */
export const wireFrame = z.union([
  z.object({ kind: z.literal('request'), id: z.number().int(), method: z.string(), payload: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ kind: z.literal('response'), id: z.number().int(), ok: z.literal(false), error: z.string() }),
  z.object({ kind: z.literal('event'), name: z.string(), payload: z.unknown() }),
]);
export type WireFrame = z.infer<typeof wireFrame>;
