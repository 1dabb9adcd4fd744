import { afterAll, describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { KERNEL_NAMES, type Backend } from '../../src/engine/backend/backend';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { createModel, resolveModelConfig, resolveSeq2SeqConfig, Seq2Seq, targetMask, type ModelFamily } from '../../src/engine/models';
import { Rng } from '../../src/engine/rng';
import type { Tensor } from '../../src/engine/tensor';

// Central finite differences in float64 against every op's backward kernel, and against whole
// models of every family. The backend is wrapped so the test can prove every kernel ran.

const called = new Set<string>();
function recording(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        called.add(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const backend = recording(new CpuBackend('float64'));

interface InputSpec {
  shape: number[];
  /** Values; random N(0, scale²) when absent. */
  values?: number[];
  scale?: number;
  /** Inputs that carry no gradient (initial states, masks). */
  constant?: boolean;
}

/**
 * Checks d(Σ w ⊙ f(inputs))/d(inputs) from the tape against central differences, for random w.
 * `f` is rebuilt from scratch for every evaluation, with the same rng seed (so dropout masks repeat).
 */
function gradCheck(
  name: string,
  specs: InputSpec[],
  f: (g: Graph, xs: Tensor[]) => Tensor,
  opts: { eps?: number; rtol?: number; atol?: number; seed?: number } = {},
): void {
  const eps = opts.eps ?? 1e-6,
    rtol = opts.rtol ?? 1e-5,
    atol = opts.atol ?? 1e-7;
  const rng = new Rng(opts.seed ?? 11);
  const values = specs.map((s) =>
    Float64Array.from(s.values ?? Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * (s.scale ?? 1))),
  );
  let weights: Float64Array | null = null;

  const evaluate = (withGrad: boolean): { value: number; grads: Float64Array[] } =>
    backend.scoped(() => {
      const xs = specs.map((s, i) => {
        const t = backend.fromArray(s.shape, values[i]);
        t.requiresGrad = withGrad && !s.constant;
        return t;
      });
      const g = new Graph(backend, new Rng(3), true, withGrad);
      const y = f(g, xs);
      const yv = backend.read(y);
      if (!weights) weights = Float64Array.from(yv, () => rng.normal());
      let value = 0;
      for (let i = 0; i < yv.length; i++) value += weights[i] * yv[i];
      let grads: Float64Array[] = [];
      if (withGrad) {
        g.backward(y, backend.fromArray(y.shape, weights));
        grads = xs.map((x) => (x.grad ? Float64Array.from(backend.read(x.grad)) : new Float64Array(x.size)));
      }
      return { value, grads };
    });

  const { grads } = evaluate(true);
  specs.forEach((spec, i) => {
    if (spec.constant) return;
    const v = values[i];
    for (let j = 0; j < v.length; j++) {
      const keep = v[j];
      v[j] = keep + eps;
      const plus = evaluate(false).value;
      v[j] = keep - eps;
      const minus = evaluate(false).value;
      v[j] = keep;
      const numeric = (plus - minus) / (2 * eps);
      const analytic = grads[i][j];
      if (!(Math.abs(analytic - numeric) <= atol + rtol * Math.abs(numeric))) {
        throw new Error(`${name}: input ${i} element ${j}: backward ${analytic}, finite difference ${numeric}`);
      }
    }
  });
}

const ids = Int32Array.from([2, 0, 3, 3, 1, 4]);

describe('finite-difference gradient checks (float64)', () => {
  it('embedding', () => gradCheck('embedding', [{ shape: [5, 3] }], (g, [w]) => g.embedding(w, ids, [2, 3])));

  it('linear with and without bias', () => {
    gradCheck('linear', [{ shape: [2, 3, 4] }, { shape: [5, 4] }, { shape: [5] }], (g, [x, w, b]) => g.linear(x, w, b));
    gradCheck('linear (no bias)', [{ shape: [7, 6] }, { shape: [9, 6] }], (g, [x, w]) => g.linear(x, w, null));
  });

  it('add, addRepeat, mul', () => {
    gradCheck('add', [{ shape: [3, 4] }, { shape: [3, 4] }], (g, [a, b]) => g.add(a, b));
    gradCheck('addRepeat', [{ shape: [2, 3, 4] }, { shape: [3, 4] }], (g, [a, b]) => g.addRepeat(a, b));
    gradCheck('mul', [{ shape: [3, 4] }, { shape: [3, 4] }], (g, [a, b]) => g.mul(a, b));
  });

  for (const kind of ['tanh', 'sigmoid', 'gelu'] as const) {
    it(kind, () => gradCheck(kind, [{ shape: [4, 5], scale: 2 }], (g, [x]) => g.activation(kind, x)));
  }

  it('relu (away from the kink at 0)', () => {
    const values = [-2, -0.5, 0.3, 1.7, -0.1, 0.9, 2.2, -3, 0.05, -0.05];
    gradCheck('relu', [{ shape: [2, 5], values }], (g, [x]) => g.activation('relu', x));
  });

  it('gelu far in the tails', () => {
    gradCheck('gelu tails', [{ shape: [6], values: [-7, -4.2, -2.6, 2.6, 4.2, 7] }], (g, [x]) => g.activation('gelu', x));
  });

  it('transpose01', () => gradCheck('transpose01', [{ shape: [3, 2, 4] }], (g, [x]) => g.transpose01(x)));

  it('layer norm (input, gain, bias)', () => {
    gradCheck('layerNorm', [{ shape: [3, 6], scale: 2 }, { shape: [6] }, { shape: [6] }], (g, [x, w, b]) => g.layerNorm(x, w, b));
  });

  it('softmax', () => gradCheck('softmax', [{ shape: [3, 5], scale: 2 }], (g, [x]) => g.softmax(x)));

  it('causal multi-head attention', () => {
    gradCheck('attention', [{ shape: [2, 4, 3 * 6] }], (g, [qkv]) => g.attention(qkv, 2, 0).y);
  });

  it('causal attention with dropout on the probabilities', () => {
    gradCheck('attention+dropout', [{ shape: [1, 5, 3 * 4] }], (g, [qkv]) => g.attention(qkv, 2, 0.3).y);
  });

  it("scale by a constant (the embeddings' √d_model)", () => gradCheck('scale', [{ shape: [2, 3, 4] }], (g, [x]) => g.scale(x, Math.sqrt(8))));

  it('cross-attention: separate q, k, v, Tq ≠ Tk, a source padding mask (B, 1, Tk)', () => {
    // batch 1's last two keys are padding: they get no weight and no gradient
    const pad = [0, 0, 0, 0, 0, 0, 0, 1, 1];
    gradCheck(
      'maskedAttention (cross, padding)',
      [{ shape: [2, 3, 6] }, { shape: [2, 5, 6] }, { shape: [2, 5, 6] }, { shape: [2, 1, 5], values: [0, ...pad], constant: true }],
      (g, [q, k, v, mask]) => g.maskedAttention(q, k, v, mask, 2).y,
    );
  });

  it('masked self-attention: one tensor as q, k and v, a per-query target mask (B, T, T)', () => {
    const mask = Array.from(targetMask([1, 4, 2, 0, 3, 5, 0, 0], 2, 4, 0));
    gradCheck(
      'maskedAttention (self, look-ahead + padding)',
      [{ shape: [2, 4, 6] }, { shape: [2, 4, 4], values: mask, constant: true }],
      (g, [x, m]) => g.maskedAttention(x, x, x, m, 3).y,
    );
  });

  it('attention without a mask (every key seen)', () => {
    gradCheck(
      'maskedAttention (no mask)',
      [{ shape: [1, 2, 4] }, { shape: [1, 3, 4] }, { shape: [1, 3, 4] }],
      (g, [q, k, v]) => g.maskedAttention(q, k, v, null, 1).y,
    );
  });

  it("the lesson's layer norm: unbiased std, (std + 1e-6) (input, gamma, beta)", () => {
    gradCheck('seedLayerNorm', [{ shape: [3, 6], scale: 2 }, { shape: [6] }, { shape: [6] }], (g, [x, w, b]) => g.seedLayerNorm(x, w, b, 1e-6));
    gradCheck('seedLayerNorm (large eps)', [{ shape: [2, 5] }, { shape: [5] }, { shape: [5] }], (g, [x, w, b]) => g.seedLayerNorm(x, w, b, 0.3));
  });

  it('dropout (the same seeded mask on every evaluation)', () => {
    gradCheck('dropout', [{ shape: [4, 5] }], (g, [x]) => g.dropout(x, 0.4));
  });

  it('cross-entropy, with an ignored position', () => {
    const targets = Int32Array.from([1, 4, -100, 0]);
    gradCheck('crossEntropy', [{ shape: [4, 5], scale: 2 }], (g, [x]) => g.crossEntropy(x, targets).loss);
  });

  const T = 3,
    B = 2,
    H = 3;
  it('vanilla RNN over time, from a carried state', () => {
    gradCheck('rnnTanh', [{ shape: [T, B, H] }, { shape: [H, H], scale: 0.5 }, { shape: [H] }, { shape: [B, H], constant: true }], (g, [gi, whh, bhh, h0]) =>
      g.rnnTanh(gi, whh, bhh, h0),
    );
  });

  it('LSTM over time, from a carried state', () => {
    const specs: InputSpec[] = [
      { shape: [T, B, 4 * H] },
      { shape: [4 * H, H], scale: 0.5 },
      { shape: [4 * H] },
      { shape: [B, H], constant: true },
      { shape: [B, H], constant: true },
    ];
    gradCheck('lstm', specs, (g, [gi, whh, bhh, h0, c0]) => g.lstm(gi, whh, bhh, h0, c0).hs);
  });

  it('GRU over time, from a carried state', () => {
    gradCheck(
      'gru',
      [{ shape: [T, B, 3 * H] }, { shape: [3 * H, H], scale: 0.5 }, { shape: [3 * H] }, { shape: [B, H], constant: true }],
      (g, [gi, whh, bhh, h0]) => g.gru(gi, whh, bhh, h0),
    );
  });
});

describe('finite-difference checks of whole models (float64)', () => {
  const cases: [string, ModelFamily, Record<string, unknown>][] = [
    ['rnn', 'rnn', { embedding_dim: 4, hidden_size: 5, num_layers: 2 }],
    ['lstm', 'lstm', { embedding_dim: 4, hidden_size: 5, num_layers: 2 }],
    ['gru', 'gru', { embedding_dim: 4, hidden_size: 5, num_layers: 2 }],
    ['gpt pre-LN, learned positions, tied head', 'gpt', { block_size: 4, n_layer: 2, n_head: 2, n_embd: 8 }],
    [
      'gpt post-LN, sinusoidal, ReLU, separate head with bias',
      'gpt',
      {
        block_size: 4,
        n_layer: 1,
        n_head: 2,
        n_embd: 8,
        norm_position: 'post',
        position_encoding: 'sinusoidal',
        activation: 'relu',
        final_layer_norm: false,
        tie_word_embeddings: false,
        lm_head_bias: true,
        mlp_ratio: 2,
      },
    ],
  ];
  for (const [label, family, overrides] of cases) {
    it(label, () => {
      const config = resolveModelConfig(family, 6, overrides);
      const model = createModel(config, backend, new Rng(5));
      // nanoGPT's init is small (std 0.02): scale up so the check sees curvature, not a linear map
      for (const [, p] of model.params.entries()) {
        const v = backend.read(p);
        for (let i = 0; i < v.length; i++)
          v[i] = v[i] * (family === 'gpt' ? 20 : 1) + (config.family === 'gpt' && p.shape.length === 1 ? 0.1 * Math.sin(i) : 0);
        backend.write(p, v);
      }
      const Bm = 2,
        Tm = 4;
      const x = Int32Array.from([1, 3, 5, 0, 2, 2, 4, 1]);
      const y = Int32Array.from([3, 5, 0, 2, 2, 4, 1, 5]);
      const lossOf = (withGrad: boolean) =>
        backend.scoped(() => {
          model.params.zeroGrad();
          const g = new Graph(backend, new Rng(0), false, withGrad);
          const { loss, value } = g.crossEntropy(model.forward(g, x, Bm, Tm).logits, y);
          if (withGrad) g.backward(loss);
          return value;
        });
      lossOf(true);
      const grads = model.params.readGrads();
      const rng = new Rng(9);
      for (const [name, p] of model.params.entries()) {
        const v = backend.read(p);
        // a few elements per parameter keep the check quick; every parameter is visited
        for (let n = 0; n < 4; n++) {
          const j = rng.int(v.length);
          const keep = v[j];
          v[j] = keep + 1e-6;
          backend.write(p, v);
          const plus = lossOf(false);
          v[j] = keep - 1e-6;
          backend.write(p, v);
          const minus = lossOf(false);
          v[j] = keep;
          backend.write(p, v);
          const numeric = (plus - minus) / 2e-6;
          expect(Math.abs(grads[name][j] - numeric), `${name}[${j}]: ${grads[name][j]} vs ${numeric}`).toBeLessThanOrEqual(1e-7 + 1e-5 * Math.abs(numeric));
        }
      }
      model.dispose();
    });
  }
});

describe('finite-difference checks of the encoder–decoder (float64)', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['seq2seq post-LN, torch layer norm', { layer_norm: 'torch', norm_position: 'post' }],
    ["seq2seq post-LN, the lesson's layer norm", { layer_norm: 'seed', norm_position: 'post' }],
    ["seq2seq pre-LN, the lesson's layer norm", { layer_norm: 'seed', norm_position: 'pre' }],
  ];
  for (const [label, overrides] of cases) {
    it(label, () => {
      const config = resolveSeq2SeqConfig(7, 6, { d_model: 8, num_heads: 2, num_layers: 2, d_ff: 12, max_seq_length: 8, dropout: 0, ...overrides });
      const model = new Seq2Seq(config, backend, new Rng(5));
      for (const [, p] of model.params.entries()) {
        const v = backend.read(p);
        for (let i = 0; i < v.length; i++) v[i] = v[i] * (p.shape.length === 2 && p.shape[0] > 6 ? 1 : 0.5) + (p.shape.length === 1 ? 0.1 * Math.sin(i) : 0);
        backend.write(p, v);
      }
      // rows of different lengths, padded with 0: both masks are exercised
      const batch = {
        B: 2,
        S: 4,
        T: 3,
        src: Int32Array.from([3, 5, 6, 4, 2, 6, 0, 0]),
        decoderInput: Int32Array.from([1, 4, 3, 1, 5, 0]),
      };
      const targets = Int32Array.from([4, 3, 2, 5, 2, 0]);
      const lossOf = (withGrad: boolean) =>
        backend.scoped(() => {
          model.params.zeroGrad();
          const g = new Graph(backend, new Rng(0), false, withGrad);
          const { loss, value } = g.crossEntropy(model.forward(g, batch).logits, targets, 0);
          if (withGrad) g.backward(loss);
          return value;
        });
      lossOf(true);
      const grads = model.params.readGrads();
      const rng = new Rng(9);
      for (const [name, p] of model.params.entries()) {
        const v = backend.read(p);
        for (let n = 0; n < 3; n++) {
          const j = rng.int(v.length);
          const keep = v[j];
          v[j] = keep + 1e-6;
          backend.write(p, v);
          const plus = lossOf(false);
          v[j] = keep - 1e-6;
          backend.write(p, v);
          const minus = lossOf(false);
          v[j] = keep;
          backend.write(p, v);
          const numeric = (plus - minus) / 2e-6;
          expect(Math.abs(grads[name][j] - numeric), `${name}[${j}]: ${grads[name][j]} vs ${numeric}`).toBeLessThanOrEqual(1e-7 + 1e-5 * Math.abs(numeric));
        }
      }
      model.dispose();
    });
  }
});

afterAll(() => {
  // Every forward/backward kernel of the registry that has a derivative ran under a finite-difference check.
  // no derivative: storage, optimizer updates, and the inference-only KV-cache kernels (checked
  // against the full forward in generate.test.ts)
  const optimizerOrStorage = new Set([
    'fill',
    'copy',
    'sumSquares',
    'scale',
    'clampAbs',
    'adamStep',
    'sgdStep',
    'rmspropStep',
    'adagradStep',
    'kvCacheWrite',
    'attentionDecodeForward',
  ]);
  const missing = KERNEL_NAMES.filter((k) => !optimizerOrStorage.has(k) && !called.has(k));
  expect(missing).toEqual([]);
});
