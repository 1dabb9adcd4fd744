import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { elementwiseGeneratedPath, generateElementwiseModule } from '../../scripts/build-wasm.mjs';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { gelu, geluGrad } from '../../src/engine/backend/cpu/math';

// The vectorised GELU (elementwise.wat) against the exact double-precision GELU, through the
// backend at odd sizes (the wasm part plus the JS tail), forward and backward.

function run(backend: CpuBackend, xs: number[], dys: number[]) {
  return backend.scoped(() => {
    const x = backend.fromArray([xs.length], xs);
    const y = backend.alloc([xs.length]);
    backend.activationForward('gelu', x, y);
    const dy = backend.fromArray([xs.length], dys);
    const dx = backend.fromArray(
      [xs.length],
      xs.map(() => 0.25),
    );
    backend.activationBackward('gelu', x, y, dy, dx);
    return { y: Array.from(backend.read(y)), dx: Array.from(backend.read(dx)) };
  });
}

describe('wasm GELU', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  for (const n of [1, 3, 4, 17, 65, 4001]) {
    it(`n = ${n}: within float32 rounding of the exact GELU and its gradient, from −10 to 10`, () => {
      const xs = Array.from({ length: n }, (_, i) => Math.fround(n === 1 ? 0.7 : -10 + (20 * i) / (n - 1)));
      const dys = xs.map((_, i) => Math.fround(Math.cos(i)));
      const { y, dx } = run(wasm, xs, dys);
      for (let i = 0; i < n; i++) {
        expect(Math.abs(y[i] - gelu(xs[i])), `y at x = ${xs[i]}`).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(xs[i])));
        expect(Math.abs(dx[i] - (0.25 + dys[i] * geluGrad(xs[i]))), `dx at x = ${xs[i]}`).toBeLessThanOrEqual(6e-7);
      }
    });
  }

  it('elementwise-wasm.generated.ts is what npm run build:wasm makes from elementwise.wat', async () => {
    expect(readFileSync(elementwiseGeneratedPath, 'utf8')).toBe(await generateElementwiseModule());
  });
});

