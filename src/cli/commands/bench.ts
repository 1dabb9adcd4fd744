import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../engine/backend/cpu';
import { splitCorpus } from '../../engine/data/corpus';
import type { Tensor } from '../../engine/tensor';
import { resolveTrainConfig } from '../../engine/train';
import { calibrate } from '../../engine/run';
import { enableGemmThreads } from '../../main/jobs/gemm-threads';
import { parse, parseInteger, UsageError } from '../args';
import { BUNDLED_CORPUS } from './train';
import { DEFAULT_BROWSER_ARGS, DEFAULT_CHROMIUM, gpuBench } from './bench-gpu';
import {
  exportInitialWeights,
  nanolabSeq2Seq,
  pytorchSeq2Seq,
  removeExport,
  sameRows,
  SEQ2SEQ_BENCH_NAME,
  seq2seqBenchSetup,
  type Seq2SeqBenchSetup,
} from './bench-seq2seq';

// The CPU benchmark: NanoLab, PyTorch and TensorFlow.js train the same two models on the same
// machine, one after the other and alternating (so a change in machine load hits all of them), and
// the ratios are printed. Plus matrix-multiply GFLOP/s at the models' shapes and the attention,
// layer-norm and LSTM kernels on their own. Speed is measured here, never asserted.

export const usage = `nanolab bench [--steps N] [--rounds R] [--models gpt-tiny,lstm-small,seq2seq-lesson] [--tfjs-steps N] [--tfjs-backends wasm,cpu]
              [--no-pytorch] [--no-tfjs] [--no-matmul] [--no-kernels] [--quick] [--json]
       nanolab bench --gpu [--gpu-steps N] [--gpu-batch B] [--models …,gpt-shakespeare] [--chromium PATH] [--browser-args "…"] [--json]
  Trains gpt-tiny (nanoGPT's CPU configuration: 4 layers, 4 heads, n_embd 128, context 64, batch 12)
  and lstm-small (2×256 LSTM, embedding 64, sequences of 64, batch 32) for N steps (default 20)
  with NanoLab, then with PyTorch (/usr/bin/python3 with python3-torch, OPENBLAS_NUM_THREADS=2
  OMP_WAIT_POLICY=PASSIVE), then with TensorFlow.js (bench/tfjs_train.ts in a child process, the
  wasm backend by default, --tfjs-steps steps, default 2: it is about 20× slower), alternating for
  R rounds (default 2; the best round counts). Prints tokens/s, the ratios NanoLab/PyTorch and
  NanoLab/TF.js, matmul GFLOP/s, the attention, layer-norm and LSTM kernels (fast and plain-JS
  backend) and the CPU other processes used. --quick times each kernel once, without warm-up (rough
  numbers, for tests).
  seq2seq-lesson: the attention lesson's encoder–decoder (d_model 128, 4 heads, 2+2 layers, d_ff
  512, dropout 0.1 on both sides) on the dates task, batch 64, Adam (0.9, 0.98, eps 1e-9), against
  bench/torch_seq2seq.py (the lesson's module in PyTorch) from the same initial weights on the same
  bucketed batches; tok/s counts target tokens (padding excluded) on both sides. It also times
  greedy decoding of 64 held-out sources (generated tokens/s; NanoLab with its KV cache, PyTorch
  re-running the lesson's decoder on the prefix). TensorFlow.js has no such model here.
  The ratio column is the best round's; "per round" is each round's NanoLab/PyTorch (the spread).
  --gpu: GPU vs CPU instead. The GPU side runs where GPU runs do, in a browser page's Web Worker
  (gpu.js, WebGL2): the bench serves the built app on a temporary lab and opens it in Chromium
  (/usr/bin/chromium, headless; --browser-args replaces the flags, e.g. to pick a real GPU), and
  times gpt-tiny, lstm-small and gpt-shakespeare (nanoGPT's Shakespeare model: 6 layers, 6 heads,
  n_embd 384, context 256; batch 8 here) for --gpu-steps steps each (default 3) after 2 warm-up
  steps, with the calibration Auto uses; the CPU side times the same configs in this process.
  gpt-micro (1 layer, n_embd 32) checks the path in seconds. --gpu-batch B sets every model's batch
  (a software GPU needs a small one for gpt-shakespeare).
  Without a GPU, Chromium's WebGL2 is SwiftShader (on the CPU): slow, as expected.`;

const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../../../bench/torch_train.py', import.meta.url));
const TFJS_SCRIPT = fileURLToPath(new URL('../../../bench/tfjs_train.ts', import.meta.url));
const TFJS_BACKENDS = ['wasm', 'cpu'] as const;
type TfjsBackend = (typeof TFJS_BACKENDS)[number];

