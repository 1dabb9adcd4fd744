// Sorting and filtering the runs table (the host filters by family, status and tag; the table
// sorts locally so every column can sort, nulls last whichever the direction).
import type { RunSummary } from '../../../shared/contract';

export type RunColumn = 'name' | 'family' | 'paramCount' | 'status' | 'steps' | 'bestValLoss' | 'tokensPerSec' | 'createdAt';

export interface RunSort {
  column: RunColumn;
  descending: boolean;
}

/** Statuses in which a run is training (or holding its place to resume). */
export const ACTIVE_STATUSES = ['queued', 'running', 'paused'] as const;

export function isActive(status: string): boolean {
  return (ACTIVE_STATUSES as readonly string[]).includes(status);
}

/** A run that has stopped short of its end and left a checkpoint can train on. */
export function canContinue(status: string, checkpoints: number, live: boolean): boolean {
  return !live && checkpoints > 0 && ['stopped', 'interrupted', 'failed'].includes(status);
}

export function sortRuns(runs: readonly RunSummary[], sort: RunSort): RunSummary[] {
  const sign = sort.descending ? -1 : 1;
  return runs.slice().sort((a, b) => {
    const x = a[sort.column];
    const y = b[sort.column];
    if (x === null && y === null) return a.id - b.id;
    if (x === null) return 1;
    if (y === null) return -1;
    const c = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y, undefined, { numeric: true, sensitivity: 'base' }) : Number(x) - Number(y);
    return c !== 0 ? sign * c : a.id - b.id;
  });
}

/** Every tag on any run, sorted, for the filter's choices. */
export function allTags(runs: readonly RunSummary[]): string[] {
  return [...new Set(runs.flatMap((r) => r.tags))].sort((a, b) => a.localeCompare(b));
}

/** Tags typed as "a, b  c" → ["a", "b", "c"]. */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,\s]+/)
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    ),
  ];
}
