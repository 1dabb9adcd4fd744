import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, setField, type Served } from './launch';

// The Translate view at 1280×800 with the real `nanolab serve`: a small seq2seq run on the reverse
// task trained with the CLI, then greedy and beam outputs side by side, token probabilities, the
// attention grid with its masks, and a language model pointed to the Sample view.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e translate: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let runId = 0;
let gptId = 0;

function nanolab(home: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/nanolab.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, NANOLAB_HOME: home },
  });
  if (r.status !== 0) throw new Error(`nanolab ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);
const grid = () => page.locator('[data-test="translate-grid"]');
/** The masked cells of the grid, row by row, as 1 (masked) / 0. */
const maskedCells = () =>
  grid()
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td[data-cell]')].map((td) => (td.classList.contains('masked') ? '1' : '0')).join('')));

describe.skipIf(!hasChromium)('Translate at 1280×800', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const home = mkdtempSync(join(tmpdir(), 'nanolab-e2e-translate-'));
    // the one-minute demo, shortened: enough to draw the reverse task's anti-diagonal
    const settings = ['eval_pairs=20', 'eval_interval=350'].flatMap((s) => ['--set', s]);
    runId = lastJson(nanolab(home, 'train', '--preset', 'seq2seq-reverse', '--steps', '700', ...settings, '--json')).run_id;
    const gpt = ['n_layer=1', 'n_head=2', 'n_embd=16', 'block_size=16', 'seq_len=16', 'batch_size=4', 'eval_interval=4', 'eval_iters=1'];
    const data = join(home, 'shakespeare-5k.txt');
    writeFileSync(data, readFileSync(join(ROOT, 'resources', 'tinyshakespeare.txt'), 'utf8').slice(0, 5_000));
    gptId = lastJson(nanolab(home, 'train', '--data', data, '--model', 'gpt', '--steps', '4', ...gpt.flatMap((s) => ['--set', s]), '--json')).run_id;
    served = await serveLab(home);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url);
    await page.locator('[data-test="nav-translate"]').waitFor();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('translates with greedy and beam side by side and draws the cross-attention', async () => {
    await page.goto(`${served.url}#/translate?run=${runId}`);
    await page.locator('[data-test="translate-source"]').waitFor();
    expect(await page.locator('[data-test="intro-translate"]').innerText()).toContain('alignment picture');
    await setField(page, 'translate-source', 'attention');
    await setField(page, 'translate-beam', '3');
    await page.locator('[data-test="translate-run"]').click();
    await page.locator('[data-test="translate-greedy-text"]').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-test="translate-hyp"]').length === 3);
    const tokens = page.locator('[data-test="translate-greedy"] [data-test="translate-token"]');
    const n = await tokens.count();
    expect(n).toBeGreaterThan(0);
    for (let i = 0; i < n; i++) {
      const p = Number(await tokens.nth(i).getAttribute('data-prob'));
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(await tokens.nth(i).getAttribute('title')).toMatch(/p = [01]\.\d{4}/);
    }
    // cross-attention: output tokens × the 9 source tokens, nothing masked, rows summing to 1
    await page.locator('[data-test="translate-map-kind"]').selectOption('cross');
    const head = grid().locator('thead th.col');
    expect(await head.allInnerTexts()).toEqual([...'attention', 'Σ']);
    expect(await grid().locator('tbody tr').count()).toBe(n);
    for (const s of await grid().locator('td.sum').allInnerTexts()) expect(s).toBe('1.00');
    expect(await grid().locator('tbody th.row').last().innerText()).toBe('<eos>');
    await page.screenshot({ path: join(SHOTS, 'translate-01-cross.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0);
  });

  it('switches to the decoder’s triangle, one head, the beam output, and padded columns', async () => {
    await page.locator('[data-test="translate-map-kind"]').selectOption('decoderSelf');
    await page.locator('[data-test="translate-map-head"]').selectOption({ label: '2' });
    await page.locator('[data-test="translate-map-output"]').selectOption('beam');
    expect(await grid().innerText()).toContain('head 2');
    expect(await grid().locator('tbody th.row').first().innerText()).toBe('<bos>');
    const rows = await maskedCells();
    rows.forEach((row, i) => expect(row).toBe('0'.repeat(i + 1) + '1'.repeat(row.length - i - 1)));
    // the source padded to 12: three masked columns in cross and encoder self-attention
    await setField(page, 'translate-pad', '12');
    await page.locator('[data-test="translate-run"]').click();
    await page.locator('[data-test="translate-map-kind"]').selectOption('encoderSelf');
    await page.waitForFunction(() => document.querySelectorAll('[data-test="translate-grid"] tbody tr').length === 12);
    for (const row of await maskedCells()) expect(row).toBe('000000000111');
    expect(await grid().locator('thead th.col').nth(11).innerText()).toBe('<pad>');
    await page.locator('[data-test="translate-map-kind"]').selectOption('cross');
    await page.locator('[data-test="translate-map-head"]').selectOption({ value: '-1' });
    for (const row of await maskedCells()) expect(row).toBe('000000000111');
    await page.screenshot({ path: join(SHOTS, 'translate-02-padded.png'), fullPage: true });
  });

  it('names characters outside the vocabulary, and points a language model to Sample', async () => {
    await setField(page, 'translate-pad', '0');
    await setField(page, 'translate-source', 'ab€');
    await page.locator('[data-test="translate-run"]').click();
    await page.locator('[data-test="translate-notice"]').waitFor();
    expect(await page.locator('[data-test="translate-notice"]').innerText()).toContain('"€" is not in the source vocabulary');
    await page.goto(`${served.url}#/translate?run=${gptId}`);
    const reason = page.locator('[data-test="translate-reason"]');
    await reason.waitFor();
    expect(await reason.innerText()).toContain('Sample view');
    expect(await reason.locator('a').getAttribute('href')).toBe(`#/sample?run=${gptId}`);
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  });
});