const MODELS = {
  'gpt-tiny': {
    family: 'gpt' as const,
    settings: {
      n_layer: 4,
      n_head: 4,
      n_embd: 128,
      block_size: 64,
      seq_len: 64,
      batch_size: 12,
      batching: 'random',
      lr: 1e-3,
      weight_decay: 0.01,
      decay: 'all',
      schedule: 'constant',
    },
  },
  'lstm-small': {
    family: 'lstm' as const,
    settings: {
      hidden_size: 256,
      num_layers: 2,
      embedding_dim: 64,
      seq_len: 64,
      batch_size: 32,
      batching: 'random',
      lr: 1e-3,
      weight_decay: 0.01,
      grad_clip: 1,
    },
  },
};
type ModelName = keyof typeof MODELS;

/** bench --gpu's larger model: nanoGPT's Shakespeare configuration (with a batch a software GPU survives). */
const GPU_MODELS = {
  ...MODELS,
  'gpt-shakespeare': {
    family: 'gpt' as const,
    settings: {
      n_layer: 6,
      n_head: 6,
      n_embd: 384,
      block_size: 256,
      seq_len: 256,
      batch_size: 8,
      batching: 'random',
      lr: 1e-3,
      dropout: 0,
      schedule: 'constant',
    },
  },
  /** A smoke model (1 layer, n_embd 32): checks the GPU path in seconds, even on a software GPU. */
  'gpt-micro': {
    family: 'gpt' as const,
    settings: { n_layer: 1, n_head: 2, n_embd: 32, block_size: 32, seq_len: 32, batch_size: 4, batching: 'random', lr: 1e-3, schedule: 'constant' },
  },
};
type GpuModelName = keyof typeof GPU_MODELS;

async function gpuCommand(values: Record<string, unknown>): Promise<number> {
  const steps = parseInteger('gpu-steps', values['gpu-steps'] as string | undefined, 3, 1);
  const batch = values['gpu-batch'] === undefined ? null : parseInteger('gpu-batch', values['gpu-batch'] as string, 1, 1);
  const names = ((values.models as string | undefined) ?? 'gpt-tiny,lstm-small,gpt-shakespeare').split(',') as GpuModelName[];
  for (const n of names) if (!(n in GPU_MODELS)) throw new UsageError(`bench --gpu: unknown model "${n}": choose from ${Object.keys(GPU_MODELS).join(', ')}`);
  const browserArgs = values['browser-args'] === undefined ? DEFAULT_BROWSER_ARGS : String(values['browser-args']).split(/\s+/).filter(Boolean);
  const threads = enableGemmThreads();
  console.log(`GPU vs CPU: ${steps} timed steps per model; CPU ${new CpuBackend().name} with ${threads} thread${threads === 1 ? '' : 's'}`);
  const result = await gpuBench({
    models: names.map((name) => ({
      name,
      family: GPU_MODELS[name].family,
      settings: batch === null ? GPU_MODELS[name].settings : { ...GPU_MODELS[name].settings, batch_size: batch },
      steps,
    })),
    text: readFileSync(BUNDLED_CORPUS, 'utf8'),
    bundledCorpus: BUNDLED_CORPUS,
    chromium: (values.chromium as string | undefined) ?? DEFAULT_CHROMIUM,
    browserArgs,
    log: (line) => console.log(line),
  });
  console.log(`\n${'model'.padEnd(18)}${'parameters'.padStart(12)}${'CPU tok/s'.padStart(12)}${'GPU tok/s'.padStart(12)}${'GPU/CPU'.padStart(10)}`);
  for (const r of result.models) {
    console.log(
      `${r.name.padEnd(18)}${fmt(r.params).padStart(12)}${fmt(r.cpu_tokens_per_s).padStart(12)}${fmt(r.gpu_tokens_per_s).padStart(12)}${(r.gpu_vs_cpu === null ? '-' : `${r.gpu_vs_cpu.toFixed(2)}×`).padStart(10)}`,
    );
  }
  if (result.adapter && /swiftshader|llvmpipe|software/i.test(result.adapter)) {
    console.log("\nthe GPU is a software renderer (WebGL on the CPU): these numbers test the path, not a GPU's speed");
  }
  if (values.json) console.log(JSON.stringify({ gpu: result }));
  return result.models.every((r) => r.gpu_tokens_per_s !== null) ? 0 : 1;
}

