import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// Checkpoint folders on disk, never half-written: the files go to a temporary sibling folder,
// each is flushed to disk, and only then does the folder take its final name (rename is atomic on
// one filesystem). A crash leaves either the previous checkpoint or the new one, plus at worst a
// stray temporary folder that the next write clears.

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

export function writeCheckpointFolder(dir: string, files: Record<string, Uint8Array>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  for (const name of readdirSync(parent)) {
    if (name.startsWith(`.${basename(dir)}.tmp-`) || name.startsWith(`.${basename(dir)}.old-`)) rmSync(join(parent, name), { recursive: true, force: true });
  }
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  mkdirSync(tmp);
  try {
    for (const [name, bytes] of Object.entries(files)) {
      if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new Error(`checkpoint file name ${JSON.stringify(name)} is not a plain file name`);
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
    throw error;
  }
}

export function readCheckpointFolder(dir: string): Record<string, Uint8Array> {
  if (!existsSync(dir)) throw new Error(`no checkpoint folder at ${dir}`);
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(dir)) {
    if (!name.startsWith('.')) files[name] = new Uint8Array(readFileSync(join(dir, name)));
  }
  return files;
}
