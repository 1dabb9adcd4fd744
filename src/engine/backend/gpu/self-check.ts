import { KERNEL_NAMES, type Activation, type Backend, type KernelName } from '../backend';
import { CpuBackend } from '../cpu';
import { gelu32 } from '../cpu/math';
import { Rng } from '../../rng';
import type { Tensor } from '../../tensor';

// Every kernel on a small random case, run on a backend under test and on the CPU reference
// (float32, JS kernels), with the same inputs. Gradient outputs start from random values, so the
// accumulation (dx += …) is checked too. Used by GpuBackend.selfCheck at run start and, at several
// sizes, by the browser tests.

export interface KernelCheck {
  name: string;
  /** Largest |a − b| / (|b| + floor), floor = 1e-3 · max |b| (a tensor's tiny entries are judged on its scale). */
  maxRelError: number;
  ok: boolean;
  error?: string;
}

export const SELF_CHECK_SIZES = [5];
export const SELF_CHECK_TOLERANCE = 1e-4;

/**
 * The recurrent kernels run s time steps, and rounding differences between two float32
 * implementations grow with the number of steps: their tolerance scales with s beyond 32 steps.
 */
const RECURRENT = new Set<KernelName>(['rnnTanhForward', 'rnnTanhBackward', 'lstmForward', 'lstmBackward', 'gruForward', 'gruBackward']);
function toleranceFor(name: KernelName, s: number, tolerance: number): number {
  return RECURRENT.has(name) ? tolerance * Math.max(1, s / 32) : tolerance;
}

type Outputs = Record<string, ArrayLike<number>>;

