import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { erf, gelu, gelu32, geluGrad, geluGrad32, geluGradFromOutput32 } from '../../src/engine/backend/cpu/math';
import { countParameters, createModel, resolveModelConfig } from '../../src/engine/models';
import { Rng } from '../../src/engine/rng';
import { sampleNext, samplingDistribution } from '../../src/engine/sample';

describe('Rng', () => {
  it('is reproducible from its seed and from a saved state', () => {
    const a = new Rng(42),
      b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    a.normal(); // leaves a spare normal in the state
    const state = a.getState();
    const next = [a.normal(), a.random(), a.int(10)];
    const c = Rng.fromState(state);
    expect([c.normal(), c.random(), c.int(10)]).toEqual(next);
    expect(new Rng(43).nextUint32()).not.toBe(new Rng(42).nextUint32());
  });

  it('draws uniform and normal values with the right moments', () => {
    const rng = new Rng(7);
    const n = 200_000;
    let su = 0,
      sn = 0,
      sn2 = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.random();
      expect(u >= 0 && u < 1).toBe(true);
      su += u;
      const z = rng.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sn / n).toBeCloseTo(0, 2);
    expect(sn2 / n).toBeCloseTo(1, 1);
  });

  it('rejects a bad seed', () => {
    expect(() => new Rng(-1)).toThrow('seed (-1) must be a non-negative integer');
    expect(() => new Rng(1.5)).toThrow('seed (1.5) must be a non-negative integer');
  });
});

describe('float32 GELU', () => {
  it('is within float32 rounding of the exact GELU and its derivative', () => {
    for (let x = -8; x <= 8; x += 0.0037) {
      expect(Math.abs(gelu32(x) - gelu(x))).toBeLessThanOrEqual(2.4e-7 * Math.max(1, Math.abs(x)));
      expect(Math.abs(geluGrad32(x) - geluGrad(x))).toBeLessThanOrEqual(2.4e-7);
      // from the float32-rounded forward output, as the backward pass gets it
      expect(Math.abs(geluGradFromOutput32(x, Math.fround(gelu32(x))) - geluGrad(x))).toBeLessThanOrEqual(3e-7);
    }
  });
});

describe('erf (double precision, for exact GELU)', () => {
  it('matches reference values', () => {
    const ref: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, y] of ref) {
      expect(Math.abs(erf(x) - y)).toBeLessThan(2e-16 + 1e-15 * y);
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(1 - erf(3)).toBeCloseTo(2.209049699858544e-5, 15);
  });
});

describe('sampling step', () => {
  const logits = [2, 1, 0.5, 0.5, -1];
  it('greedy is the argmax', () => {
    expect(Array.from(samplingDistribution(logits, { temperature: 0 }))).toEqual([1, 0, 0, 0, 0]);
    expect(sampleNext(logits, { temperature: 0 }, new Rng(1)).id).toBe(0);
  });
  it('top-k keeps ties with the k-th value', () => {
    const p = samplingDistribution(logits, { topK: 3 });
    expect(Array.from(p).map((x) => x > 0)).toEqual([true, true, true, true, false]);
  });
  it('applies temperature, then bans, then top-k, then top-p', () => {
    const p = samplingDistribution(logits, { temperature: 0.5, banned: [0], topK: 2, topP: 0.5 });
    // with 0 banned, top-2 keeps id 1 and the tie {2, 3}; top-p 0.5 then keeps only id 1
    expect(p[0]).toBe(0);
    expect(p[1]).toBeCloseTo(1, 12);
  });
  it('draws with the right frequencies', () => {
    const rng = new Rng(3);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 50_000; i++) counts[sampleNext(logits, { temperature: 1 }, rng).id]++;
    const probs = samplingDistribution(logits, {});
    counts.forEach((c, i) => expect(c / 50_000).toBeCloseTo(probs[i], 2));
  });
  it('rejects bad settings', () => {
    expect(() => samplingDistribution(logits, { temperature: -1 })).toThrow('temperature (-1) must be a finite number ≥ 0');
    expect(() => samplingDistribution(logits, { topP: 0 })).toThrow('top-p (0) must be in (0, 1]');
    expect(() => samplingDistribution(logits, { topK: 1.5 })).toThrow('top-k (1.5) must be a whole number ≥ 0');
    expect(() => sampleNext(logits, { banned: [0, 1, 2, 3, 4] }, new Rng(1))).toThrow('every token was filtered out');
  });
});

