// A run's stored config (nested JSON) as the key/value rows a summary table shows.

/** Flattens nested objects to dotted keys (`model.n_layer`); arrays and leaves stay whole. */
export function flattenConfig(config: unknown, prefix = ''): { key: string; value: unknown }[] {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return prefix ? [{ key: prefix, value: config }] : [];
  const rows: { key: string; value: unknown }[] = [];
  for (const [k, v] of Object.entries(config as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) rows.push(...flattenConfig(v, key));
    else rows.push({ key, value: v });
  }
  return rows;
}

/** One row of a run's Configuration panel: the setting's label, its key, its value. */
export interface ConfigRow {
  key: string;
  label: string | null;
  value: unknown;
}

/**
 * Where a stored config's nested key lives in the flat namespace of the New-run form (`--set`):
 * a run stores its TrainConfig under `train` (beside its text, budget and intervals).
 */
function flatKey(dotted: string): string {
  const key = dotted.replace(/^train\./, '');
  if (key === 'optimizer.name') return 'optimizer';
  if (key === 'schedule.kind') return 'schedule';
  return key.replace(/^(model|optimizer|schedule)\./, '');
}

/**
 * A run's stored config as the groups of the New-run form (model, optimizer, schedule, training
 * loop, with the form's labels, in its order), then whatever else the run stored ("Run": the
 * family, vocabulary, seed, its text and intervals, settings the form does not offer). GPT's three dropouts show as the
 * form's one `dropout` when they are equal.
 */
export function configGroups(
  config: unknown,
  catalogue: readonly { key: string; label: string; group: string }[],
  groups: readonly { key: string; label: string }[],
): { key: string; label: string; rows: ConfigRow[] }[] {
  const flat = new Map<string, unknown>();
  for (const { key, value } of flattenConfig(config)) flat.set(flatKey(key), value);
  const dropouts = ['embd_dropout', 'attn_dropout', 'resid_dropout'];
  if (dropouts.every((k) => flat.has(k)) && new Set(dropouts.map((k) => flat.get(k))).size === 1 && !flat.has('dropout')) {
    flat.set('dropout', flat.get('resid_dropout'));
    for (const k of dropouts) flat.delete(k);
  }
  const out: { key: string; label: string; rows: ConfigRow[] }[] = groups.map((g) => ({
    key: g.key,
    label: g.label,
    rows: catalogue.filter((s) => s.group === g.key && flat.has(s.key)).map((s) => ({ key: s.key, label: s.label, value: flat.get(s.key) })),
  }));
  const known = new Set(catalogue.map((s) => s.key));
  const rest = [...flat.entries()].filter(([k]) => !known.has(k)).map(([key, value]) => ({ key, label: null, value }));
  if (rest.length > 0) out.push({ key: 'run', label: 'Run', rows: rest });
  return out.filter((g) => g.rows.length > 0);
}
