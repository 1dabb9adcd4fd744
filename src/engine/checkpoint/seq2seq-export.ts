import type { Backend } from '../backend/backend';
import { CpuBackend } from '../backend/cpu';
import { PairVocab, type PairVocabJson } from '../data/pairs';
import { SettingError, UserError } from '../errors';
import { countSeq2SeqParameters, Seq2Seq, SEQ2SEQ_DEFAULTS, validateSeq2SeqConfig, type Seq2SeqConfig } from '../models/seq2seq';
import { Rng } from '../rng';
import type { FloatArray } from '../tensor';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors';

// The export of an encoder–decoder model for the attention lesson's own PyTorch module tree:
// model.safetensors holds its state_dict exactly (every parameter and both `pe` buffers, float32,
// under the lesson's names), so `model.load_state_dict(tensors, strict=True)` takes it as it is;
// config.json has the sizes and options to build that module; the tokenizers of both sides go
// beside it when the model has them. The inverse reads such a folder back into a Seq2Seq model,
// value for value. Hosts decide where the bytes are written (tests/checkpoint/seq2seq_load.py
// rebuilds the lesson's module from these files and loads them).

export const SEQ2SEQ_EXPORT_FILES = {
  model: 'model.safetensors',
  config: 'config.json',
  sourceTokenizer: 'source_tokenizer.json',
  targetTokenizer: 'target_tokenizer.json',
} as const;

export const SEQ2SEQ_EXPORT_FORMAT = 'nanolab-seq2seq';
export const SEQ2SEQ_EXPORT_VERSION = 1;

/** The state_dict entries that are buffers, not parameters: the two sinusoidal tables. */
export const SEQ2SEQ_BUFFERS = ['encoder.pos_encoding.pe', 'decoder.pos_encoding.pe'] as const;

/** config.json of an export: the model's config and the fixed choices of the lesson's module, spelled out. */
export interface Seq2SeqExportConfig extends Seq2SeqConfig {
  format: typeof SEQ2SEQ_EXPORT_FORMAT;
  version: number;
  model_type: 'seq2seq';
  activation: 'relu';
  embedding_scale: 'sqrt_d_model';
  position_encoding: 'sinusoidal';
  /** Masks are 1 = masked, added to the scores as mask · mask_value. */
  mask_value: number;
  /** 1e-5 for `torch` (nn.LayerNorm), 1e-6 added to the unbiased std for `seed`. */
  layer_norm_eps: number;
  parameter_count: number;
  /** state_dict keys in model.safetensors that are buffers (`register_buffer`), not parameters. */
  buffers: string[];
  /** The tokenizer files in this folder, by side; absent when the export has none. */
  tokenizers: { source?: string; target?: string };
}

export interface Seq2SeqVocabs {
  source?: PairVocab | PairVocabJson;
  target?: PairVocab | PairVocabJson;
}

const f32 = (a: FloatArray): Float32Array => (a instanceof Float32Array ? a : Float32Array.from(a));
const toJson = (v: PairVocab | PairVocabJson): PairVocabJson => (v instanceof PairVocab ? v.toJSON() : v);
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

/** The lesson's state_dict keys in its own order: each `pe` buffer right after its side's embedding. */
function stateDictOrder(model: Seq2Seq): string[] {
  const names: string[] = [];
  for (const name of model.params.names()) {
    names.push(name);
    if (name === 'encoder.embedding.weight') names.push(SEQ2SEQ_BUFFERS[0]);
    if (name === 'decoder.embedding.weight') names.push(SEQ2SEQ_BUFFERS[1]);
  }
  return names;
}

