// Run ids in URLs: `/compare?ids=1,2,3`, `/sample?run=4`.

/** Positive integer ids from a comma-separated query value, in order, without duplicates. */
export function parseIds(value: unknown): number[] {
  const text = Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : '';
  const ids: number[] = [];
  for (const part of text.split(',')) {
    const t = part.trim();
    if (!/^\d+$/.test(t)) continue;
    const id = Number(t);
    if (id > 0 && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

export function formatIds(ids: readonly number[]): string {
  return ids.join(',');
}
