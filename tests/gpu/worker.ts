// The browser side of the GPU tests: a dedicated Web Worker (as in the app) that owns a gpu.js
// instance on an OffscreenCanvas's WebGL2 context and answers the test's requests.
import { GPU } from 'gpu.js';
import { KERNEL_NAMES, type KernelName } from '../../src/engine/backend/backend';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { checkKernels, GpuBackend, GpuContextLostError, maxRelError } from '../../src/engine/backend/gpu';
import { checkFixture, compare, forwardBackward, modelFromFixture, seq2seqFromFixture, TOLERANCE, type TorchFixture } from '../../src/engine/parity';
import { beamSearch, greedyDecodeBatched, greedyDecodeCached, stripPadding } from '../../src/engine/models/seq2seq-decode';
import { clipGradNorm } from '../../src/engine/optim/clip';
import { Optimizer, resolveOptimizerConfig } from '../../src/engine/optim/optimizer';
import type { Backend } from '../../src/engine/backend/backend';

function makeGpu(): GPU {
  const canvas = new OffscreenCanvas(1, 1);
  const context = canvas.getContext('webgl2', { premultipliedAlpha: false, preserveDrawingBuffer: false, antialias: false, depth: false });
  if (!context) throw new Error('this worker has no WebGL2 (OffscreenCanvas.getContext("webgl2") returned null)');
  return new GPU({ mode: 'webgl2', canvas, context });
}

let shared: GpuBackend | null = null;
function backend(): GpuBackend {
  return (shared ??= GpuBackend.create(makeGpu()));
}

async function fixture(name: string): Promise<TorchFixture> {
  const response = await fetch(`/fixtures/${name}.json`);
  if (!response.ok) throw new Error(`fixture ${name}: HTTP ${response.status}`);
  return (await response.json()) as TorchFixture;
}

interface Trained {
  /** All parameters, flattened, after each step. */
  params: Float32Array[];
  /** Their clipped gradients at each step. */
  grads: Float32Array[];
}

/** AdamW training steps from the fixture's weights, on `be`. */
function train(fx: TorchFixture, be: Backend, steps: number): Trained {
  const [B, T] = fx.input_ids.shape;
  const ids = Int32Array.from(fx.input_ids.data),
    targets = Int32Array.from(fx.target_ids.data);
  const model = modelFromFixture(fx, be);
  const opt = new Optimizer(resolveOptimizerConfig('adamw', { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1 }), model.params);
  const all = (read: (name: string) => Float32Array) => Float32Array.from(model.params.names().flatMap((n) => Array.from(read(n))));
  const out: Trained = { params: [], grads: [] };
  for (let s = 0; s < steps; s++) {
    forwardBackward(model, ids, targets, B, T, () => null);
    clipGradNorm(model.params, 1);
    out.grads.push(all((n) => be.read(model.params.get(n).grad!) as Float32Array));
    opt.step(0.01);
    out.params.push(all((n) => be.read(model.params.get(n)) as Float32Array));
  }
  opt.dispose();
  model.dispose();
  return out;
}

