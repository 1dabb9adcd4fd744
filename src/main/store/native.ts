// better-sqlite3 is a native addon, and Node and Electron need different builds of it (different
// NODE_MODULE_VERSION). Both builds are kept side by side under build/native/<runtime>-<abi>/
// (made by scripts/native.mjs) and the one for the running process is passed as `nativeBinding`,
// so switching between the CLI/tests and the desktop app never rebuilds anything.
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type NativeRuntime = 'node' | 'electron';

export interface RuntimeVersions {
  /** Set only inside Electron. */
  electron?: string;
  /** NODE_MODULE_VERSION of the running process. */
  modules: string;
}

export function currentRuntime(versions: RuntimeVersions = process.versions): NativeRuntime {
  return versions.electron ? 'electron' : 'node';
}

/** build/native/<runtime>-<abi>/better_sqlite3.node under the project root. */
export function nativeBinaryPath(root: string, runtime: NativeRuntime, abi: string): string {
  return join(root, 'build', 'native', `${runtime}-${abi}`, 'better_sqlite3.node');
}

export interface BindingChoice {
  root: string;
  versions?: RuntimeVersions;
  exists?: (path: string) => boolean;
}

/**
 * The better-sqlite3 binary for the running process, or undefined for the package's own build
 * (npm builds it for Node, so that is right for Node when no side-by-side copy exists yet).
 */
export function chooseNativeBinding({ root, versions = process.versions, exists = existsSync }: BindingChoice): string | undefined {
  const runtime = currentRuntime(versions);
  const path = nativeBinaryPath(root, runtime, versions.modules);
  if (exists(path)) return path;
  if (runtime === 'node') return undefined;
  throw new Error(
    `No better-sqlite3 build for Electron ${versions.electron} (NODE_MODULE_VERSION ${versions.modules}) at ${path}. ` +
      'Run `node scripts/native.mjs --runtime electron` (npm start does this) to build it.',
  );
}

/** The folder holding NanoLab's package.json, found from this file (source or bundle). */
export function projectRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'nanolab') return dir;
    if (dirname(dir) === dir) throw new Error(`Cannot find NanoLab's package.json above ${start}`);
  }
}

/** Opens (or creates) a SQLite database with the better-sqlite3 build for this runtime. */
export function openDatabase(filename: string, options: Database.Options = {}): Database.Database {
  const nativeBinding = options.nativeBinding ?? chooseNativeBinding({ root: projectRoot() });
  return new Database(filename, nativeBinding === undefined ? options : { ...options, nativeBinding });
}
