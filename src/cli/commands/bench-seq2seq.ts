import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSeq2SeqExport } from '../../engine/checkpoint/seq2seq-export';
import { collatePairs, PairSampler, type PairBatch, type PairsCorpus } from '../../engine/data/pairs';
import { generateTaskTsv, pairTask } from '../../engine/data/tasks';
import { greedyDecodeBatched } from '../../engine/models/seq2seq-decode';
import { Rng } from '../../engine/rng';
import { pairsCorpusOf, resolveSeq2SeqTrainConfig, Seq2SeqTrainer, type Seq2SeqTrainConfig } from '../../engine/seq2seq-train';

// `nanolab bench --models seq2seq-lesson`: the attention lesson's encoder–decoder (d_model 128,
// 4 heads, 2+2 layers, d_ff 512, dropout 0.1 on both sides) trained on the dates task with Adam
// (betas 0.9/0.98, eps 1e-9), batch 64, by NanoLab and by PyTorch (bench/torch_seq2seq.py, the
// lesson's module written independently). Both sides start from the same weights (NanoLab's
// initial model, exported and loaded with strict=True) and train on the very same bucketed
// batches, drawn once here. Speed counts target tokens (padding excluded) per second, the same on
// both sides. Greedy decoding of 64 held-out sources is timed too (generated tokens per second,
// max_new of them per row: the EOS logit is held down while it is timed): NanoLab with its KV
// cache, PyTorch as the lesson decodes (the decoder re-run on the prefix).

export const SEQ2SEQ_BENCH_NAME = 'seq2seq-lesson';

/** The lesson's architecture and the bench's batch (the seq2seq-lesson preset's). */
export const SEQ2SEQ_BENCH_SETTINGS = {
  d_model: 128,
  num_heads: 4,
  num_layers: 2,
  d_ff: 512,
  dropout: 0.1,
  max_seq_length: 32,
  batch_size: 64,
  lr: 1e-3,
  grad_clip: 1,
} as const;

const TASK = 'dates';
const TASK_PAIRS = 5000;
const SEED = 1337;
const WARMUP = 3;
const DECODE_ROWS = 64;
/** Timed decodings of those rows on each side, the fastest counting (one is short: noisy on a shared machine). */
const DECODE_TRIALS = 3;

const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../../../bench/torch_seq2seq.py', import.meta.url));

export interface Seq2SeqBenchSetup {
  config: Seq2SeqTrainConfig;
  corpus: PairsCorpus;
  /** WARMUP untimed batches, then the timed ones. */
  batches: PairBatch[];
  /** The held-out sources both sides decode, padded (B, S). */
  decode: PairBatch;
  maxNew: number;
  /** Target tokens (padding excluded) of the timed batches. */
  tokens: number;
}

/** The data, the config and the batches every round of both sides uses. */
export function seq2seqBenchSetup(steps: number): Seq2SeqBenchSetup {
  const data = { task: TASK, tokenization: pairTask(TASK).tokenization, val_fraction: 0.1, split_seed: 0 };
  const probe = resolveSeq2SeqTrainConfig(4, 4, SEQ2SEQ_BENCH_SETTINGS, SEED, data);
  const corpus = pairsCorpusOf(generateTaskTsv(TASK, TASK_PAIRS, SEED), `${TASK} (${TASK_PAIRS} pairs, seed ${SEED})`, probe);
  const config = resolveSeq2SeqTrainConfig(corpus.source.vocabSize, corpus.target.vocabSize, SEQ2SEQ_BENCH_SETTINGS, SEED, data);
  const sampler = new PairSampler(corpus.train, { batchSize: config.batch_size });
  const rng = new Rng(SEED);
  const batches = Array.from({ length: WARMUP + steps }, () => sampler.nextBatch(rng));
  let tokens = 0;
  for (const b of batches.slice(WARMUP)) for (const id of b.target) if (id !== config.model.pad_id) tokens++;
  const decode = collatePairs(corpus.val.slice(0, DECODE_ROWS));
  return { config, corpus, batches, decode, maxNew: config.model.max_seq_length - 1, tokens };
}

export interface Seq2SeqSideResult {
  tokensPerSec: number | null;
  decodeTokensPerSec: number | null;
  /** The generated ids of each decoded row (BOS excluded). */
  decoded: number[][] | null;
  loss: number | null;
  note: string | null;
}

/** Bias subtracted from the EOS logit while decoding is timed. */
export const EOS_SUPPRESSION = 1e4;