/** The config.json an export of a model with this config has. */
export function seq2seqExportConfig(config: Seq2SeqConfig, vocabs: Seq2SeqVocabs = {}): Seq2SeqExportConfig {
  const model: Seq2SeqConfig = {
    family: 'seq2seq',
    src_vocab_size: config.src_vocab_size,
    tgt_vocab_size: config.tgt_vocab_size,
    d_model: config.d_model,
    num_heads: config.num_heads,
    num_layers: config.num_layers,
    d_ff: config.d_ff,
    max_seq_length: config.max_seq_length,
    layer_norm: config.layer_norm,
    norm_position: config.norm_position,
    dropout: config.dropout,
    pad_id: config.pad_id,
    bos_id: config.bos_id,
    eos_id: config.eos_id,
  };
  const tokenizers: Seq2SeqExportConfig['tokenizers'] = {};
  if (vocabs.source) tokenizers.source = SEQ2SEQ_EXPORT_FILES.sourceTokenizer;
  if (vocabs.target) tokenizers.target = SEQ2SEQ_EXPORT_FILES.targetTokenizer;
  return {
    format: SEQ2SEQ_EXPORT_FORMAT,
    version: SEQ2SEQ_EXPORT_VERSION,
    model_type: 'seq2seq',
    ...model,
    activation: 'relu',
    embedding_scale: 'sqrt_d_model',
    position_encoding: 'sinusoidal',
    mask_value: -1e9,
    layer_norm_eps: config.layer_norm === 'seed' ? 1e-6 : 1e-5,
    parameter_count: countSeq2SeqParameters(model),
    buffers: [...SEQ2SEQ_BUFFERS],
    tokenizers,
  };
}

/**
 * The files of an export folder for `model`: model.safetensors (its state_dict, float32),
 * config.json, and source_tokenizer.json / target_tokenizer.json for the vocabularies given
 * (checked against the model's vocabulary sizes).
 */
export function encodeSeq2SeqExport(model: Seq2Seq, vocabs: Seq2SeqVocabs = {}): Record<string, Uint8Array> {
  const config = seq2seqExportConfig(model.config, vocabs);
  const sides = [
    ['source', vocabs.source, config.src_vocab_size, 'src_vocab_size'],
    ['target', vocabs.target, config.tgt_vocab_size, 'tgt_vocab_size'],
  ] as const;
  for (const [side, vocab, size, key] of sides) {
    if (vocab && toJson(vocab).vocab.length !== size) {
      throw new Error(`the ${side} vocabulary has ${toJson(vocab).vocab.length} entries but the model's ${key} is ${size}`);
    }
  }
  const backend = model.backend;
  const buffers = model.buffers();
  const tensors: NamedTensor[] = stateDictOrder(model).map((name) => {
    const t = name in buffers ? buffers[name] : model.params.get(name);
    return { name, shape: [...t.shape], data: f32(backend.read(t)) };
  });
  const files: Record<string, Uint8Array> = {
    [SEQ2SEQ_EXPORT_FILES.model]: encodeSafetensors(tensors, { nanolab: SEQ2SEQ_EXPORT_FORMAT }),
    [SEQ2SEQ_EXPORT_FILES.config]: bytes(config),
  };
  if (vocabs.source) files[SEQ2SEQ_EXPORT_FILES.sourceTokenizer] = bytes(toJson(vocabs.source));
  if (vocabs.target) files[SEQ2SEQ_EXPORT_FILES.targetTokenizer] = bytes(toJson(vocabs.target));
  return files;
}

/** True when `files` look like a seq2seq export (config.json with its format marker). */
export function isSeq2SeqExport(files: Record<string, Uint8Array>): boolean {
  const raw = files[SEQ2SEQ_EXPORT_FILES.config];
  if (!raw) return false;
  try {
    return (JSON.parse(new TextDecoder().decode(raw)) as { format?: unknown })?.format === SEQ2SEQ_EXPORT_FORMAT;
  } catch {
    return false;
  }
}

function parseJson(files: Record<string, Uint8Array>, name: string): unknown {
  const raw = files[name];
  if (!raw) throw new UserError(`the export has no ${name}`);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (error) {
    throw new UserError(`${name} is not valid JSON (${String((error as Error)?.message ?? error)})`);
  }
}

export interface LoadedSeq2SeqExport {
  model: Seq2Seq;
  config: Seq2SeqExportConfig;
  source: PairVocab | null;
  target: PairVocab | null;
}

