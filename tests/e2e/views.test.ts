import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, type Served } from './launch';

// The Runs table, Embeddings and Attention views at 1280×800 with the real `nanolab serve`: two
// tiny runs trained by the CLI in the served lab, then driven as a keyboard user would.

const SHOTS = join(ROOT, 'test-results', 'e2e');
const run = promisify(execFile);
if (!hasChromium) console.log(`e2e views: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let origin = '';
const ids: Record<string, number> = {};

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `views-${name}.png`), fullPage: true });
}

async function train(home: string, name: string, family: string, settings: string[]): Promise<number> {
  const args = [join(ROOT, 'bin/nanolab.js'), 'train', '--model', family, '--steps', '30', '--name', name, '--json'];
  for (const s of settings) args.push('--set', s);
  const { stdout } = await run(process.execPath, args, { env: { ...process.env, NANOLAB_HOME: home }, cwd: ROOT });
  return (JSON.parse(stdout.trim().split('\n').at(-1)!) as { run_id: number }).run_id;
}

/** The data-test of the element that has the keyboard focus. */
const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-test') ?? document.activeElement?.tagName ?? '');

/** Clicks a PNG button, saves the download under test-results/e2e/ and checks it is a PNG. */
async function downloadPng(testId: string, name: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`[data-test="${testId}"]`).click()]);
  expect(download.suggestedFilename()).toMatch(/^nanolab-.*\.png$/);
  const path = join(SHOTS, `views-${name}.png`);
  await download.saveAs(path);
  expect([...readFileSync(path).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return download.suggestedFilename();
}

describe.skipIf(!hasChromium)('Runs, Embeddings and Attention at 1280×800', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serveLab();
    const tiny = ['batch_size=4', 'seq_len=16', 'eval_interval=15', 'eval_iters=2'];
    ids.gpt = await train(served.home, 'tiny gpt', 'gpt', [...tiny, 'n_layer=1', 'n_head=2', 'n_embd=16', 'block_size=16']);
    ids.lstm = await train(served.home, 'small lstm: a long descriptive name a learner types to remember what this run tried', 'lstm', [
      ...tiny,
      'hidden_size=32',
      'num_layers=1',
    ]);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url);
    origin = new URL(served.url).origin;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('fits the Runs table in 1280 px, with a visible rename and the run colours', async () => {
    await page.locator('[data-test="runs-table"]').waitFor();
    expect(await page.locator('[data-test^="run-row-"]').count()).toBe(2);
    // many tags and a long name must not widen the table past the window
    await page.locator(`[data-test="tag-add-${ids.lstm}"]`).click();
    await page.locator(`[data-test="tag-input-${ids.lstm}"]`).fill('baseline, char-level, shakespeare, tiny, lesson-3');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator(`[data-test="run-row-${ids.lstm}"]`).textContent()).toContain('lesson-3');
    const overflow = await page.evaluate(() => {
      const wrap = document.querySelector('[data-test="runs-table-wrap"]')!;
      return { wrap: wrap.scrollWidth - wrap.clientWidth, page: document.documentElement.scrollWidth - document.documentElement.clientWidth };
    });
    await shot('01-runs-1280');
    const widths = await page.evaluate(() =>
      [...document.querySelectorAll('[data-test="runs-table"] thead th')].map((th) => Math.round(th.getBoundingClientRect().width)),
    );
    expect(overflow, `column widths ${widths.join(', ')}`).toEqual({ wrap: 0, page: 0 });
    await expect.poll(() => page.locator(`[data-test="actions-${ids.gpt}"]`).isVisible()).toBe(true);
    expect(await page.locator(`[data-test="rename-${ids.gpt}"]`).isVisible()).toBe(true); // not only on hover
    expect(await page.locator('[data-test="intro-runs"]').textContent()).toContain('nats per token');
  });

  it('opens the actions menu from the keyboard, moves with the arrows, closes on Escape, and follows an item', async () => {
    const trigger = page.locator(`[data-test="actions-${ids.gpt}"]`);
    await trigger.focus();
    await page.keyboard.press('Enter');
    await page.locator(`[data-test="actions-menu-${ids.gpt}"]`).waitFor();
    expect(await trigger.getAttribute('aria-expanded')).toBe('true');
    expect(await focused()).toBe(`action-open-${ids.gpt}`);
    await page.keyboard.press('ArrowDown');
    expect(await focused()).toBe(`action-compare-${ids.gpt}`);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp'); // wraps to the last item
    expect(await focused()).toBe(`action-delete-${ids.gpt}`);
    await shot('02-actions-menu');
    await page.keyboard.press('Escape');
    expect(await page.locator(`[data-test="actions-menu-${ids.gpt}"]`).count()).toBe(0);
    expect(await focused()).toBe(`actions-${ids.gpt}`);

    // Rename from the menu: the name becomes a field
    await page.keyboard.press('ArrowUp'); // opens on the last item
    await page.keyboard.press('ArrowUp');
    expect(await focused()).toBe(`action-rename-${ids.gpt}`);
    await page.keyboard.press('Enter');
    const field = page.locator(`[data-test="rename-input-${ids.gpt}"]`);
    await field.waitFor();
    await page.keyboard.press('Escape');

    await trigger.focus();
    await page.keyboard.press('Enter');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    expect(await focused()).toBe(`action-embeddings-${ids.gpt}`);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/#/embeddings?run=${ids.gpt}`);
  });

  it('filters by text (regex allowed, invalid ones explained) and keeps the filter across a reload', async () => {
    await page.goto(`${origin}/#/`);
    await page.locator('[data-test="runs-table"]').waitFor();
    await page.locator('[data-test="filter-text"]').fill('lstm');
    await expect.poll(() => page.locator('[data-test^="run-row-"]').count()).toBe(1);
    await page.reload();
    await page.locator('[data-test="runs-table"]').waitFor();
    expect(await page.locator('[data-test="filter-text"]').inputValue()).toBe('lstm');
    expect(await page.locator('[data-test^="run-row-"]').count()).toBe(1);
    expect(await page.locator(`[data-test="run-row-${ids.lstm}"]`).count()).toBe(1);

    await page.locator('[data-test="filter-text"]').fill('^(tiny|small)');
    await expect.poll(() => page.locator('[data-test^="run-row-"]').count()).toBe(2);
    await page.locator('[data-test="filter-text"]').fill('(gpt');
    await expect.poll(() => page.locator('[data-test="filter-text-help"]').textContent()).toContain('is not a valid regular expression');
    await shot('03-runs-invalid-regex');
    await page.locator('[data-test="filter-text"]').fill('');
    await expect.poll(() => page.locator('[data-test^="run-row-"]').count()).toBe(2);
  });

  it('lists the nearest tokens of a typed or clicked token, the raw rows, and exports the scatter as PNG', async () => {
    await page.goto(`${origin}/#/embeddings?run=${ids.gpt}`);
    await page.locator('[data-test="kmeans-chart"]').waitFor({ timeout: 60_000 });
    const list = page.locator('[data-test="neighbours-list"]');
    await list.waitFor({ timeout: 30_000 });
    expect(await list.getAttribute('data-count')).toBe('10');
    const similarities = (await page.locator('[data-test="neighbour-similarity"]').allTextContents()).map(Number);
    expect(similarities).toHaveLength(10);
    expect([...similarities].sort((a, b) => b - a)).toEqual(similarities);
    expect(similarities.every((s) => s >= -1 && s <= 1)).toBe(true);

    await page.locator('[data-test="neighbour-token"]').fill('a');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-test="neighbours-of"]').textContent()).toContain('“a”');
    await page.locator('[data-test="embedding-rows"]').waitFor();
    expect(await page.locator('[data-test="embedding-dimension"]').textContent()).toBe('16');
    expect(Number(await page.locator('[data-test="embedding-rows"]').getAttribute('data-rows'))).toBe(4);

    await page.locator('[data-test="neighbour-token"]').fill('€');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('body')).toContain('is not one of this model');
    await page.locator('[data-test="neighbour-token"]').fill('e');
    await page.keyboard.press('Enter');
    await list.waitFor();

    expect(await page.locator('[data-test="intro-embeddings"]').textContent()).toContain('move each centroid to the mean of its points');
    await shot('04-embeddings');
    await page.locator('[data-test="embedding-rows"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'views-04b-embeddings-neighbours.png') });
    expect(await downloadPng('kmeans-scatter-png', 'scatter-export')).toBe('nanolab-token-embeddings-pca-k-means.png');
  });

  it('explains a row of the attention map, reaches the heads by keyboard, and exports the heatmap as PNG', async () => {
    await page.goto(`${origin}/#/attention?run=${ids.gpt}`);
    await page.locator('[data-test="attention-grid"]').waitFor({ timeout: 60_000 });
    const intro = await page.locator('[data-test="intro-attention"]').textContent();
    expect(intro).toContain('sum to 1');
    expect(intro).toContain('causal');
    const thumbs = page.locator('[data-test="attention-grid"] button');
    expect(await thumbs.count()).toBe(2);
    await thumbs.nth(1).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('h2', { hasText: 'Layer 1, head 2' }).count()).toBe(1);
    await shot('05-attention');
    expect(await downloadPng('attention-heatmap-png', 'attention-export')).toBe('nanolab-attention-layer-1-head-2.png');
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });
});