/** Deterministic inputs: the same seed gives the same values on every backend. */
class Inputs {
  private readonly rng: Rng;
  constructor(
    readonly be: Backend,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  values(n: number, scale = 1, offset = 0): Float32Array {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = offset + scale * (2 * this.rng.random() - 1);
    return v;
  }

  tensor(shape: number[], scale = 1, offset = 0): Tensor {
    return this.be.fromArray(
      shape,
      this.values(
        shape.reduce((a, b) => a * b, 1),
        scale,
        offset,
      ),
    );
  }

  ints(n: number, below: number): Int32Array {
    const v = new Int32Array(n);
    for (let i = 0; i < n; i++) v[i] = this.rng.int(below);
    return v;
  }
}

/** Causal softmax of random scores on the host: consistent probabilities for the backward cases. */
function causalProbs(B: number, nh: number, T: number, inp: Inputs): Float32Array {
  const p = new Float32Array(B * nh * T * T);
  const s = inp.values(p.length, 2);
  for (let r = 0; r < B * nh * T; r++) {
    const i = r % T;
    let max = -Infinity,
      sum = 0;
    for (let j = 0; j <= i; j++) max = Math.max(max, s[r * T + j]);
    for (let j = 0; j <= i; j++) sum += Math.exp(s[r * T + j] - max);
    for (let j = 0; j <= i; j++) p[r * T + j] = Math.exp(s[r * T + j] - max) / sum;
  }
  return p;
}

function dropMask(n: number, p: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const m = new Float32Array(n);
  for (let i = 0; i < n; i++) m[i] = rng.random() < p ? 0 : 1 / (1 - p);
  return m;
}

const ACTIVATIONS: Activation[] = ['tanh', 'sigmoid', 'relu', 'gelu'];
const activate: Record<Activation, (x: number) => number> = {
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (x > 0 ? x : 0),
  gelu: gelu32,
};

/** Runs kernel `name` on `be` at size parameter s and returns what it wrote. */
function runCase(name: KernelName, be: Backend, s: number, seed: number): Outputs {
  const inp = new Inputs(be, seed);
  const read = (o: Record<string, Tensor>): Outputs => Object.fromEntries(Object.entries(o).map(([k, t]) => [k, be.read(t)]));
  const R = s,
    C = s + 2,
    n = R * C;
  switch (name) {
    case 'fill': {
      const t = inp.tensor([R, C]);
      be.fill(t, 0.37);
      const z = inp.tensor([R, C]);
      be.fill(z, 0);
      return read({ t, z });
    }
    case 'copy': {
      const src = inp.tensor([R, C]),
        dst = inp.tensor([R + 1, C]),
        full = inp.tensor([R, C]);
      be.copy(src, dst, 1, s + 1, n - 1);
      be.copy(src, full);
      return read({ dst, full });
    }
    case 'accumulate': {
      const dst = inp.tensor([R, C]);
      be.accumulate(dst, inp.tensor([R, C]));
      return read({ dst });
    }
    case 'addForward': {
      const y = be.alloc([R, C]);
      be.addForward(inp.tensor([R, C]), inp.tensor([R, C]), y);
      return read({ y });
    }
    case 'addRepeatForward': {
      const y = be.alloc([R, 3, C]);
      be.addRepeatForward(inp.tensor([R, 3, C]), inp.tensor([3, C]), y);
      return read({ y });
    }
    case 'addRepeatBackward': {
      const db = inp.tensor([3, C]);
      be.addRepeatBackward(inp.tensor([R, 3, C]), db);
      return read({ db });
    }
    case 'mulForward': {
      const y = be.alloc([R, C]);
      be.mulForward(inp.tensor([R, C]), inp.tensor([R, C]), y);
      return read({ y });
    }
    case 'mulBackward': {
      const dy = inp.tensor([R, C]),
        a = inp.tensor([R, C]),
        b = inp.tensor([R, C]),
        da = inp.tensor([R, C]),
        db = inp.tensor([R, C]);
      be.mulBackward(dy, a, b, da, db);
      be.mulBackward(dy, a, b, null, db);
      return read({ da, db });
    }
    case 'activationForward': {
      const x = inp.tensor([R, C], 4);
      const out: Record<string, Tensor> = {};
      for (const kind of ACTIVATIONS) {
        out[kind] = be.alloc([R, C]);
        be.activationForward(kind, x, out[kind]);
      }
      return read(out);
    }
    case 'activationBackward': {
      const xs = inp.values(n, 4);
      const x = be.fromArray([R, C], xs),
        dy = inp.tensor([R, C]);
      const out: Record<string, Tensor> = {};
      for (const kind of ACTIVATIONS) {
        const y = be.fromArray([R, C], xs.map(activate[kind]));
        out[kind] = inp.tensor([R, C]);
        be.activationBackward(kind, x, y, dy, out[kind]);
      }
      return read(out);
    }
    case 'transpose01Forward': {
      const y = be.alloc([3, R, s + 1]);
      be.transpose01Forward(inp.tensor([R, 3, s + 1]), R, 3, y);
      return read({ y });
    }
    case 'transpose01Backward': {
      const dx = inp.tensor([R, 3, s + 1]);
      be.transpose01Backward(inp.tensor([3, R, s + 1]), R, 3, dx);
      return read({ dx });
    }
    case 'linearForward': {
      const x = inp.tensor([R, s + 1]),
        w = inp.tensor([s + 2, s + 1]),
        b = inp.tensor([s + 2]);
      const y = be.alloc([R, s + 2]),
        y2 = be.alloc([R, s + 2]);
      be.linearForward(x, w, b, y);
      be.linearForward(x, w, null, y2);
      return read({ y, y2 });
    }
    case 'linearBackward': {
      const x = inp.tensor([R, s + 1]),
        w = inp.tensor([s + 2, s + 1]),
        dy = inp.tensor([R, s + 2]);
      const dx = inp.tensor([R, s + 1]),
        dw = inp.tensor([s + 2, s + 1]),
        db = inp.tensor([s + 2]);
      be.linearBackward(dy, x, w, dx, dw, db);
      return read({ dx, dw, db });
    }
    case 'embeddingForward': {
      const y = be.alloc([2 * s + 1, s]);
      be.embeddingForward(inp.tensor([s + 2, s]), inp.ints(2 * s + 1, s + 2), y);
      return read({ y });
    }
    case 'embeddingBackward': {
      const dw = inp.tensor([s + 2, s]);
      be.embeddingBackward(inp.tensor([2 * s + 1, s]), inp.ints(2 * s + 1, s + 2), dw);
      return read({ dw });
    }
    case 'layerNormForward': {
      const y = be.alloc([R, C]),
        mean = be.alloc([R]),
        rstd = be.alloc([R]);
      be.layerNormForward(inp.tensor([R, C], 3, 0.5), inp.tensor([C], 1, 1), inp.tensor([C]), 1e-5, y, mean, rstd);
      return read({ y, mean, rstd });
    }
    case 'layerNormBackward': {
      const xs = inp.values(n, 3, 0.5);
      const mean = new Float32Array(R),
        rstd = new Float32Array(R);
      for (let r = 0; r < R; r++) {
        let m = 0,
          v = 0;
        for (let c = 0; c < C; c++) m += xs[r * C + c] / C;
        for (let c = 0; c < C; c++) v += (xs[r * C + c] - m) ** 2 / C;
        mean[r] = m;
        rstd[r] = 1 / Math.sqrt(v + 1e-5);
      }
      const dx = inp.tensor([R, C]),
        dgain = inp.tensor([C]),
        dbias = inp.tensor([C]);
      be.layerNormBackward(
        inp.tensor([R, C]),
        be.fromArray([R, C], xs),
        inp.tensor([C], 1, 1),
        be.fromArray([R], mean),
        be.fromArray([R], rstd),
        dx,
        dgain,
        dbias,
      );
      return read({ dx, dgain, dbias });
    }
    case 'softmaxForward': {
      const y = be.alloc([R, C]);
      be.softmaxForward(inp.tensor([R, C], 3), y);
      return read({ y });
    }
    case 'softmaxBackward': {
      const ys = inp.values(n, 0.5, 0.5);
      const dx = inp.tensor([R, C]);
      be.softmaxBackward(be.fromArray([R, C], ys), inp.tensor([R, C]), dx);
      return read({ dx });
    }
    case 'attentionForward':
    case 'attentionBackward': {
      const B = 2,
        T = s,
        nh = 2,
        hd = Math.min(s, 4) + 1,
        Cm = nh * hd;
      const qkv = inp.tensor([B, T, 3 * Cm]);
      const mask = be.fromArray([B, nh, T, T], dropMask(B * nh * T * T, 0.25, seed + 1));
      if (name === 'attentionForward') {
        const y = be.alloc([B, T, Cm]),
          probs = be.alloc([B, nh, T, T]),
          yMasked = be.alloc([B, T, Cm]),
          probs2 = be.alloc([B, nh, T, T]);
        be.attentionForward(qkv, nh, y, probs, null);
        be.attentionForward(qkv, nh, yMasked, probs2, mask);
        return read({ y, probs, yMasked, probs2 });
      }
      const probs = be.fromArray([B, nh, T, T], causalProbs(B, nh, T, inp));
      const dy = inp.tensor([B, T, Cm]),
        dqkv = inp.tensor([B, T, 3 * Cm]),
        dqkv2 = inp.tensor([B, T, 3 * Cm]);
      be.attentionBackward(dy, qkv, probs, null, nh, dqkv);
      be.attentionBackward(dy, qkv, probs, mask, nh, dqkv2);
      return read({ dqkv, dqkv2 });
    }
    case 'kvCacheWrite': {
      const B = 2,
        T = s,
        Cm = 2 * (Math.min(s, 4) + 1),
        L = s + 3;
      const k = inp.tensor([B, L, Cm]),
        v = inp.tensor([B, L, Cm]);
      be.kvCacheWrite(inp.tensor([B, T, 3 * Cm]), k, v, 2);
      return read({ k, v });
    }
    case 'attentionDecodeForward': {
      const B = 2,
        nh = 2,
        Cm = nh * (Math.min(s, 4) + 1),
        L = s + 3;
      const y = be.alloc([B, 1, Cm]);
      be.attentionDecodeForward(inp.tensor([B, 1, 3 * Cm]), inp.tensor([B, L, Cm]), inp.tensor([B, L, Cm]), s + 1, nh, y);
      return read({ y });
    }
    case 'dropoutMask': {
      const mask = be.alloc([R, C]);
      be.dropoutMask(mask, 0.3, new Rng(seed));
      return read({ mask });
    }
    case 'crossEntropyForward': {
      const targets = inp.ints(R, C);
      if (R > 1) targets[0] = -100;
      const probs = be.alloc([R, C]);
      const { loss, count } = be.crossEntropyForward(inp.tensor([R, C], 3), targets, -100, probs);
      return { ...read({ probs }), loss: [loss], count: [count] };
    }
    case 'crossEntropyBackward': {
      const targets = inp.ints(R, C);
      if (R > 1) targets[0] = -100;
      const dlogits = inp.tensor([R, C]);
      be.crossEntropyBackward(inp.tensor([R, C], 0.5, 0.5), targets, -100, 0.7, R > 1 ? R - 1 : 1, dlogits);
      return read({ dlogits });
    }
    case 'rnnTanhForward':
    case 'lstmForward':
    case 'gruForward': {
      const T = s,
        B = 2,
        H = s;
      const G = name === 'lstmForward' ? 4 * H : name === 'gruForward' ? 3 * H : H;
      const gi = inp.tensor([T, B, G]),
        whh = inp.tensor([G, H], 1 / Math.sqrt(H)),
        bhh = inp.tensor([G], 0.5),
        h0 = inp.tensor([B, H]);
      const hs = be.alloc([T, B, H]);
      if (name === 'rnnTanhForward') {
        be.rnnTanhForward(gi, whh, bhh, h0, hs);
        return read({ hs });
      }
      if (name === 'lstmForward') {
        const cs = be.alloc([T, B, H]),
          acts = be.alloc([T, B, G]);
        be.lstmForward(gi, whh, bhh, h0, inp.tensor([B, H]), hs, cs, acts);
        return read({ hs, cs, acts });
      }
      const acts = be.alloc([T, B, G]),
        ghn = be.alloc([T, B, H]);
      be.gruForward(gi, whh, bhh, h0, hs, acts, ghn);
      return read({ hs, acts, ghn });
    }
    case 'rnnTanhBackward':
    case 'lstmBackward':
    case 'gruBackward': {
      const T = s,
        B = 2,
        H = s;
      const G = name === 'lstmBackward' ? 4 * H : name === 'gruBackward' ? 3 * H : H;
      const dhs = inp.tensor([T, B, H]),
        hs = inp.tensor([T, B, H], 0.9),
        h0 = inp.tensor([B, H], 0.9);
      const whh = inp.tensor([G, H], 1 / Math.sqrt(H));
      const dgi = inp.tensor([T, B, G]),
        dwhh = inp.tensor([G, H]),
        dbhh = inp.tensor([G]);
      if (name === 'rnnTanhBackward') be.rnnTanhBackward(dhs, hs, h0, whh, dgi, dwhh, dbhh);
      else if (name === 'lstmBackward') {
        // gates i, f, o in (0, 1), g in (−1, 1)
        const acts = inp.values(T * B * G, 0.5, 0.5);
        for (let r = 0; r < T * B; r++) for (let k = 0; k < H; k++) acts[r * G + 2 * H + k] = 2 * acts[r * G + 2 * H + k] - 1;
        be.lstmBackward(dhs, hs, inp.tensor([T, B, H], 2), be.fromArray([T, B, G], acts), h0, inp.tensor([B, H], 2), whh, dgi, dwhh, dbhh);
      } else {
        const acts = inp.values(T * B * G, 0.5, 0.5);
        for (let r = 0; r < T * B; r++) for (let k = 0; k < H; k++) acts[r * G + 2 * H + k] = 2 * acts[r * G + 2 * H + k] - 1;
        be.gruBackward(dhs, hs, be.fromArray([T, B, G], acts), inp.tensor([T, B, H]), h0, whh, dgi, dwhh, dbhh);
      }
      return read({ dgi, dwhh, dbhh });
    }
    case 'sumSquares':
      return { sum: [be.sumSquares(inp.tensor([R, C]))] };
    case 'scale': {
      const t = inp.tensor([R, C]);
      be.scale(t, 0.7);
      return read({ t });
    }
    case 'clampAbs': {
      const t = inp.tensor([R, C]);
      be.clampAbs(t, 0.5);
      return read({ t });
    }
    case 'adamStep': {
      const out: Record<string, Tensor> = {};
      for (const decoupled of [true, false]) {
        const p = inp.tensor([R, C]),
          g = inp.tensor([R, C]),
          m = inp.tensor([R, C], 0.1),
          v = inp.tensor([R, C], 0.01, 0.01);
        be.adamStep(p, g, m, v, { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3, decoupled });
        Object.assign(out, { [`p${+decoupled}`]: p, [`m${+decoupled}`]: m, [`v${+decoupled}`]: v });
      }
      return read(out);
    }
    case 'sgdStep': {
      const p = inp.tensor([R, C]),
        p2 = inp.tensor([R, C]),
        p3 = inp.tensor([R, C]),
        g = inp.tensor([R, C]);
      const buf = inp.tensor([R, C]),
        buf3 = inp.tensor([R, C]);
      be.sgdStep(p, g, buf, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true, weightDecay: 0.01, firstStep: false });
      be.sgdStep(p2, g, null, { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false });
      be.sgdStep(p3, g, buf3, { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true });
      return read({ p, buf, p2, p3, buf3 });
    }
    case 'rmspropStep': {
      const p = inp.tensor([R, C]),
        g = inp.tensor([R, C]),
        sq = inp.tensor([R, C], 0.01, 0.02),
        ga = inp.tensor([R, C], 0.01);
      const buf = inp.tensor([R, C]),
        p2 = inp.tensor([R, C]),
        sq2 = inp.tensor([R, C], 0.01, 0.02);
      be.rmspropStep(p, g, sq, buf, ga, { lr: 0.01, alpha: 0.95, eps: 1e-8, weightDecay: 0.01, momentum: 0.9, centered: true });
      be.rmspropStep(p2, g, sq2, null, null, { lr: 0.01, alpha: 0.95, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false });
      return read({ p, sq, ga, buf, p2, sq2 });
    }
    case 'adagradStep': {
      const p = inp.tensor([R, C]),
        sum = inp.tensor([R, C], 0.01, 0.02);
      be.adagradStep(p, inp.tensor([R, C]), sum, { lr: 0.1, lrDecay: 0.01, eps: 1e-10, weightDecay: 0.01, step: 4 });
      return read({ p, sum });
    }
    case 'maskedAttentionForward':
    case 'maskedAttentionBackward': {
      // cross-attention shapes (Tq ≠ Tk) with a padding mask, and self-attention with a per-query mask
      const B = 2,
        Tq = s,
        Tk = s + 2,
        nh = 2,
        Cm = nh * (Math.min(s, 4) + 1);
      const q = inp.tensor([B, Tq, Cm]),
        k = inp.tensor([B, Tk, Cm]),
        v = inp.tensor([B, Tk, Cm]);
      const pad = new Float32Array(B * Tk);
      pad[2 * Tk - 1] = 1; // the second row's last key is padding
      const causal = new Float32Array(B * Tq * Tq);
      for (let i = 0; i < B * Tq * Tq; i++) causal[i] = i % Tq > Math.floor(i / Tq) % Tq ? 1 : 0;
      const y = be.alloc([B, Tq, Cm]),
        probs = be.alloc([B, nh, Tq, Tk]),
        y2 = be.alloc([B, Tq, Cm]),
        probs2 = be.alloc([B, nh, Tq, Tq]);
      be.maskedAttentionForward(q, k, v, be.fromArray([B, 1, Tk], pad), nh, y, probs);
      be.maskedAttentionForward(q, q, q, be.fromArray([B, Tq, Tq], causal), nh, y2, probs2);
      if (name === 'maskedAttentionForward') return read({ y, probs, y2, probs2 });
      const dq = inp.tensor([B, Tq, Cm]),
        dk = inp.tensor([B, Tk, Cm]),
        dv = inp.tensor([B, Tk, Cm]);
      be.maskedAttentionBackward(inp.tensor([B, Tq, Cm]), q, k, v, probs, nh, dq, dk, dv);
      return read({ dq, dk, dv });
    }
    case 'seedLayerNormForward': {
      const y = be.alloc([R, C]),
        mean = be.alloc([R]),
        std = be.alloc([R]);
      be.seedLayerNormForward(inp.tensor([R, C], 3, 0.5), inp.tensor([C], 1, 1), inp.tensor([C]), 1e-6, y, mean, std);
      return read({ y, mean, std });
    }
    case 'seedLayerNormBackward': {
      const x = inp.tensor([R, C], 3, 0.5),
        gain = inp.tensor([C], 1, 1);
      const y = be.alloc([R, C]),
        mean = be.alloc([R]),
        std = be.alloc([R]);
      be.seedLayerNormForward(x, gain, inp.tensor([C]), 1e-6, y, mean, std);
      const dx = inp.tensor([R, C]),
        dgain = inp.tensor([C]),
        dbias = inp.tensor([C]);
      be.seedLayerNormBackward(inp.tensor([R, C]), x, gain, mean, std, 1e-6, dx, dgain, dbias);
      return read({ dx, dgain, dbias });
    }
  }
}

