import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, type Served } from './launch';

// The Masks view at 1280×800 with the real `nanolab serve`: no run needed. Opened from the nav,
// checked for the lesson's shapes, retyped from the keyboard, and the pitfall's differing cells.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e mask explorer: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;

const text = (testId: string) => page.locator(`[data-test="${testId}"]`).first().innerText();
/** The 0/1 cells of a mask grid, row by row. */
const cells = (testId: string) =>
  page
    .locator(`[data-test="${testId}"] tbody tr`)
    .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td[data-cell]')].map((td) => (td.textContent ?? '').trim()).join('')));
async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `mask-${name}.png`), fullPage: true });
}

describe.skipIf(!hasChromium)('Mask explorer at 1280×800', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serveLab();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('opens from the nav and prints the lesson shapes for the default batch', async () => {
    await page.locator('[data-test="nav-masks"]').click();
    await page.locator('[data-test="mask-source"]').waitFor();
    expect(await page.locator('[data-test="intro-masks"]').innerText()).toContain('cross-attention takes the source padding mask');
    // "hello" / "hi": S = 5; "bonjour" / "salut" → <bos> … <eos>, decoder input T = 8
    expect(await text('mask-source')).toContain('(2, 1, 1, 5)');
    expect(await text('mask-lookahead')).toContain('(1, 8, 8)');
    expect(await text('mask-target-shape')).toBe('(2, 1, 8, 8)');
    expect(await cells('mask-source-1')).toEqual(['00111']);
    const target1 = await cells('mask-target-1');
    expect(target1[0]).toBe('01111111');
    expect(target1[7]).toBe('00000001'); // the padded query still sees the real tokens
    expect(await text('mask-ids')).toContain('<eos>');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0);
    await shot('01-defaults');
    for (const section of ['source', 'lookahead', 'target']) {
      await page.locator(`[data-test="mask-${section}"]`).screenshot({ path: join(SHOTS, `mask-01-${section}.png`) });
    }
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });

  it('shows the attention map before and after the mask, rows summing to 1', async () => {
    const section = page.locator('[data-test="mask-attention"]');
    await section.scrollIntoViewIfNeeded();
    expect(await text('mask-stage-scores')).toContain('(2, 1, 8, 8)');
    const weights = await page
      .locator('[data-test="mask-stage-weights"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td[data-cell]')].map((td) => Number(td.textContent))));
    const masked = await cells('mask-stage-mask');
    weights.forEach((row, q) => {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 1);
      row.forEach((w, k) => {
        if (masked[q][k] === '1') expect(w).toBe(0);
      });
    });
    expect(await page.locator('[data-test="mask-stage-masked"] td.masked').first().innerText()).toBe('−1e9');
    // the keyboard reaches the attention choice: cross-attention, source padding mask broadcast over 8 query rows
    await page.locator('[data-test="mask-kind-cross"]').focus();
    await page.keyboard.press('Space');
    await expect.poll(() => text('mask-stage-scores')).toContain('(2, 1, 8, 5)');
    expect(await text('mask-stage-mask')).toContain('(2, 1, 1, 5) → (2, 1, 8, 5)');
    expect(await cells('mask-stage-mask')).toEqual(new Array(8).fill('00111'));
    await section.screenshot({ path: join(SHOTS, 'mask-02-attention-cross.png') });
  });

  it('updates shapes and cells when new sequences are typed, and keeps them after a reload', async () => {
    // the longest sequences still fit the window: T = 13 grids wrap, nothing scrolls sideways
    await page.locator('[data-test="mask-kind-decoder"]').check();
    for (const key of ['source0', 'source1', 'target0', 'target1']) await page.locator(`[data-test="mask-${key}"]`).fill('the quick fox jumps'.slice(0, 12));
    await expect.poll(() => text('mask-target-shape')).toBe('(2, 1, 13, 13)');
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    expect(await page.locator('main').evaluate((m) => m.scrollWidth - m.clientWidth)).toBe(0);
    await page.locator('[data-test="mask-stage-masked"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'mask-03-longest.png') });
    await page.locator('[data-test="mask-source0"]').fill('abc');
    await page.locator('[data-test="mask-source1"]').fill('abcdefg');
    await page.locator('[data-test="mask-target0"]').fill('xy');
    await page.locator('[data-test="mask-target1"]').fill('wxyz');
    await expect.poll(() => text('mask-source')).toContain('(2, 1, 1, 7)');
    expect(await cells('mask-source-0')).toEqual(['0001111']);
    expect(await cells('mask-source-1')).toEqual(['0000000']);
    // targets: <bos> x y <eos> <pad> <pad> and <bos> w x y z <eos> → decoder input T = 5
    expect(await text('mask-target-shape')).toBe('(2, 1, 5, 5)');
    expect(await cells('mask-target-0')).toEqual(['01111', '00111', '00011', '00001', '00001']);
    expect(await cells('mask-lookahead-grid')).toEqual(['01111', '00111', '00011', '00001', '00000']);
    // an empty field says why, and the grids keep the last batch
    await page.locator('[data-test="mask-target1"]').fill('');
    expect(await page.locator('[data-test="mask-target1"]').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('[role="alert"]').first().innerText()).toContain('at least one character');
    expect(await text('mask-target-shape')).toBe('(2, 1, 5, 5)');
    await shot('04-typed-empty');
    await page.locator('[data-test="mask-target1"]').fill('wxyz');
    await page.reload();
    await page.locator('[data-test="mask-source"]').waitFor();
    expect(await page.locator('[data-test="mask-source1"]').inputValue()).toBe('abcdefg');
    expect(await text('mask-target-shape')).toBe('(2, 1, 5, 5)');
  });

  it('shows the pitfall: the wrong mask beside the right one, differing cells outlined', async () => {
    const pitfall = page.locator('[data-test="mask-pitfall"]');
    await pitfall.scrollIntoViewIfNeeded();
    expect(await pitfall.innerText()).toContain('The pitfall: the opposite convention');
    await page.locator('[data-test="mask-row-0"]').check();
    // row 0 of "xy": decoder input <bos> x y <eos> <pad>: every cell differs except the padding column
    const wrong = await cells('mask-pitfall-wrong');
    const right = await cells('mask-pitfall-right');
    expect(right).toEqual(['01111', '00111', '00011', '00001', '00001']);
    expect(wrong).toEqual(['10001', '11001', '11101', '11111', '11111']);
    expect(await page.locator('[data-test="mask-pitfall-wrong"] td.differs').count()).toBe(20);
    expect(await page.locator('[data-test="mask-pitfall-right"] td.differs').count()).toBe(20);
    // both rows: 20 + 25 of 50 cells
    expect(await text('mask-pitfall-count')).toContain('45 of 50');
    // the rows the wrong mask covers whole come out uniform, the future included
    const uniform = await cells('mask-pitfall-weights');
    expect(uniform.slice(3)).toEqual(['0.200.200.200.200.20', '0.200.200.200.200.20']);
    await pitfall.screenshot({ path: join(SHOTS, 'mask-05-pitfall.png') });
    // the wrong mask downloads as a picture
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-test="mask-pitfall-wrong-png"]').click()]);
    expect(download.suggestedFilename()).toBe('nanolab-wrong-max-padding-lesson-0-0-2-1-5-5.png');
    const png = join(SHOTS, 'mask-06-wrong-export.png');
    await download.saveAs(png);
    expect([...readFileSync(png).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });
});
