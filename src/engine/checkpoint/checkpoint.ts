import type { Backend } from '../backend/backend';
import { CpuBackend } from '../backend/cpu';
import { tokenizerFromJSON, type Tokenizer, type TokenizerJson } from '../data/tokenizer';
import { countParameters, createModel, isRecurrent, MODEL_FAMILIES, validateModelConfig, type LanguageModel, type ModelConfig } from '../models';
import { Optimizer, resolveOptimizerConfig } from '../optim/optimizer';
import { validateSchedule } from '../optim/schedule';
import { Rng } from '../rng';
import { Trainer, validateTrainConfig, type TrainConfig, type TrainData, type TrainerSnapshot } from '../train';
import type { FloatArray } from '../tensor';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors';
import { UserError } from '../errors';

// A checkpoint is a folder of files, self-contained: PyTorch reads model.safetensors with
// config.json (nanoGPT / torch.nn.LSTM names); the lab also needs the tokenizer, the optimizer's
// moments, the rng and the data position to resume a run exactly. The engine only turns a
// trainer snapshot into named byte arrays and back: hosts decide where and how bytes are written.

export const CHECKPOINT_FILES = {
  model: 'model.safetensors',
  config: 'config.json',
  tokenizer: 'tokenizer.json',
  optimizer: 'optimizer.safetensors',
  state: 'state.json',
} as const;

/** What an export writes: the files PyTorch (and a new NanoLab) needs to load the model. */
export const EXPORTED_FILES = [CHECKPOINT_FILES.model, CHECKPOINT_FILES.config, CHECKPOINT_FILES.tokenizer] as const;

export const CHECKPOINT_FORMAT = 'nanolab-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointConfigJson {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  model: ModelConfig;
  /** state_dict names PyTorch lists twice because they share one tensor; written once, as the value. */
  tied_params: Record<string, string>;
  parameter_count: number;
  train: TrainConfig;
}

/** state.json: where the run stood when the checkpoint was written. */
export interface CheckpointState {
  step: number;
  tokens_seen: number;
  optimizer_step: number;
  rng: TrainerSnapshot['rng'];
  batcher_position: number | null;
  carried_layers: number;
}

/** state_dict names that share one tensor with another (written once, under the other name). */
function tiedParams(model: ModelConfig): Record<string, string> {
  return model.family === 'gpt' && model.tie_word_embeddings ? { 'lm_head.weight': 'transformer.wte.weight' } : {};
}

function f32(a: FloatArray): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/** The files of a checkpoint of `trainer` at its current step. */
export function encodeCheckpoint(trainer: Trainer, tokenizer: Tokenizer): Record<string, Uint8Array> {
  const snapshot = trainer.snapshot();
  const train = trainer.config;
  const shapes = Object.fromEntries(trainer.model.params.entries().map(([name, t]) => [name, [...t.shape]]));
  const shapeOf = (name: string, n: number) => shapes[name] ?? [n];
  const config: CheckpointConfigJson = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    model: train.model,
    tied_params: tiedParams(train.model),
    parameter_count: countParameters(train.model),
    train,
  };
  const model: NamedTensor[] = Object.entries(snapshot.params).map(([name, data]) => ({ name, shape: shapeOf(name, data.length), data: f32(data) }));
  const optimizer: NamedTensor[] = Object.entries(snapshot.optimizer.buffers).map(([name, data]) => {
    const param = name.slice(0, name.lastIndexOf('.'));
    return { name, shape: shapeOf(param, data.length), data: f32(data) };
  });
  const carried = snapshot.carried;
  if (carried) {
    carried.h.forEach((d, i) => optimizer.push({ name: `carried.h.${i}`, shape: [d.length], data: f32(d) }));
    carried.c?.forEach((d, i) => optimizer.push({ name: `carried.c.${i}`, shape: [d.length], data: f32(d) }));
  }
  const state: CheckpointState = {
    step: snapshot.step,
    tokens_seen: snapshot.tokensSeen,
    optimizer_step: snapshot.optimizer.step,
    rng: snapshot.rng,
    batcher_position: snapshot.batcherPosition,
    carried_layers: carried ? carried.h.length : 0,
  };
  const text = (o: unknown) => new TextEncoder().encode(JSON.stringify(o, null, 1) + '\n');
  return {
    [CHECKPOINT_FILES.model]: encodeSafetensors(model, { producer: 'nanolab' }),
    [CHECKPOINT_FILES.config]: text(config),
    [CHECKPOINT_FILES.tokenizer]: text(tokenizer.toJSON()),
    [CHECKPOINT_FILES.optimizer]: encodeSafetensors(optimizer, { producer: 'nanolab', content: 'optimizer state and carried recurrent state' }),
    [CHECKPOINT_FILES.state]: text(state),
  };
}