/** Largest mixed relative error between two sets of outputs (Infinity when they differ in kind or size). */
export function maxRelError(actual: Outputs, expected: Outputs): number {
  let worst = 0;
  for (const [key, ref] of Object.entries(expected)) {
    const got = actual[key];
    if (!got || got.length !== ref.length) return Infinity;
    let scale = 0;
    for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
    const floor = Math.max(1e-3 * scale, 1e-30);
    for (let i = 0; i < ref.length; i++) {
      const e = Math.abs(got[i] - ref[i]) / (Math.abs(ref[i]) + floor);
      if (!(e <= worst)) worst = e; // NaN counts as the worst
    }
  }
  return worst;
}

/** Every kernel (or those named) on `backend` against the CPU reference, at each size parameter. */
export function checkKernels(
  backend: Backend,
  sizes: readonly number[],
  names: readonly KernelName[] = KERNEL_NAMES,
  tolerance = SELF_CHECK_TOLERANCE,
): KernelCheck[] {
  const reference = new CpuBackend('float32', 'js');
  return names.map((name) => {
    let worst = 0;
    let ok = true;
    try {
      sizes.forEach((s, i) => {
        const seed = 1000 + 17 * i + KERNEL_NAMES.indexOf(name);
        const expected = reference.scoped(() => runCase(name, reference, s, seed));
        const actual = backend.scoped(() => runCase(name, backend, s, seed));
        const error = maxRelError(actual, expected);
        worst = Math.max(worst, error);
        if (!(error <= toleranceFor(name, s, tolerance))) ok = false;
      });
      return { name, maxRelError: worst, ok };
    } catch (e) {
      return { name, maxRelError: Infinity, ok: false, error: (e as Error).message };
    }
  });
}
