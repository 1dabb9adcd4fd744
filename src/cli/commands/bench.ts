import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../main/engine/backend/cpu';
import { splitCorpus } from '../../main/engine/data/corpus';
import { resolveTrainConfig, Trainer } from '../../main/engine/train';
import { enableGemmThreads } from '../../main/jobs/gemm-threads';
import { parse, parseInteger, UsageError } from '../args';
import { BUNDLED_CORPUS } from './train';

// The CPU benchmark: NanoLab and PyTorch train the same two models on the same machine, one after
// the other and alternating (so a change in machine load hits both), and the ratio is printed.
// Plus matrix-multiply GFLOP/s at the models' shapes. Speed is measured here, never asserted.

export const usage = `nanolab bench [--steps N] [--rounds R] [--models gpt-tiny,lstm-small] [--no-pytorch] [--no-matmul] [--json]
  Trains gpt-tiny (nanoGPT's CPU configuration: 4 layers, 4 heads, n_embd 128, context 64, batch 12)
  and lstm-small (2×256 LSTM, embedding 64, sequences of 64, batch 32) for N steps (default 20)
  with NanoLab, then with PyTorch (/usr/bin/python3 with python3-torch, OPENBLAS_NUM_THREADS=2
  OMP_WAIT_POLICY=PASSIVE), alternating for R rounds (default 2; the best round counts), and
  prints tokens/s, the ratio NanoLab/PyTorch, matmul GFLOP/s and the CPU other processes used.`;

const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = fileURLToPath(new URL('../../../bench/torch_train.py', import.meta.url));

const MODELS = {
  'gpt-tiny': { family: 'gpt' as const, settings: { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, seq_len: 64, batch_size: 12, batching: 'random', lr: 1e-3, weight_decay: 0.01, decay: 'all', schedule: 'constant' } },
  'lstm-small': { family: 'lstm' as const, settings: { hidden_size: 256, num_layers: 2, embedding_dim: 64, seq_len: 64, batch_size: 32, batching: 'random', lr: 1e-3, weight_decay: 0.01, grad_clip: 1 } },
};
type ModelName = keyof typeof MODELS;

/** Busy and total CPU time of the whole machine (jiffies), from /proc/stat; null off Linux. */
function machineTicks(): { busy: number; total: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + (cpu[4] ?? 0);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function nanolabTokensPerSec(name: ModelName, text: string, steps: number): number {
  const m = MODELS[name];
  const corpus = splitCorpus(text);
  const trainer = new Trainer(resolveTrainConfig(m.family, corpus.tokenizer.vocabSize, { ...m.settings, steps: steps + 3 }, 1337), corpus, new CpuBackend());
  try {
    for (let i = 0; i < 3; i++) trainer.trainStep(); // warm-up: buffers, JIT, packed panels
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) trainer.trainStep();
    const seconds = (performance.now() - t0) / 1000;
    return (steps * trainer.config.batch_size * trainer.config.seq_len) / seconds;
  } finally {
    trainer.dispose();
  }
}

function pytorchTokensPerSec(name: ModelName, steps: number): { tokensPerSec: number | null; note: string | null } {
  if (!existsSync(PYTHON)) return { tokensPerSec: null, note: `${PYTHON} is missing: install python3-torch to compare with PyTorch` };
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, name, String(steps)], {
    encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
  });
  if (r.status !== 0) {
    const why = /No module named 'torch'/.test(r.stderr) ? 'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread)' : r.stderr.trim().split('\n').at(-1);
    return { tokensPerSec: null, note: `PyTorch did not run: ${why}` };
  }
  return { tokensPerSec: (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { tokens_per_s: number }).tokens_per_s, note: null };
}