describe('wasm LSTM cell', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  const js = new CpuBackend('float32', 'js');
  function step(backend: CpuBackend, T: number, B: number, H: number) {
    const G = 4 * H;
    // pre-activations from −12 to 12: saturated gates, and values near 0 where tanh is x
    const wave = (n: number, f: number) => Array.from({ length: n }, (_, i) => 12 * Math.sin(i * f) ** 3);
    return backend.scoped(() => {
      const gi = backend.fromArray([T, B, G], wave(T * B * G, 0.61));
      const whh = backend.fromArray(
        [G, H],
        wave(G * H, 0.37).map((v) => v / 40),
      );
      const bhh = backend.fromArray(
        [G],
        wave(G, 0.9).map((v) => v / 10),
      );
      const h0 = backend.fromArray(
        [B, H],
        wave(B * H, 1.3).map((v) => v / 12),
      );
      const c0 = backend.fromArray(
        [B, H],
        wave(B * H, 0.7).map((v) => v / 6),
      );
      const hs = backend.alloc([T, B, H]),
        cs = backend.alloc([T, B, H]),
        acts = backend.alloc([T, B, G]);
      backend.lstmForward(gi, whh, bhh, h0, c0, hs, cs, acts);
      return [hs, cs, acts].map((t) => Array.from(backend.read(t)));
    });
  }
  for (const [T, B, H] of [
    [1, 1, 4],
    [5, 3, 8],
    [7, 2, 6],
    [4, 2, 64],
  ]) {
    it(`T ${T}, B ${B}, H ${H}: states and gates match the JS loop`, () => {
      const fast = step(wasm, T, B, H),
        ref = step(js, T, B, H);
      for (let k = 0; k < 3; k++) {
        for (let i = 0; i < ref[k].length; i++)
          expect(Math.abs(fast[k][i] - ref[k][i]), `${['h', 'c', 'gate'][k]}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref[k][i])));
      }
    });
  }
});

// The kernels below against the plain JS backend: same inputs on both, the outputs compared
// element by element (exactly where the wasm kernel does the same float32 operations in the same
// order, within float32 rounding where the JS loop works in double precision).

const wasm = new CpuBackend('float32', 'wasm');
const js = new CpuBackend('float32', 'js');
const SIZES = [1, 3, 4, 17, 65, 127, 256];

/** n values with a spread of magnitudes: a sine wave times powers of ten from 1e-6 to 1e3. */
function spread(n: number, seed: number, scale = 1): number[] {
  return Array.from({ length: n }, (_, i) => Math.fround(scale * Math.sin(i * 0.73 + seed) * 10 ** (((i * 7 + seed) % 10) - 6)));
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(rel * Math.max(1e-30, Math.abs(want[i])));
  }
}

describe('wasm AdamW step', () => {
  const n0 = { p: (n: number) => spread(n, 1, 3), m: (n: number) => spread(n, 2, 0.1), v: (n: number) => spread(n, 3).map((x) => Math.fround(x * x)) };
  const grads = (n: number, step: number, scale: number) => spread(n, 4 + step, scale);
  const lr = 1e-2;
  function step(backend: CpuBackend, n: number, decoupled: boolean, gradScale: number) {
    return backend.scoped(() => {
      const p = backend.fromArray([n], n0.p(n)),
        m = backend.fromArray([n], n0.m(n)),
        v = backend.fromArray([n], n0.v(n));
      const g = backend.alloc([n]);
      for (let step = 1; step <= 3; step++) {
        backend.write(g, grads(n, step, gradScale));
        backend.adamStep(p, g, m, v, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step, decoupled });
      }
      return [p, m, v].map((t) => Array.from(backend.read(t)));
    });
  }
  for (const n of SIZES) {
    for (const decoupled of [true, false]) {
      for (const gradScale of [1, 1e-12, 1e12]) {
        it(`n ${n}, ${decoupled ? 'AdamW' : 'Adam with L2'}, gradients ×${gradScale}: p, m and v within float32 rounding of the JS step`, () => {
          const fast = step(wasm, n, decoupled, gradScale),
            ref = step(js, n, decoupled, gradScale);
          // float32 rounding of the terms that meet in each element (an update that cancels most of
          // p leaves an error of p's size, not the result's): the largest of them, times a few ε
          const p0 = n0.p(n),
            m0 = n0.m(n),
            v0 = n0.v(n);
          const gMax = (i: number) => Math.max(...[1, 2, 3].map((t) => Math.abs(grads(n, t, gradScale)[i])));
          const terms = (i: number) => [Math.abs(p0[i]), Math.abs(m0[i]), gMax(i), lr];
          const scales = [
            (i: number) => Math.max(...terms(i), Math.abs(ref[0][i])),
            (i: number) => Math.max(...terms(i), Math.abs(ref[1][i])),
            (i: number) => Math.max(v0[i], gMax(i) ** 2, Math.abs(ref[2][i]), (0.1 * Math.abs(p0[i])) ** 2),
          ];
          ['p', 'm', 'v'].forEach((name, k) => {
            for (let i = 0; i < n; i++) {
              expect(Math.abs(fast[k][i] - ref[k][i]), `${name}[${i}]: ${fast[k][i]} vs ${ref[k][i]}`).toBeLessThanOrEqual(4e-6 * scales[k](i));
            }
          });
        });
      }
    }
  }

  it('leaves p, m and v unchanged by a zero gradient with zero state (no NaN from 0/0)', () => {
    const out = wasm.scoped(() => {
      const p = wasm.fromArray([8], [0, 1, -1, 0, 2, 0, 0, 5]);
      const [g, m, v] = [wasm.alloc([8]), wasm.alloc([8]), wasm.alloc([8])];
      wasm.adamStep(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, decoupled: true });
      return [p, m, v].map((t) => Array.from(wasm.read(t)));
    });
    expect(out).toEqual([[0, 1, -1, 0, 2, 0, 0, 5], new Array(8).fill(0), new Array(8).fill(0)]);
  });
});

describe('wasm LSTM cell backward', () => {
  function backward(backend: CpuBackend, T: number, B: number, H: number) {
    const G = 4 * H;
    const wave = (n: number, f: number, s = 1) => Array.from({ length: n }, (_, i) => s * 12 * Math.sin(i * f) ** 3);
    return backend.scoped(() => {
      const gi = backend.fromArray([T, B, G], wave(T * B * G, 0.61));
      const whh = backend.fromArray([G, H], wave(G * H, 0.37, 1 / 40));
      const bhh = backend.fromArray([G], wave(G, 0.9, 0.1));
      const h0 = backend.fromArray([B, H], wave(B * H, 1.3, 1 / 12));
      const c0 = backend.fromArray([B, H], wave(B * H, 0.7, 1 / 6));
      const hs = backend.alloc([T, B, H]),
        cs = backend.alloc([T, B, H]),
        acts = backend.alloc([T, B, G]);
      // the forward through the JS loop on both backends' arrays, so the backward sees the same gates
      js.lstmForward(gi, whh, bhh, h0, c0, hs, cs, acts);
      const dhs = backend.fromArray([T, B, H], wave(T * B * H, 0.43, 0.2));
      const dgi = backend.fromArray([T, B, G], wave(T * B * G, 0.29, 0.01));
      const dwhh = backend.alloc([G, H]),
        dbhh = backend.alloc([G]);
      backend.lstmBackward(dhs, hs, cs, acts, h0, c0, whh, dgi, dwhh, dbhh);
      return [dgi, dwhh, dbhh].map((t) => Array.from(backend.read(t)));
    });
  }
  for (const [T, B, H] of [
    [1, 1, 4],
    [5, 3, 8],
    [7, 2, 6],
    [4, 2, 64],
  ]) {
    it(`T ${T}, B ${B}, H ${H}: dgi, dW_hh and db_hh match the JS loop`, () => {
      const fast = backward(wasm, T, B, H),
        ref = backward(js, T, B, H);
      ['dgi', 'dwhh', 'dbhh'].forEach((name, k) => {
        const scale = Math.max(...ref[k].map(Math.abs));
        for (let i = 0; i < ref[k].length; i++) expect(Math.abs(fast[k][i] - ref[k][i]), `${name}[${i}]`).toBeLessThanOrEqual(2e-6 * scale);
      });
    });
  }
});

describe('wasm layer norm', () => {
  function norm(backend: CpuBackend, R: number, C: number, offset: number) {
    return backend.scoped(() => {
      // rows with a mean of `offset` and a small spread: the variance must survive the cancellation
      const x = backend.fromArray(
        [R, C],
        Array.from({ length: R * C }, (_, i) => offset + Math.sin(i * 1.7) * (1 + (i % 5))),
      );
      const gain = backend.fromArray(
        [C],
        Array.from({ length: C }, (_, i) => 1 + 0.3 * Math.cos(i)),
      );
      const bias = backend.fromArray(
        [C],
        Array.from({ length: C }, (_, i) => 0.1 * Math.sin(i)),
      );
      const y = backend.alloc([R, C]),
        mean = backend.alloc([R]),
        rstd = backend.alloc([R]);
      backend.layerNormForward(x, gain, bias, 1e-5, y, mean, rstd);
      const dy = backend.fromArray(
        [R, C],
        Array.from({ length: R * C }, (_, i) => Math.cos(i * 0.37)),
      );
      const dx = backend.fromArray([R, C], new Array(R * C).fill(0.5));
      const dgain = backend.alloc([C]),
        dbias = backend.alloc([C]);
      backend.layerNormBackward(dy, x, gain, mean, rstd, dx, dgain, dbias);
      const dxOnly = backend.alloc([R, C]);
      backend.layerNormBackward(dy, x, gain, mean, rstd, dxOnly, null, null);
      return [y, mean, rstd, dx, dgain, dbias, dxOnly].map((t) => Array.from(backend.read(t)));
    });
  }
  for (const [R, C] of [
    [1, 4],
    [3, 8],
    [17, 128],
    [5, 6],
    [2, 65],
  ]) {
    for (const offset of [0, 1000]) {
      it(`R ${R}, C ${C}, rows around ${offset}: y, mean, rstd and every gradient match the JS loop`, () => {
        const fast = norm(wasm, R, C, offset),
          ref = norm(js, R, C, offset);
        // the forward works in double precision as the JS loop; the backward in float32
        ['y', 'mean', 'rstd'].forEach((name, k) => expectClose(fast[k], ref[k], 1.2e-7, name));
        ['dx', 'dgain', 'dbias', 'dx alone'].forEach((name, k) => {
          const got = fast[k + 3],
            want = ref[k + 3];
          const scale = Math.max(...want.map(Math.abs));
          // the backward's float32 arithmetic loses up to |offset|·ε relative on x − mean
          const tol = (offset === 0 ? 2e-6 : 2e-3) * scale;
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${name}[${i}]`).toBeLessThanOrEqual(tol);
        });
      });
    }
  }
});

