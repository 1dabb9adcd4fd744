import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, type Served } from './launch';

// One truth in every view: a run stopped by the user between two evaluations (the evaluation made
// at the stop is its best) shows the same best val in the CLI (`show`, `runs`), its checkpoint list,
// the Runs table, the run page, Compare and its metrics CSV. At 1280×800, screenshots in
// test-results/e2e/one-truth-*.png.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e one-truth: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

const EVAL_INTERVAL = 200;
let served: Served;
let browser: Browser;
let page: Page;
let home = '';
let runId = 0;
let cliBest = 0;
let cliBestBpc = 0;
let stopStep = 0;

/** A loss as every view prints it: 4 significant digits (the page's formatValue, for values between 1e-3 and 1e6). */
function shown4(value: number): string {
  return String(Number(value.toPrecision(4)));
}

function nanolab(args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/nanolab.js'), ...args], { env: { ...process.env, NANOLAB_HOME: home }, cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nanolab ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/** Trains until the log passes `afterStep`, then stops it as Ctrl-C does (a checkpoint, an evaluation). */
async function trainAndStop(data: string, afterStep: number): Promise<void> {
  const args = ['train', '--data', data, '--model', 'gpt', '--name', 'stopped gpt', '--steps', '5000', '--log-every', '10'];
  for (const s of ['n_layer=1', 'n_head=2', 'n_embd=16', 'block_size=16', 'batch_size=4', 'seq_len=16', 'eval_iters=4', `eval_interval=${EVAL_INTERVAL}`]) {
    args.push('--set', s);
  }
  const child = spawn(process.execPath, [join(ROOT, 'bin/nanolab.js'), ...args], { env: { ...process.env, NANOLAB_HOME: home }, cwd: ROOT });
  let out = '';
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    out += String(chunk);
    const steps = [...out.matchAll(/step (\d+)\/5000/g)].map((m) => Number(m[1]));
    if (!signalled && steps.length > 0 && steps[steps.length - 1] >= afterStep) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0 || !signalled) throw new Error(`nanolab train did not stop cleanly (exit ${code}):\n${out}`);
}

describe.skipIf(!hasChromium)('one truth in every view (a run stopped between evaluations)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    home = mkdtempSync(join(tmpdir(), 'nanolab-e2e-truth-'));
    const data = join(home, 'shakespeare-20k.txt');
    writeFileSync(data, readFileSync(join(ROOT, 'resources', 'tinyshakespeare.txt'), 'utf8').slice(0, 20_000));
    await trainAndStop(data, EVAL_INTERVAL * 2 + 30);
    const show = JSON.parse(nanolab(['show', '1', '--json'])) as {
      id: number;
      status: string;
      steps: number;
      bestValLoss: number;
      bestValBpc: number;
      checkpoints: { kind: string; step: number; valLoss: number }[];
    };
    runId = show.id;
    cliBest = show.bestValLoss;
    cliBestBpc = show.bestValBpc;
    stopStep = show.steps;
    expect(show.status).toBe('stopped');
    // the checkpoint list's best is the same figure, at the step the run stopped
    const best = show.checkpoints.find((c) => c.kind === 'best')!;
    expect(best.valLoss).toBe(cliBest);
    expect(best.step).toBe(stopStep);
    const listed = (JSON.parse(nanolab(['runs', '--json'])) as { id: number; bestValLoss: number }[]).find((r) => r.id === runId)!;
    expect(listed.bestValLoss).toBe(cliBest);
    served = await serveLab(home);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('stopped between two evaluations, and its stop-time evaluation is its best', () => {
    expect(stopStep).toBeGreaterThan(EVAL_INTERVAL * 2);
    console.log(`one-truth: run stopped at step ${stopStep} (evaluations every ${EVAL_INTERVAL}); best val ${cliBest} nats/token, ${cliBestBpc} bits/char`);
  });

  it('shows the same best val in the Runs table, the run page, Compare and the CSV', async () => {
    const shown = shown4(cliBest);
    await page.goto(`${served.url.replace(/#.*$/, '')}#/runs`);
    const cell = page.locator(`[data-test="best-val-${runId}"]`);
    await cell.waitFor();
    expect(await cell.textContent()).toContain(shown);
    expect(await page.locator(`[data-test="best-bpc-${runId}"]`).textContent()).toContain(shown4(cliBestBpc));
    await page.screenshot({ path: join(SHOTS, 'one-truth-1-runs.png') });

    await page.goto(`${served.url.replace(/#.*$/, '')}#/runs/${runId}`);
    await page.locator('[data-test="run-best-val"]').waitFor();
    expect(await page.locator('[data-test="run-best-val"]').textContent()).toBe(shown);
    expect(await page.locator('[data-test="run-best-bpc"]').textContent()).toBe(shown4(cliBestBpc));
    expect(await page.locator('[data-test="run-best-checkpoint"]').textContent()).toContain(`step ${stopStep}`);
    await page.screenshot({ path: join(SHOTS, 'one-truth-2-run-page.png') });

    const download = page.waitForEvent('download');
    await page.locator('[data-test="run-csv"]').click();
    const csv = readFileSync((await (await download).path())!, 'utf8')
      .trim()
      .split('\n');
    const header = csv[0].split(',');
    const step = header.indexOf('step');
    const val = header.indexOf('val_loss');
    const vals = csv
      .slice(1)
      .map((line) => line.split(','))
      .filter((cells) => cells[val] !== '')
      .map((cells) => ({ step: Number(cells[step]), value: Number(cells[val]) }));
    expect(Math.min(...vals.map((v) => v.value))).toBe(cliBest);
    expect(vals.at(-1)).toEqual({ step: stopStep, value: cliBest });

    await page.goto(`${served.url.replace(/#.*$/, '')}#/compare?ids=${runId}`);
    const compareCell = page.locator(`[data-test="compare-best-val-${runId}"]`);
    await compareCell.waitFor();
    expect(await compareCell.textContent()).toBe(shown);
    await page.screenshot({ path: join(SHOTS, 'one-truth-3-compare.png') });
  }, 60_000);
});
