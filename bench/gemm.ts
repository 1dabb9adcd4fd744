// GFLOP/s of the CPU backend's matrix multiplies at the shapes the models run, one thread:
// the plain-JS kernel (backend/cpu/gemm.ts) against the WebAssembly SIMD kernels, plain and
// relaxed (fused multiply-add).
//
//   node --experimental-wasm-relaxed-simd --import tsx bench/gemm.ts [--quick]
//
// Each cell is the best of several timed trials, since a busy machine only ever slows a trial
// down. Shapes are M×K×N: C[M,N] (+)= op(A)[M,K]·op(B)[K,N].
import { matmul, Scratch } from '../src/engine/backend/cpu/gemm';
import { createWasmGemm, relaxedSimdSupported, type WasmGemm } from '../src/engine/backend/cpu/wasm/gemm-wasm';

interface Shape {
  name: string;
  M: number;
  K: number;
  N: number;
  transA: boolean;
  transB: boolean;
  /** also time gemmPackedB with B packed once beforehand */
  prepacked?: boolean;
}

// nanoGPT CPU preset: B·T = 12·64 = 768 rows, n_embd 128, 4·n_embd MLP, vocabulary 65. A linear
// layer is y = x·Wᵀ with W [out, in]; its input gradient dy·W is A·B, its weight gradient dyᵀ·x is
// Aᵀ·B. LSTM: 2 layers of 256 with batch 32, 4 gates: one step, and the input projection batched
// over T = 64 steps.
const shapes: Shape[] = [
  { name: 'gpt qkv', M: 768, K: 128, N: 384, transA: false, transB: true },
  { name: 'gpt attn proj', M: 768, K: 128, N: 128, transA: false, transB: true },
  { name: 'gpt mlp up', M: 768, K: 128, N: 512, transA: false, transB: true },
  { name: 'gpt mlp down', M: 768, K: 512, N: 128, transA: false, transB: true },
  { name: 'gpt head', M: 768, K: 128, N: 65, transA: false, transB: true },
  { name: 'gpt qkv dx', M: 768, K: 384, N: 128, transA: false, transB: false },
  { name: 'gpt mlp up dx', M: 768, K: 512, N: 128, transA: false, transB: false },
  { name: 'gpt mlp down dx', M: 768, K: 128, N: 512, transA: false, transB: false },
  { name: 'gpt qkv dW', M: 384, K: 768, N: 128, transA: true, transB: false },
  { name: 'gpt mlp up dW', M: 512, K: 768, N: 128, transA: true, transB: false },
  { name: 'gpt mlp down dW', M: 128, K: 768, N: 512, transA: true, transB: false },
  { name: 'gpt head dW', M: 65, K: 768, N: 128, transA: true, transB: false },
  { name: 'lstm step', M: 32, K: 256, N: 1024, transA: false, transB: true, prepacked: true },
  { name: 'lstm batched', M: 2048, K: 256, N: 1024, transA: false, transB: true },
  { name: 'lstm dW', M: 1024, K: 2048, N: 256, transA: true, transB: false },
];

const quick = process.argv.includes('--quick');
const TRIALS = quick ? 3 : 7;
const TRIAL_SECONDS = quick ? 0.05 : 0.15;

/** Best GFLOP/s of `fn` (one multiply of 2·M·N·K flops) over the trials. */
function measure(flops: number, fn: () => void): number {
  fn(); // compile and warm the caches
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    if (performance.now() - t0 > (TRIAL_SECONDS * 1000) / 4) break;
    reps *= 2;
  }
  reps = Math.max(1, reps * 4);
  let best = 0;
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    const seconds = (performance.now() - t0) / 1000;
    best = Math.max(best, (flops * reps) / seconds / 1e9);
  }
  return best;
}

const largest = Math.max(...shapes.map((s) => s.M * s.K + s.K * s.N + s.M * s.N));
// operands, then up to 2 MiB of scratch, then a pre-packed B
const pages = Math.ceil((largest * 4 + 2 * 1024 * 1024 + largest * 4) / 65536);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
const kernels: [string, WasmGemm | null][] = [
  ['simd', createWasmGemm(memory, 'simd')],
  ['relaxed', relaxedSimdSupported() ? createWasmGemm(memory, 'relaxed') : null],
];
if (!kernels[1][1]) console.log('relaxed SIMD unsupported here (Node 20: --experimental-wasm-relaxed-simd)\n');

const f32 = new Float32Array(memory.buffer);
for (let i = 0; i < f32.length; i++) f32[i] = Math.random() - 0.5;
const jsScratch = new Scratch((n) => new Float32Array(n));

const header = ['shape', 'M×K×N', 'form', 'JS', 'wasm simd', 'wasm relaxed', 'relaxed/JS'];
const rows: string[][] = [];
for (const s of shapes) {
  const { M, K, N, transA, transB } = s;
  const flops = 2 * M * N * K;
  // A, B, C one after another in the shared memory; the JS kernel gets copies in plain arrays.
  const aPtr = 0,
    bPtr = aPtr + M * K * 4,
    cPtr = bPtr + K * N * 4;
  const scratchPtr = cPtr + M * N * 4;
  const lda = transA ? M : K,
    ldb = transB ? K : N;
  const A = f32.slice(aPtr / 4, aPtr / 4 + M * K),
    B = f32.slice(bPtr / 4, bPtr / 4 + K * N);
  const C = new Float32Array(M * N);
  const js = measure(flops, () => matmul(M, N, K, A, 0, transA, B, 0, transB, C, 0, false, jsScratch));
  const wasm = kernels.map(([, g]) => (g ? measure(flops, () => g.gemm(transA, transB, M, N, K, aPtr, lda, bPtr, ldb, cPtr, N, false, scratchPtr)) : NaN));
  const form = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
  const row = (name: string, formName: string, cells: number[]) => {
    rows.push([name, `${M}×${K}×${N}`, formName, ...cells.map((x) => x.toFixed(1)), `${(cells[2] / cells[0]).toFixed(1)}×`]);
    if (quick) console.log(rows[rows.length - 1].join('  '));
  };
  row(s.name, form, [js, ...wasm]);
  if (s.prepacked) {
    // B packed once outside the timed loop, as for a weight reused at every time step
    const packedPtr = scratchPtr + 2 * 1024 * 1024;
    const prepacked = kernels.map(([, g]) => {
      if (!g) return NaN;
      g.packB(transB, K, N, bPtr, ldb, packedPtr);
      return measure(flops, () => g.gemmPackedB(transA, M, N, K, aPtr, lda, packedPtr, N, 0, cPtr, N, false, scratchPtr));
    });
    row(`${s.name}, B pre-packed`, form, [js, ...prepacked]);
  }
}

const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`GFLOP/s, one thread, best of ${TRIALS} trials\n`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