describe('wasm row-wise adds', () => {
  for (const [rows, width] of [
    [1, 1],
    [3, 3],
    [17, 65],
    [5, 128],
    [2, 127],
  ]) {
    it(`${rows}×${width}: accumulate, add, bias rows and bias gradients give the JS loop's bits`, () => {
      const go = (backend: CpuBackend) =>
        backend.scoped(() => {
          const a = backend.fromArray([rows, width], spread(rows * width, 1, 1e3));
          const b = backend.fromArray([rows, width], spread(rows * width, 2));
          const bias = backend.fromArray([width], spread(width, 3));
          const w = backend.fromArray([width, width], spread(width * width, 4));
          const sum = backend.alloc([rows, width]);
          backend.addForward(a, b, sum);
          backend.accumulate(a, b);
          const rep = backend.alloc([rows, width]);
          backend.addRepeatForward(a, bias, rep);
          const dbias = backend.fromArray([width], spread(width, 5));
          backend.addRepeatBackward(b, dbias);
          const y = backend.alloc([rows, width]);
          backend.linearForward(b, w, bias, y);
          const dlin = backend.alloc([width]);
          backend.linearBackward(a, b, w, null, null, dlin);
          return [sum, a, rep, dbias, y, dlin].map((t) => Array.from(backend.read(t)));
        });
      const fast = go(wasm),
        ref = go(js);
      // the linear output also goes through the wasm gemm, which sums in another order
      for (let k = 0; k < fast.length; k++) {
        if (k === 4) expectClose(fast[k], ref[k], 1e-5 * width, 'linear y');
        else expect(fast[k], `output ${k}`).toEqual(ref[k]);
      }
    });
  }
});

