import { Graph } from './autograd';
import type { Backend } from './backend/backend';
import { CpuBackend } from './backend/cpu';
import {
  createModel,
  greedyDecode,
  Seq2Seq,
  sourcePaddingMask,
  targetMask,
  type ForwardResult,
  type LanguageModel,
  type ModelConfig,
  type Seq2SeqBatch,
  type Seq2SeqConfig,
  type Seq2SeqForward,
} from './models';
import { MASK_VALUE } from './backend/cpu/encoder-decoder';
import { sinusoidalTable } from './nn/position';
import { clipGradNorm } from './optim/clip';
import { Optimizer, resolveOptimizerConfig } from './optim/optimizer';
import { Rng } from './rng';
import { samplingDistribution, softmaxWithTemperature, applyTopP } from './sample';
import type { Tensor } from './tensor';

// Checks the engine against a PyTorch fixture (the format of tests/fixtures/README.md): builds the
// model its config describes, loads its parameters, and compares every recorded output.

export interface TensorJson {
  shape: number[];
  data: number[];
}

export interface AdamWRunJson {
  config: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; max_grad_norm: number };
  steps: {
    step: number;
    loss_before_step: number;
    grad_norm_before_clip: number;
    clip_coef: number;
    params_after: Record<string, TensorJson>;
  }[];
}

export interface TorchFixture {
  case: string;
  /** The PyTorch version that wrote the fixture (a file made elsewhere may not say). */
  torch_version?: string;
  config: Record<string, unknown>;
  input_ids: TensorJson;
  target_ids: TensorJson;
  params: Record<string, TensorJson>;
  logits: TensorJson;
  loss: number;
  grads: Record<string, TensorJson>;
  final_state?: { h_n: TensorJson; c_n?: TensorJson };
  last_layer_output?: TensorJson;
  attention_probs?: TensorJson;
  buffers?: { pe?: TensorJson };
  tied_params?: Record<string, string>;
  adamw?: AdamWRunJson[];
  /** Encoder–decoder fixtures (seq2seq, seq2seq_seed): see tests/fixtures/README.md. */
  src_ids?: TensorJson;
  tgt_ids?: TensorJson;
  decoder_input_ids?: TensorJson;
  masks?: { src: TensorJson; tgt: TensorJson };
  adam?: { lr: number; betas: [number, number]; eps: number; weight_decay: number; params_after: Record<string, TensorJson> };
  greedy?: { bos_id: number; eos_id: number; max_new: number; outputs: number[][]; step_logits: TensorJson[] };
  sampling?: {
    batch_index: number;
    position: number;
    temperature: number;
    top_k: number;
    top_p: number;
    logits: TensorJson;
    probs_temperature: TensorJson;
    probs_top_k: TensorJson;
    probs_top_p: TensorJson;
    top_p_kept_ids: number[];
  };
}

export interface FieldCheck {
  field: string;
  maxAbs: number;
  /** Largest |a − b| / |b| over reference values above atol. */
  maxRel: number;
  rtol: number;
  atol: number;
  pass: boolean;
  note?: string;
}

export const TOLERANCE = {
  output: { rtol: 1e-4, atol: 1e-5 },
  grad: { rtol: 1e-3, atol: 1e-5 },
  optimizer: { rtol: 0, atol: 1e-6 },
  probs: { rtol: 1e-4, atol: 1e-6 },
} as const;

/** numpy.allclose semantics: |a − b| ≤ atol + rtol·|b| for every element. */
export function compare(field: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { rtol: number; atol: number }): FieldCheck {
  if (actual.length !== expected.length) {
    return { field, maxAbs: Infinity, maxRel: Infinity, ...tol, pass: false, note: `size ${actual.length}, expected ${expected.length}` };
  }
  let maxAbs = 0,
    maxRel = 0,
    pass = true;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i],
      b = expected[i];
    const d = Math.abs(a - b);
    if (!(d <= tol.atol + tol.rtol * Math.abs(b))) pass = false; // NaN fails too
    if (!(d <= maxAbs)) maxAbs = d;
    if (Math.abs(b) > tol.atol && !(d / Math.abs(b) <= maxRel)) maxRel = d / Math.abs(b);
  }
  return { field, maxAbs, maxRel, ...tol, pass };
}

