// The learning-rate schedule of a New run in words, beside the curve the host computed with the
// engine's own learningRate (runs.preview's lrCurve): one line a learner can check against it.
import type { SettingValue } from './settings';
import { formatInteger } from './format';

/** A learning rate as people write it: 1e-3, 2.5e-4, 0.1. */
export function formatLr(lr: number): string {
  if (lr === 0) return '0';
  if (lr >= 0.01 && lr < 1000) return String(Number(lr.toPrecision(3)));
  const [mantissa, exponent] = lr.toExponential().split('e');
  return `${Number(Number(mantissa).toPrecision(3))}e${exponent.replace('+', '')}`;
}

/**
 * "warm-up 100 steps to 1e-3, cosine to 1e-4 at step 2,000" from the resolved settings, for a
 * run of `steps` steps (the horizon of a time budget, when it trains for a time).
 */
export function describeSchedule(resolved: Readonly<Record<string, SettingValue>>, steps: number): string {
  const lr = Number(resolved.lr);
  const kind = String(resolved.schedule ?? 'constant');
  if (kind === 'cosine') {
    const warmup = Number(resolved.warmup_iters ?? 0);
    const end = Number(resolved.lr_decay_iters ?? steps);
    const floor = formatLr(Number(resolved.min_lr ?? 0));
    const rise = warmup > 0 ? `warm-up ${formatInteger(warmup)} steps to ${formatLr(lr)}, cosine` : `cosine from ${formatLr(lr)}`;
    const rest =
      end < steps
        ? `, then ${floor} until step ${formatInteger(steps)}`
        : end > steps
          ? ` (it would reach it at step ${formatInteger(end)}; the run stops at ${formatInteger(steps)})`
          : '';
    return `${rise} to ${floor} at step ${formatInteger(end)}${rest}`;
  }
  if (kind === 'step') {
    const every = Number(resolved.step_size);
    const gamma = Number(resolved.gamma);
    const drops = Math.floor((steps - 1) / every);
    return `${formatLr(lr)}, multiplied by ${gamma} every ${formatInteger(every)} steps (${drops} drop${drops === 1 ? '' : 's'} in ${formatInteger(steps)} steps, ending at ${formatLr(lr * gamma ** drops)})`;
  }
  return `constant ${formatLr(lr)} for ${formatInteger(steps)} steps`;
}

/** "≈ 2,400 steps in 5 min on this computer": a time budget's horizon from a measured speed. */
export function describeHorizon(horizonSteps: number, minutes: number): string {
  return `≈ ${formatInteger(horizonSteps)} steps in ${minutes} min on this computer`;
}