describe('wasm sum of squares, scale and zeroing', () => {
  for (const n of SIZES) {
    it(`n ${n}: Σx² in double precision (no float32 overflow at 1e30) and x·s rounded once, as the JS loops`, () => {
      const go = (backend: CpuBackend) =>
        backend.scoped(() => {
          const x = backend.fromArray([n], spread(n, 6, 1e27));
          const sum = backend.sumSquares(x);
          backend.scale(x, 1 / 3);
          return { sum, scaled: Array.from(backend.read(x)) };
        });
      const fast = go(wasm),
        ref = go(js);
      expect(Math.abs(fast.sum - ref.sum)).toBeLessThanOrEqual(1e-14 * ref.sum);
      expect(Number.isFinite(fast.sum)).toBe(true);
      expect(fast.scaled).toEqual(ref.scaled);
    });
  }

  it('hands out zeroed storage when it reuses a released array', () => {
    const t = wasm.allocPersistent([67]);
    wasm.fill(t, 7);
    wasm.dispose(t);
    const again = wasm.allocPersistent([67]);
    expect(Array.from(wasm.read(again))).toEqual(new Array(67).fill(0));
    wasm.dispose(again);
  });
});

describe('wasm softmax and cross-entropy', () => {
  const rowsOf = (R: number, C: number, scale: number) => Array.from({ length: R * C }, (_, i) => Math.fround(scale * Math.sin(i * 0.91 + 0.3)));
  for (const C of [1, 3, 4, 17, 65, 127]) {
    for (const scale of [1, 30, 1e4]) {
      it(`C ${C}, logits ×${scale}: probabilities and the mean loss match the JS loop`, () => {
        const R = 5;
        const targets = Int32Array.from({ length: R }, (_, r) => (r === 2 ? -1 : (r * 7) % C));
        const go = (backend: CpuBackend) =>
          backend.scoped(() => {
            const x = backend.fromArray([R, C], rowsOf(R, C, scale));
            const y = backend.alloc([R, C]),
              probs = backend.alloc([R, C]);
            backend.softmaxForward(x, y);
            const { loss, count } = backend.crossEntropyForward(x, targets, -1, probs);
            return { y: Array.from(backend.read(y)), probs: Array.from(backend.read(probs)), loss, count };
          });
        const fast = go(wasm),
          ref = go(js);
        // float32 rounds x − max (JS subtracts in double): e^{x−max} is off by up to |x − max|·2⁻²⁴
        // relative, on top of a few ulp; probabilities below 1e-30 are compared absolutely
        const xs = rowsOf(R, C, scale);
        const rowMax = (i: number) => Math.max(...xs.slice(i - (i % C), i - (i % C) + C));
        for (let i = 0; i < ref.y.length; i++) {
          const rel = 5e-7 + 2 ** -24 * (rowMax(i) - xs[i]);
          expect(Math.abs(fast.y[i] - ref.y[i]), `y[${i}]`).toBeLessThanOrEqual(rel * Math.max(ref.y[i], 1e-30));
          expect(fast.probs[i]).toBe(fast.y[i]);
        }
        expect(fast.count).toBe(ref.count);
        expect(Math.abs(fast.loss - ref.loss)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref.loss)));
      });
    }
  }

  it('gives a −∞ logit no mass, and computes e^d within 3 ulp of Math.exp from 0 down to −80', () => {
    const C = 1001;
    // x = [0, d1, d2, …]: y_i / y_0 = e^{d_i}, the row's normalisation cancelling
    const ds = Array.from({ length: C }, (_, i) => (i === 0 ? 0 : Math.fround(-80 * (i / (C - 1)) ** 1.5)));
    const y = wasm.scoped(() => {
      const x = wasm.fromArray([2, C], [...ds, ...ds.map((d, i) => (i === 5 ? -Infinity : d))]);
      const out = wasm.alloc([2, C]);
      wasm.softmaxForward(x, out);
      return Array.from(wasm.read(out));
    });
    for (let i = 1; i < C; i++) {
      const want = Math.exp(ds[i]);
      expect(Math.abs(y[i] / y[0] - want), `e^${ds[i]}`).toBeLessThanOrEqual(3 * 2 ** -23 * want);
    }
    expect(y[C + 5]).toBe(0);
  });
});

