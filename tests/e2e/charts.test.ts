import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, setField, type Served } from './launch';

// Compare and its charts, as a learner uses them at 1280×800: three tiny runs trained with the
// CLI into one lab (two char runs, one word run), then `nanolab serve` on that lab and Chromium.
// Checks: Compare opens on train loss, a val series ends exactly on its logged value, settings
// survive a reload, bits/char is chosen (and explained) for char vs word runs, CSV and PNG download.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e charts: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let url = '';
const finalVal = new Map<number, number>();

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Trains a tiny run with the real CLI into `home`; its JSON summary (run id, last val loss). */
function train(home: string, data: string, args: string[]): { run_id: number; val_loss: number } {
  const small = ['--set', 'batch_size=4', '--set', 'seq_len=16', '--set', 'eval_iters=2', '--set', 'eval_interval=10', '--seed', '3', '--json'];
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/nanolab.js'), 'train', '--data', data, ...args, ...small], {
    env: { ...process.env, NANOLAB_HOME: home },
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`nanolab train ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

interface DrawnEnd {
  name: string;
  x: number;
  y: number;
  smoothed: boolean;
}

async function ends(selector: string): Promise<DrawnEnd[]> {
  return JSON.parse((await page.locator(selector).getAttribute('data-ends')) ?? '[]');
}

async function waitForPoints(selector: string): Promise<void> {
  await expect.poll(async () => Number((await page.locator(selector).getAttribute('data-points')) ?? 0), { timeout: 20_000 }).toBeGreaterThan(0);
}

describe.skipIf(!hasChromium)('charts and Compare (nanolab serve + Chromium, 1280×800)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const home = mkdtempSync(join(tmpdir(), 'nanolab-e2e-charts-'));
    const data = join(home, 'shakespeare-20k.txt');
    writeFileSync(data, readFileSync(join(ROOT, 'resources', 'tinyshakespeare.txt'), 'utf8').slice(0, 20_000));
    const gpt = ['--model', 'gpt', '--name', 'tiny gpt', '--set', 'n_layer=1', '--set', 'n_head=2', '--set', 'n_embd=16', '--set', 'block_size=16'];
    const gru = ['--model', 'gru', '--name', 'tiny gru', '--set', 'hidden_size=16', '--set', 'embedding_dim=8'];
    // 45 steps, evaluations every 10: a dense train series (smoothed) and a sparse val series (never)
    for (const args of [
      [...gpt, '--steps', '45'],
      [...gru, '--steps', '45'],
      [...gru, '--name', 'tiny gru words', '--tokenizer', 'word', '--word-vocab', '300', '--steps', '20'],
    ]) {
      const s = train(home, data, args);
      finalVal.set(s.run_id, s.val_loss);
    }
    served = await serveLab(home);
    url = served.url;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('opens Compare on train loss, smoothed, with an intro and every run in its own colour', async () => {
    await page.goto(url.replace(/#.*$/, '') + '#/compare?ids=1,2');
    await waitForPoints('[data-test="compare-chart"]');
    expect(await page.locator('[data-test="compare-metric"]').getAttribute('data-metric')).toBe('train_loss');
    expect(await page.locator('[data-test="intro-compare"]').textContent()).toContain('active time');
    const drawn = await ends('[data-test="compare-chart"]');
    expect(drawn).toHaveLength(2);
    expect(drawn.every((e) => e.smoothed)).toBe(true);
    expect(await page.locator('[data-test="tokenizer-note"]').count()).toBe(0);
    await shot('charts-01-compare-train-loss');
  });

  it('draws the end of each val series exactly at the value logged', async () => {
    await page.locator('[data-test="compare-metric"]').selectOption('val_loss');
    await expect.poll(async () => page.locator('[data-test="compare-chart"]').getAttribute('data-metric')).toBe('val_loss');
    await waitForPoints('[data-test="compare-chart"]');
    await expect.poll(async () => (await ends('[data-test="compare-chart"]')).length, { timeout: 10_000 }).toBe(2);
    const drawn = await ends('[data-test="compare-chart"]');
    for (const [i, id] of [1, 2].entries()) {
      expect(drawn[i].name).toContain(`#${id}`);
      expect(drawn[i].smoothed).toBe(false);
      expect(drawn[i].y).toBe(finalVal.get(id));
    }
    // the tooltip lists both runs at the hovered x
    const box = (await page.locator('[data-test="compare-chart"] canvas').first().boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
    const chartText = async () => (await page.locator('[data-test="compare-chart"]').textContent()) ?? '';
    await expect.poll(chartText, { timeout: 5_000 }).toContain('tiny gpt · GPT #1:');
    expect(await chartText()).toContain('tiny gru · GRU #2:');
    await shot('charts-02-compare-val-loss-tooltip');
  });

  it('keeps the metric, smoothing, axis, outliers and filter across a reload', async () => {
    await page.locator('[data-test="x-axis"]').selectOption('active');
    await page.locator('[data-test="ignore-outliers"]').check();
    await page.locator('[data-test="smoothing"]').fill('0.8');
    await page.locator('[data-test="compare-filter"]').fill('gpt(');
    await page.locator('[data-test="compare-filter-error"]').waitFor();
    expect(await page.locator('[data-test="compare-filter-error"]').textContent()).toContain('"gpt(" is not a valid regular expression');
    await shot('charts-03-filter-error');
    await page.locator('[data-test="compare-filter"]').fill('tiny');
    await page.reload();
    await waitForPoints('[data-test="compare-chart"]');
    expect(await page.locator('[data-test="compare-metric"]').inputValue()).toBe('val_loss');
    expect(await page.locator('[data-test="x-axis"]').inputValue()).toBe('active');
    expect(await page.locator('[data-test="ignore-outliers"]').isChecked()).toBe(true);
    expect(await page.locator('[data-test="smoothing"]').inputValue()).toBe('0.8');
    expect(await page.locator('[data-test="compare-filter"]').inputValue()).toBe('tiny');
    await shot('charts-04-after-reload');
  });

  it('downloads the shown runs as CSV (long and wide)', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="compare-csv"]').click()]);
    const csv = readFileSync((await download.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('run_id,run_name,metric,step,tokens,wall_ms,active_ms,value');
    const lastOf = (id: number) =>
      csv
        .filter((l) => l.startsWith(`${id},`))
        .at(-1)!
        .split(',');
    expect(Number(lastOf(1).at(-1))).toBe(finalVal.get(1));
    expect(Number(lastOf(2).at(-1))).toBe(finalVal.get(2));
    await page.locator('[data-test="compare-csv-format"]').selectOption('wide');
    const [wide] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="compare-csv"]').click()]);
    expect(readFileSync((await wide.path())!, 'utf8').split('\n')[0]).toMatch(/^step,tiny gpt #1 val_loss,tiny gpt #1 tokens,/);
  });

  it('exports the chart as a PNG with its title drawn in', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="compare-chart"] [data-test="chart-png"]').click()]);
    expect(download.suggestedFilename()).toBe('nanolab-compare-val_loss.png');
    const png = readFileSync((await download.path())!);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(5_000);
    writeFileSync(join(SHOTS, 'charts-05-exported.png'), png);
    // the chart on the page is back as it was (no title on screen)
    await waitForPoints('[data-test="compare-chart"]');
  });

  it('opens on bits per character for char vs word runs, and says why', async () => {
    await page.locator('[data-test="compare-metric"]').selectOption('');
    await page.goto(url.replace(/#.*$/, '') + '#/compare?ids=2,3');
    await page.locator('[data-test="tokenizer-note"]').waitFor();
    expect(await page.locator('[data-test="tokenizer-note"]').textContent()).toContain('these runs split text differently');
    expect(await page.locator('[data-test="compare-metric"]').getAttribute('data-metric')).toBe('val_bpc');
    await expect.poll(async () => page.locator('[data-test="compare-chart"]').getAttribute('data-metric')).toBe('val_bpc');
    await expect.poll(async () => (await ends('[data-test="compare-chart"]')).length, { timeout: 10_000 }).toBe(2);
    // for a char run, bits per character is its val loss over ln 2
    const gruEnd = (await ends('[data-test="compare-chart"]')).find((e) => e.name.includes('#2'))!;
    expect(gruEnd.y).toBeCloseTo(finalVal.get(2)! / Math.LN2, 6);
    expect(await page.locator('[data-test="compare-best-bpc-2"]').textContent()).toMatch(/^\d+\.\d+$/);
    await shot('charts-06-char-vs-word-bpc');
    await page.locator('[data-test="compare-metric"]').selectOption('train_loss');
    await page.locator('[data-test="per-token-warning"]').waitFor();
    await waitForPoints('[data-test="compare-chart"]');
    await shot('charts-07-char-vs-word-warning');
    await page.locator('[data-test="compare-metric"]').selectOption('');
  });

  it('explains the loss on the run page and captions each chart', async () => {
    await page.goto(url.replace(/#.*$/, '') + '#/runs/1');
    await waitForPoints('[data-test="loss-chart"]');
    expect(await page.locator('[data-test="intro-run"]').textContent()).toMatch(/nats per token.*ln\(\d+\) ≈/s);
    expect(await page.locator('[data-test="run-eta"]').count()).toBe(0);
    const drawn = await ends('[data-test="loss-chart"]');
    expect(drawn.find((e) => e.name === 'val loss')?.y).toBe(finalVal.get(1));
    await shot('charts-08-run-page');
    await page.locator('[data-test="speed-chart"]').scrollIntoViewIfNeeded();
    await shot('charts-09-run-page-charts');
  });

  it('says "paused" with no time left and no tokens/s while a run is paused', async () => {
    await page.locator('[data-test="nav-new"]').click();
    await page.locator('[data-test="family-select"]').selectOption('gpt');
    const tiny = {
      n_layer: '1',
      n_head: '2',
      n_embd: '16',
      block_size: '16',
      seq_len: '16',
      batch_size: '4',
      steps: '5000',
      eval_interval: '50',
      eval_iters: '2',
    };
    for (const [key, value] of Object.entries(tiny)) await setField(page, `setting-${key}`, value);
    await setField(page, 'new-run-name', 'paused gpt');
    await expect.poll(async () => page.locator('[data-test="preview-params"]').textContent(), { timeout: 10_000 }).toMatch(/\d/);
    await page.locator('[data-test="new-run-start"]').click();
    await page.waitForURL(/#\/runs\/\d+/);
    await page.locator('[data-test="run-eta"]').waitFor();
    await waitForPoints('[data-test="loss-chart"]');
    await page.locator('[data-test="control-pause"]').click();
    await expect.poll(async () => page.locator('[data-test="run-progress"]').getAttribute('data-paused'), { timeout: 30_000 }).toBe('true');
    expect(await page.locator('[data-test="run-state"]').textContent()).toBe('paused');
    expect(await page.locator('[data-test="run-eta"]').count()).toBe(0);
    expect(await page.locator('[data-test="run-rate"]').count()).toBe(0);
    await shot('charts-10-paused');
    await page.locator('[data-test="control-stop"]').click();
    await expect.poll(async () => page.locator('[data-test="run-status"]').textContent(), { timeout: 60_000 }).toContain('stopped');
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });
});