const commands: Record<string, (args: any) => unknown> = {
  info() {
    const be = backend();
    // a host may also hand over a gpu.js instance without a context: gpu.js then makes its own
    const bare = GpuBackend.create(new GPU({ mode: 'webgl2' }));
    const sum = bare.scoped(() => bare.sumSquares(bare.fromArray([3], [1, 2, 3])));
    bare.destroy();
    return { adapter: be.adapter, kernels: KERNEL_NAMES.length, bareContextSumSquares: sum };
  },

  kernels({ sizes, names }: { sizes: number[]; names?: KernelName[] }) {
    const t0 = performance.now();
    const checks = checkKernels(backend(), sizes, names ?? KERNEL_NAMES);
    return { checks, ms: performance.now() - t0, compiled: backend().compiledKernels };
  },

  async fixture({ name }: { name: string }) {
    const fx = await fixture(name);
    const be = backend();
    const live = be.liveTensors();
    const t0 = performance.now();
    const checks = checkFixture(fx, be);
    const ms = performance.now() - t0;
    // a checked model is disposed with its buffers: nothing stays live on either backend
    const cpu = new CpuBackend('float32', 'js');
    checkFixture(fx, cpu);
    return { checks, ms, leaked: be.liveTensors() - live, leakedOnCpu: cpu.liveTensors() };
  },

  /** The KV-cached greedy decoder against the fixture, and beam search against the CPU backend's. */
  async seq2seqDecode({ name, beamWidth }: { name: string; beamWidth: number }) {
    const fx = await fixture(name);
    const be = backend();
    const live = be.liveTensors();
    const gpuModel = seq2seqFromFixture(fx, be);
    const cpuModel = seq2seqFromFixture(fx, new CpuBackend('float32', 'js'));
    const [B, S] = fx.src_ids!.shape;
    const rows = stripPadding(fx.src_ids!.data, B, S, gpuModel.config.pad_id);
    const greedy = rows.map((row, b) => {
      const out = greedyDecodeCached(gpuModel, row, { maxNew: fx.greedy!.max_new });
      const c = compare(
        `greedy[${b}]`,
        out.stepLogits.flatMap((l) => Array.from(l)),
        fx.greedy!.step_logits[b].data,
        TOLERANCE.output,
      );
      return { ids: out.ids, expected: fx.greedy!.outputs[b], maxRel: c.maxRel, pass: c.pass };
    });
    const batched = greedyDecodeBatched(gpuModel, fx.src_ids!.data, B, S, { maxNew: fx.greedy!.max_new }).map((out, b) => ({
      ids: out.ids,
      pass: compare(
        `batched[${b}]`,
        out.stepLogits.flatMap((l) => Array.from(l)),
        fx.greedy!.step_logits[b].data,
        TOLERANCE.output,
      ).pass,
    }));
    const beams = rows.map((row) => {
      const gpu = beamSearch(gpuModel, row, { beamWidth, maxNew: fx.greedy!.max_new, attention: true });
      const cpu = beamSearch(cpuModel, row, { beamWidth, maxNew: fx.greedy!.max_new, attention: true });
      const crossDiff = Math.max(
        ...gpu.map((h, i) => maxRelError({ c: h.tokens.flatMap((t) => t.cross!.flat(2)) }, { c: cpu[i].tokens.flatMap((t) => t.cross!.flat(2)) })),
      );
      return { gpu: gpu.map((h) => h.ids), cpu: cpu.map((h) => h.ids), scoreDiff: Math.max(...gpu.map((h, i) => Math.abs(h.score - cpu[i].score))), crossDiff };
    });
    gpuModel.dispose();
    cpuModel.dispose();
    return { greedy, batched, beams, leaked: be.liveTensors() - live };
  },

  async train({ name, steps }: { name: string; steps: number }) {
    const fx = await fixture(name);
    const gpu = train(fx, backend(), steps);
    const cpu = train(fx, new CpuBackend('float32', 'js'), steps);
    // Adam divides by √v, so a gradient that is rounding noise around an exact 0 (the key bias of
    // attention: softmax ignores a shift shared by a whole row) becomes a full ±lr step whose sign
    // is the noise's; two float32 implementations cannot agree there, so those entries are left out.
    const noise = new Set<number>();
    for (const g of cpu.grads) {
      const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      g.forEach((v, i) => Math.abs(v) <= 1e-6 * scale && noise.add(i));
    }
    const keep = (p: Float32Array) => p.filter((_, i) => !noise.has(i));
    return { errors: gpu.params.map((p, i) => maxRelError({ p: keep(p) }, { p: keep(cpu.params[i]) })), skipped: noise.size, total: cpu.params[0].length };
  },

  /** A large flat tensor round-trips (gpu.js packs it into a 2-D texture under MAX_TEXTURE_SIZE). */
  large({ n }: { n: number }) {
    const be = backend();
    return be.scoped(() => {
      const values = new Float32Array(n).map((_, i) => i);
      const t = be.fromArray([n], values);
      const y = be.alloc([n]);
      be.addForward(t, t, y);
      const back = be.read(y);
      let bad = 0;
      for (let i = 0; i < n; i++) if (back[i] !== 2 * i) bad++;
      return { n, bad, sumSquares: be.sumSquares(t), expected: ((n - 1) * n * (2 * n - 1)) / 6 };
    });
  },

  faults({ failKernel }: { failKernel: KernelName }) {
    const faulty = GpuBackend.create(makeGpu(), { failKernel });
    const check = faulty.selfCheck();
    faulty.destroy();

    const doomedGpu = makeGpu();
    const doomed = GpuBackend.create(doomedGpu);
    const a = doomed.fromArray([4], [1, 2, 3, 4]);
    const y = doomed.alloc([4]);
    doomed.addForward(a, a, y);
    const before = Array.from(doomed.read(y));
    // a GPU reset, as the app's test hook makes one (src/renderer/src/gpu/test-hooks.ts)
    (doomedGpu.context as WebGL2RenderingContext).getExtension('WEBGL_lose_context')!.loseContext();
    let thrown = '';
    try {
      doomed.addForward(a, a, y);
    } catch (e) {
      thrown = e instanceof GpuContextLostError ? `GpuContextLostError: ${e.message}` : `other: ${(e as Error).message}`;
    }
    const lost = doomed.isContextLost();
    doomed.destroy();
    return { selfCheckOk: check.ok, failing: check.kernels.filter((k) => !k.ok).map((k) => k.name), before, thrown, lost };
  },

  selfCheck() {
    const t0 = performance.now();
    const result = backend().selfCheck();
    return { ...result, ms: performance.now() - t0 };
  },
};

self.onmessage = async (event: MessageEvent<{ id: number; cmd: string; args: unknown }>) => {
  const { id, cmd, args } = event.data;
  try {
    const run = commands[cmd];
    if (!run) throw new Error(`unknown command ${cmd}`);
    self.postMessage({ id, result: await run(args) });
  } catch (e) {
    self.postMessage({ id, error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e) });
  }
};
self.postMessage({ ready: true });
