import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, TEST_HOOK_MARK, buildApp, builtWithTestHooks } from './ensure-built';

// The e2e tests' hooks (src/renderer/src/gpu/test-hooks.ts) are in the test build (out/, built
// with NANOLAB_TEST_HOOKS=1 by tests/global-setup.ts) and in no build made as `npm run build`
// makes it, which this test does into a temporary folder.

/** Every name a hook brings: the faults' localStorage key, the worker's message, the old engine method. */
const HOOK_NAMES = [TEST_HOOK_MARK, 'lose-context', 'loseContext:', 'loseContextForTest'];

function bundles(outDir: string): { file: string; code: string }[] {
  return readdirSync(outDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(c?js|mjs|html)$/.test(f))
    .map((f) => ({ file: f, code: readFileSync(join(outDir, f), 'utf8') }));
}

describe('the test hooks', () => {
  const plain = mkdtempSync(join(tmpdir(), 'nanolab-build-'));
  afterAll(() => rmSync(plain, { recursive: true, force: true }));

  it('are in the test build', () => {
    expect(builtWithTestHooks()).toBe(true);
    const code = bundles(join(ROOT, 'out')).map((b) => b.code).join('\n');
    for (const name of HOOK_NAMES.filter((n) => n !== 'loseContextForTest')) expect(code).toContain(name);
  });

  it('are left out of a build without NANOLAB_TEST_HOOKS=1, which keeps the bench\'s hook', { timeout: 300_000 }, () => {
    buildApp({ testHooks: false, outDir: join(plain, 'out') });
    expect(builtWithTestHooks(join(plain, 'out'))).toBe(false);
    const found = bundles(join(plain, 'out')).flatMap((b) => HOOK_NAMES.filter((n) => b.code.includes(n)).map((n) => `${n} in ${b.file}`));
    expect(found).toEqual([]);
    // `nanolab bench --gpu` times the GPU through window.__nanolabGpu.probe / calibrate of `npm run build`'s app
    expect(bundles(join(plain, 'out', 'renderer')).some((b) => b.code.includes('__nanolabGpu'))).toBe(true);
  });
});