/**
 * Reads an export folder's files back into a Seq2Seq model on `backend`: config.json must carry
 * the format marker and a valid config; model.safetensors must hold exactly the model's state_dict
 * keys with their shapes (parameters and `pe` buffers). Throws a UserError that says what is wrong.
 */
export function decodeSeq2SeqExport(files: Record<string, Uint8Array>, backend: Backend = new CpuBackend()): LoadedSeq2SeqExport {
  const raw = parseJson(files, SEQ2SEQ_EXPORT_FILES.config) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || raw.format !== SEQ2SEQ_EXPORT_FORMAT) {
    throw new UserError(`config.json is not a seq2seq export (format ${JSON.stringify(raw?.format)}, expected "${SEQ2SEQ_EXPORT_FORMAT}")`);
  }
  if (typeof raw.version !== 'number' || raw.version > SEQ2SEQ_EXPORT_VERSION) {
    throw new UserError(`config.json has export version ${String(raw.version)}; this NanoLab reads version ${SEQ2SEQ_EXPORT_VERSION}`);
  }
  const config = { family: 'seq2seq' } as Record<string, unknown>;
  for (const key of ['src_vocab_size', 'tgt_vocab_size', ...Object.keys(SEQ2SEQ_DEFAULTS)]) {
    if (!(key in raw)) throw new SettingError(key, `config.json has no ${key}`);
    config[key] = raw[key];
  }
  const modelConfig = config as unknown as Seq2SeqConfig;
  validateSeq2SeqConfig(modelConfig);

  if (!files[SEQ2SEQ_EXPORT_FILES.model]) throw new UserError(`the export has no ${SEQ2SEQ_EXPORT_FILES.model}`);
  const { tensors } = decodeSafetensors(files[SEQ2SEQ_EXPORT_FILES.model], SEQ2SEQ_EXPORT_FILES.model);
  const model = new Seq2Seq(modelConfig, backend, new Rng(0));
  try {
    const expected = new Map<string, readonly number[]>(model.params.entries().map(([name, t]) => [name, t.shape]));
    for (const [name, t] of Object.entries(model.buffers())) expected.set(name, t.shape);
    const found = new Map(tensors.map((t) => [t.name, t]));
    const missing = [...expected.keys()].filter((n) => !found.has(n));
    const unexpected = [...found.keys()].filter((n) => !expected.has(n));
    if (missing.length > 0 || unexpected.length > 0) {
      const parts = [missing.length ? `missing ${missing.join(', ')}` : '', unexpected.length ? `unexpected ${unexpected.join(', ')}` : ''];
      throw new UserError(`model.safetensors does not match config.json: ${parts.filter(Boolean).join('; ')}`);
    }
    for (const [name, shape] of expected) {
      const got = found.get(name)!.shape;
      if (got.length !== shape.length || got.some((n, i) => n !== shape[i])) {
        throw new UserError(`model.safetensors: ${name} has shape [${got.join(', ')}]; config.json needs [${shape.join(', ')}]`);
      }
    }
    const values = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, found.get(n)!.data]));
    model.params.load(values(model.params.names()));
    model.loadBuffers(values(SEQ2SEQ_BUFFERS));

    const vocab = (file: string, size: number, key: string): PairVocab | null => {
      if (!files[file]) return null;
      let v: PairVocab;
      try {
        v = PairVocab.fromJSON(parseJson(files, file) as PairVocabJson);
      } catch (error) {
        if (error instanceof UserError) throw error;
        throw new UserError(`${file} is not a pairs tokenizer (${String((error as Error)?.message ?? error)})`);
      }
      if (v.vocabSize !== size) throw new UserError(`${file} has ${v.vocabSize} entries but config.json's ${key} is ${size}`);
      return v;
    };
    const source = vocab(SEQ2SEQ_EXPORT_FILES.sourceTokenizer, modelConfig.src_vocab_size, 'src_vocab_size');
    const target = vocab(SEQ2SEQ_EXPORT_FILES.targetTokenizer, modelConfig.tgt_vocab_size, 'tgt_vocab_size');
    return { model, config: seq2seqExportConfig(modelConfig, { source: source ?? undefined, target: target ?? undefined }), source, target };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
