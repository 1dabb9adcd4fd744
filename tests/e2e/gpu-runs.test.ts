import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePath } from '../../src/main/store/paths';
import { RunStore } from '../../src/main/store/run-store';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, setField, type Served } from './launch';

// GPU runs end to end: `nanolab serve` and Debian's Chromium, whose SwiftShader WebGL2 runs the
// page's gpu.js worker (slowly, but for real). A run trains on the GPU; a lost WebGL context
// mid-run and a failed kernel check both end with the run finished on the CPU, its metrics whole
// (read back from the lab's database) and its log saying why. Screenshots in test-results/e2e/.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e (GPU runs): skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let store: RunStore;

const TINY: Record<string, string> = { n_layer: '1', n_head: '2', n_embd: '32', block_size: '32', seq_len: '32', batch_size: '4', eval_iters: '2' };

async function startGpuRun(name: string, steps: number, evalInterval: number, device: 'gpu' | 'auto' = 'gpu'): Promise<number> {
  await page.locator('[data-test="nav-new"]').click();
  await page.locator('[data-test="family-select"]').selectOption('gpt');
  for (const [key, value] of Object.entries({ ...TINY, steps: String(steps), eval_interval: String(evalInterval) }))
    await setField(page, `setting-${key}`, value);
  await setField(page, 'new-run-name', name);
  await expect
    .poll(async () => page.locator('[data-test="gpu-adapter"]').textContent(), { timeout: 60_000 })
    .toMatch(/SwiftShader|ANGLE|WebGL|GPU: (?!looking)/);
  await page.locator(`[data-test="device-${device}"]`).check();
  await expect.poll(async () => page.locator('[data-test="new-run-start"]').isEnabled(), { timeout: 20_000 }).toBe(true);
  await page.locator('[data-test="new-run-start"]').click();
  await page.waitForURL(/#\/runs\/\d+/);
  return Number(/#\/runs\/(\d+)/.exec(page.url())![1]);
}

async function until<T>(what: string, get: () => T | null | undefined | false, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${served.log.join('').slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const endedRun = (id: number, timeoutMs = 240_000) =>
  until(
    `run ${id} to end`,
    () => {
      const run = store.getRun(id);
      return ['finished', 'stopped', 'failed'].includes(run.status) ? run : null;
    },
    timeoutMs,
  );

/** The page's Web Storage (the Node typings have no DOM). */
interface Storage {
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The run's train-loss steps, superseded points left out (what every chart and export shows). */
const lossSteps = (id: number) => store.series(id, 'train_loss', 100_000).map((p) => p.step);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe.skipIf(!hasChromium)('GPU runs in a browser page (gpu.js on SwiftShader WebGL2)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serveLab();
    store = new RunStore(databasePath(served.home));
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url);
  }, 60_000);

  afterAll(async () => {
    store?.close();
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('trains a run on the GPU from the New-run view, and says so in its log', async () => {
    const id = await startGpuRun('e2e gpu', 40, 20);
    const run = await endedRun(id);
    expect(run.status).toBe('finished');
    expect(lossSteps(id)).toEqual(range(40));
    expect(store.checkpoints(id).map((c) => c.step)).toEqual([40, 40]);
    const log = store.logLines(id).map((l) => l.message);
    expect(log.at(-1)).toMatch(/^training on the GPU: .*SwiftShader/);
    await page.locator('[data-test="run-log"] summary').click();
    await expect.poll(async () => page.locator('[data-test="run-log"]').textContent()).toContain('training on the GPU');
    await page.screenshot({ path: join(SHOTS, 'gpu-01-trained.png'), fullPage: true });
  }, 300_000);

  it('Auto times the model on the CPU and on the GPU, shows both, and trains on the faster', async () => {
    const id = await startGpuRun('e2e auto', 20, 10, 'auto');
    const run = await endedRun(id);
    expect(run.status).toBe('finished');
    const first = store.logLines(id)[0].message;
    const m = /^Auto chose the (CPU|GPU): CPU (\d+) tokens\/s, GPU (\d+) tokens\/s \((.*SwiftShader.*)\)$/.exec(first);
    expect(m, first).not.toBeNull();
    const [, chose, cpu, gpu] = m!;
    expect(chose).toBe(Number(gpu) > Number(cpu) ? 'GPU' : 'CPU');
    expect((store.getRun(id).config as { device: string }).device).toBe(chose.toLowerCase());
    expect(lossSteps(id)).toEqual(range(20));
    // the New-run view showed the same numbers before it moved on
    await page.locator('[data-test="run-log"] summary').click();
    await page.screenshot({ path: join(SHOTS, 'gpu-00-auto.png'), fullPage: true });
  }, 300_000);

  it('continues on the CPU from the last checkpoint when the WebGL context is lost mid-run', async () => {
    const id = await startGpuRun('e2e gpu context loss', 120, 20);
    // wait for a checkpoint the GPU wrote, then lose the context as a GPU reset would
    const at = await until('a GPU checkpoint at step 40', () => store.checkpoints(id).find((c) => c.kind === 'latest' && c.step >= 40), 240_000);
    await page.evaluate(() => (globalThis as unknown as { __nanolabGpu: { loseContext(): void } }).__nanolabGpu.loseContext());
    const run = await endedRun(id);
    expect(run.status).toBe('finished');
    const log = store.logLines(id).map((l) => l.message);
    const moved = log.find((m) => m.includes('Continuing on the CPU'));
    expect(moved).toMatch(/^the GPU run failed at step \d+: the WebGL context was lost.*Continuing on the CPU from the checkpoint at step \d+\.$/);
    expect(Number(/checkpoint at step (\d+)/.exec(moved!)![1])).toBeGreaterThanOrEqual(at.step);
    // every step once, none lost, none twice: the GPU's steps past the checkpoint were superseded
    expect(lossSteps(id)).toEqual(range(120));
    await expect.poll(async () => page.locator('[data-test="run-log"]').textContent(), { timeout: 10_000 }).toContain('now on the CPU');
    await page.screenshot({ path: join(SHOTS, 'gpu-02-context-lost.png'), fullPage: true });
  }, 400_000);

  it('trains on the CPU from the start when the GPU fails its kernel check', async () => {
    await page.evaluate(() =>
      (globalThis as unknown as { localStorage: Storage }).localStorage.setItem('nanolab.gpuFaults', JSON.stringify({ failKernel: 'linearForward' })),
    );
    try {
      const id = await startGpuRun('e2e gpu failed check', 30, 15);
      const run = await endedRun(id);
      expect(run.status).toBe('finished');
      const log = store.logLines(id).map((l) => l.message);
      expect(log.find((m) => m.includes('Continuing on the CPU'))).toMatch(
        /^the GPU run failed at step 0: the GPU could not start: the GPU's kernels disagree with the CPU's: linearForward .*Continuing on the CPU from the start \(no checkpoint yet\)\.$/,
      );
      expect(lossSteps(id)).toEqual(range(30));
      await page.screenshot({ path: join(SHOTS, 'gpu-03-failed-check.png'), fullPage: true });
    } finally {
      await page.evaluate(() => (globalThis as unknown as { localStorage: Storage }).localStorage.removeItem('nanolab.gpuFaults'));
    }
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  }, 300_000);

  // last: it stops the server
  it('stops a GPU run with a checkpoint from its page when `nanolab serve` is stopped (it does not move to the CPU)', async () => {
    const id = await startGpuRun('e2e gpu at shutdown', 5000, 20);
    await until('a GPU checkpoint', () => store.checkpoints(id).find((c) => c.kind === 'latest'), 240_000);
    await served.stop();
    const run = store.getRun(id);
    expect(run.status).toBe('stopped');
    const latest = store.checkpoints(id).find((c) => c.kind === 'latest')!;
    expect(latest.step).toBe(lossSteps(id).at(-1));
    expect(
      store
        .logLines(id)
        .map((l) => l.message)
        .filter((m) => m.includes('CPU')),
    ).toEqual([]);
  }, 300_000);
});
