import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The app's bundles (electron-vite build: out/main, out/preload, out/renderer), rebuilt when any
// source is newer, so `npm test` on a fresh clone tests what the current sources build.

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUTPUTS = ['out/main/index.js', 'out/main/worker.js', 'out/main/gemm-helper.js', 'out/preload/index.cjs', 'out/renderer/index.html'];

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt(): void {
  const built = OUTPUTS.map((f) => join(ROOT, f));
  const sources = Math.max(newest(join(ROOT, 'src')), statSync(join(ROOT, 'electron.vite.config.ts')).mtimeMs);
  if (built.every((f) => existsSync(f) && statSync(f).mtimeMs >= sources)) return;
  console.log('building the app (electron-vite build): the sources are newer than out/');
  execFileSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
    cwd: ROOT, stdio: 'inherit', env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' },
  });
}
