import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { decodeSafetensors, encodeSafetensors } from '../../src/engine/checkpoint/safetensors';
import {
  decodeSeq2SeqExport,
  encodeSeq2SeqExport,
  isSeq2SeqExport,
  SEQ2SEQ_EXPORT_FILES,
  type Seq2SeqExportConfig,
  type Seq2SeqVocabs,
} from '../../src/engine/checkpoint/seq2seq-export';
import { buildPairVocabs, PairVocab } from '../../src/engine/data/pairs';
import { greedyDecode, resolveSeq2SeqConfig, Seq2Seq, type Seq2SeqBatch } from '../../src/engine/models';
import { Optimizer, resolveOptimizerConfig } from '../../src/engine/optim/optimizer';
import { compare, isSeq2SeqFixture, seq2seqBatchFromFixture, seq2seqForwardBackward, seq2seqFromFixture } from '../../src/engine/parity';
import { Rng } from '../../src/engine/rng';
import { UserError } from '../../src/shared/errors';
import { loadFixtures } from '../engine/helpers';

// The seq2seq export loads in the attention lesson's own module tree: tests/checkpoint/seq2seq_load.py
// rebuilds the lesson's Transformer in PyTorch from config.json alone, loads model.safetensors
// with load_state_dict(strict=True) (the `pe` buffers included), and its teacher-forced logits
// (rtol 1e-4) and greedy outputs (exactly) must be the engine's — for both fixtures (nn.LayerNorm
// and the lesson's own layer norm) and for random models with pre-LN. The round trip back into
// the engine is exact.

const PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('./seq2seq_load.py', import.meta.url));
const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchVersion = probe.status === 0 ? probe.stdout.trim() : null;
if (!torchVersion) {
  console.log(`seq2seq export PyTorch test skipped: ${PYTHON} cannot import torch (apt-get install python3-torch; .ci/run does)`);
}

const fixtures = loadFixtures().filter(({ fx }) => isSeq2SeqFixture(fx));

interface TorchResult {
  torch: string;
  state_dict_keys: string[];
  parameter_count: number;
  pe_max_abs: number;
  shape: number[];
  logits: number[];
  greedy: { outputs: number[]; step_logits: number[][] }[];
  /** The greedy outputs as text with the exported target_tokenizer.json; null without one. */
  greedy_text: string[] | null;
}

function writeFolder(files: Record<string, Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nanolab-seq2seq-export-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

function readFolder(dir: string): Record<string, Uint8Array> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, new Uint8Array(readFileSync(join(dir, name)))]));
}

/** Rows of a (B, L) id array. */
function rows(ids: Int32Array, B: number, L: number): number[][] {
  return Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * L, (b + 1) * L)));
}

/** The engine's teacher-forced logits and greedy decoding of each source row (its padding removed). */
function engineRun(model: Seq2Seq, batch: Seq2SeqBatch, maxNew: number): { logits: number[]; greedy: { outputs: number[]; stepLogits: number[][] }[] } {
  const backend = model.backend;
  const logits = backend.scoped(() => Array.from(backend.read(model.forward(new Graph(backend, new Rng(0), false, false), batch).logits)));
  const greedy = rows(batch.src, batch.B, batch.S).map((row) => {
    const r = greedyDecode(
      model,
      row.filter((t) => t !== model.config.pad_id),
      maxNew,
    );
    return { outputs: r.ids, stepLogits: r.stepLogits.map((l) => Array.from(l)) };
  });
  return { logits, greedy };
}