describe('wasm GRU and tanh RNN steps', () => {
  const wave = (n: number, f: number, s = 1) => Array.from({ length: n }, (_, i) => s * 12 * Math.sin(i * f) ** 3);
  function run(backend: CpuBackend, kind: 'gru' | 'rnn', T: number, B: number, H: number) {
    const G = kind === 'gru' ? 3 * H : H;
    return backend.scoped(() => {
      // pre-activations from −12 to 12: saturated gates, and values near 0 where tanh is x
      const gi = backend.fromArray([T, B, G], wave(T * B * G, 0.61));
      const whh = backend.fromArray([G, H], wave(G * H, 0.37, 1 / 40));
      const bhh = backend.fromArray([G], wave(G, 0.9, 0.1));
      const h0 = backend.fromArray([B, H], wave(B * H, 1.3, 1 / 12));
      const hs = backend.alloc([T, B, H]);
      const dhs = backend.fromArray([T, B, H], wave(T * B * H, 0.43, 0.2));
      const dgi = backend.fromArray([T, B, G], wave(T * B * G, 0.29, 0.01));
      const dwhh = backend.alloc([G, H]),
        dbhh = backend.alloc([G]);
      if (kind === 'gru') {
        const acts = backend.alloc([T, B, G]),
          ghn = backend.alloc([T, B, H]);
        backend.gruForward(gi, whh, bhh, h0, hs, acts, ghn);
        backend.gruBackward(dhs, hs, acts, ghn, h0, whh, dgi, dwhh, dbhh);
      } else {
        backend.rnnTanhForward(gi, whh, bhh, h0, hs);
        backend.rnnTanhBackward(dhs, hs, h0, whh, dgi, dwhh, dbhh);
      }
      return [hs, dgi, dwhh, dbhh].map((t) => Array.from(backend.read(t)));
    });
  }
  for (const kind of ['gru', 'rnn'] as const) {
    for (const [T, B, H] of [
      [1, 1, 4],
      [5, 3, 8],
      [7, 2, 6],
      [4, 2, 64],
    ]) {
      it(`${kind} T ${T}, B ${B}, H ${H}: states and every gradient match the JS loop`, () => {
        const fast = run(wasm, kind, T, B, H),
          ref = run(js, kind, T, B, H);
        // the states within float32 rounding; the gradients use 1 − h², where an h one ulp off near
        // saturation (h = 0.995 at 3) moves the derivative by ~1e-5 relative
        ['h', 'dgi', 'dwhh', 'dbhh'].forEach((name, k) => {
          const scale = Math.max(...ref[k].map(Math.abs));
          const tol = (k === 0 ? 1e-6 : 2e-5) * scale;
          for (let i = 0; i < ref[k].length; i++) expect(Math.abs(fast[k][i] - ref[k][i]), `${name}[${i}]`).toBeLessThanOrEqual(tol);
        });
      });
    }
  }

  for (const n of [1, 3, 17, 65]) {
    it(`tanh activation, n ${n}: within float32 rounding of Math.tanh from −20 to 20`, () => {
      const xs = Array.from({ length: n }, (_, i) => Math.fround(n === 1 ? 0.3 : -20 + (40 * i) / (n - 1)));
      const y = wasm.scoped(() => {
        const x = wasm.fromArray([n], xs),
          out = wasm.alloc([n]);
        wasm.activationForward('tanh', x, out);
        return Array.from(wasm.read(out));
      });
      xs.forEach((x, i) => expect(Math.abs(y[i] - Math.tanh(x)), `tanh(${x})`).toBeLessThanOrEqual(2.5e-7 * Math.max(1e-30, Math.abs(Math.tanh(x)))));
    });
  }
});