/** Busy and total CPU time of the whole machine (jiffies), from /proc/stat; null off Linux. */
function machineTicks(): { busy: number; total: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + (cpu[4] ?? 0);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU time (jiffies) of this process's finished children (PyTorch, TF.js), from /proc/self/stat. */
function childrenTicks(): number {
  if (!existsSync('/proc/self/stat')) return 0;
  // fields after the parenthesised command name start at field 3; cutime and cstime are 16 and 17
  const fields = readFileSync('/proc/self/stat', 'utf8').split(')').at(-1)!.trim().split(/\s+/);
  return Number(fields[13]) + Number(fields[14]);
}

function nanolabTokensPerSec(name: ModelName, text: string, steps: number): number {
  const m = MODELS[name];
  const corpus = splitCorpus(text);
  return calibrate(resolveTrainConfig(m.family, corpus.tokenizer.vocabSize, m.settings, 1337), corpus, steps, new CpuBackend(), 3);
}

interface PeerResult {
  tokensPerSec: number | null;
  note: string | null;
}

/** The last line of a child's stderr that says what went wrong (bundled code can print whole files). */
function childError(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l.length < 400 && !l.startsWith('at '));
  return (lines.findLast((l) => /Error|error:/.test(l)) ?? lines.at(-1) ?? 'no message').slice(0, 300);
}

function pytorchTokensPerSec(name: ModelName, steps: number): PeerResult {
  if (!existsSync(PYTHON)) return { tokensPerSec: null, note: `${PYTHON} is missing: install python3-torch to compare with PyTorch` };
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, name, String(steps)], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
  });
  if (r.status !== 0) {
    const why = /No module named 'torch'/.test(r.stderr)
      ? 'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread)'
      : childError(r.stderr);
    return { tokensPerSec: null, note: `PyTorch did not run: ${why}` };
  }
  return { tokensPerSec: (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tokens_per_s: number }).tokens_per_s, note: null };
}

/** Why TensorFlow.js cannot run here (its packages are devDependencies), or null when it can. */
function tfjsMissing(): string | null {
  const require = createRequire(import.meta.url);
  for (const pkg of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm']) {
    try {
      require.resolve(pkg);
    } catch {
      return `TensorFlow.js is not installed (${pkg} is missing: npm install --include=dev)`;
    }
  }
  return null;
}

/** TF.js trains in a child process, so its heap, wasm memory and threads stay out of NanoLab's numbers. */
function tfjsTokensPerSec(name: ModelName, steps: number, backend: TfjsBackend): PeerResult {
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), TFJS_SCRIPT, name, String(steps), backend], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) return { tokensPerSec: null, note: `TensorFlow.js (${backend}) did not run: ${childError(r.stderr)}` };
  return { tokensPerSec: (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tokens_per_s: number }).tokens_per_s, note: null };
}

/** GFLOP/s of the backend's matrix product at one shape, best of a few trials. */
function matmulGflops(backend: CpuBackend, M: number, K: number, N: number, transA: boolean, transB: boolean): number {
  const a = backend.allocPersistent([M * K]),
    b = backend.allocPersistent([K * N]),
    c = backend.allocPersistent([M * N]);
  backend.write(
    a,
    Array.from({ length: M * K }, (_, i) => Math.sin(i)),
  );
  backend.write(
    b,
    Array.from({ length: K * N }, (_, i) => Math.cos(i)),
  );
  const mm = backend.matmulKernel;
  let best = Infinity;
  for (let trial = 0; trial < 5; trial++) {
    const reps = 3;
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) mm(M, N, K, a.data, 0, transA, b.data, 0, transB, c.data, 0, false);
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  for (const t of [a, b, c]) backend.dispose(t);
  return (2 * M * N * K) / best / 1e9;
}

const SHAPES: { name: string; M: number; K: number; N: number; transA: boolean; transB: boolean }[] = [
  { name: 'gpt qkv (x·Wᵀ)', M: 768, K: 128, N: 384, transA: false, transB: true },
  { name: 'gpt mlp up (x·Wᵀ)', M: 768, K: 128, N: 512, transA: false, transB: true },
  { name: 'gpt mlp down (x·Wᵀ)', M: 768, K: 512, N: 128, transA: false, transB: true },
  { name: 'gpt mlp down dx (dy·W)', M: 768, K: 128, N: 512, transA: false, transB: false },
  { name: 'gpt mlp up dW (dyᵀ·x)', M: 512, K: 768, N: 128, transA: true, transB: false },
  { name: 'lstm step (h·W_hhᵀ)', M: 32, K: 256, N: 1024, transA: false, transB: true },
  { name: 'lstm input (x·W_ihᵀ, all steps)', M: 2048, K: 256, N: 1024, transA: false, transB: true },
];

