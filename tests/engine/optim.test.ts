import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { ParameterStore } from '../../src/engine/nn/parameters';
import { clipGradNorm, clipGradValue } from '../../src/engine/optim/clip';
import { Optimizer, resolveOptimizerConfig } from '../../src/engine/optim/optimizer';
import { learningRate, validateSchedule } from '../../src/engine/optim/schedule';
import { Rng } from '../../src/engine/rng';

// Each optimizer against the update rule in torch.optim's documentation, written out here in
// float64 independently of the engine, over several steps with changing gradients.

const backend = new CpuBackend('float64');

function setup(): { params: ParameterStore; p0: Float64Array; gradsAt: (step: number) => Float64Array } {
  const params = new ParameterStore(backend, new Rng(1));
  params.create('w', [3, 4], { kind: 'normal', std: 1 });
  params.create('b', [4], { kind: 'normal', std: 1 });
  const p0 = Float64Array.from([...backend.read(params.get('w')), ...backend.read(params.get('b'))]);
  const gradsAt = (step: number) => Float64Array.from({ length: 16 }, (_, i) => Math.sin(1.3 * i + 0.7 * step) * (i % 3 === 0 ? 1e-3 : 1));
  return { params, p0, gradsAt };
}

function run(name: string, overrides: Record<string, unknown>, steps: number): { actual: Float64Array; p0: Float64Array; grads: Float64Array[] } {
  const { params, p0, gradsAt } = setup();
  const opt = new Optimizer(resolveOptimizerConfig(name, overrides), params);
  const grads: Float64Array[] = [];
  for (let s = 1; s <= steps; s++) {
    const g = gradsAt(s);
    grads.push(g);
    backend.write(params.get('w').grad!, g.subarray(0, 12));
    backend.write(params.get('b').grad!, g.subarray(12));
    opt.step();
  }
  const actual = Float64Array.from([...backend.read(params.get('w')), ...backend.read(params.get('b'))]);
  return { actual, p0, grads };
}

function expectClose(actual: Float64Array, expected: Float64Array): void {
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 12);
}

describe('optimizers follow torch.optim', () => {
  it('AdamW: decoupled decay, bias-corrected moments, eps after the correction', () => {
    const h = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
    const { actual, p0, grads } = run('adamw', h, 4);
    const p = p0.slice(),
      m = new Float64Array(16),
      v = new Float64Array(16);
    grads.forEach((g, k) => {
      const t = k + 1;
      for (let i = 0; i < 16; i++) {
        p[i] *= 1 - h.lr * h.weight_decay;
        m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
        v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
        const denom = Math.sqrt(v[i]) / Math.sqrt(1 - h.beta2 ** t) + h.eps;
        p[i] -= (h.lr / (1 - h.beta1 ** t)) * (m[i] / denom);
      }
    });
    expectClose(actual, p);
  });

  it('AdamW with decay on matrices only (nanoGPT) leaves vectors undecayed', () => {
    const { actual: all } = run('adamw', { weight_decay: 0.5, lr: 0.1 }, 1);
    const { actual: matrices } = run('adamw', { weight_decay: 0.5, lr: 0.1, decay: 'matrices' }, 1);
    const { actual: none } = run('adamw', { weight_decay: 0, lr: 0.1 }, 1);
    for (let i = 0; i < 12; i++) expect(matrices[i]).toBe(all[i]);
    for (let i = 12; i < 16; i++) expect(matrices[i]).toBe(none[i]);
  });

  it('Adam: L2 weight decay added to the gradient', () => {
    const h = { lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-6, weight_decay: 0.05 };
    const { actual, p0, grads } = run('adam', h, 3);
    const p = p0.slice(),
      m = new Float64Array(16),
      v = new Float64Array(16);
    grads.forEach((g0, k) => {
      const t = k + 1;
      for (let i = 0; i < 16; i++) {
        const g = g0[i] + h.weight_decay * p[i];
        m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
        v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
        p[i] -= (h.lr / (1 - h.beta1 ** t)) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - h.beta2 ** t) + h.eps));
      }
    });
    expectClose(actual, p);
  });

  for (const nesterov of [false, true]) {
    it(`SGD with momentum${nesterov ? ' (Nesterov)' : ''}, dampening and weight decay`, () => {
      const h = { lr: 0.1, momentum: 0.9, dampening: nesterov ? 0 : 0.1, nesterov, weight_decay: 0.01 };
      const { actual, p0, grads } = run('sgd', h, 4);
      const p = p0.slice(),
        buf = new Float64Array(16);
      grads.forEach((g0, k) => {
        for (let i = 0; i < 16; i++) {
          let d = g0[i] + h.weight_decay * p[i];
          buf[i] = k === 0 ? d : h.momentum * buf[i] + (1 - h.dampening) * d;
          d = nesterov ? d + h.momentum * buf[i] : buf[i];
          p[i] -= h.lr * d;
        }
      });
      expectClose(actual, p);
    });
  }

  it('plain SGD', () => {
    const { actual, p0, grads } = run('sgd', { lr: 0.5 }, 2);
    const p = p0.slice();
    for (const g of grads) for (let i = 0; i < 16; i++) p[i] -= 0.5 * g[i];
    expectClose(actual, p);
  });

  it("RMSprop with char-rnn's alpha 0.95", () => {
    const h = { lr: 2e-3, alpha: 0.95, eps: 1e-8 };
    const { actual, p0, grads } = run('rmsprop', h, 4);
    const p = p0.slice(),
      sq = new Float64Array(16);
    for (const g of grads) {
      for (let i = 0; i < 16; i++) {
        sq[i] = h.alpha * sq[i] + (1 - h.alpha) * g[i] * g[i];
        p[i] -= (h.lr * g[i]) / (Math.sqrt(sq[i]) + h.eps);
      }
    }
    expectClose(actual, p);
  });

  it('RMSprop centered with momentum', () => {
    const h = { lr: 1e-2, alpha: 0.9, eps: 1e-8, momentum: 0.5, centered: true };
    const { actual, p0, grads } = run('rmsprop', h, 3);
    const p = p0.slice(),
      sq = new Float64Array(16),
      ga = new Float64Array(16),
      buf = new Float64Array(16);
    for (const g of grads) {
      for (let i = 0; i < 16; i++) {
        sq[i] = h.alpha * sq[i] + (1 - h.alpha) * g[i] * g[i];
        ga[i] = h.alpha * ga[i] + (1 - h.alpha) * g[i];
        const avg = Math.sqrt(sq[i] - ga[i] * ga[i]) + h.eps;
        buf[i] = h.momentum * buf[i] + g[i] / avg;
        p[i] -= h.lr * buf[i];
      }
    }
    expectClose(actual, p);
  });

  it('Adagrad with learning-rate decay', () => {
    const h = { lr: 0.1, lr_decay: 0.01, eps: 1e-10 };
    const { actual, p0, grads } = run('adagrad', h, 3);
    const p = p0.slice(),
      sum = new Float64Array(16);
    grads.forEach((g, k) => {
      const clr = h.lr / (1 + k * h.lr_decay);
      for (let i = 0; i < 16; i++) {
        sum[i] += g[i] * g[i];
        p[i] -= (clr * g[i]) / (Math.sqrt(sum[i]) + h.eps);
      }
    });
    expectClose(actual, p);
  });

  it('saves and restores its state exactly', () => {
    const { params, gradsAt } = setup();
    const a = new Optimizer(resolveOptimizerConfig('adamw', {}), params);
    backend.write(params.get('w').grad!, gradsAt(1).subarray(0, 12));
    a.step();
    const state = a.getState();
    const b = new Optimizer(resolveOptimizerConfig('adamw', {}), params);
    b.setState(state);
    expect(b.getState()).toEqual(state);
    expect(state.step).toBe(1);
    expect(Object.keys(state.buffers).sort()).toEqual(['b.exp_avg', 'b.exp_avg_sq', 'w.exp_avg', 'w.exp_avg_sq']);
  });

  it('rejects unknown optimizers and settings with a clear message', () => {
    expect(() => resolveOptimizerConfig('adamax')).toThrow('unknown optimizer "adamax": choose one of adamw, adam, sgd, rmsprop, adagrad');
    expect(() => resolveOptimizerConfig('sgd', { beta1: 0.9 })).toThrow('unknown setting "beta1" for optimizer sgd');
    expect(() => resolveOptimizerConfig('adamw', { lr: -1 })).toThrow('lr (-1) must be a positive number');
    expect(() => resolveOptimizerConfig('adamw', { lr: '0.1' })).toThrow('optimizer setting lr (0.1) must be a number');
  });
});