function requireField<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === null) throw new Error(`fixture has no "${name}" field`);
  return value;
}

/** The engine's model config for a fixture's `config` (PyTorch's spelling). */
export function modelConfigFromFixture(fx: TorchFixture): ModelConfig {
  const c = fx.config;
  const type = String(c.model_type ?? fx.case);
  if (c.dropout !== undefined && c.dropout !== 0) throw new Error(`fixture dropout is ${String(c.dropout)}; parity needs 0`);
  if (type === 'rnn' || type === 'lstm' || type === 'gru') {
    if (c.bidirectional) throw new Error('bidirectional recurrent fixtures are not supported (the lab trains left-to-right models)');
    if (c.nonlinearity !== undefined && c.nonlinearity !== 'tanh') throw new Error(`RNN nonlinearity "${String(c.nonlinearity)}" is not supported; use tanh`);
    if (c.bias === false) throw new Error('recurrent fixtures without bias are not supported');
    return {
      family: type,
      vocab_size: Number(c.vocab_size),
      embedding_dim: Number(c.embedding_dim),
      hidden_size: Number(c.hidden_size),
      num_layers: Number(c.num_layers),
      dropout: 0,
    };
  }
  if (type.startsWith('gpt')) {
    const eps = c.layer_norm_eps ?? 1e-5;
    if (eps !== 1e-5) throw new Error(`layer_norm_eps ${String(eps)} is not supported (the engine uses 1e-5)`);
    if ((c.embedding_scale ?? 1) !== 1) throw new Error(`embedding_scale ${String(c.embedding_scale)} is not supported (1.0 only)`);
    const activation = c.activation === 'gelu_erf' || c.activation === 'gelu' ? 'gelu' : c.activation;
    return {
      family: 'gpt',
      vocab_size: Number(c.vocab_size),
      block_size: Number(c.block_size),
      n_layer: Number(c.n_layer),
      n_head: Number(c.n_head),
      n_embd: Number(c.n_embd),
      mlp_ratio: Number(c.mlp_hidden ?? 4 * Number(c.n_embd)) / Number(c.n_embd),
      activation: activation as 'gelu' | 'relu',
      norm_position: c.norm_position as 'pre' | 'post',
      position_encoding: c.position_encoding as 'learned' | 'sinusoidal',
      final_layer_norm: Boolean(c.final_layer_norm),
      tie_word_embeddings: Boolean(c.tie_word_embeddings),
      lm_head_bias: Boolean(c.lm_head_bias),
      bias: c.bias !== false,
      embd_dropout: 0,
      attn_dropout: 0,
      resid_dropout: 0,
    };
  }
  throw new Error(`unknown fixture model_type "${type}": expected rnn, lstm, gru, gpt, gpt_sinusoidal or seq2seq`);
}

/** Builds the fixture's model with its parameters loaded. */
export function modelFromFixture(fx: TorchFixture, backend: Backend = new CpuBackend()): LanguageModel {
  const model = createModel(modelConfigFromFixture(fx), backend, new Rng(0));
  const values: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(fx.params)) values[name] = t.data;
  for (const name of Object.keys(values)) {
    if (!model.params.has(name)) throw new Error(`fixture parameter ${name} does not exist in the engine's model (${model.params.names().join(', ')})`);
  }
  model.params.load(values);
  return model;
}

/** Forward + backward on a batch; the caller reads what it needs inside `inspect`, before the arena is freed. */
export function forwardBackward<T>(
  model: LanguageModel,
  ids: Int32Array,
  targets: Int32Array,
  B: number,
  T: number,
  inspect: (out: ForwardResult, loss: number) => T,
): T {
  const backend = model.backend;
  return backend.scoped(() => {
    model.params.zeroGrad();
    const g = new Graph(backend, new Rng(0), false, true);
    const out = model.forward(g, ids, B, T);
    const { loss, value } = g.crossEntropy(out.logits, targets);
    g.backward(loss);
    return inspect(out, value);
  });
}