// ---- reading a checkpoint back --------------------------------------------------------------
// Nothing in a checkpoint folder is trusted: a file may be truncated, flipped by a bad disk,
// edited by hand or taken from another run. Every load (sample, the app's views, export, resume)
// goes through validateCheckpoint, which checks each file against the others and says, in one
// sentence, which file is wrong, how, and what to do, before any of it reaches a model.

/** What the checkpoint is loaded for: a model to sample from or export, or a run to continue. */
export type CheckpointUse = 'inference' | 'resume';

/** A checkpoint whose files agree with each other, decoded. */
export interface ValidCheckpoint {
  config: CheckpointConfigJson;
  tokenizer: Tokenizer;
  /** The model's parameters by name, each with the shape config.json's model gives it. */
  params: Record<string, Float32Array>;
  /** null when the folder has no state.json (an export); always there for 'resume'. */
  state: CheckpointState | null;
  /** The optimizer's buffers and the carried recurrent state; only for 'resume'. */
  optimizer: { buffers: Record<string, Float32Array>; carried: { h: Float32Array[]; c: Float32Array[] } } | null;
}

const ADVICE = "load the run's other checkpoint (best or latest) instead, or resume the run to write a new one";

/**
 * The initialiser's random draws for a model whose weights are about to be read from a file: all
 * zero, so building a model to load costs an allocation, not millions of normal samples.
 */
class NoDraws extends Rng {
  constructor() {
    super(0);
  }

  override normal(): number {
    return 0;
  }

  override uniform(): number {
    return 0;
  }
}

