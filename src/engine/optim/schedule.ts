import { SettingError, UserError } from '../errors';

// Learning-rate schedules, as functions of the 0-based iteration.

export type LrSchedule =
  | { kind: 'constant' }
  /** nanoGPT's get_lr: linear warmup, cosine decay to min_lr at lr_decay_iters, then min_lr. */
  | { kind: 'cosine'; warmup_iters: number; lr_decay_iters: number; min_lr: number }
  /** torch.optim.lr_scheduler.StepLR: lr · gamma^⌊it / step_size⌋. */
  | { kind: 'step'; step_size: number; gamma: number };

export function learningRate(schedule: LrSchedule, baseLr: number, it: number): number {
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'cosine': {
      const { warmup_iters: warmup, lr_decay_iters: decayIters, min_lr: minLr } = schedule;
      if (it < warmup) return (baseLr * (it + 1)) / (warmup + 1);
      if (it > decayIters) return minLr;
      const ratio = (it - warmup) / Math.max(1, decayIters - warmup);
      const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio)); // 1 -> 0
      return minLr + coeff * (baseLr - minLr);
    }
    case 'step':
      return baseLr * Math.pow(schedule.gamma, Math.floor(it / schedule.step_size));
  }
}

export function validateSchedule(schedule: LrSchedule): void {
  switch (schedule.kind) {
    case 'constant':
      return;
    case 'cosine':
      if (!(schedule.warmup_iters >= 0)) throw new SettingError('warmup_iters', `warmup_iters (${schedule.warmup_iters}) must be ≥ 0`);
      if (!(schedule.lr_decay_iters >= schedule.warmup_iters)) {
        throw new SettingError('lr_decay_iters', `lr_decay_iters (${schedule.lr_decay_iters}) must be ≥ warmup_iters (${schedule.warmup_iters})`);
      }
      if (!(schedule.min_lr >= 0)) throw new SettingError('min_lr', `min_lr (${schedule.min_lr}) must be ≥ 0`);
      return;
    case 'step':
      if (!(Number.isInteger(schedule.step_size) && schedule.step_size > 0)) {
        throw new SettingError('step_size', `step_size (${schedule.step_size}) must be a positive integer`);
      }
      if (!(schedule.gamma > 0)) throw new SettingError('gamma', `gamma (${schedule.gamma}) must be positive`);
      return;
    default:
      throw new UserError(`unknown lr schedule "${(schedule as { kind: string }).kind}": choose constant, cosine or step`);
  }
}
