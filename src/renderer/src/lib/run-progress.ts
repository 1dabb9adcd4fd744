// What the progress line of a run says: step, share done, budget, training time, time left and
// throughput — and while the run is paused, "paused" instead of a time left or a speed (a paused
// run makes no progress, so neither has a meaning).
import { formatDuration, formatEta, formatInteger, formatRate } from './format';
import { progressOf } from './series';

export interface ProgressInput {
  step: number;
  totalSteps: number | null;
  /** Training time so far, pauses excluded (what a time budget counts and an ETA extrapolates). */
  activeMs: number | null;
  /** Time since the start, pauses included. */
  wallMs: number | null;
  timeBudgetMs: number | null;
  tokensPerSec: number | null;
  live: boolean;
  paused: boolean;
}

export interface ProgressFact {
  key: 'step' | 'percent' | 'budget' | 'active' | 'wall' | 'state' | 'eta' | 'rate';
  text: string;
}

export function progressFacts(p: ProgressInput): { percent: number | null; facts: ProgressFact[] } {
  const progress = progressOf({ step: p.step, totalSteps: p.totalSteps, elapsedMs: p.activeMs, timeBudgetMs: p.timeBudgetMs });
  const percent = progress.fraction === null ? null : Math.round(progress.fraction * 100);
  const facts: ProgressFact[] = [{ key: 'step', text: `step ${formatInteger(p.step)}${p.totalSteps !== null ? ` / ${formatInteger(p.totalSteps)}` : ''}` }];
  if (percent !== null) facts.push({ key: 'percent', text: `${percent}%` });
  if (p.timeBudgetMs !== null) facts.push({ key: 'budget', text: `budget ${formatDuration(p.timeBudgetMs)}` });
  if (p.activeMs !== null) facts.push({ key: 'active', text: `trained ${formatDuration(p.activeMs)}` });
  // wall time differs from training time only when the run was paused (or waited for evaluations)
  if (p.wallMs !== null && p.activeMs !== null && p.wallMs - p.activeMs >= 1000)
    facts.push({ key: 'wall', text: `${formatDuration(p.wallMs)} since the start` });
  if (p.live && p.paused) facts.push({ key: 'state', text: 'paused' });
  else {
    if (p.live) facts.push({ key: 'eta', text: formatEta(progress.etaMs) });
    if (p.tokensPerSec !== null) facts.push({ key: 'rate', text: formatRate(p.tokensPerSec) });
  }
  return { percent, facts };
}