/** An error about one file of a checkpoint: `${file} ${what}` with the advice. */
function refuse(file: string, what: string): never {
  throw new UserError(`${file} ${what}; ${ADVICE}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const quote = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const listed = (names: string[]) =>
  names.length > 4 ? `${names.slice(0, 4).map(quote).join(', ')} and ${names.length - 4} more` : names.map(quote).join(', ');

/**
 * A JSON value as the type its checks accept (the refusals before it, or the `within` check right
 * after). The checks are written by hand (the engine has no schema library): here their result
 * gets its type.
 */
const accepted = <T>(value: unknown): T => value as T;

/** Runs a check written elsewhere (model, train, tokenizer rules) and names the file when it fails. */
function within<T>(file: string, what: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    return refuse(file, `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function readJson(files: Record<string, Uint8Array>, file: string): Record<string, unknown> {
  const value = within(file, 'is not valid JSON', () => JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(files[file])) as unknown);
  if (!isObject(value)) refuse(file, `holds ${quote(value)}, not a JSON object`);
  return value as Record<string, unknown>;
}

/** Same JSON value, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  return Object.is(a, b);
}

function checkConfig(files: Record<string, Uint8Array>): CheckpointConfigJson {
  const file = CHECKPOINT_FILES.config;
  const c = readJson(files, file);
  if (c.format !== CHECKPOINT_FORMAT)
    refuse(file, `is not a NanoLab checkpoint's config (its format is ${quote(c.format)}, expected ${quote(CHECKPOINT_FORMAT)})`);
  if (c.version !== CHECKPOINT_VERSION) refuse(file, `is checkpoint version ${quote(c.version)}; this NanoLab reads version ${CHECKPOINT_VERSION}`);
  const model = c.model;
  if (!isObject(model) || !MODEL_FAMILIES.includes(model.family as never)) {
    refuse(file, `has model ${quote(isObject(model) ? model.family : model)} where a model config of family ${MODEL_FAMILIES.join(', ')} belongs`);
  }
  const m = accepted<ModelConfig>(model);
  within(file, 'has a model setting that is not valid', () => validateModelConfig(m));
  const train = c.train;
  if (!isObject(train) || !isObject(train.optimizer) || !isObject(train.schedule))
    refuse(file, 'has no complete train settings (train, with optimizer and schedule)');
  const t = accepted<TrainConfig>(train);
  if (!sameJson(t.model, m)) refuse(file, 'has a train.model that differs from its model');
  within(file, 'has a train setting that is not valid', () => {
    const { name, ...rest } = t.optimizer;
    resolveOptimizerConfig(String(name), rest);
    if (!['constant', 'cosine', 'step'].includes(t.schedule.kind)) throw new Error(`schedule (${quote(t.schedule.kind)}) must be constant, cosine or step`);
    validateSchedule(t.schedule);
    validateTrainConfig(t);
    if (!Number.isSafeInteger(t.seed)) throw new Error(`seed (${quote(t.seed)}) must be a whole number`);
  });
  const tied = tiedParams(m);
  if (!sameJson(c.tied_params, tied)) refuse(file, `has tied_params ${quote(c.tied_params)}; its ${m.family} model ties ${quote(tied)}`);
  const count = countParameters(m);
  if (c.parameter_count !== count) refuse(file, `says parameter_count ${quote(c.parameter_count)} but its ${m.family} model has ${count} parameters`);
  return accepted<CheckpointConfigJson>(c);
}

function checkTokenizer(files: Record<string, Uint8Array>, model: ModelConfig): Tokenizer {
  const file = CHECKPOINT_FILES.tokenizer;
  const json = readJson(files, file);
  if (!Array.isArray(json.vocab) || !json.vocab.every((t) => typeof t === 'string')) refuse(file, 'has no vocab list of strings');
  const long = json.kind === 'char' ? (json.vocab as string[]).find((t) => [...t].length !== 1) : undefined;
  if (long !== undefined) refuse(file, `has ${quote(long)} in the vocabulary of a char tokenizer, which holds single characters`);
  const tokenizer = within(file, 'is not a tokenizer', () => tokenizerFromJSON(accepted<TokenizerJson>(json)));
  if (tokenizer.vocabSize !== model.vocab_size) {
    refuse(file, `has ${tokenizer.vocabSize} tokens but config.json's model has vocab_size ${model.vocab_size}: they come from different runs`);
  }
  return tokenizer;
}

function checkState(files: Record<string, Uint8Array>, train: TrainConfig, trainTokens: number | null): CheckpointState {
  const file = CHECKPOINT_FILES.state;
  const s = readJson(files, file);
  for (const key of ['step', 'tokens_seen', 'optimizer_step', 'carried_layers']) {
    if (!isCount(s[key])) refuse(file, `has ${key} ${quote(s[key])}, not a whole number ≥ 0`);
  }
  const state = accepted<CheckpointState>(s);
  if (state.step > train.steps) refuse(file, `has step ${state.step}, past the run's ${train.steps} steps (config.json)`);
  const tokens = state.step * train.batch_size * train.seq_len;
  if (state.tokens_seen !== tokens) {
    refuse(file, `has tokens_seen ${state.tokens_seen}; ${state.step} steps of ${train.batch_size} × ${train.seq_len} tokens make ${tokens}`);
  }
  if (state.optimizer_step > state.step) refuse(file, `has optimizer_step ${state.optimizer_step}, more than its step ${state.step}`);
  const rng = s.rng;
  if (
    !isObject(rng) ||
    !Array.isArray(rng.s) ||
    rng.s.length !== 4 ||
    !rng.s.every((x) => isCount(x) && x <= 0xffffffff) ||
    rng.s.every((x) => x === 0) ||
    !(rng.spare === null || (typeof rng.spare === 'number' && Number.isFinite(rng.spare)))
  ) {
    refuse(file, `has rng ${quote(rng)}; expected { s: four 32-bit whole numbers, not all 0, spare: a number or null }`);
  }
  const sequential = train.batching === 'sequential';
  const position = s.batcher_position;
  if (!sequential && position !== null) refuse(file, `has batcher_position ${quote(position)} for a run with random batches (expected null)`);
  if (sequential) {
    if (!isCount(position) || position % train.seq_len !== 0) {
      refuse(file, `has batcher_position ${quote(position)}; sequential batches need a whole multiple of seq_len (${train.seq_len})`);
    }
    const lane = trainTokens === null ? null : Math.floor((trainTokens - 1) / train.batch_size);
    if (lane !== null && position + train.seq_len > lane) {
      refuse(file, `has batcher_position ${position}, past the end of the text's ${train.batch_size} lanes of ${lane} tokens`);
    }
  }
  const carried = sequential && isRecurrent(train.model) ? train.model.num_layers : 0;
  if (state.carried_layers !== carried) refuse(file, `has carried_layers ${state.carried_layers}; this run carries ${carried}`);
  return state;
}

/** The tensors of a safetensors file of the checkpoint, by name, all finite. */
function readTensors(files: Record<string, Uint8Array>, file: string): Map<string, { shape: number[]; data: Float32Array }> {
  let tensors: NamedTensor[];
  try {
    tensors = decodeSafetensors(files[file], file).tensors; // its errors begin with the file's name
  } catch (error) {
    throw new UserError(`${(error as Error).message}; ${ADVICE}`);
  }
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of tensors) {
    let bad = 0;
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) bad++;
    if (bad > 0) refuse(file, `has ${bad} values in ${quote(t.name)} that are NaN or infinite`);
    out.set(t.name, { shape: t.shape, data: t.data });
  }
  return out;
}

