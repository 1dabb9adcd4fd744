// What Compare decides from the runs it shows: how each splits its text (and so whether their
// per-token losses can be compared), which metric to open on, which runs a name filter keeps,
// and the CSV of what is drawn.
import type { SeriesPoint } from '../../../shared/contract';

/** Metrics measured per token: comparable only between runs whose tokenizers split text alike. */
export const PER_TOKEN_METRICS: readonly string[] = ['train_loss', 'val_loss', 'eval_train_loss'];

/** Bits per character of the original text: the same unit whatever the tokenizer. */
export const CROSS_TOKENIZER_METRIC = 'val_bpc';

/**
 * How a run splits its text, from its stored config (`data.tokenizer`): "char", or "word" with its
 * vocabulary size (two word vocabularies cut text into different tokens too). Null when unknown.
 */
export function tokenizerOf(config: unknown): string | null {
  const t = (config as { data?: { tokenizer?: { kind?: unknown; vocab_size?: unknown } } } | null)?.data?.tokenizer;
  if (!t || typeof t.kind !== 'string') return null;
  return t.kind === 'word' && typeof t.vocab_size === 'number' ? `word (${t.vocab_size})` : t.kind;
}

/** Whether the runs' tokenizers differ (unknown ones are left out). */
export function tokenizersDiffer(tokenizers: readonly (string | null)[]): boolean {
  return new Set(tokenizers.filter((t): t is string => t !== null)).size > 1;
}

/** Compare's metric on opening: train loss, or bits/char when the runs split text differently. */
export function defaultMetric(differ: boolean): string {
  return differ ? CROSS_TOKENIZER_METRIC : 'train_loss';
}

export interface NameFilter {
  /** Null when the pattern is not a valid regular expression (`error` says why). */
  matches: ((name: string) => boolean) | null;
  error: string | null;
}

/**
 * A run-name filter: a case-insensitive regular expression, as TensorBoard's (plain words work
 * as they are: "gpt" keeps every name containing gpt). An empty pattern keeps every run.
 */
export function nameFilter(pattern: string): NameFilter {
  const p = pattern.trim();
  if (p === '') return { matches: () => true, error: null };
  try {
    const re = new RegExp(p, 'i');
    return { matches: (name) => re.test(name), error: null };
  } catch (e) {
    const why = (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '');
    return { matches: null, error: `"${p}" is not a valid regular expression (${why}); fix it or clear the filter.` };
  }
}

export interface CsvRun {
  id: number;
  name: string;
  points: readonly SeriesPoint[];
}

function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (cells: (string | number)[]): string => cells.map(csvCell).join(',');

/** Long format: one row per run and logged point (tidy data, for pandas or a spreadsheet pivot). */
export function compareCsvLong(metric: string, runs: readonly CsvRun[]): string {
  const lines = [csvLine(['run_id', 'run_name', 'metric', 'step', 'tokens', 'wall_ms', 'active_ms', 'value'])];
  for (const r of runs) for (const p of r.points) lines.push(csvLine([r.id, r.name, metric, p.step, p.tokens, p.wallMs, p.activeMs, p.value]));
  return `${lines.join('\n')}\n`;
}

/**
 * Wide format: one row per step, and for each run its value, tokens, wall and active ms at that
 * step (empty where a run logged nothing at that step).
 */
export function compareCsvWide(metric: string, runs: readonly CsvRun[]): string {
  const header: string[] = ['step'];
  for (const r of runs) {
    const label = `${r.name} #${r.id}`;
    header.push(`${label} ${metric}`, `${label} tokens`, `${label} wall_ms`, `${label} active_ms`);
  }
  const steps = [...new Set(runs.flatMap((r) => r.points.map((p) => p.step)))].sort((a, b) => a - b);
  const byStep = runs.map((r) => new Map(r.points.map((p) => [p.step, p])));
  const lines = [csvLine(header)];
  for (const step of steps) {
    const row: (string | number)[] = [step];
    for (const m of byStep) {
      const p = m.get(step);
      row.push(...(p ? [p.value, p.tokens, p.wallMs, p.activeMs] : ['', '', '', '']));
    }
    lines.push(csvLine(row));
  }
  return `${lines.join('\n')}\n`;
}