/**
 * Seconds per call, best of several trials of a few calls each (after one warm-up call), about
 * budgetMs in all; quick: one call, no warm-up.
 */
function secondsPerCall(call: () => void, quick: boolean, budgetMs = 400): number {
  let t0 = performance.now();
  call();
  if (quick) return (performance.now() - t0) / 1000;
  const reps = Math.max(1, Math.floor(budgetMs / 5 / Math.max(performance.now() - t0, 1e-3)));
  let best = Infinity;
  const start = performance.now();
  for (let trial = 0; trial < 3 || (trial < 20 && performance.now() - start < budgetMs); trial++) {
    t0 = performance.now();
    for (let r = 0; r < reps; r++) call();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

/** One kernel's work at one shape: forward and backward calls, and what each moves or computes. */
interface KernelCase {
  kernel: string;
  shape: string;
  unit: 'GFLOP/s' | 'GB/s';
  /** GFLOP or GB per call of each pass */
  work: { forward: number; backward: number };
  /** allocates the tensors on a backend and returns the two calls, and a release for the tensors */
  setup: (b: CpuBackend) => { forward: () => void; backward: () => void; tensors: Tensor[] };
}

function filled(b: CpuBackend, shape: number[], scale: number, phase: number): Tensor {
  const n = shape.reduce((x, y) => x * y, 1);
  return b.fromArray(
    shape,
    Array.from({ length: n }, (_, i) => scale * Math.sin(0.37 * i + phase)),
    true,
  );
}

// gpt-tiny's attention: B 12, T 64, C 128, 4 heads of 32; lstm-small's recurrence: T 64, B 32, H 256
const ATT = { B: 12, T: 64, C: 128, nh: 4 };
const LN = { rows: 768, C: 128 };
const LSTM = { T: 64, B: 32, H: 256 };
// causal attention does T(T+1)/2 query-key pairs per head; each of QKᵀ and P·V costs 2·hs flops a
// pair, and the backward pass has twice the products (dP, dV, dQ, dK)
const attPairs = (ATT.B * ATT.nh * (ATT.T * (ATT.T + 1))) / 2;
const attForwardGflop = (2 * 2 * attPairs * (ATT.C / ATT.nh)) / 1e9;
// the LSTM's recurrent product h·W_hhᵀ per step (B×H times H×4H), twice over in the backward pass
const lstmForwardGflop = (LSTM.T * 2 * LSTM.B * LSTM.H * 4 * LSTM.H) / 1e9;

const KERNELS: KernelCase[] = [
  {
    kernel: 'attention',
    shape: `B${ATT.B} T${ATT.T} C${ATT.C} nh${ATT.nh}`,
    unit: 'GFLOP/s',
    work: { forward: attForwardGflop, backward: 2 * attForwardGflop },
    setup(b) {
      const { B, T, C, nh } = ATT;
      const qkv = filled(b, [B, T, 3 * C], 0.5, 0),
        y = b.allocPersistent([B, T, C]),
        probs = b.allocPersistent([B, nh, T, T]);
      const dy = filled(b, [B, T, C], 0.1, 1),
        dqkv = b.allocPersistent([B, T, 3 * C]);
      return {
        forward: () => b.attentionForward(qkv, nh, y, probs, null),
        backward: () => b.attentionBackward(dy, qkv, probs, null, nh, dqkv),
        tensors: [qkv, y, probs, dy, dqkv],
      };
    },
  },
  {
    // memory-bound: forward reads x and writes y; backward reads dy and x and accumulates into dx
    kernel: 'layer norm',
    shape: `rows ${LN.rows} C ${LN.C}`,
    unit: 'GB/s',
    work: { forward: (2 * LN.rows * LN.C * 4) / 1e9, backward: (4 * LN.rows * LN.C * 4) / 1e9 },
    setup(b) {
      const { rows, C } = LN;
      const x = filled(b, [rows, C], 1, 0),
        gain = filled(b, [C], 0.2, 2),
        bias = filled(b, [C], 0.1, 3);
      const y = b.allocPersistent([rows, C]),
        mean = b.allocPersistent([rows]),
        rstd = b.allocPersistent([rows]);
      const dy = filled(b, [rows, C], 0.1, 1),
        dx = b.allocPersistent([rows, C]),
        dgain = b.allocPersistent([C]),
        dbias = b.allocPersistent([C]);
      return {
        forward: () => b.layerNormForward(x, gain, bias, 1e-5, y, mean, rstd),
        backward: () => b.layerNormBackward(dy, x, gain, mean, rstd, dx, dgain, dbias),
        tensors: [x, gain, bias, y, mean, rstd, dy, dx, dgain, dbias],
      };
    },
  },
  {
    kernel: 'lstm',
    shape: `T${LSTM.T} B${LSTM.B} H${LSTM.H}`,
    unit: 'GFLOP/s',
    work: { forward: lstmForwardGflop, backward: 2 * lstmForwardGflop },
    setup(b) {
      const { T, B, H } = LSTM;
      const gi = filled(b, [T, B, 4 * H], 1, 0),
        whh = filled(b, [4 * H, H], 1 / Math.sqrt(H), 1),
        bhh = filled(b, [4 * H], 0.1, 2);
      const h0 = filled(b, [B, H], 0.5, 3),
        c0 = filled(b, [B, H], 0.5, 4);
      const hs = b.allocPersistent([T, B, H]),
        cs = b.allocPersistent([T, B, H]),
        acts = b.allocPersistent([T, B, 4 * H]);
      const dhs = filled(b, [T, B, H], 0.1, 5),
        dgi = b.allocPersistent([T, B, 4 * H]);
      const dwhh = b.allocPersistent([4 * H, H]),
        dbhh = b.allocPersistent([4 * H]);
      return {
        forward: () => b.lstmForward(gi, whh, bhh, h0, c0, hs, cs, acts),
        backward: () => b.lstmBackward(dhs, hs, cs, acts, h0, c0, whh, dgi, dwhh, dbhh),
        tensors: [gi, whh, bhh, h0, c0, hs, cs, acts, dhs, dgi, dwhh, dbhh],
      };
    },
  },
];

interface KernelRow {
  kernel: string;
  pass: 'forward' | 'backward';
  shape: string;
  unit: string;
  nanolab_us: number;
  nanolab_rate: number;
  js_reference_us: number;
  js_reference_rate: number;
}

/** Each kernel's forward and backward call on the fast backend and on the plain-JS reference. */
function kernelRows(fast: CpuBackend, reference: CpuBackend, quick: boolean): KernelRow[] {
  const rows: KernelRow[] = [];
  for (const k of KERNELS) {
    const timed = [fast, reference].map((b) => {
      const s = k.setup(b);
      const forward = secondsPerCall(s.forward, quick); // before the backward pass: it reads what the forward pass saved
      const result = { forward, backward: secondsPerCall(s.backward, quick) };
      for (const t of s.tensors) b.dispose(t);
      return result;
    });
    for (const pass of ['forward', 'backward'] as const) {
      const [nano, js] = [timed[0][pass], timed[1][pass]];
      rows.push({
        kernel: k.kernel,
        pass,
        shape: k.shape,
        unit: k.unit,
        nanolab_us: Math.round(nano * 1e6),
        nanolab_rate: Number((k.work[pass] / nano).toPrecision(3)),
        js_reference_us: Math.round(js * 1e6),
        js_reference_rate: Number((k.work[pass] / js).toPrecision(3)),
      });
    }
  }
  return rows;
}

const fmt = (n: number | null): string => (n === null ? '-' : Math.round(n).toLocaleString('en-US'));
const ratio = (a: number, b: number | null): number | null => (b === null || b === 0 ? null : Number((a / b).toFixed(2)));

/**
 * seq2seq-lesson: NanoLab and PyTorch alternately, `rounds` times each, on the same batches from
 * the same initial weights; the best round counts, and each round's ratio is kept (the spread).
 */
function seq2seqRounds(steps: number, rounds: number, withTorch: boolean) {
  const name = SEQ2SEQ_BENCH_NAME;
  const setup: Seq2SeqBenchSetup = seq2seqBenchSetup(steps);
  const dir = withTorch ? exportInitialWeights(setup) : null;
  let nanolabMs = 0;
  let nano = 0,
    nanoDecode = 0,
    torch: number | null = null,
    torchDecode: number | null = null,
    note: string | null = withTorch ? null : 'PyTorch skipped (--no-pytorch)',
    same: number | null = null;
  const perRound: number[] = [],
    decodePerRound: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const t0 = performance.now();
      const n = nanolabSeq2Seq(setup);
      nanolabMs += performance.now() - t0;
      nano = Math.max(nano, n.tokensPerSec!);
      nanoDecode = Math.max(nanoDecode, n.decodeTokensPerSec!);
      console.log(
        `  ${name} round ${round + 1}: NanoLab ${fmt(n.tokensPerSec)} target tok/s, decoding ${fmt(n.decodeTokensPerSec)} tok/s (loss ${n.loss!.toFixed(3)})`,
      );
      if (!dir || (round > 0 && torch === null)) continue;
      const p = pytorchSeq2Seq(setup, dir, childError);
      note = p.note;
      if (p.tokensPerSec === null || p.decodeTokensPerSec === null) {
        console.log(`  ${name} round ${round + 1}: PyTorch - (${p.note})`);
        continue;
      }
      torch = Math.max(torch ?? 0, p.tokensPerSec);
      torchDecode = Math.max(torchDecode ?? 0, p.decodeTokensPerSec);
      perRound.push(Number((n.tokensPerSec! / p.tokensPerSec).toFixed(2)));
      decodePerRound.push(Number((n.decodeTokensPerSec! / p.decodeTokensPerSec).toFixed(2)));
      same = sameRows(n.decoded, p.decoded);
      console.log(
        `  ${name} round ${round + 1}: PyTorch ${fmt(p.tokensPerSec)} target tok/s, decoding ${fmt(p.decodeTokensPerSec)} tok/s (loss ${p.loss!.toFixed(3)})`,
      );
    }
  } finally {
    if (dir) removeExport(dir);
  }
  return {
    nanolabMs,
    model: {
      name,
      nanolab_tokens_per_s: Math.round(nano),
      pytorch_tokens_per_s: torch === null ? null : Math.round(torch),
      tfjs_tokens_per_s: null,
      tfjs_backend: 'none',
      tfjs_by_backend: {} as Record<string, number | null>,
      ratio_vs_pytorch: ratio(nano, torch),
      ratio_vs_pytorch_per_round: perRound,
      ratio_vs_tfjs: null,
      note: [note, 'TensorFlow.js has no encoder–decoder here'].filter((n): n is string => n !== null).join('; '),
    },
    decoding: {
      sources: setup.decode.B,
      nanolab_tokens_per_s: Math.round(nanoDecode),
      pytorch_tokens_per_s: torchDecode === null ? null : Math.round(torchDecode),
      ratio_vs_pytorch: ratio(nanoDecode, torchDecode),
      ratio_vs_pytorch_per_round: decodePerRound,
      same_outputs: same,
    },
  };
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parse('bench', argv, {
    steps: { type: 'string' },
    rounds: { type: 'string' },
    models: { type: 'string' },
    'tfjs-steps': { type: 'string' },
    'tfjs-backends': { type: 'string' },
    'no-pytorch': { type: 'boolean' },
    'no-tfjs': { type: 'boolean' },
    'no-matmul': { type: 'boolean' },
    'no-kernels': { type: 'boolean' },
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    gpu: { type: 'boolean' },
    'gpu-steps': { type: 'string' },
    'gpu-batch': { type: 'string' },
    chromium: { type: 'string' },
    'browser-args': { type: 'string' },
  });
  if (values.gpu) return gpuCommand(values);
  const steps = parseInteger('steps', values.steps as string | undefined, 20, 1);
  const rounds = parseInteger('rounds', values.rounds as string | undefined, 2, 1);
  const tfjsSteps = parseInteger('tfjs-steps', values['tfjs-steps'] as string | undefined, 2, 1);
  const names = ((values.models as string | undefined) ?? `gpt-tiny,lstm-small,${SEQ2SEQ_BENCH_NAME}`).split(',') as (ModelName | typeof SEQ2SEQ_BENCH_NAME)[];
  for (const n of names)
    if (!(n in MODELS) && n !== SEQ2SEQ_BENCH_NAME)
      throw new UsageError(`bench: unknown model "${n}": choose from ${[...Object.keys(MODELS), SEQ2SEQ_BENCH_NAME].join(', ')}`);
  const tfjsBackends = ((values['tfjs-backends'] as string | undefined) ?? 'wasm').split(',') as TfjsBackend[];
  for (const b of tfjsBackends)
    if (!TFJS_BACKENDS.includes(b)) throw new UsageError(`bench: unknown TensorFlow.js backend "${b}": choose from ${TFJS_BACKENDS.join(', ')}`);
  const tfjsNote = values['no-tfjs'] ? 'TensorFlow.js skipped (--no-tfjs)' : tfjsMissing();
  const text = readFileSync(BUNDLED_CORPUS, 'utf8');
  const threads = enableGemmThreads();
  const backendName = `${new CpuBackend().name}, ${threads} thread${threads === 1 ? '' : 's'} for large products`;
  console.log(`NanoLab backend ${backendName}; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); ${steps} steps × ${rounds} rounds per model`);
  if (tfjsNote) console.log(tfjsNote);

  const self0 = process.cpuUsage();
  const children0 = childrenTicks();
  const m0 = machineTicks();
  let nanolabMs = 0;
  const models = [];
  let decoding: ReturnType<typeof seq2seqRounds>['decoding'] | null = null;
  for (const name of names) {
    if (name === SEQ2SEQ_BENCH_NAME) {
      const r = seq2seqRounds(steps, rounds, !values['no-pytorch']);
      nanolabMs += r.nanolabMs;
      models.push({ ...r.model, decoding: r.decoding });
      decoding = r.decoding;
      continue;
    }
    const perRound: number[] = [];
    let nano = 0,
      torch: number | null = null,
      torchNote: string | null = null;
    const tfjs = new Map<TfjsBackend, number | null>(tfjsBackends.map((b) => [b, null]));
    const tfjsNotes = new Map<TfjsBackend, string | null>(tfjsBackends.map((b) => [b, tfjsNote]));
    for (let round = 0; round < rounds; round++) {
      const t0 = performance.now();
      const n = nanolabTokensPerSec(name, text, steps);
      nano = Math.max(nano, n);
      nanolabMs += performance.now() - t0;
      console.log(`  ${name} round ${round + 1}: NanoLab ${fmt(n)} tok/s`);
      if (!values['no-pytorch'] && (round === 0 || torch !== null)) {
        const p = pytorchTokensPerSec(name, steps);
        torchNote = p.note;
        if (p.tokensPerSec !== null) torch = Math.max(torch ?? 0, p.tokensPerSec);
        if (p.tokensPerSec !== null) perRound.push(Number((n / p.tokensPerSec).toFixed(2)));
        console.log(`  ${name} round ${round + 1}: PyTorch ${p.tokensPerSec === null ? `- (${p.note})` : `${fmt(p.tokensPerSec)} tok/s`}`);
      }
      if (tfjsNote) continue;
      for (const b of tfjsBackends) {
        if (round > 0 && tfjs.get(b) === null) continue; // it failed in the first round; the note says why
        const t = tfjsTokensPerSec(name, tfjsSteps, b);
        tfjsNotes.set(b, t.note);
        if (t.tokensPerSec !== null) tfjs.set(b, Math.max(tfjs.get(b) ?? 0, t.tokensPerSec));
        console.log(
          `  ${name} round ${round + 1}: TF.js ${b} ${t.tokensPerSec === null ? `- (${t.note})` : `${fmt(t.tokensPerSec)} tok/s (${tfjsSteps} step${tfjsSteps === 1 ? '' : 's'})`}`,
        );
      }
    }
    const tfjsMain = tfjs.get(tfjsBackends[0]) ?? null;
    const notes = [torchNote, ...new Set(tfjsNotes.values())].filter((n): n is string => n !== null);
    models.push({
      name,
      nanolab_tokens_per_s: Math.round(nano),
      pytorch_tokens_per_s: torch === null ? null : Math.round(torch),
      tfjs_tokens_per_s: tfjsMain === null ? null : Math.round(tfjsMain),
      tfjs_backend: tfjsBackends[0],
      tfjs_by_backend: Object.fromEntries([...tfjs].map(([b, v]) => [b, v === null ? null : Math.round(v)])),
      ratio_vs_pytorch: ratio(nano, torch),
      ratio_vs_pytorch_per_round: perRound,
      ratio_vs_tfjs: ratio(nano, tfjsMain),
      note: notes.length ? notes.join('; ') : null,
    });
  }

  const backend = new CpuBackend();
  const reference = new CpuBackend('float32', 'js');
  if (!values['no-matmul'] || !values['no-kernels']) console.log('  microbenchmarks: matmul and kernels, NanoLab and the plain-JS reference…');
  const matmul = values['no-matmul']
    ? []
    : SHAPES.map((s) => ({
        shape: s.name,
        m: s.M,
        k: s.K,
        n: s.N,
        gflops: Number(matmulGflops(backend, s.M, s.K, s.N, s.transA, s.transB).toFixed(1)),
        js_reference_gflops: Number(matmulGflops(reference, s.M, s.K, s.N, s.transA, s.transB).toFixed(1)),
      }));
  const kernels = values['no-kernels'] ? [] : kernelRows(backend, reference, Boolean(values.quick));
  const m1 = machineTicks();
  const self = process.cpuUsage(self0);
  const children = childrenTicks() - children0;

  // other processes' CPU while this bench ran: the machine's busy time minus ours and our children's
  let machineLoad: { cores: number; busy_cores_during_bench: number | null; other_processes_cores: number | null; note: string } = {
    cores: cpus().length,
    busy_cores_during_bench: null,
    other_processes_cores: null,
    note: 'no /proc/stat here',
  };
  if (m0 && m1) {
    const hz = 100; // USER_HZ: /proc/stat counts in hundredths of a second on Linux
    const wallS = (m1.total - m0.total) / hz / cpus().length;
    const busyCores = (m1.busy - m0.busy) / hz / wallS;
    const selfCores = (self.user + self.system) / 1e6 / wallS;
    const childCores = children / hz / wallS;
    const otherCores = Math.max(0, busyCores - selfCores - childCores);
    machineLoad = {
      cores: cpus().length,
      busy_cores_during_bench: Number(busyCores.toFixed(2)),
      other_processes_cores: Number(otherCores.toFixed(2)),
      note:
        `over ${wallS.toFixed(0)} s NanoLab used ${selfCores.toFixed(2)} cores on average, PyTorch and TF.js ${childCores.toFixed(2)}, other processes ${otherCores.toFixed(2)}` +
        (otherCores > 0.2 ? ': the machine was shared, so the numbers are noisy' : ': the machine was otherwise quiet'),
    };
  }

  const tfjsLabel = `TF.js ${tfjsBackends[0]}`;
  const extra = tfjsBackends.slice(1);
  console.log(
    `\nmodel           NanoLab tok/s   PyTorch tok/s   ${tfjsLabel.padStart(13)}${extra.map((b) => `   ${`TF.js ${b}`.padStart(13)}`).join('')}   NanoLab/PyTorch   per round   NanoLab/${tfjsLabel}`,
  );
  for (const m of models) {
    const spread = m.ratio_vs_pytorch_per_round.length ? m.ratio_vs_pytorch_per_round.map((r) => r.toFixed(2)).join(' ') : '-';
    console.log(
      `${m.name.padEnd(15)} ${fmt(m.nanolab_tokens_per_s).padStart(13)}   ${fmt(m.pytorch_tokens_per_s).padStart(13)}   ${fmt(m.tfjs_tokens_per_s).padStart(13)}` +
        `${extra.map((b) => `   ${fmt(m.tfjs_by_backend[b] ?? null).padStart(13)}`).join('')}   ${(m.ratio_vs_pytorch === null ? '-' : `${m.ratio_vs_pytorch}×`).padStart(15)}   ${spread.padStart(9)}   ${m.ratio_vs_tfjs === null ? '-' : `${m.ratio_vs_tfjs}×`}`,
    );
  }
  for (const m of models) if (m.note) console.log(`  ${m.name}: ${m.note}`);
  if (decoding) {
    const d = decoding;
    console.log(
      `\n${SEQ2SEQ_BENCH_NAME} greedy decoding of ${d.sources} sources (generated tokens/s): NanoLab ${fmt(d.nanolab_tokens_per_s)}, PyTorch ${fmt(d.pytorch_tokens_per_s)}, ` +
        `NanoLab/PyTorch ${d.ratio_vs_pytorch === null ? '-' : `${d.ratio_vs_pytorch}× (per round ${d.ratio_vs_pytorch_per_round.map((r) => r.toFixed(2)).join(' ')})`}` +
        (d.same_outputs === null ? '' : `; the same greedy outputs for ${d.same_outputs} of ${d.sources} sources`),
    );
  }
  if (matmul.length) {
    console.log(`\n${'matmul (M×K×N)'.padEnd(46)}NanoLab GFLOP/s   plain JS GFLOP/s`);
    for (const r of matmul)
      console.log(`${`${r.shape} ${r.m}×${r.k}×${r.n}`.padEnd(46)}${String(r.gflops).padStart(15)}   ${String(r.js_reference_gflops).padStart(16)}`);
  }
  if (kernels.length) {
    console.log(`\n${'kernel (shape)'.padEnd(46)}NanoLab µs/call      rate   plain JS µs/call      rate`);
    for (const r of kernels) {
      console.log(
        `${`${r.kernel} ${r.pass} (${r.shape})`.padEnd(46)}${fmt(r.nanolab_us).padStart(15)} ${String(r.nanolab_rate).padStart(9)}   ${fmt(r.js_reference_us).padStart(16)} ${String(r.js_reference_rate).padStart(9)} ${r.unit}`,
      );
    }
    console.log(
      '  attention counts the causal half of QKᵀ and P·V; the LSTM counts its recurrent products h·W_hhᵀ; layer norm counts the bytes of x, y, dy and dx',
    );
  }
  console.log(
    `\nmachine: ${machineLoad.busy_cores_during_bench ?? '?'} of ${machineLoad.cores} cores busy during the bench; ${machineLoad.note}. NanoLab training time: ${(nanolabMs / 1000).toFixed(1)} s.`,
  );
  if (values.json) console.log(JSON.stringify({ machine_load: machineLoad, backend: backendName, models, matmul, kernels }));
  return 0;
}
