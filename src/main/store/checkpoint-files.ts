import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../../shared/errors';

// Checkpoint folders on disk, never half-written: the files go to a temporary sibling folder,
// each is flushed to disk, and only then does the folder take its final name (rename is atomic on
// one filesystem). Replacing a folder takes two renames (the old one aside, the new one in); a
// crash between them leaves the previous checkpoint as `.NAME.old-PID`, which every read and the
// next write put back. A temporary folder is never trusted: it may be incomplete.

function writeFileDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const leftovers = (dir: string, kind: 'tmp' | 'old'): string[] => {
  const parent = dirname(dir);
  if (!existsSync(parent)) return [];
  const prefix = `.${basename(dir)}.${kind}-`;
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix))
    .map((name) => join(parent, name));
};

/**
 * Puts back a checkpoint folder that a crash left aside (`.NAME.old-PID`) when the folder itself is
 * missing. Returns the folder to read: `dir`, or the leftover where the disk is read-only.
 */
export function recoverCheckpointFolder(dir: string): string {
  if (existsSync(dir)) return dir;
  const old = leftovers(dir, 'old')
    .filter((p) => statSync(p).isDirectory())
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!old) return dir;
  try {
    renameSync(old, dir);
    return dir;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return old;
    throw error;
  }
}

export function writeCheckpointFolder(dir: string, files: Record<string, Uint8Array>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  recoverCheckpointFolder(dir);
  for (const path of [...leftovers(dir, 'tmp'), ...leftovers(dir, 'old')]) rmSync(path, { recursive: true, force: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  mkdirSync(tmp);
  try {
    for (const [name, bytes] of Object.entries(files)) {
      if (!plainName(name)) throw new Error(`checkpoint file name ${JSON.stringify(name)} is not a plain file name`);
      writeFileDurably(join(tmp, name), bytes);
    }
    if (existsSync(dir)) {
      const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw writeFailure(error, dir);
  }
}

const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: 'the disk is full; free some space there',
  EDQUOT: 'the disk quota is used up; free some space there',
  EROFS: 'the disk is read-only',
  EACCES: 'the folder is not writable by you',
  EPERM: 'the folder is not writable by you',
};

/** A file-system failure while writing `dir`, as one sentence (other errors pass through). */
function writeFailure(error: unknown, dir: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (!code || !WRITE_FAILURES[code]) return error;
  const failure = new Error(`could not write ${dir} (${code}): ${WRITE_FAILURES[code]}`);
  (failure as NodeJS.ErrnoException).code = code;
  return failure;
}

export function readCheckpointFolder(dir: string): Record<string, Uint8Array> {
  const from = recoverCheckpointFolder(dir);
  if (!existsSync(from))
    throw new UserError(
      `no checkpoint folder at ${dir}: it was removed or moved outside NanoLab; continue the run from its other checkpoint or start a new run`,
    );
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(from)) {
    if (!name.startsWith('.')) files[name] = new Uint8Array(readFileSync(join(from, name)));
  }
  return files;
}

const plainName = (name: string) => name !== '' && !name.includes('/') && !name.includes('\\') && !name.startsWith('.');

/** `path` with every existing ancestor's symbolic links resolved (so /tmp/link/x and /real/x compare equal). */
function canonical(path: string): string {
  const abs = resolve(path);
  const missing: string[] = [];
  let at = abs;
  while (!existsSync(at)) {
    if (dirname(at) === at) break;
    missing.unshift(basename(at));
    at = dirname(at);
  }
  return join(realpathSync(at), ...missing);
}

const inside = (child: string, parent: string) => {
  const r = relative(parent, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
};

export interface ExportOptions {
  /** Replace NanoLab's own files in a non-empty folder; nothing else in it is touched. */
  force?: boolean;
  /** Folders the export may not write into, replace, or contain (the lab home). */
  protectedDirs?: string[];
}

/**
 * Writes exported files into `out` without ever deleting or overwriting what NanoLab did not
 * write: a new folder is created whole (temporary sibling, then rename); an existing empty folder
 * is filled; a non-empty one is refused unless `force`, and then only the named files are
 * replaced, each atomically. The lab home, anything inside it and any folder containing it are
 * refused, so an export can never land on the lab's own files.
 */
export function exportFolder(out: string, files: Record<string, Uint8Array>, o: ExportOptions = {}): string {
  if (out.trim() === '') throw new UserError('the export folder is empty: name a folder, e.g. --out ./my-model');
  const target = canonical(out);
  for (const dir of o.protectedDirs ?? []) {
    const lab = canonical(dir);
    if (inside(target, lab))
      throw new UserError(`${out} is inside the lab home (${dir}), which holds the lab's database and runs: export to a folder outside it`);
    if (inside(lab, target)) throw new UserError(`${out} contains the lab home (${dir}): export to a new folder that does not hold the lab`);
  }
  for (const name of Object.keys(files)) if (!plainName(name)) throw new UserError(`export file name ${JSON.stringify(name)} is not a plain file name`);
  if (!existsSync(target)) {
    writeCheckpointFolder(target, files);
    return target;
  }
  const stat = lstatSync(target);
  if (!stat.isDirectory()) {
    throw new UserError(`${out} already exists and is ${stat.isSymbolicLink() ? 'a symbolic link' : 'a file, not a folder'}: choose a new folder name`);
  }
  const present = readdirSync(target);
  if (present.length > 0 && !o.force) {
    throw new UserError(
      `${out} already exists and is not empty (${present.length} entr${present.length === 1 ? 'y' : 'ies'}): choose a new or empty folder, or pass --force to replace only ${Object.keys(files).join(', ')} there`,
    );
  }
  for (const name of Object.keys(files)) {
    const path = join(target, name);
    if (existsSync(path) && !lstatSync(path).isFile()) throw new UserError(`${path} exists and is not a file: move it away or choose another folder`);
  }
  for (const [name, bytes] of Object.entries(files)) {
    const tmp = join(target, `.${name}.tmp-${process.pid}`);
    try {
      writeFileDurably(tmp, bytes);
      renameSync(tmp, join(target, name));
    } catch (error) {
      rmSync(tmp, { force: true });
      throw writeFailure(error, target);
    }
  }
  return target;
}
