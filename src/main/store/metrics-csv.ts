import type { RunStore } from './run-store';

// A run's metrics as one table for a spreadsheet or pandas (the Run view's CSV download).

/**
 * One row per step (step, tokens, wall_ms, active_ms — training time, pauses excluded —, then one
 * column per metric, by name) and a file name
 * made from the run's id and name; a metric a step did not log is an empty cell.
 */
export function metricsCsv(store: RunStore, id: number): { filename: string; csv: string } {
  const run = store.getRun(id);
  const rows = store.metricRows(id);
  const names = [...new Set(rows.map((r) => r.name))].sort();
  const bySteps = new Map<number, { tokens: number; wallMs: number; activeMs: number; values: Map<string, number> }>();
  for (const r of rows) {
    let row = bySteps.get(r.step);
    if (!row) bySteps.set(r.step, (row = { tokens: r.tokens, wallMs: r.wallMs, activeMs: r.activeMs, values: new Map() }));
    row.values.set(r.name, r.value);
  }
  const lines = [['step', 'tokens', 'wall_ms', 'active_ms', ...names].join(',')];
  for (const [step, row] of [...bySteps].sort((a, b) => a[0] - b[0])) {
    lines.push(
      [step, row.tokens, row.wallMs.toFixed(1), row.activeMs.toFixed(1), ...names.map((n) => (row.values.has(n) ? String(row.values.get(n)) : ''))].join(','),
    );
  }
  const safe = run.name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
  return { filename: `nanolab-run-${id}-${safe}-metrics.csv`, csv: `${lines.join('\n')}\n` };
}