/** Every check the fixture supports, in a fixed order. */
export function checkFixture(fx: TorchFixture, backend: Backend = new CpuBackend()): FieldCheck[] {
  const checks: FieldCheck[] = [];
  if (typeof fx !== 'object' || fx === null || typeof fx.config !== 'object' || !fx.params) {
    throw new Error('not a PyTorch parity fixture (it has no "config" and "params"; see tests/fixtures/README.md)');
  }
  if (isSeq2SeqFixture(fx)) return checkSeq2SeqFixture(fx, backend);
  const [B, T] = requireField(fx.input_ids, 'input_ids').shape;
  const ids = Int32Array.from(fx.input_ids.data);
  const targets = Int32Array.from(requireField(fx.target_ids, 'target_ids').data);
  const model = modelFromFixture(fx, backend);

  let lastLogits: Float64Array | null = null;
  forwardBackward(model, ids, targets, B, T, (out, loss) => {
    const logits = backend.read(out.logits);
    checks.push(compare('logits', logits, requireField(fx.logits, 'logits').data, TOLERANCE.output));
    checks.push(compare('loss', [loss], [requireField(fx.loss, 'loss')], TOLERANCE.output));
    if (fx.last_layer_output) checks.push(compare('last_layer_output', backend.read(out.hidden), fx.last_layer_output.data, TOLERANCE.output));
    if (fx.final_state && out.state) {
      const cat = (ts: typeof out.state.h) => ts.flatMap((t) => Array.from(backend.read(t)));
      checks.push(compare('final_state.h_n', cat(out.state.h), fx.final_state.h_n.data, TOLERANCE.output));
      if (fx.final_state.c_n && out.state.c) checks.push(compare('final_state.c_n', cat(out.state.c), fx.final_state.c_n.data, TOLERANCE.output));
    }
    if (fx.attention_probs) {
      // batch element 0 of every layer: (nh, T, T) per layer, concatenated
      const perLayer = out.attention.flatMap((p) => Array.from(backend.read(p).subarray(0, p.size / B)));
      checks.push(compare('attention_probs', perLayer, fx.attention_probs.data, TOLERANCE.output));
    }
    for (const [name, grad] of Object.entries(requireField(fx.grads, 'grads'))) {
      checks.push(compare(`grads.${name}`, backend.read(model.params.get(name).grad!), grad.data, TOLERANCE.grad));
    }
    if (fx.sampling) {
      const { batch_index: b, position: t } = fx.sampling;
      const V = out.logits.shape[2];
      lastLogits = Float64Array.from(logits.subarray((b * T + t) * V, (b * T + t + 1) * V));
    }
    return null;
  });

  if (fx.buffers?.pe) {
    const [P, C] = fx.buffers.pe.shape;
    checks.push(compare('buffers.pe', sinusoidalTable(P, C), fx.buffers.pe.data, TOLERANCE.output));
  }

  if (fx.sampling && lastLogits) {
    const s = fx.sampling;
    const ref = s.logits.data;
    checks.push(compare('sampling.logits', lastLogits, ref, TOLERANCE.output));
    checks.push(compare('sampling.probs_temperature', softmaxWithTemperature(ref, s.temperature), s.probs_temperature.data, TOLERANCE.probs));
    checks.push(compare('sampling.probs_top_k', samplingDistribution(ref, { temperature: s.temperature, topK: s.top_k }), s.probs_top_k.data, TOLERANCE.probs));
    const topP = samplingDistribution(ref, { temperature: s.temperature, topP: s.top_p });
    checks.push(compare('sampling.probs_top_p', topP, s.probs_top_p.data, TOLERANCE.probs));
    const kept = Array.from(topP.keys())
      .filter((i) => topP[i] > 0)
      .sort((a, b) => topP[b] - topP[a] || a - b);
    const keptMatches = kept.length === s.top_p_kept_ids.length && kept.every((id, i) => id === s.top_p_kept_ids[i]);
    checks.push({
      field: 'sampling.top_p_kept_ids',
      maxAbs: keptMatches ? 0 : Infinity,
      maxRel: keptMatches ? 0 : Infinity,
      rtol: 0,
      atol: 0,
      pass: keptMatches,
      note: keptMatches ? undefined : `kept [${kept.join(', ')}], expected [${s.top_p_kept_ids.join(', ')}]`,
    });
    // the filter alone, applied to PyTorch's own temperature distribution
    checks.push(compare('sampling.top_p_filter', applyTopP(Float64Array.from(s.probs_temperature.data), s.top_p), s.probs_top_p.data, TOLERANCE.probs));
  }

  (fx.adamw ?? []).forEach((run, r) => {
    const m = modelFromFixture(fx, backend);
    const { lr, beta1, beta2, eps, weight_decay, max_grad_norm } = run.config;
    const opt = new Optimizer(resolveOptimizerConfig('adamw', { lr, beta1, beta2, eps, weight_decay }), m.params);
    for (const step of run.steps) {
      const loss = forwardBackward(m, ids, targets, B, T, (_out, l) => l);
      const { norm, coef } = clipGradNorm(m.params, max_grad_norm);
      opt.step(lr);
      const prefix = `adamw[${r}].step${step.step}`;
      checks.push(compare(`${prefix}.loss_before_step`, [loss], [step.loss_before_step], TOLERANCE.output));
      checks.push(compare(`${prefix}.grad_norm_before_clip`, [norm], [step.grad_norm_before_clip], TOLERANCE.grad));
      checks.push(compare(`${prefix}.clip_coef`, [coef], [step.clip_coef], TOLERANCE.grad));
      const names = Object.keys(step.params_after);
      const actual = names.flatMap((n) => Array.from(m.backend.read(m.params.get(n))));
      const expected = names.flatMap((n) => step.params_after[n].data);
      checks.push(compare(`${prefix}.params_after`, actual, expected, TOLERANCE.optimizer));
    }
    opt.dispose();
    m.dispose();
  });
  model.dispose();
  return checks;
}

