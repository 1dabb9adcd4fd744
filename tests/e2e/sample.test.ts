import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, type Served } from './launch';

// The Sample view as a learner uses it at 1280×800, keyboard only where a keyboard user would
// be: one tiny GPT trained with the CLI, then `nanolab serve` and Chromium. Checks: Tab reaches
// every field, a wrong temperature says why at the field and disables Generate, Enter generates,
// no-repeat-ngram holds, the next-token bars follow the temperature, tokens open their popover
// on focus (Escape closes it), settings survive a reload, and the sampling grid fills its table
// and chart (with a PNG).

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e sample: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let origin = '';

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

const focused = () =>
  page.evaluate(() => {
    const el = (globalThis as unknown as { document: { activeElement: { tagName: string; getAttribute(name: string): string | null } | null } }).document
      .activeElement;
    return el?.getAttribute('data-test') ?? el?.tagName ?? '';
  });

/** Presses Tab until the field `testId` has the focus (as a keyboard user would), failing after `max` presses. */
async function tabTo(testId: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await focused()) === testId) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${testId} (stopped on ${await focused()})`);
}

/** Replaces the focused field's text by typing. */
async function typeOver(text: string): Promise<void> {
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
}

const attr = async (selector: string, name: string) => page.locator(selector).getAttribute(name);

describe.skipIf(!hasChromium)('Sample view (nanolab serve + Chromium, 1280×800, keyboard)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const home = mkdtempSync(join(tmpdir(), 'nanolab-e2e-sample-'));
    const data = join(home, 'shakespeare-20k.txt');
    writeFileSync(data, readFileSync(join(ROOT, 'resources', 'tinyshakespeare.txt'), 'utf8').slice(0, 20_000));
    const args = ['--model', 'gpt', '--name', 'tiny gpt', '--steps', '150', '--seed', '3', '--json'];
    const small = ['n_layer=1', 'n_head=2', 'n_embd=16', 'block_size=16', 'batch_size=4', 'seq_len=16', 'eval_iters=2', 'eval_interval=20'].flatMap((s) => [
      '--set',
      s,
    ]);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nanolab.js'), 'train', '--data', data, ...args, ...small], {
      env: { ...process.env, NANOLAB_HOME: home },
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`nanolab train failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
    served = await serveLab(home);
    origin = new URL(served.url).origin;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url); // the token's cookie
    await page.locator('[data-test="runs-table"]').waitFor(); // the app is up before the tests navigate
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('is usable from the keyboard: fields in order, a wrong temperature blocks Generate with a reason, Enter generates', async () => {
    await page.goto(`${origin}/#/sample?run=1`);
    await page.locator('[data-test="next-token-bar"]').first().waitFor({ timeout: 20_000 });
    await expect.poll(async () => page.locator('[data-test="intro-sample"]').textContent()).toContain('Temperature');
    await page.locator('body').click({ position: { x: 5, y: 5 } });

    await tabTo('sample-prompt');
    await typeOver('ROMEO:');
    await tabTo('sample-temperature');
    await typeOver('11');
    const error = page.locator('[data-test="sample-temperature-error"]');
    await error.waitFor();
    expect(await error.textContent()).toBe('temperature must be between 0 and 10 (got 11)');
    expect(await page.locator('[data-test="sample-generate"]').isDisabled()).toBe(true);
    expect(await page.locator('[data-test="sample-invalid"]').textContent()).toContain('Fix the field in red');
    // Enter in a field does not generate while a field is wrong
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
    expect(await attr('[data-test="sample-output"]', 'data-tokens')).toBe('0');
    await shot('sample-01-invalid-temperature');

    await typeOver('0.8');
    await error.waitFor({ state: 'detached' });
    await tabTo('sample-length');
    await typeOver('120');
    await tabTo('sample-noRepeatNgram');
    await typeOver('2');
    expect(await page.locator('[data-test="sample-help"]').textContent()).toContain('no_repeat_ngram_size');
    await page.keyboard.press('Enter');
    await expect.poll(async () => Number(await attr('[data-test="sample-output"]', 'data-tokens')), { timeout: 30_000 }).toBe(120);
    await page.locator('[data-test="sample-generate"]').filter({ hasText: 'Generate' }).waitFor();
    const text = (await page.locator('[data-test="sample-output"] .token-text').textContent()) ?? '';
    expect(text.startsWith('ROMEO:')).toBe(true);
    const pairs = Array.from({ length: text.length - 1 }, (_, i) => text.slice(i, i + 2));
    expect(new Set(pairs).size).toBe(pairs.length); // no-repeat-ngram 2: no character pair twice

    // the token popover opens on focus, moves with the arrows and closes on Escape
    await tabTo('token');
    const popover = page.locator('[data-test="token-popover"]');
    await popover.waitFor();
    const first = await popover.textContent();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expect.poll(async () => popover.textContent()).not.toBe(first);
    await shot('sample-02-generated-popover-on-focus');
    await page.keyboard.press('Escape');
    await popover.waitFor({ state: 'detached' });
    await page.keyboard.press('Enter');
    await popover.waitFor();
  });

  it('redraws the next-token bars as the temperature and top-k move', async () => {
    const kept = async () => Number(await attr('[data-test="next-token-bars"]', 'data-kept'));
    const probs = async () => page.locator('[data-test="next-token-bar"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-prob'))));
    await page.locator('[data-test="sample-temperature"]').focus();
    await typeOver('1');
    await expect.poll(kept).toBeGreaterThan(5);
    const warm = await probs();
    await typeOver('0');
    await expect.poll(kept).toBe(1);
    expect(await page.locator('[data-test="next-token-bar"][data-cut="false"]').count()).toBe(1);
    expect((await probs())[0]).toBe(1);
    // the slider moves the same setting (arrow keys on a focused slider)
    await page.locator('[data-test="sample-temperature-slider"]').focus();
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowRight'); // 0 -> 1.5
    await expect.poll(async () => page.locator('[data-test="sample-temperature"]').inputValue()).toBe('1.5');
    const hot = await probs();
    expect(hot[0]).toBeLessThan(warm[0]); // flatter: the favourite loses mass
    await page.locator('[data-test="sample-topK"]').focus();
    await typeOver('3');
    await expect.poll(kept).toBe(3);
    expect(await page.locator('[data-test="next-token-bar"][data-cut="true"]').count()).toBeGreaterThan(0);
    await shot('sample-03-bars-top-k-3');
    await typeOver('0');
    await page.locator('[data-test="sample-temperature"]').focus();
    await typeOver('0.8');
  });

  it('keeps its settings across a reload', async () => {
    await page.reload();
    await page.locator('[data-test="next-token-bar"]').first().waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-test="sample-length"]').inputValue()).toBe('120');
    expect(await page.locator('[data-test="sample-noRepeatNgram"]').inputValue()).toBe('2');
    expect(await page.locator('[data-test="sample-temperature"]').inputValue()).toBe('0.8');
    expect(await page.locator('[data-test="sample-prompt"]').inputValue()).toBe('ROMEO:');
  });

  it('runs the sampling grid: a row and a point per cell, a PNG of the chart', async () => {
    await page.locator('[data-test="sample-length"]').fill('60');
    // no-repeat-ngram applies to the grid too, and says so: off, to see the raw repetition
    await page.locator('[data-test="grid-no-repeat"]').waitFor();
    await page.locator('[data-test="sample-noRepeatNgram"]').fill('0');
    await page.locator('[data-test="grid-no-repeat"]').waitFor({ state: 'detached' });
    await page.locator('[data-test="grid-temperatures"]').fill('0.3, 1.5');
    await page.locator('[data-test="grid-topKs"]').fill('0, 5');
    await page.locator('[data-test="grid-samples"]').fill('two');
    expect(await page.locator('[data-test="grid-samples-error"]').textContent()).toBe('samples per cell must be a whole number between 1 and 10 (got “two”)');
    expect(await page.locator('[data-test="grid-run"]').isDisabled()).toBe(true);
    await page.locator('[data-test="grid-samples"]').fill('2');
    expect(await page.locator('[data-test="grid-size"]').textContent()).toContain('4 cells × 2 samples × 60 tokens = 480 tokens');
    await page.locator('[data-test="grid-samples"]').press('Enter');
    await page.locator('[data-test="grid-table"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-test="grid-row"]').count()).toBe(4);
    expect(await attr('[data-test="grid-chart"]', 'data-points')).toBe('4');
    const rows = await page.locator('[data-test="grid-row"] th').allTextContents();
    expect(rows).toEqual(['T=0.3 k=off', 'T=0.3 k=5', 'T=1.5 k=off', 'T=1.5 k=5']);
    // the hot, uncut cell is more surprising to the model than the cool one
    const surprise = await page.locator('[data-test="grid-row"] td:nth-of-type(5)').allTextContents();
    expect(parseFloat(surprise[2])).toBeGreaterThan(parseFloat(surprise[0]));
    // and more varied: a larger share of distinct 2-grams ("39 · 66.1%": the share after the dot)
    const distinct2 = (await page.locator('[data-test="grid-row"] td:nth-of-type(2)').allTextContents()).map((t) => parseFloat(t.split('·')[1]));
    expect(distinct2[2]).toBeGreaterThan(distinct2[0]);
    await page.locator('[data-test="grid-row"]').first().locator('summary').click();
    expect(await page.locator('[data-test="grid-sample"]').first().isVisible()).toBe(true);
    await page.locator('[data-test="sampling-grid"]').scrollIntoViewIfNeeded();
    await shot('sample-04-grid');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="grid-png"]').click()]);
    expect(download.suggestedFilename()).toBe('nanolab-run-1-sampling-grid.png');
    const saved = join(SHOTS, 'sample-05-grid-chart-export.png');
    await download.saveAs(saved);
    expect(statSync(saved).size).toBeGreaterThan(10_000);
    expect(served.log.join('')).not.toContain('page error');
  });
});
