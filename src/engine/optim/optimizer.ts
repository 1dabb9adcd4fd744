import type { Backend } from '../backend/backend';
import type { ParameterStore } from '../nn/parameters';
import type { Tensor } from '../tensor';
import { SettingError, UserError } from '../errors';

// torch.optim's update rules (PyTorch 1.13, single-tensor path), parameter by parameter. The
// optimizer's state is plain named tensors plus a step count, so a checkpoint can hold it and a
// resumed run continues bit for bit.

export type OptimizerConfig =
  | { name: 'adamw'; lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; decay: DecayScope }
  | { name: 'adam'; lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; decay: DecayScope }
  | { name: 'sgd'; lr: number; momentum: number; dampening: number; nesterov: boolean; weight_decay: number; decay: DecayScope }
  | { name: 'rmsprop'; lr: number; alpha: number; eps: number; momentum: number; centered: boolean; weight_decay: number; decay: DecayScope }
  | { name: 'adagrad'; lr: number; lr_decay: number; eps: number; weight_decay: number; decay: DecayScope };

export type OptimizerName = OptimizerConfig['name'];

/** Which parameters weight decay applies to: all (torch.optim) or only matrices (nanoGPT: no decay on biases and norms). */
export type DecayScope = 'all' | 'matrices';

/** torch.optim's defaults for each optimizer. */
export const OPTIMIZER_DEFAULTS: { [K in OptimizerName]: Omit<Extract<OptimizerConfig, { name: K }>, 'name'> } = {
  adamw: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decay: 'all' },
  adam: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0, decay: 'all' },
  sgd: { lr: 1e-2, momentum: 0, dampening: 0, nesterov: false, weight_decay: 0, decay: 'all' },
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false, weight_decay: 0, decay: 'all' },
  adagrad: { lr: 1e-2, lr_decay: 0, eps: 1e-10, weight_decay: 0, decay: 'all' },
};

export function resolveOptimizerConfig(name: string, overrides: Record<string, unknown> = {}): OptimizerConfig {
  if (!(name in OPTIMIZER_DEFAULTS)) {
    throw new UserError(`unknown optimizer "${name}": choose one of ${Object.keys(OPTIMIZER_DEFAULTS).join(', ')}`);
  }
  const defaults = OPTIMIZER_DEFAULTS[name as OptimizerName] as Record<string, unknown>;
  for (const key of Object.keys(overrides)) {
    if (!(key in defaults)) {
      throw new SettingError(key, `unknown setting "${key}" for optimizer ${name}; known settings: ${Object.keys(defaults).join(', ')}`);
    }
    if (typeof overrides[key] !== typeof defaults[key]) {
      throw new SettingError(key, `optimizer setting ${key} (${String(overrides[key])}) must be a ${typeof defaults[key]}`);
    }
  }
  const config = { name, ...defaults, ...overrides } as OptimizerConfig;
  if (!(config.lr > 0)) throw new SettingError('lr', `lr (${config.lr}) must be a positive number`);
  if (!(config.weight_decay >= 0)) throw new SettingError('weight_decay', `weight_decay (${config.weight_decay}) must be ≥ 0`);
  return config;
}

export interface OptimizerState {
  step: number;
  /** `${parameter}.${buffer}` -> values (exp_avg, exp_avg_sq, momentum_buffer, square_avg, grad_avg, sum). */
  buffers: Record<string, Float32Array | Float64Array>;
}

export class Optimizer {
  /** Number of steps taken. */
  stepCount = 0;
  private readonly buffers = new Map<string, Tensor>();

  constructor(
    readonly config: OptimizerConfig,
    private readonly params: ParameterStore,
  ) {
    for (const [name, p] of params.entries()) {
      for (const buf of this.bufferNames()) this.buffers.set(`${name}.${buf}`, this.backend.allocPersistent(p.shape));
    }
  }

  private get backend(): Backend {
    return this.params.backend;
  }

  private bufferNames(): string[] {
    const c = this.config;
    switch (c.name) {
      case 'adamw':
      case 'adam':
        return ['exp_avg', 'exp_avg_sq'];
      case 'sgd':
        return c.momentum !== 0 ? ['momentum_buffer'] : [];
      case 'rmsprop':
        return ['square_avg', ...(c.momentum > 0 ? ['momentum_buffer'] : []), ...(c.centered ? ['grad_avg'] : [])];
      case 'adagrad':
        return ['sum'];
    }
  }

  private buf(name: string, which: string): Tensor {
    return this.buffers.get(`${name}.${which}`)!;
  }

  /** One update of every parameter from its .grad, at learning rate `lr` (the schedule's value). */
  step(lr: number = this.config.lr): void {
    this.stepCount++;
    const c = this.config;
    for (const [name, p] of this.params.entries()) {
      const g = p.grad!;
      const wd = c.decay === 'matrices' && p.shape.length < 2 ? 0 : c.weight_decay;
      switch (c.name) {
        case 'adamw':
        case 'adam':
          this.backend.adamStep(p, g, this.buf(name, 'exp_avg'), this.buf(name, 'exp_avg_sq'), {
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weightDecay: wd,
            step: this.stepCount,
            decoupled: c.name === 'adamw',
          });
          break;
        case 'sgd':
          this.backend.sgdStep(p, g, c.momentum !== 0 ? this.buf(name, 'momentum_buffer') : null, {
            lr,
            momentum: c.momentum,
            dampening: c.dampening,
            nesterov: c.nesterov,
            weightDecay: wd,
            firstStep: this.stepCount === 1,
          });
          break;
        case 'rmsprop':
          this.backend.rmspropStep(
            p,
            g,
            this.buf(name, 'square_avg'),
            c.momentum > 0 ? this.buf(name, 'momentum_buffer') : null,
            c.centered ? this.buf(name, 'grad_avg') : null,
            { lr, alpha: c.alpha, eps: c.eps, momentum: c.momentum, centered: c.centered, weightDecay: wd },
          );
          break;
        case 'adagrad':
          this.backend.adagradStep(p, g, this.buf(name, 'sum'), {
            lr,
            lrDecay: c.lr_decay,
            eps: c.eps,
            weightDecay: wd,
            step: this.stepCount,
          });
          break;
      }
    }
  }

  getState(): OptimizerState {
    const buffers: OptimizerState['buffers'] = {};
    for (const [key, t] of this.buffers) buffers[key] = this.backend.read(t);
    return { step: this.stepCount, buffers };
  }

  setState(state: OptimizerState): void {
    for (const [key, t] of this.buffers) {
      const v = state.buffers[key];
      if (!v) throw new UserError(`optimizer state has no buffer ${key}: was it saved by a different optimizer or model?`);
      this.backend.write(t, v);
    }
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const t of this.buffers.values()) this.backend.dispose(t);
    this.buffers.clear();
  }
}