// ---- the encoder–decoder (seq2seq, seq2seq_seed) ---------------------------------------------------

export function isSeq2SeqFixture(fx: TorchFixture): boolean {
  return String(fx.config.model_type ?? fx.case).startsWith('seq2seq');
}

/** The engine's seq2seq config for a fixture's `config`; refuses what the engine does not build. */
export function seq2seqConfigFromFixture(fx: TorchFixture): Seq2SeqConfig {
  const c = fx.config;
  if (c.dropout !== undefined && c.dropout !== 0) throw new Error(`fixture dropout is ${String(c.dropout)}; parity needs 0`);
  const expect = (key: string, value: unknown) => {
    if (c[key] !== undefined && c[key] !== value) throw new Error(`fixture ${key} "${String(c[key])}" is not supported (${String(value)} only)`);
  };
  expect('activation', 'relu');
  expect('embedding_scale', 'sqrt_d_model');
  expect('position_encoding', 'sinusoidal');
  expect('mask_value', MASK_VALUE);
  expect('ignore_index', Number(c.pad_id ?? 0));
  return {
    family: 'seq2seq',
    src_vocab_size: Number(c.src_vocab_size),
    tgt_vocab_size: Number(c.tgt_vocab_size),
    d_model: Number(c.d_model),
    num_heads: Number(c.num_heads),
    num_layers: Number(c.num_layers),
    d_ff: Number(c.d_ff),
    max_seq_length: Number(c.max_seq_length),
    layer_norm: c.layer_norm as 'torch' | 'seed',
    norm_position: (c.norm_position ?? 'post') as 'pre' | 'post',
    dropout: 0,
    pad_id: Number(c.pad_id ?? 0),
    bos_id: Number(c.bos_id ?? 1),
    eos_id: Number(c.eos_id ?? 2),
  };
}