function runTorch(dir: string, batch: Seq2SeqBatch, targets: number[][], maxNew: number): TorchResult {
  const request = { src: rows(batch.src, batch.B, batch.S), tgt: targets, max_new: maxNew };
  const run = spawnSync(PYTHON, [script, dir, JSON.stringify(request)], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as TorchResult;
}

/** Exports `model`, loads it in PyTorch, and checks logits (rtol 1e-4) and greedy outputs (exact) against the engine. */
function checkInTorch(label: string, model: Seq2Seq, batch: Seq2SeqBatch, targets: number[][], maxNew: number, vocabs: Seq2SeqVocabs = {}): TorchResult {
  const files = encodeSeq2SeqExport(model, vocabs);
  const dir = writeFolder(files);
  const ours = engineRun(model, batch, maxNew);
  const theirs = runTorch(dir, batch, targets, maxNew);

  // the lesson's module has exactly the exported state_dict, in the lesson's order
  const { tensors } = decodeSafetensors(files[SEQ2SEQ_EXPORT_FILES.model]);
  expect(theirs.state_dict_keys).toEqual(tensors.map((t) => t.name));
  const config = JSON.parse(new TextDecoder().decode(files[SEQ2SEQ_EXPORT_FILES.config])) as Seq2SeqExportConfig;
  expect(theirs.parameter_count).toBe(config.parameter_count);
  expect(theirs.parameter_count).toBe(model.params.count());
  expect(theirs.pe_max_abs).toBeLessThan(1e-6);

  const V = model.config.tgt_vocab_size;
  expect(theirs.shape).toEqual([batch.B, batch.T, V]);
  const logits = compare('logits', ours.logits, theirs.logits, { rtol: 1e-4, atol: 1e-5 });
  let stepAbs = 0;
  for (let b = 0; b < batch.B; b++) {
    expect(ours.greedy[b].outputs, `${label}: greedy row ${b}`).toEqual(theirs.greedy[b].outputs);
    const step = compare(`greedy[${b}]`, ours.greedy[b].stepLogits.flat(), theirs.greedy[b].step_logits.flat(), { rtol: 1e-4, atol: 1e-5 });
    expect(step.pass, `${label}: greedy row ${b} step logits max abs ${step.maxAbs}, max rel ${step.maxRel}`).toBe(true);
    stepAbs = Math.max(stepAbs, step.maxAbs);
  }
  console.log(
    `${label}: PyTorch ${theirs.torch} strict load; logits max abs ${logits.maxAbs.toExponential(2)} max rel ${logits.maxRel.toExponential(2)}; ` +
      `greedy step logits max abs ${stepAbs.toExponential(2)}; greedy ${JSON.stringify(ours.greedy.map((g) => g.outputs))}`,
  );
  expect(logits.pass, `${label}: logits max abs ${logits.maxAbs}, max rel ${logits.maxRel}`).toBe(true);
  return theirs;
}

/** A random model of the given options and a padded batch for it (rows of different lengths). */
function randomCase(overrides: Record<string, unknown>, seed: number, vocabs?: { source: PairVocab; target: PairVocab }) {
  const Vs = vocabs?.source.vocabSize ?? 11;
  const Vt = vocabs?.target.vocabSize ?? 9;
  const config = resolveSeq2SeqConfig(Vs, Vt, { d_model: 16, num_heads: 4, num_layers: 2, d_ff: 24, max_seq_length: 12, dropout: 0, ...overrides });
  const model = new Seq2Seq(config, new CpuBackend(), new Rng(seed));
  const rng = new Rng(seed + 100);
  const token = (V: number) => 3 + Math.floor(rng.uniform(0, 1) * (V - 3)) || 3;
  const B = 3,
    S = 7,
    T = 8;
  const srcLengths = [7, 4, 5],
    tgtLengths = [8, 5, 3];
  const src = new Int32Array(B * S),
    tgt = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < srcLengths[b]; i++) src[b * S + i] = Math.min(Vs - 1, token(Vs));
    tgt[b * T] = config.bos_id;
    for (let i = 1; i < tgtLengths[b] - 1; i++) tgt[b * T + i] = Math.min(Vt - 1, token(Vt));
    tgt[b * T + tgtLengths[b] - 1] = config.eos_id;
  }
  const targets = rows(tgt, B, T);
  const decoderInput = Int32Array.from(targets.flatMap((r) => r.slice(0, -1)));
  return { model, batch: { B, S, T: T - 1, src, decoderInput } as Seq2SeqBatch, targets };
}

const pairs = [
  { source: 'hello', target: 'olleh' },
  { source: 'abc', target: 'cba' },
  { source: 'nano lab', target: 'bal onan' },
];

