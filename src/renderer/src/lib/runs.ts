// Sorting and filtering the runs table, all in the page (the store holds every run): by family,
// status, tag and a text that matches name, tags or family; every column sorts, nulls last
// whichever the direction.
import type { RunSummary } from '../../../shared/contract';

export const RUN_COLUMNS = ['name', 'family', 'paramCount', 'status', 'steps', 'bestValLoss', 'tokensPerSec', 'createdAt'] as const;
export type RunColumn = (typeof RUN_COLUMNS)[number];

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

/** The Runs view's choices (kept across reloads): '' means "all". */
export interface RunFilter {
  family: string;
  status: string;
  tag: string;
  /** Matched against name, tags and family: a case-insensitive regular expression. */
  text: string;
}

export interface TextMatch {
  test(value: string): boolean;
  /** Why the text is not a valid regular expression (it is then matched literally), or null. */
  error: string | null;
}

/** A case-insensitive regex from the filter text; an invalid one says why and matches literally. */
export function textMatcher(text: string): TextMatch {
  const t = text.trim();
  if (t === '') return { test: () => true, error: null };
  try {
    const re = new RegExp(t, 'i');
    return { test: (v) => re.test(v), error: null };
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: \/.*\/\w*: /, '') : String(e);
    const literal = t.toLowerCase();
    return {
      test: (v) => v.toLowerCase().includes(literal),
      error: `“${t}” is not a valid regular expression (${why}); matching it as plain text. Escape special characters with \\ to match them.`,
    };
  }
}

/** The runs that pass every filter, and the text filter's error (if its regex is invalid). */
export function filterRuns(runs: readonly RunSummary[], filter: RunFilter): { runs: RunSummary[]; error: string | null } {
  const match = textMatcher(filter.text);
  const kept = runs.filter(
    (r) =>
      (!filter.family || r.family === filter.family) &&
      (!filter.status || r.status === filter.status) &&
      (!filter.tag || r.tags.includes(filter.tag)) &&
      [r.name, r.family, ...r.tags].some((v) => match.test(v)),
  );
  return { runs: kept, error: match.error };
}

/** Whether any filter narrows the list. */
export function isFiltering(filter: RunFilter): boolean {
  return Boolean(filter.family || filter.status || filter.tag || filter.text.trim());
}
