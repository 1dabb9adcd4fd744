import { tokenizerFromJSON, type Tokenizer, type TokenizerJson } from '../data/tokenizer';
import { countParameters, validateModelConfig, type ModelConfig } from '../models';
import { Trainer, type TrainConfig, type TrainerSnapshot } from '../train';
import type { Backend } from '../backend/backend';
import type { FloatArray } from '../tensor';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors';

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

interface StateJson {
  step: number;
  tokens_seen: number;
  optimizer_step: number;
  rng: TrainerSnapshot['rng'];
  batcher_position: number | null;
  carried_layers: number;
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
  const tied: Record<string, string> = train.model.family === 'gpt' && train.model.tie_word_embeddings ? { 'lm_head.weight': 'transformer.wte.weight' } : {};
  const config: CheckpointConfigJson = {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, model: train.model, tied_params: tied,
    parameter_count: countParameters(train.model), train,
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
  const state: StateJson = {
    step: snapshot.step, tokens_seen: snapshot.tokensSeen, optimizer_step: snapshot.optimizer.step, rng: snapshot.rng,
    batcher_position: snapshot.batcherPosition, carried_layers: carried ? carried.h.length : 0,
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

function json<T>(files: Record<string, Uint8Array>, file: string): T {
  const bytes = files[file];
  if (!bytes) throw new Error(`the checkpoint has no ${file}`);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as T;
  } catch (error) {
    throw new Error(`the checkpoint's ${file} is not valid JSON (${(error as Error).message})`);
  }
}

export function decodeCheckpoint(files: Record<string, Uint8Array>): {
  config: CheckpointConfigJson; tokenizer: Tokenizer; snapshot: TrainerSnapshot;
} {
  const config = json<CheckpointConfigJson>(files, CHECKPOINT_FILES.config);
  if (config.format !== CHECKPOINT_FORMAT) throw new Error(`config.json is not a NanoLab checkpoint (format ${String(config.format)})`);
  if (config.version !== CHECKPOINT_VERSION) {
    throw new Error(`the checkpoint is version ${String(config.version)}; this NanoLab reads version ${CHECKPOINT_VERSION}`);
  }
  validateModelConfig(config.model);
  const tokenizer = tokenizerFromJSON(json<TokenizerJson>(files, CHECKPOINT_FILES.tokenizer));
  const state = json<StateJson>(files, CHECKPOINT_FILES.state);
  const need = (file: string) => {
    if (!files[file]) throw new Error(`the checkpoint has no ${file}`);
    return decodeSafetensors(files[file], file).tensors;
  };
  const params: Record<string, FloatArray> = {};
  for (const t of need(CHECKPOINT_FILES.model)) params[t.name] = t.data;
  const buffers: Record<string, FloatArray> = {};
  const carried = { h: [] as FloatArray[], c: [] as FloatArray[] };
  for (const t of need(CHECKPOINT_FILES.optimizer)) {
    const m = /^carried\.([hc])\.(\d+)$/.exec(t.name);
    if (m) carried[m[1] as 'h' | 'c'][Number(m[2])] = t.data;
    else buffers[t.name] = t.data;
  }
  return {
    config,
    tokenizer,
    snapshot: {
      step: state.step,
      tokensSeen: state.tokens_seen,
      params,
      optimizer: { step: state.optimizer_step, buffers },
      rng: state.rng,
      batcherPosition: state.batcher_position,
      carried: state.carried_layers > 0 ? { h: carried.h, c: carried.c.length > 0 ? carried.c : null } : null,
    },
  };
}

/** A trainer continuing exactly where the checkpoint's run stopped (same data, same config). */
export function restoreTrainer(
  files: Record<string, Uint8Array>, data: { train: Int32Array; val: Int32Array }, backend?: Backend,
): { trainer: Trainer; tokenizer: Tokenizer } {
  const { config, tokenizer, snapshot } = decodeCheckpoint(files);
  const trainer = new Trainer(config.train, data, backend);
  try {
    trainer.restore(snapshot);
  } catch (error) {
    trainer.dispose();
    throw error;
  }
  return { trainer, tokenizer };
}
