import type { ParameterStore } from '../nn/parameters';

/**
 * torch.nn.utils.clip_grad_norm_: the global L2 norm over every gradient, and a rescale by
 * min(1, max_norm / (norm + 1e-6)). Returns the norm before clipping and the factor applied.
 */
export function clipGradNorm(params: ParameterStore, maxNorm: number): { norm: number; coef: number } {
  const backend = params.backend;
  let sum = 0;
  for (const [, p] of params.entries()) sum += backend.sumSquares(p.grad!);
  const norm = Math.sqrt(sum);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  // PyTorch multiplies by the clamped coefficient even when it is 1; skipping that is exact.
  if (coef < 1) for (const [, p] of params.entries()) backend.scale(p.grad!, coef);
  return { norm, coef };
}

/** The global gradient norm without clipping (logged every step). */
export function gradNorm(params: ParameterStore): number {
  let sum = 0;
  for (const [, p] of params.entries()) sum += params.backend.sumSquares(p.grad!);
  return Math.sqrt(sum);
}

/** torch.nn.utils.clip_grad_value_: every gradient element clamped to [−limit, limit] (char-rnn's "clip 5"). */
export function clipGradValue(params: ParameterStore, limit: number): void {
  for (const [, p] of params.entries()) params.backend.clampAbs(p.grad!, limit);
}
