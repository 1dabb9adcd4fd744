import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, setField, type Served } from './launch';

// The Attention arithmetic view at 1280×800 with the real `nanolab serve`, on a small seq2seq run
// the CLI trains first: the pipeline's tables render with the model's numbers, the softmax row
// sums to 1 on the page, masked keys read −∞ and get weight 0, and a bad source gets a sentence.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e arithmetic: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let runId = 0;

const rowsOf = (testId: string) => page.locator(`[data-test="${testId}"] tbody tr`).count();
/** The full values (the cells' titles) of a table's first row. */
const fullValues = (testId: string) =>
  page
    .locator(`[data-test="${testId}"] tbody tr`)
    .first()
    .evaluate((tr) => [...tr.querySelectorAll('td[title]')].map((td) => Number(td.getAttribute('title'))));
const cellTexts = (testId: string, row = 0) =>
  page
    .locator(`[data-test="${testId}"] tbody tr`)
    .nth(row)
    .evaluate((tr) => [...tr.querySelectorAll('td[title]')].map((td) => (td.textContent ?? '').trim()));

describe.skipIf(!hasChromium)('Attention arithmetic at 1280×800', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const home = mkdtempSync(join(tmpdir(), 'nanolab-e2e-arith-'));
    const args = ['train', '--model', 'seq2seq', '--task', 'reverse', '--task-pairs', '500', '--steps', '100', '--json'];
    for (const s of ['d_model=32', 'num_heads=2', 'num_layers=2', 'd_ff=64', 'eval_pairs=10', 'eval_interval=50']) args.push('--set', s);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nanolab.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, NANOLAB_HOME: home },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    runId = JSON.parse(r.stdout.trim().split('\n').at(-1)!).run_id;
    served = await serveLab(home);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('opens from the nav and shows every step of cross-attention for the first query', async () => {
    await page.locator('[data-test="nav-arithmetic"]').click();
    await page.locator('[data-test="arith-softmax"]').waitFor({ timeout: 30_000 });
    expect(page.url()).toContain(`run=${runId}`);
    expect(await page.locator('[data-test="intro-arithmetic"]').innerText()).toContain('click a query token');
    // the default source "attention": 9 keys; d_model 32, 2 heads: d_k 16, shown as 8 columns and an ellipsis
    expect(await rowsOf('arith-k')).toBe(9);
    expect(await rowsOf('arith-v')).toBe(9);
    expect(await cellTexts('arith-q')).toHaveLength(8);
    expect(await page.locator('[data-test="arith-q-expand"]').innerText()).toContain('+8');
    expect(await page.locator('[data-test="step-scaled"] h2').innerText()).toContain('d_k = 16, √d_k = 4.000');
    const weights = await fullValues('arith-softmax');
    expect(weights).toHaveLength(9);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Number(await page.locator('[data-test="arith-softmax-sum"]').innerText())).toBeCloseTo(1, 6);
    // ÷√d_k on the page is the scores ÷ 4
    const scores = await fullValues('arith-scores');
    const scaled = await fullValues('arith-scaled');
    scaled.forEach((s, i) => expect(s).toBeCloseTo(scores[i] / 4, 6));
    expect(await page.locator('[data-test="arith-check"]').innerText()).toContain("Checked against the model's own forward pass");
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'arithmetic-01-cross.png') });
    for (const step of ['scores', 'scaled', 'mask', 'softmax', 'output']) {
      await page.locator(`[data-test="step-${step}"]`).screenshot({ path: join(SHOTS, `arithmetic-01-step-${step}.png`) });
    }
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });

  it('decoder self-attention: a clicked query masks the later tokens as −∞ with weight 0', async () => {
    await setField(page, 'arithmetic-target', 'noitnetta');
    await page.locator('[data-test="arithmetic-show"]').click();
    await page.locator('[data-test="arithmetic-kind"]').selectOption('decoder');
    await page.locator('[data-test="arithmetic-query-3"]').click();
    await expect.poll(() => page.locator('[data-test="arithmetic-query-3"]').getAttribute('aria-pressed')).toBe('true');
    // decoder input <bos> n o i t n e t t a: 10 keys; query 3 sees 0..3, the other 6 are masked
    await expect.poll(() => rowsOf('arith-k')).toBe(10);
    const masked = await cellTexts('arith-mask', 1);
    expect(masked.slice(4)).toEqual(new Array(6).fill('−∞ (masked)'));
    expect(await cellTexts('arith-mask', 0)).toEqual(['0', '0', '0', '0', '1', '1', '1', '1', '1', '1']);
    const weights = await fullValues('arith-softmax');
    expect(weights.slice(4)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    // the ellipsis expands every table to all d_k columns
    await page.locator('[data-test="arith-q-expand"]').click();
    expect(await cellTexts('arith-q')).toHaveLength(16);
    expect(await cellTexts('arith-output')).toHaveLength(16);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await page.locator('[data-test="step-mask"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'arithmetic-02-decoder-masked.png') });
    await page.locator('[data-test="arith-q-collapse"]').click();
    expect(await cellTexts('arith-q')).toHaveLength(8);
  });

  it('refuses a source with characters the model never saw in one sentence', async () => {
    await setField(page, 'arithmetic-source', 'ab#c');
    await page.locator('[data-test="arithmetic-show"]').click();
    await expect.poll(() => page.locator('section.main').innerText()).toContain('the source has characters this model never saw: "#"');
    await setField(page, 'arithmetic-source', 'attention');
    await page.locator('[data-test="arithmetic-show"]').click();
    await page.locator('[data-test="arith-softmax"]').waitFor();
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });
});