describe('gradient clipping', () => {
  it('clip_grad_norm_: global norm, coefficient min(1, max/(norm+1e-6))', () => {
    const { params } = setup();
    backend.write(
      params.get('w').grad!,
      Array.from({ length: 12 }, (_, i) => i - 6),
    );
    backend.write(params.get('b').grad!, [3, 4, 0, 0]);
    const norm = Math.sqrt([...Array(12).keys()].reduce((s, i) => s + (i - 6) ** 2, 0) + 25);
    const { norm: got, coef } = clipGradNorm(params, 2);
    expect(got).toBeCloseTo(norm, 12);
    expect(coef).toBeCloseTo(2 / (norm + 1e-6), 15);
    expect(backend.read(params.get('b').grad!)[1]).toBeCloseTo(4 * coef, 15);
    expect(clipGradNorm(params, 100).coef).toBe(1);
  });

  it('clip_grad_value_ clamps every element', () => {
    const { params } = setup();
    backend.write(params.get('b').grad!, [-9, 4.9, 5.1, 0.5]);
    clipGradValue(params, 5);
    expect(Array.from(backend.read(params.get('b').grad!))).toEqual([-5, 4.9, 5, 0.5]);
  });
});

describe('learning-rate schedules', () => {
  const cosine = { kind: 'cosine', warmup_iters: 100, lr_decay_iters: 2000, min_lr: 1e-4 } as const;
  it("cosine is nanoGPT's get_lr", () => {
    expect(learningRate(cosine, 1e-3, 0)).toBeCloseTo(1e-3 / 101, 15);
    expect(learningRate(cosine, 1e-3, 99)).toBeCloseTo((1e-3 * 100) / 101, 15);
    expect(learningRate(cosine, 1e-3, 100)).toBeCloseTo(1e-3, 15);
    expect(learningRate(cosine, 1e-3, 1050)).toBeCloseTo(1e-4 + 0.5 * 9e-4, 15);
    expect(learningRate(cosine, 1e-3, 2000)).toBeCloseTo(1e-4, 15);
    expect(learningRate(cosine, 1e-3, 5000)).toBe(1e-4);
  });
  it('step decay and constant', () => {
    expect(learningRate({ kind: 'step', step_size: 10, gamma: 0.5 }, 0.1, 25)).toBeCloseTo(0.025, 15);
    expect(learningRate({ kind: 'constant' }, 0.3, 999)).toBe(0.3);
  });
  it('validates', () => {
    expect(() => validateSchedule({ kind: 'cosine', warmup_iters: 10, lr_decay_iters: 5, min_lr: 0 })).toThrow(
      'lr_decay_iters (5) must be ≥ warmup_iters (10)',
    );
    expect(() => validateSchedule({ kind: 'step', step_size: 0, gamma: 0.5 })).toThrow('step_size (0) must be a positive integer');
  });
});