describe('model configs', () => {
  it('validate with messages that name the value', () => {
    expect(() => resolveModelConfig('gpt', 65, { n_embd: 130, n_head: 4 })).toThrow('n_embd (130) must be divisible by n_head (4)');
    expect(() => resolveModelConfig('lstm', 65, { hidden_size: 0 })).toThrow('hidden_size (0) must be a positive integer');
    expect(() => resolveModelConfig('gpt', 65, { n_layers: 4 })).toThrow('unknown setting "n_layers" for a gpt model');
    expect(() => resolveModelConfig('gpt', 65, { norm_position: 'middle' })).toThrow('norm_position (middle) must be one of pre, post');
    expect(() => resolveModelConfig('gpt', 65, { dropout: 1 })).toThrow(/^dropout \(1\) must be a number in \[0, 1\)$/);
    expect(() => resolveModelConfig('transformer' as 'gpt', 65)).toThrow('unknown model family "transformer"');
  });

  it('count parameters as the built model does, for every family and option', () => {
    const backend = new CpuBackend();
    const cases: [Parameters<typeof resolveModelConfig>[0], Record<string, unknown>][] = [
      ['rnn', {}],
      ['lstm', { num_layers: 3 }],
      ['gru', { embedding_dim: 16 }],
      ['gpt', {}],
      ['gpt', { tie_word_embeddings: false, lm_head_bias: true, position_encoding: 'sinusoidal' }],
      ['gpt', { bias: false, final_layer_norm: false, mlp_ratio: 2 }],
    ];
    for (const [family, o] of cases) {
      const config = resolveModelConfig(family, 65, o);
      const model = createModel(config, backend, new Rng(1));
      expect(countParameters(config), `${family} ${JSON.stringify(o)}`).toBe(model.params.count());
      model.dispose();
    }
    // nanoGPT's CPU model, 65 chars: wte 8320 + wpe 8192 + 4 blocks × 198272 + ln_f 256
    expect(countParameters(resolveModelConfig('gpt', 65, {}))).toBe(809_856);
  });

  it('initialises like PyTorch (recurrent) and nanoGPT (Transformer)', () => {
    const backend = new CpuBackend();
    const lstm = createModel(resolveModelConfig('lstm', 65, { hidden_size: 100 }), backend, new Rng(1));
    const w = backend.read(lstm.params.get('rnn.weight_hh_l1'));
    expect(Math.max(...w)).toBeLessThanOrEqual(0.1);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-0.1);
    expect(Math.max(...w)).toBeGreaterThan(0.099);
    const gpt = createModel(resolveModelConfig('gpt', 65, { n_layer: 8 }), backend, new Rng(1));
    const std = (name: string) => {
      const v = Array.from(backend.read(gpt.params.get(name)));
      return Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    };
    expect(std('transformer.h.0.attn.c_attn.weight')).toBeCloseTo(0.02, 3);
    expect(std('transformer.h.0.mlp.c_proj.weight')).toBeCloseTo(0.02 / 4, 3);
    expect(std('transformer.h.0.attn.c_attn.bias')).toBe(0);
    expect(backend.read(gpt.params.get('transformer.ln_f.weight')).every((x) => x === 1)).toBe(true);
  });
});

describe('tensor lifetimes', () => {
  it('a training step frees everything it allocated', () => {
    const backend = new CpuBackend();
    const model = createModel(resolveModelConfig('gpt', 11, { n_layer: 2, n_embd: 16, n_head: 2, block_size: 8, dropout: 0.1 }), backend, new Rng(1));
    const ids = Int32Array.from({ length: 16 }, (_, i) => i % 11);
    const step = () =>
      backend.scoped(() => {
        const g = new Graph(backend, new Rng(2), true);
        const { loss } = g.crossEntropy(model.forward(g, ids, 2, 8).logits, ids);
        g.backward(loss);
      });
    step();
    const live = backend.liveTensors();
    step();
    step();
    expect(backend.liveTensors()).toBe(live);
    model.dispose();
    expect(backend.liveTensors()).toBe(0);
  });

  it('an error inside a step still frees the step', () => {
    const backend = new CpuBackend();
    const before = backend.liveTensors();
    expect(() =>
      backend.scoped(() => {
        backend.alloc([10]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(backend.liveTensors()).toBe(before);
  });
});
