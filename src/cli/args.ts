import { parseArgs } from 'node:util';

type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** An error meant for the person at the terminal: printed as one sentence, no stack trace. */
export class UsageError extends Error {}

/** node:util parseArgs with its errors turned into UsageErrors that name the command. */
export function parse(
  command: string, argv: string[], options: Options, allowPositionals = false,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
}

/** "key=value" with value read as a boolean, a number, or else a string. */
export function parseSetting(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set ${text}: expected key=value, e.g. --set n_layer=2`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (raw === 'true' || raw === 'false') return [key, raw === 'true'];
  if (raw !== '' && Number.isFinite(Number(raw))) return [key, Number(raw)];
  return [key, raw];
}

export function parseInteger(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} ${text}: expected a whole number ≥ ${min}`);
  return n;
}
