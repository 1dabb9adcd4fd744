import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../shared/errors';

// Where the lab keeps its database and checkpoints. The CLI uses the same folder as the Electron
// app's userData (Electron names it after package.json's "name"), so both see one lab;
// NANOLAB_HOME overrides it.

export function labHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.NANOLAB_HOME) return env.NANOLAB_HOME;
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'nanolab');
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'nanolab');
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'nanolab');
}

export const databasePath = (home: string) => join(home, 'lab.sqlite');

/**
 * Makes sure the lab home is a folder, creating it (and missing parents) one level at a time:
 * Node's recursive mkdir never returns under /proc and similar file systems.
 */
export function ensureLabHome(home: string): void {
  const missing: string[] = [];
  let at = home;
  while (!existsSync(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
    at = dirname(at);
  }
  if (existsSync(at) && !statSync(at).isDirectory()) {
    throw new UserError(`the lab home ${home} cannot be used: ${at} is a file, not a folder; point NANOLAB_HOME at a folder`);
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw new UserError(`cannot create the lab home ${home} (${code ?? (error as Error).message} at ${dir}): point NANOLAB_HOME at a folder you can write`);
    }
  }
}
export const checkpointDir = (home: string, runId: number, kind: 'latest' | 'best') => join(home, 'runs', String(runId), 'checkpoints', kind);

/**
 * A path as the lab stores it: relative paths are inside the lab home (so a home can move), absolute
 * ones (rows from before) stay as they are.
 */
export const resolveInHome = (home: string, path: string) => (isAbsolute(path) ? path : join(home, path));

/** How a run stores the corpus that ships with NanoLab: by name, wherever NanoLab is installed. */
export const BUNDLED_PREFIX = 'bundled:';
export const BUNDLED_CORPUS_REF = `${BUNDLED_PREFIX}tinyshakespeare.txt`;

/** The file a bundled text is read from: resources/ at the package root, above this file in src/ or out/. */
export function bundledFile(name: string): string {
  if (!/^[\w.-]+$/.test(name) || name.startsWith('.'))
    throw new UserError(`"${name}" is not the name of a bundled text: the lab stores bundled texts as ${BUNDLED_CORPUS_REF}`);
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here, i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, 'resources', name);
    if (existsSync(file)) return file;
  }
  throw new UserError(`the bundled text ${name} is missing from this installation (no resources/${name} above ${here}): reinstall NanoLab`);
}

/** The file a run's stored corpus path names: a bundled text, a copy in the lab home, or an absolute path. */
export const corpusFile = (home: string, stored: string) =>
  stored.startsWith(BUNDLED_PREFIX) ? bundledFile(stored.slice(BUNDLED_PREFIX.length)) : resolveInHome(home, stored);
