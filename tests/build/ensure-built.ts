import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The app's bundles (electron-vite build: out/main, out/preload, out/renderer), rebuilt when any
// source is newer, so `npm test` on a fresh clone tests what the current sources build. The tests
// build with NANOLAB_TEST_HOOKS=1: the e2e tests drive the renderer's test hooks
// (src/renderer/src/gpu/test-hooks.ts), which `npm run build` leaves out, so out/ built that way
// is rebuilt too.

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

/** A string only the test hooks put in the renderer's bundles (the faults' localStorage key). */
export const TEST_HOOK_MARK = 'nanolab.gpuFaults';

/** Whether the renderer in `outDir` was built with the test hooks. */
export function builtWithTestHooks(outDir = join(ROOT, 'out')): boolean {
  const assets = join(outDir, 'renderer', 'assets');
  return existsSync(assets) && readdirSync(assets).some((f) => f.endsWith('.js') && readFileSync(join(assets, f), 'utf8').includes(TEST_HOOK_MARK));
}

/** electron-vite build into `outDir` (default out/), with the test hooks or, as `npm run build`, without. */
export function buildApp(o: { testHooks: boolean; outDir?: string }): void {
  const { NANOLAB_TEST_HOOKS: _inherited, ...env } = process.env;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', ...(o.outDir ? ['--outDir', o.outDir] : [])], {
    cwd: ROOT, stdio: 'inherit', env: { ...env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', ...(o.testHooks ? { NANOLAB_TEST_HOOKS: '1' } : {}) },
  });
}

export function ensureBuilt(): void {
  const built = OUTPUTS.map((f) => join(ROOT, f));
  const sources = Math.max(newest(join(ROOT, 'src')), statSync(join(ROOT, 'electron.vite.config.ts')).mtimeMs);
  if (built.every((f) => existsSync(f) && statSync(f).mtimeMs >= sources) && builtWithTestHooks()) return;
  console.log('building the app with its test hooks (NANOLAB_TEST_HOOKS=1 electron-vite build): out/ is older than the sources, or has no hooks');
  buildApp({ testHooks: true });
}
