// Numbers as a lab notebook writes them: losses to 4 significant digits, counts as 810k / 1.2M,
// durations as 1h 02m, bytes as 12.3 MB.

/** A metric value: 4 significant digits, exponent notation for the very small and very large. */
export function formatValue(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e6) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
    return `${Number(mantissa)}e${Number(exponent)}`;
  }
  return String(Number(value.toPrecision(digits)));
}

/** A count: 950, 12.3k, 810k, 1.2M, 3.4B. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) {
    if (abs >= size) {
      const x = n / size;
      return `${Math.abs(x) >= 100 ? x.toFixed(0) : Number(x.toPrecision(3))}${unit}`;
    }
  }
  return String(Math.round(n));
}

/** An integer with thousands separators: 12,345. */
export function formatInteger(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes in B, kB, MB, GB (powers of 1024, one decimal). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let x = bytes;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${x} B` : `${x.toFixed(1)} ${units[i]}`;
}

/** A duration: 850 ms, 12.3 s, 4m 05s, 1h 02m, 2d 3h. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(1))} s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  const pad = (x: number) => String(x).padStart(2, '0');
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  return `${m}m ${pad(sec)}s`;
}

/** Time left, for a progress bar: "about 4m 05s left", or a dash while unknown. */
export function formatEta(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return `${formatDuration(Math.max(0, ms))} left`;
}

/** Tokens per second: 12.3k tok/s. */
export function formatRate(tokensPerSec: number | null | undefined): string {
  if (tokensPerSec === null || tokensPerSec === undefined || !Number.isFinite(tokensPerSec)) return '—';
  return `${formatCount(tokensPerSec)} tok/s`;
}

/** A timestamp (ms since the epoch) as local "YYYY-MM-DD HH:MM". */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const pad = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A setting value or config leaf for tables: objects as compact JSON, missing as a dash. */
export function formatSetting(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return formatValue(value, 6);
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The loss of uniform guessing over `vocab` tokens: ln(vocab) nats per token (null without a vocabulary). */
export function uniformLossNats(vocab: number | null | undefined): number | null {
  if (vocab === null || vocab === undefined || !Number.isFinite(vocab) || vocab < 1) return null;
  return Math.log(vocab);
}