const PE_BUFFERS = ['encoder.pos_encoding.pe', 'decoder.pos_encoding.pe'];

/** Builds the fixture's encoder–decoder with its parameters and `pe` buffers loaded (its state_dict). */
export function seq2seqFromFixture(fx: TorchFixture, backend: Backend = new CpuBackend()): Seq2Seq {
  const model = new Seq2Seq(seq2seqConfigFromFixture(fx), backend, new Rng(0));
  const values: Record<string, number[]> = {};
  const buffers: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(fx.params)) (PE_BUFFERS.includes(name) ? buffers : values)[name] = t.data;
  for (const name of Object.keys(values)) {
    if (!model.params.has(name)) throw new Error(`fixture parameter ${name} does not exist in the engine's model (${model.params.names().join(', ')})`);
  }
  model.params.load(values);
  model.loadBuffers(buffers);
  return model;
}

/** The fixture's teacher-forced batch (decoder input tgt[:, :-1], targets tgt[:, 1:]). */
export function seq2seqBatchFromFixture(fx: TorchFixture): { batch: Seq2SeqBatch; targets: Int32Array } {
  const src = requireField(fx.src_ids, 'src_ids');
  const dec = requireField(fx.decoder_input_ids, 'decoder_input_ids');
  const targets = Int32Array.from(requireField(fx.target_ids, 'target_ids').data);
  const [B, S] = src.shape;
  const T = dec.shape[1];
  return { batch: { B, S, T, src: Int32Array.from(src.data), decoderInput: Int32Array.from(dec.data) }, targets };
}

/** Teacher-forced forward + backward with cross-entropy ignoring padding; `inspect` reads inside the arena. */
export function seq2seqForwardBackward<T>(model: Seq2Seq, batch: Seq2SeqBatch, targets: Int32Array, inspect: (out: Seq2SeqForward, loss: number) => T): T {
  const backend = model.backend;
  return backend.scoped(() => {
    model.params.zeroGrad();
    const g = new Graph(backend, new Rng(0), false, true);
    const out = model.forward(g, batch);
    const { loss, value } = g.crossEntropy(out.logits, targets, model.config.pad_id);
    g.backward(loss);
    return inspect(out, value);
  });
}

function exactCheck(field: string, actual: readonly number[], expected: readonly number[]): FieldCheck {
  const same = actual.length === expected.length && actual.every((v, i) => v === expected[i]);
  return {
    field,
    maxAbs: same ? 0 : Infinity,
    maxRel: same ? 0 : Infinity,
    rtol: 0,
    atol: 0,
    pass: same,
    note: same ? undefined : `got [${actual.join(', ')}], expected [${expected.join(', ')}]`,
  };
}

