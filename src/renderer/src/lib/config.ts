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
