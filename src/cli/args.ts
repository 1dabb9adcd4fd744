import { parseArgs } from 'node:util';
import { explainStoreError } from '../main/store/run-store';
import { isUserError, UserError } from '../shared/errors';

type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** A command line the CLI cannot run (an unknown option, a bad value): printed after `nanolab`, with no colon. */
export class UsageError extends UserError {}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'is not readable or writable by you (permission denied)',
  EPERM: 'is not allowed (permission denied)',
  EROFS: 'is on a read-only disk',
  ENOSPC: 'cannot be written: the disk is full; free some space',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'has a file where a folder should be',
  EEXIST: 'already exists',
  EMFILE: 'cannot be opened: too many open files',
};

/**
 * One sentence for any error, for the terminal: a user's error as it is, the lab database's and
 * the file system's explained, and anything else (a bug) named as such, with how to see more.
 */
export function userMessage(error: unknown, dbPath: string): string {
  const store = explainStoreError(error, dbPath);
  if (store) return store.message;
  const e = error as NodeJS.ErrnoException;
  if (e instanceof Error && e.code && FILE_ERRORS[e.code] && e.path) return `${e.path} ${FILE_ERRORS[e.code]} (${e.code})`;
  const firstLine = (text: string) => text.split('\n')[0];
  if (error instanceof Error && isUserError(error)) return firstLine(error.message);
  const name = error instanceof Error ? error.constructor.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return `internal error (${name}: ${firstLine(message)}); this is a bug in NanoLab: run the command again with --debug for the details to report`;
}

/** node:util parseArgs with its errors turned into UsageErrors that name the command. */
export function parse(
  command: string,
  argv: string[],
  options: Options,
  allowPositionals = false,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${message}${/^Unknown option/.test(message) ? ` (nanolab ${command} --help lists the options)` : ''}`);
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

export function parseInteger(name: string, text: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} ${text}: expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max.toLocaleString('en-US')}`}`,
    );
  }
  return n;
}