/** GFLOP/s of the backend's matrix product at one shape, best of a few trials. */
function matmulGflops(backend: CpuBackend, M: number, K: number, N: number, transA: boolean, transB: boolean): number {
  const a = backend.allocPersistent([M * K]), b = backend.allocPersistent([K * N]), c = backend.allocPersistent([M * N]);
  backend.write(a, Array.from({ length: M * K }, (_, i) => Math.sin(i)));
  backend.write(b, Array.from({ length: K * N }, (_, i) => Math.cos(i)));
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

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parse('bench', argv, {
    steps: { type: 'string' }, rounds: { type: 'string' }, models: { type: 'string' }, 'no-pytorch': { type: 'boolean' }, 'no-matmul': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const steps = parseInteger('steps', values.steps as string | undefined, 20, 1);
  const rounds = parseInteger('rounds', values.rounds as string | undefined, 2, 1);
  const names = ((values.models as string | undefined) ?? 'gpt-tiny,lstm-small').split(',') as ModelName[];
  for (const n of names) if (!(n in MODELS)) throw new UsageError(`bench: unknown model "${n}": choose from ${Object.keys(MODELS).join(', ')}`);
  const text = readFileSync(BUNDLED_CORPUS, 'utf8');
  const threads = enableGemmThreads();
  const backendName = `${new CpuBackend().name}, ${threads} thread${threads === 1 ? '' : 's'} for large products`;
  console.log(`NanoLab backend ${backendName}; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}); ${steps} steps × ${rounds} rounds per model`);

  const self0 = process.cpuUsage();
  const m0 = machineTicks();
  let nanolabMs = 0;
  const models = [];
  for (const name of names) {
    let nano = 0, torch: number | null = null, note: string | null = null;
    for (let round = 0; round < rounds; round++) {
      const t0 = performance.now();
      nano = Math.max(nano, nanolabTokensPerSec(name, text, steps));
      nanolabMs += performance.now() - t0;
      console.log(`  ${name} round ${round + 1}: NanoLab ${Math.round(nano).toLocaleString('en-US')} tok/s (best so far)`);
      if (values['no-pytorch']) continue;
      const p = pytorchTokensPerSec(name, steps);
      note = p.note;
      if (p.tokensPerSec !== null) torch = Math.max(torch ?? 0, p.tokensPerSec);
      console.log(`  ${name} round ${round + 1}: PyTorch ${p.tokensPerSec === null ? `- (${p.note})` : `${Math.round(p.tokensPerSec).toLocaleString('en-US')} tok/s`}`);
      if (p.tokensPerSec === null) break;
    }
    models.push({ name, nanolab_tokens_per_s: Math.round(nano), pytorch_tokens_per_s: torch === null ? null : Math.round(torch), tfjs_tokens_per_s: null, ratio_vs_pytorch: torch === null ? null : Number((nano / torch).toFixed(3)), note });
  }
  const m1 = machineTicks();
  const self = process.cpuUsage(self0);

  const backend = new CpuBackend();
  const reference = new CpuBackend('float32', 'js');
  const matmul = values['no-matmul'] ? [] : SHAPES.map((s) => ({
    shape: s.name, m: s.M, k: s.K, n: s.N,
    gflops: Number(matmulGflops(backend, s.M, s.K, s.N, s.transA, s.transB).toFixed(1)),
    js_reference_gflops: Number(matmulGflops(reference, s.M, s.K, s.N, s.transA, s.transB).toFixed(1)),
  }));

  // other processes' CPU while this bench ran: the machine's busy time minus ours and PyTorch's
  let machineLoad: { cores: number; busy_cores_during_bench: number | null; note: string } = { cores: cpus().length, busy_cores_during_bench: null, note: 'no /proc/stat here' };
  if (m0 && m1) {
    const hz = 100; // USER_HZ: /proc/stat counts in hundredths of a second on Linux
    const wallS = (m1.total - m0.total) / hz / cpus().length;
    const busyCores = (m1.busy - m0.busy) / hz / wallS;
    const selfCores = (self.user + self.system) / 1e6 / wallS;
    machineLoad = {
      cores: cpus().length, busy_cores_during_bench: Number(busyCores.toFixed(2)),
      note: `NanoLab's threads used ${selfCores.toFixed(2)} cores on average, PyTorch up to 2 while it ran; a busy-core figure well above that means other processes took CPU and the numbers are noisy`,
    };
  }

  console.log('\nmodel        NanoLab tok/s   PyTorch tok/s   NanoLab/PyTorch');
  for (const m of models) {
    console.log(`${m.name.padEnd(12)} ${String(m.nanolab_tokens_per_s).padStart(13)}   ${String(m.pytorch_tokens_per_s ?? '-').padStart(13)}   ${m.ratio_vs_pytorch === null ? '-' : `${m.ratio_vs_pytorch}×`}`);
  }
  console.log('\nmatmul (M×K×N)                         NanoLab GFLOP/s   plain JS GFLOP/s');
  for (const r of matmul) console.log(`${`${r.shape} ${r.m}×${r.k}×${r.n}`.padEnd(40)} ${String(r.gflops).padStart(14)}   ${String(r.js_reference_gflops).padStart(16)}`);
  console.log(`\nmachine: ${machineLoad.busy_cores_during_bench ?? '?'} of ${machineLoad.cores} cores busy during the bench. ${machineLoad.note}. TensorFlow.js is not run (tfjs_tokens_per_s is null). NanoLab time: ${(nanolabMs / 1000).toFixed(1)} s.`);
  if (values.json) console.log(JSON.stringify({ machine_load: machineLoad, backend: backendName, models, matmul }));
  return 0;
}