/** Every expected tensor is there with its shape, and nothing else is. */
function matchShapes(
  file: string,
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  expected: Map<string, readonly number[]>,
  owner: string,
): Record<string, Float32Array> {
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  if (missing.length > 0) refuse(file, `has no ${listed(missing)}, which ${owner} needs (the file has ${listed([...tensors.keys()])})`);
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (extra.length > 0) refuse(file, `has ${listed(extra)}, which ${owner} does not have`);
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of expected) {
    const t = tensors.get(name)!;
    if (!sameJson(t.shape, shape)) refuse(file, `has ${quote(name)} of shape ${shapeText(t.shape)}; ${owner} needs ${shapeText(shape)}`);
    out[name] = t.data;
  }
  return out;
}

/**
 * Checks the files of a checkpoint against each other and decodes them, on `backend`'s model
 * (built from config.json, its weights still random). The caller owns the returned model.
 */
function inspect(
  files: Record<string, Uint8Array>,
  use: CheckpointUse,
  trainTokens: number | null,
  backend: Backend,
): ValidCheckpoint & { model: LanguageModel } {
  const required = use === 'resume' ? Object.values(CHECKPOINT_FILES) : [...EXPORTED_FILES];
  for (const file of required) {
    if (!(files[file] instanceof Uint8Array)) {
      refuse(file, `is missing from the checkpoint (it has ${Object.keys(files).length === 0 ? 'no files' : Object.keys(files).sort().join(', ')})`);
    }
  }
  const config = checkConfig(files);
  const m = config.model;
  const tokenizer = checkTokenizer(files, m);

  const weights = readTensors(files, CHECKPOINT_FILES.model);
  let held = 0;
  for (const t of weights.values()) held += t.data.length;
  const needed = countParameters(m);
  // a config that asks for more than the file holds is refused before its model is built
  if (needed > held)
    refuse(
      CHECKPOINT_FILES.model,
      `holds ${held} values, fewer than the ${needed} parameters of config.json's ${m.family} model: they come from different runs`,
    );
  const owner = `config.json's ${m.family} model`;
  const model = createModel(m, backend, new NoDraws());
  try {
    const params = matchShapes(CHECKPOINT_FILES.model, weights, new Map(model.params.entries().map(([n, t]) => [n, t.shape])), owner);
    const state = files[CHECKPOINT_FILES.state] ? checkState(files, config.train, trainTokens) : null;
    let optimizer: ValidCheckpoint['optimizer'] = null;
    if (use === 'resume') {
      const file = CHECKPOINT_FILES.optimizer;
      const expected = new Map<string, readonly number[]>();
      const reference = new Optimizer(config.train.optimizer, model.params);
      for (const name of Object.keys(reference.getState().buffers)) expected.set(name, model.params.get(name.slice(0, name.lastIndexOf('.'))).shape);
      reference.dispose();
      const t = config.train;
      const width = isRecurrent(m) ? t.batch_size * m.hidden_size : 0;
      for (let i = 0; i < state!.carried_layers; i++) {
        expected.set(`carried.h.${i}`, [width]);
        if (m.family === 'lstm') expected.set(`carried.c.${i}`, [width]);
      }
      const all = matchShapes(file, readTensors(files, file), expected, `config.json's ${t.optimizer.name} optimizer and ${m.family} model`);
      const buffers: Record<string, Float32Array> = {};
      const carried = { h: [] as Float32Array[], c: [] as Float32Array[] };
      for (const [name, data] of Object.entries(all)) {
        const k = /^carried\.([hc])\.(\d+)$/.exec(name);
        if (k) carried[k[1] as 'h' | 'c'][Number(k[2])] = data;
        else buffers[name] = data;
      }
      optimizer = { buffers, carried };
    }
    return { config, tokenizer, params, state, optimizer, model };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * Checks a checkpoint's files against each other before anything uses them: all the files `use`
 * needs are there; config.json is a NanoLab config whose model and settings are valid; every
 * tensor of model.safetensors (and, to resume, optimizer.safetensors) is F32 with the shape the
 * config's model gives it; tokenizer.json has the model's vocabulary size; state.json's numbers
 * fit the run (and, given the training text's length, its data position). Throws one Error that
 * names the file, what is wrong with it and what to do.
 */
export function validateCheckpoint(files: Record<string, Uint8Array>, use: CheckpointUse = 'inference', data?: { trainTokens: number }): ValidCheckpoint {
  // a plain JS backend: the reference model only lends its names and shapes
  const { model, ...valid } = inspect(files, use, data?.trainTokens ?? null, new CpuBackend('float32', 'js'));
  model.dispose();
  return valid;
}

/** A model for inference, restored from its checkpoint's files alone (no training text needed). */
export interface RestoredModel {
  model: LanguageModel;
  tokenizer: Tokenizer;
  config: CheckpointConfigJson;
  /** The step the checkpoint was written at; null for a folder without state.json (an export). */
  step: number | null;
  /** Releases the model's buffers. */
  dispose(): void;
}

export function restoreModel(files: Record<string, Uint8Array>, backend: Backend = new CpuBackend()): RestoredModel {
  const { model, tokenizer, config, params, state } = inspect(files, 'inference', null, backend);
  try {
    model.params.load(params);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return { model, tokenizer, config, step: state?.step ?? null, dispose: () => model.dispose() };
}

/** A trainer continuing exactly where the checkpoint's run stopped (same data, same config). */
export function restoreTrainer(files: Record<string, Uint8Array>, data: TrainData, backend?: Backend): { trainer: Trainer; tokenizer: Tokenizer } {
  const { config, tokenizer, params, state, optimizer } = validateCheckpoint(files, 'resume', { trainTokens: data.train.length });
  const s = state!;
  const { buffers, carried } = optimizer!;
  const snapshot: TrainerSnapshot = {
    step: s.step,
    tokensSeen: s.tokens_seen,
    params,
    optimizer: { step: s.optimizer_step, buffers },
    rng: s.rng,
    batcherPosition: s.batcher_position,
    carried: s.carried_layers > 0 ? { h: carried.h, c: carried.c.length > 0 ? carried.c : null } : null,
  };
  // bits per character count the characters of the checkpoint's own vocabulary when the data brings none
  const trainer = new Trainer(config.train, { ...data, tokenizer: data.tokenizer ?? tokenizer }, backend);
  try {
    trainer.restore(snapshot);
  } catch (error) {
    trainer.dispose();
    throw error;
  }
  return { trainer, tokenizer };
}