/** Every check of an encoder–decoder fixture: masks, tables, logits, loss, attention, gradients, Adam, greedy. */
export function checkSeq2SeqFixture(fx: TorchFixture, backend: Backend = new CpuBackend()): FieldCheck[] {
  const checks: FieldCheck[] = [];
  const { batch, targets } = seq2seqBatchFromFixture(fx);
  const model = seq2seqFromFixture(fx, backend);
  const { B, S, T } = batch;
  const { pad_id: pad, d_model: d, max_seq_length: L } = model.config;

  const masks = requireField(fx.masks, 'masks');
  checks.push(compare('masks.src', sourcePaddingMask(batch.src, B, S, pad), masks.src.data, { rtol: 0, atol: 0 }));
  checks.push(compare('masks.tgt', targetMask(batch.decoderInput, B, T, pad), masks.tgt.data, { rtol: 0, atol: 0 }));
  for (const name of PE_BUFFERS) {
    if (fx.params[name]) checks.push(compare(`buffers.${name}`, sinusoidalTable(L, d), fx.params[name].data, TOLERANCE.output));
  }

  seq2seqForwardBackward(model, batch, targets, (out, loss) => {
    checks.push(compare('logits', backend.read(out.logits), requireField(fx.logits, 'logits').data, TOLERANCE.output));
    checks.push(compare('loss', [loss], [requireField(fx.loss, 'loss')], TOLERANCE.output));
    const probs = fx.attention_probs as unknown as Record<string, TensorJson> | undefined;
    const kinds: [string, Tensor[]][] = [
      ['encoder_self', out.attention.encoderSelf],
      ['decoder_self', out.attention.decoderSelf],
      ['decoder_cross', out.attention.decoderCross],
    ];
    for (const [kind, layers] of kinds) {
      const ref = requireField(probs?.[kind], `attention_probs.${kind}`);
      checks.push(
        compare(
          `attention_probs.${kind}`,
          layers.flatMap((p) => Array.from(backend.read(p))),
          ref.data,
          TOLERANCE.output,
        ),
      );
    }
    for (const [name, grad] of Object.entries(requireField(fx.grads, 'grads'))) {
      checks.push(compare(`grads.${name}`, backend.read(model.params.get(name).grad!), grad.data, TOLERANCE.grad));
    }
    return null;
  });

  if (fx.adam) {
    // One Adam step two ways. From the fixture's own params and grads: the optimizer alone, every
    // element. From the engine's gradients: the whole step, but eps 1e-9 turns a gradient that is
    // zero in exact arithmetic (W_k's bias: softmax ignores a shift shared by every key) into
    // ±lr from float noise, so elements whose PyTorch gradient is below 1e-7 (most of them exactly 0) are left out.
    const adam = fx.adam;
    const { lr, betas, eps, weight_decay } = adam;
    const config = resolveOptimizerConfig('adam', { lr, beta1: betas[0], beta2: betas[1], eps, weight_decay });
    const names = Object.keys(adam.params_after).filter((n) => !PE_BUFFERS.includes(n));
    const expected = names.flatMap((n) => adam.params_after[n].data);
    const stepAndRead = (m: Seq2Seq): number[] => {
      const opt = new Optimizer(config, m.params);
      opt.step(lr);
      opt.dispose();
      return names.flatMap((n) => Array.from(backend.read(m.params.get(n))));
    };
    const fromFixture = seq2seqFromFixture(fx, backend);
    for (const n of names) backend.write(fromFixture.params.get(n).grad!, requireField(fx.grads[n], `grads.${n}`).data);
    checks.push(compare('adam.params_after', stepAndRead(fromFixture), expected, TOLERANCE.optimizer));
    fromFixture.dispose();
    const own = stepAndRead(model);
    const torchGrads = names.flatMap((n) => fx.grads[n].data);
    const kept = torchGrads.flatMap((g, i) => (Math.abs(g) >= 1e-7 ? [i] : []));
    const check = compare(
      'adam.params_after (engine grads)',
      kept.map((i) => own[i]),
      kept.map((i) => expected[i]),
      TOLERANCE.optimizer,
    );
    check.note = `${torchGrads.length - kept.length} of ${torchGrads.length} elements with |grad| < 1e-7 left out`;
    checks.push(check);
  }
  model.dispose();

  if (fx.greedy) {
    const greedy = fx.greedy;
    const m = seq2seqFromFixture(fx, backend);
    for (let b = 0; b < B; b++) {
      const row = Array.from(batch.src.subarray(b * S, (b + 1) * S));
      while (row.length > 0 && row[row.length - 1] === pad) row.pop(); // the row's padding removed first
      const { ids, stepLogits } = greedyDecode(m, row, greedy.max_new);
      checks.push(exactCheck(`greedy[${b}].outputs`, ids, greedy.outputs[b]));
      const flat = stepLogits.flatMap((l) => Array.from(l));
      checks.push(compare(`greedy[${b}].step_logits`, flat, greedy.step_logits[b].data, TOLERANCE.output));
    }
    m.dispose();
  }
  return checks;
}