/**
 * An untrained model ends every row at once (EOS is as likely as anything), which times nothing
 * but the encoder: while decoding is timed, the EOS logit is lowered by EOS_SUPPRESSION so every
 * row runs max_new steps (the work of the longest decode), on both sides. Returns the undo.
 */
function withoutEos(trainer: Seq2SeqTrainer): () => void {
  const bias = trainer.model.params.get('final_layer.bias');
  const saved = Float32Array.from(trainer.backend.read(bias));
  const lowered = Float32Array.from(saved);
  lowered[trainer.model.config.eos_id] -= EOS_SUPPRESSION;
  trainer.backend.write(bias, lowered);
  return () => trainer.backend.write(bias, saved);
}

/** NanoLab: a trainer from the bench's seed (the weights PyTorch loads), greedy decoding, then the batches. */
export function nanolabSeq2Seq(setup: Seq2SeqBenchSetup): Seq2SeqSideResult {
  const trainer = new Seq2SeqTrainer(setup.config, setup.corpus);
  try {
    const d = setup.decode;
    const run = () => greedyDecodeBatched(trainer.model, d.src, d.B, d.S, { maxNew: setup.maxNew });
    const restore = withoutEos(trainer);
    run(); // warm-up
    let out = run(),
      decodeS = Infinity,
      t0 = 0;
    for (let trial = 0; trial < DECODE_TRIALS; trial++) {
      t0 = performance.now();
      out = run();
      decodeS = Math.min(decodeS, (performance.now() - t0) / 1000);
    }
    restore();
    const decoded = out.map((o) => o.ids.slice(1));
    const generated = decoded.reduce((n, ids) => n + ids.length, 0);
    let loss = NaN;
    setup.batches.forEach((batch, i) => {
      if (i === WARMUP) t0 = performance.now();
      loss = trainer.trainStep(batch).loss;
    });
    const trainS = (performance.now() - t0) / 1000;
    return { tokensPerSec: setup.tokens / trainS, decodeTokensPerSec: generated / decodeS, decoded, loss, note: null };
  } finally {
    trainer.dispose();
  }
}

/** The initial weights (the bench seed's), as an export folder PyTorch loads; returns the folder. */
export function exportInitialWeights(setup: Seq2SeqBenchSetup): string {
  const dir = mkdtempSync(join(tmpdir(), 'nanolab-bench-seq2seq-'));
  const trainer = new Seq2SeqTrainer(setup.config, setup.corpus);
  try {
    for (const [name, bytes] of Object.entries(encodeSeq2SeqExport(trainer.model))) writeFileSync(join(dir, name), bytes);
  } finally {
    trainer.dispose();
  }
  return dir;
}

export function removeExport(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** PyTorch on the same weights and batches, in /usr/bin/python3 (OpenBLAS on 2 threads, passive waits). */
export function pytorchSeq2Seq(setup: Seq2SeqBenchSetup, exportDir: string, childError: (stderr: string) => string): Seq2SeqSideResult {
  const none = (note: string): Seq2SeqSideResult => ({ tokensPerSec: null, decodeTokensPerSec: null, decoded: null, loss: null, note });
  if (!existsSync(PYTHON)) return none(`${PYTHON} is missing: install python3-torch to compare with PyTorch`);
  const request = join(exportDir, 'request.json');
  const rows = (b: PairBatch) => ({ B: b.B, S: b.S, T: b.T, src: [...b.src], tgt: [...b.tgt] });
  writeFileSync(
    request,
    JSON.stringify({
      export_dir: exportDir,
      dropout: setup.config.model.dropout,
      lr: setup.config.optimizer.lr,
      grad_clip: setup.config.grad_clip,
      warmup: WARMUP,
      batches: setup.batches.map(rows),
      decode: { ...rows(setup.decode), max_new: setup.maxNew, trials: DECODE_TRIALS, eos_suppression: EOS_SUPPRESSION },
    }),
  );
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, request], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
  });
  if (r.status !== 0) {
    const why = /No module named 'torch'/.test(r.stderr)
      ? 'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread)'
      : childError(r.stderr);
    return none(`PyTorch did not run: ${why}`);
  }
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tokens_per_s: number; decode_tokens_per_s: number; decoded: number[][]; loss: number };
  return { tokensPerSec: out.tokens_per_s, decodeTokensPerSec: out.decode_tokens_per_s, decoded: out.decoded, loss: out.loss, note: null };
}

/** How many decoded rows are the same on both sides (same weights: all, up to float ties). */
export function sameRows(a: number[][] | null, b: number[][] | null): number | null {
  if (!a || !b || a.length !== b.length) return null;
  return a.filter((row, i) => row.length === b[i].length && row.every((id, j) => id === b[i][j])).length;
}
