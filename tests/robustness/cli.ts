import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/main/store/native';

// The CLI as a user runs it, for the robustness suites: a separate process per command, on a lab
// home of the test's own.

export const root = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export function nanolab(home: string, args: string[], env: Record<string, string> = {}, timeout = 120_000): CliResult {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, NANOLAB_HOME: home, NANOLAB_DEBUG: '', ...env },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** A started CLI process, for signals. */
export function spawnNanolab(home: string, args: string[]) {
  return spawn(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    env: { ...process.env, NANOLAB_HOME: home, NANOLAB_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export const tempDir = (prefix = 'nanolab-robust-') => mkdtempSync(join(tmpdir(), prefix));

/** A small text and the settings for a run of a few seconds. */
export function smallCorpus(dir = tempDir()): string {
  const file = join(dir, 'poem.txt');
  writeFileSync(file, 'Shall I compare thee to a summer’s day?\nThou art more lovely and more temperate.\n'.repeat(40));
  return file;
}

export const TINY = [
  '--model',
  'lstm',
  '--set',
  'hidden_size=16',
  '--set',
  'embedding_dim=8',
  '--set',
  'num_layers=1',
  '--set',
  'batch_size=4',
  '--set',
  'seq_len=16',
  '--set',
  'eval_iters=2',
  '--set',
  'eval_interval=10',
];

/** Whether the message is one line of prose, without a stack trace. */
export function oneLine(text: string): boolean {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  return lines.length === 1 && !/^\s+at /m.test(text) && !/\b(TypeError|RangeError|ReferenceError|SqliteError)\b/.test(text);
}

/** SQLite's own check of a lab database, and its runs and metric counts. */
export function labState(dbPath: string): { integrity: string; runs: number; metrics: number } {
  const db = openDatabase(dbPath, { readonly: true, fileMustExist: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }) as string,
      runs: (db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n,
      metrics: (db.prepare('SELECT count(*) AS n FROM metrics').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

/** Whether this process may mount a tmpfs (root on Linux with mount rights): the disk-full and read-only tests need one. */
export function canMount(): string | null {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  const dir = tempDir('nanolab-mount-probe-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return `mount -t tmpfs failed here (${(r.stderr || r.error?.message || '').trim()})`;
  spawnSync('umount', [dir]);
  return null;
}

export function mountTmpfs(dir: string, size: string): void {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs at ${dir}: ${r.stderr}`);
}

export function remount(dir: string, options: string): void {
  const r = spawnSync('mount', ['-o', `remount,${options}`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`remount ${dir} ${options}: ${r.stderr}`);
}

export function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}