describe('seq2seq export: round trip in the engine', () => {
  it('writes the state_dict (parameters and both pe buffers), config.json and both tokenizers', () => {
    const vocabs = buildPairVocabs(pairs);
    const { model } = randomCase({ layer_norm: 'seed' }, 3, vocabs);
    const files = encodeSeq2SeqExport(model, vocabs);
    expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors', 'source_tokenizer.json', 'target_tokenizer.json']);
    expect(isSeq2SeqExport(files)).toBe(true);
    const { tensors, metadata } = decodeSafetensors(files['model.safetensors']);
    expect(metadata.format).toBe('pt');
    const names = tensors.map((t) => t.name);
    expect(names.slice(0, 3)).toEqual(['encoder.embedding.weight', 'encoder.pos_encoding.pe', 'encoder.encoder_layers.0.mha.W_q.weight']);
    expect(names).toContain('decoder.pos_encoding.pe');
    expect(names.at(-1)).toBe('final_layer.bias');
    expect([...names].sort()).toEqual([...model.params.names(), 'encoder.pos_encoding.pe', 'decoder.pos_encoding.pe'].sort());
    expect(tensors.find((t) => t.name === 'decoder.pos_encoding.pe')!.shape).toEqual([1, 12, 16]);
    const config = JSON.parse(new TextDecoder().decode(files['config.json'])) as Seq2SeqExportConfig;
    expect(config).toMatchObject({
      format: 'nanolab-seq2seq',
      model_type: 'seq2seq',
      src_vocab_size: vocabs.source.vocabSize,
      tgt_vocab_size: vocabs.target.vocabSize,
      d_model: 16,
      num_heads: 4,
      num_layers: 2,
      d_ff: 24,
      max_seq_length: 12,
      layer_norm: 'seed',
      layer_norm_eps: 1e-6,
      norm_position: 'post',
      dropout: 0,
      pad_id: 0,
      bos_id: 1,
      eos_id: 2,
      parameter_count: model.params.count(),
      buffers: ['encoder.pos_encoding.pe', 'decoder.pos_encoding.pe'],
      tokenizers: { source: 'source_tokenizer.json', target: 'target_tokenizer.json' },
    });
    expect(JSON.parse(new TextDecoder().decode(files['target_tokenizer.json']))).toEqual(vocabs.target.toJSON());
    model.dispose();
  });

  it('reads an export back into the same model: every value, the tokenizers, the same logits, the same bytes', () => {
    const vocabs = buildPairVocabs(pairs);
    const { model, batch } = randomCase({ norm_position: 'pre' }, 5, vocabs);
    const files = encodeSeq2SeqExport(model, vocabs);
    const back = decodeSeq2SeqExport(readFolder(writeFolder(files)), new CpuBackend());
    expect(back.model.config).toEqual(model.config);
    const a = model.params.read(),
      b = back.model.params.read();
    for (const name of model.params.names()) expect(Array.from(b[name]), name).toEqual(Array.from(a[name]));
    for (const [name, t] of Object.entries(model.buffers())) {
      expect(Array.from(back.model.backend.read(back.model.buffers()[name])), name).toEqual(Array.from(model.backend.read(t)));
    }
    expect(back.source!.toJSON()).toEqual(vocabs.source.toJSON());
    expect(back.target!.decode(back.target!.encodeTarget('olleh'))).toBe('olleh');
    expect(engineRun(back.model, batch, 6)).toEqual(engineRun(model, batch, 6));
    const again = encodeSeq2SeqExport(back.model, { source: back.source!, target: back.target! });
    for (const name of Object.keys(files)) expect(Buffer.from(again[name]).equals(Buffer.from(files[name])), name).toBe(true);
    model.dispose();
    back.model.dispose();
  });

  it('exports without tokenizers, and reads that back with none', () => {
    const { model } = randomCase({}, 7);
    const files = encodeSeq2SeqExport(model);
    expect(Object.keys(files).sort()).toEqual(['config.json', 'model.safetensors']);
    const back = decodeSeq2SeqExport(files, new CpuBackend());
    expect([back.source, back.target]).toEqual([null, null]);
    expect(back.config.tokenizers).toEqual({});
    model.dispose();
    back.model.dispose();
  });

  it('refuses a folder that does not match: format, sizes, a missing or misshapen tensor, a tokenizer of the wrong size', () => {
    const vocabs = buildPairVocabs(pairs);
    const { model } = randomCase({}, 9, vocabs);
    const files = encodeSeq2SeqExport(model, vocabs);
    const config = JSON.parse(new TextDecoder().decode(files['config.json'])) as Record<string, unknown>;
    const withConfig = (patch: Record<string, unknown>) => ({ ...files, 'config.json': new TextEncoder().encode(JSON.stringify({ ...config, ...patch })) });
    const { tensors } = decodeSafetensors(files['model.safetensors']);
    const withTensors = (t: typeof tensors) => ({ ...files, 'model.safetensors': encodeSafetensors(t) });
    const refused = (f: Record<string, Uint8Array>, message: RegExp) => {
      expect(() => decodeSeq2SeqExport(f, new CpuBackend())).toThrow(UserError);
      expect(() => decodeSeq2SeqExport(f, new CpuBackend())).toThrow(message);
    };
    refused(withConfig({ format: 'nanolab-checkpoint' }), /not a seq2seq export/);
    refused(withConfig({ d_model: 18 }), /d_model \(18\) must be divisible by num_heads/);
    refused(withConfig({ num_layers: 1 }), /unexpected encoder\.encoder_layers\.1\./);
    refused(withConfig({ max_seq_length: 10 }), /encoder\.pos_encoding\.pe has shape \[1, 12, 16\]; config\.json needs \[1, 10, 16\]/);
    refused(withTensors(tensors.filter((t) => t.name !== 'decoder.pos_encoding.pe')), /missing decoder\.pos_encoding\.pe/);
    const bigger = new PairVocab('char', [...vocabs.source.vocab, '#']);
    const biggerBytes = new TextEncoder().encode(JSON.stringify(bigger.toJSON()));
    refused({ ...files, 'source_tokenizer.json': biggerBytes }, /source_tokenizer\.json has \d+ entries but config\.json's src_vocab_size/);
    refused({ ...files, 'target_tokenizer.json': new TextEncoder().encode('{"kind": "bpe"}') }, /target_tokenizer\.json is not a pairs tokenizer/);
    refused({ ...files, 'config.json': new TextEncoder().encode('{') }, /config\.json is not valid JSON/);
    refused({ 'config.json': files['config.json'] }, /the export has no model\.safetensors/);
    refused(withConfig({ layer_norm: 'rms' }), /layer_norm \(rms\) must be one of torch, seed/);
    expect(() => encodeSeq2SeqExport(model, { source: bigger })).toThrow(/source vocabulary has \d+ entries/);
    model.dispose();
  });
});

describe.skipIf(!torchVersion)(`seq2seq export loads in the lesson's PyTorch module (torch ${torchVersion ?? ''})`, () => {
  it('has both fixtures', () => {
    expect(fixtures.map((f) => f.fx.config.layer_norm).sort()).toEqual(['seed', 'torch']);
  });

  for (const { file, fx } of fixtures) {
    it(`${file}: PyTorch's logits and greedy outputs are the engine's`, () => {
      const model = seq2seqFromFixture(fx, new CpuBackend());
      const { batch } = seq2seqBatchFromFixture(fx);
      const tgt = fx.tgt_ids!;
      const targets = rows(Int32Array.from(tgt.data), tgt.shape[0], tgt.shape[1]);
      checkInTorch(file, model, batch, targets, fx.greedy!.max_new);
      // and the fixture's own greedy decoding, for good measure
      expect(engineRun(model, batch, fx.greedy!.max_new).greedy.map((g) => g.outputs)).toEqual(fx.greedy!.outputs);
      model.dispose();
    });
  }

  it('a trained model (Adam on a reverse task, post-LN, the lesson’s layer norm) with its tokenizers', () => {
    const task = ['abc', 'hello', 'nano', 'lab', 'torch', 'cab', 'bold'].map((w) => ({ source: w, target: [...w].reverse().join('') }));
    const vocabs = buildPairVocabs(task);
    const config = resolveSeq2SeqConfig(vocabs.source.vocabSize, vocabs.target.vocabSize, {
      d_model: 32,
      num_heads: 4,
      num_layers: 2,
      d_ff: 64,
      max_seq_length: 10,
      dropout: 0,
      layer_norm: 'seed',
    });
    const model = new Seq2Seq(config, new CpuBackend(), new Rng(21));
    const srcRows = task.map((p) => Array.from(vocabs.source.encode(p.source)));
    const tgtRows = task.map((p) => Array.from(vocabs.target.encodeTarget(p.target)));
    const B = task.length,
      S = Math.max(...srcRows.map((r) => r.length)),
      T = Math.max(...tgtRows.map((r) => r.length));
    const pad = (r: number[], n: number) => [...r, ...Array<number>(n - r.length).fill(0)];
    const targets = tgtRows.map((r) => pad(r, T));
    const batch: Seq2SeqBatch = {
      B,
      S,
      T: T - 1,
      src: Int32Array.from(srcRows.flatMap((r) => pad(r, S))),
      decoderInput: Int32Array.from(targets.flatMap((r) => r.slice(0, -1))),
    };
    const next = Int32Array.from(targets.flatMap((r) => r.slice(1)));
    const opt = new Optimizer(resolveOptimizerConfig('adam', { lr: 3e-3, beta1: 0.9, beta2: 0.98, eps: 1e-9 }), model.params);
    let first = 0,
      last = 0;
    for (let step = 0; step < 80; step++) {
      last = seq2seqForwardBackward(model, batch, next, (_, loss) => loss);
      if (step === 0) first = last;
      opt.step(3e-3);
    }
    opt.dispose();
    expect(last).toBeLessThan(first / 4); // trained weights, not the init
    const theirs = checkInTorch(`trained reverse model (loss ${first.toFixed(2)} -> ${last.toFixed(3)})`, model, batch, targets, 9, vocabs);
    const decoded = engineRun(model, batch, 9).greedy.map((g) => vocabs.target.decode(g.outputs));
    console.log(`trained reverse model greedy: engine ${JSON.stringify(decoded)}, PyTorch ${JSON.stringify(theirs.greedy_text)}`);
    expect(theirs.greedy_text).toEqual(decoded); // the exported target tokenizer reads the same text in Python
    expect(decoded.filter((d, i) => d === task[i].target).length).toBeGreaterThanOrEqual(task.length - 1);
    model.dispose();
  });

  it('fails in PyTorch when the export lacks a pe buffer: strict=True is really checked', () => {
    const { model, batch, targets } = randomCase({}, 31);
    const files = encodeSeq2SeqExport(model);
    const { tensors } = decodeSafetensors(files[SEQ2SEQ_EXPORT_FILES.model]);
    const dir = writeFolder({ ...files, [SEQ2SEQ_EXPORT_FILES.model]: encodeSafetensors(tensors.filter((t) => t.name !== 'encoder.pos_encoding.pe')) });
    const request = { src: rows(batch.src, batch.B, batch.S), tgt: targets, max_new: 4 };
    const run = spawnSync(PYTHON, [script, dir, JSON.stringify(request)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/Missing key\(s\) in state_dict: "encoder\.pos_encoding\.pe"/);
    model.dispose();
  });

  const randoms: [string, Record<string, unknown>][] = [
    ['random weights, post-LN, nn.LayerNorm', {}],
    ['random weights, pre-LN, nn.LayerNorm', { norm_position: 'pre' }],
    ['random weights, pre-LN, the lesson’s layer norm', { norm_position: 'pre', layer_norm: 'seed', num_layers: 3, num_heads: 2 }],
  ];
  randoms.forEach(([label, overrides], i) => {
    it(label, () => {
      const vocabs = buildPairVocabs(pairs);
      const { model, batch, targets } = randomCase(overrides, 11 + i, vocabs);
      checkInTorch(label, model, batch, targets, 10, vocabs);
      model.dispose();
    });
  });
});
