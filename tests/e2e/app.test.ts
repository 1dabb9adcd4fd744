import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, setField as fillField, type Served } from './launch';

// The app end to end, as a user drives it: `nanolab serve` (the real CLI, a temporary lab) and
// Debian's Chromium through Playwright. Every step saves a screenshot in test-results/e2e/.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let url = '';
let serverLog: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** A count the view publishes in a data attribute (points drawn, tokens shown). */
async function countOf(selector: string, attribute: string): Promise<number> {
  return Number((await page.locator(selector).first().getAttribute(attribute)) ?? 0);
}

async function waitForCount(selector: string, attribute: string, atLeast: number, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const n = await countOf(selector, attribute).catch(() => 0);
    if (n >= atLeast) return n;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${selector}[${attribute}] stayed at ${n} (< ${atLeast}) for ${timeoutMs} ms`);
    await page.waitForTimeout(200);
  }
}

function setField(testId: string, value: string): Promise<void> {
  return fillField(page, testId, value);
}

const TINY_GPT: Record<string, string> = {
  n_layer: '1',
  n_head: '2',
  n_embd: '32',
  block_size: '32',
  seq_len: '32',
  batch_size: '4',
  steps: '400',
  eval_interval: '20',
  eval_iters: '2',
};

describe.skipIf(!hasChromium)('the lab in a browser (nanolab serve + Chromium)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serveLab();
    url = served.url;
    serverLog = served.log;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (error) => serverLog.push(`page error: ${error.message}\n`));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('refuses a page without the token', async () => {
    const response = await page.goto(url.replace(/\?token=.*/, ''));
    expect(response?.status()).toBe(403);
    expect(await page.textContent('body')).toContain('open the URL that `nanolab serve` printed');
  });

  it('opens on the welcome screen with an empty lab', async () => {
    await page.goto(url);
    await page.locator('[data-test="welcome"]').waitFor();
    expect(await page.locator('[data-test^="start-preset-"]').count()).toBeGreaterThanOrEqual(2);
    await shot('01-welcome');
  });

  it("uploads a text of the user's in the New-run view, previews it, and explains a file it cannot use", async () => {
    await page.locator('[data-test="nav-new"]').click();
    const upload = page.locator('[data-test="corpus-upload"]');
    await upload.setInputFiles({ name: 'sonnet.txt', mimeType: 'text/plain', buffer: Buffer.from("Shall I compare thee to a summer's day?\n".repeat(200)) });
    await expect.poll(async () => page.locator('[data-test="corpus-stats"]').textContent(), { timeout: 10_000 }).toContain('8,000');
    expect(await page.locator('[data-test="corpus-preview"]').textContent()).toContain('Shall I compare thee');
    await upload.setInputFiles({ name: 'picture.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 1, 2, 3]) });
    await page.locator('[data-test="corpus-error"]').waitFor();
    expect(await page.locator('[data-test="corpus-error"]').textContent()).toMatch(/picture.png/);
    await shot('02a-upload');
    await page.locator('[data-test="corpus-tinyshakespeare"]').click();
  });

  it('starts a small run from the New-run view and watches its loss chart grow, then stops it', async () => {
    await page.locator('[data-test="nav-new"]').click();
    await page.locator('[data-test="family-select"]').selectOption('gpt');
    for (const [key, value] of Object.entries(TINY_GPT)) await setField(`setting-${key}`, value);
    await setField('new-run-name', 'e2e gpt');
    await expect.poll(async () => page.locator('[data-test="preview-params"]').textContent(), { timeout: 10_000 }).toMatch(/\d/);
    await setField('setting-n_embd', '33');
    // the host's validation message appears next to the field it names
    await page.locator('[data-test="setting-error-n_embd"]').waitFor();
    expect(await page.locator('[data-test="setting-error-n_embd"]').textContent()).toContain('n_embd (33) must be divisible by n_head (2)');
    expect(await page.locator('[data-test="new-run-start"]').isDisabled()).toBe(true);
    await setField('setting-n_embd', '32');
    await page.locator('[data-test="setting-error-n_embd"]').waitFor({ state: 'detached' });
    await shot('02-new-run');
    await page.locator('[data-test="new-run-start"]').click();
    await page.waitForURL(/#\/runs\/\d+/);
    const before = await waitForCount('[data-test="loss-chart"]', 'data-points', 5);
    const after = await waitForCount('[data-test="loss-chart"]', 'data-points', before + 10);
    expect(after).toBeGreaterThan(before);
    await page.locator('[data-test="samples-strip"]').waitFor();
    await shot('03-live-run');
    await page.locator('[data-test="control-stop"]').click();
    await expect.poll(async () => page.locator('[data-test="run-status"]').textContent(), { timeout: 60_000 }).toContain('stopped');
    await page.locator('[data-test="continue-run"]').waitFor();
    await shot('04-stopped');
  });

  it('compares two runs: one chart, a metrics table and the config diff', async () => {
    // a second run, an LSTM, from the New-run view
    await page.locator('[data-test="nav-new"]').click();
    await page.locator('[data-test="family-select"]').selectOption('lstm');
    for (const [key, value] of Object.entries({
      hidden_size: '32',
      embedding_dim: '16',
      seq_len: '32',
      batch_size: '4',
      steps: '40',
      eval_interval: '20',
      eval_iters: '2',
    })) {
      await setField(`setting-${key}`, value);
    }
    await setField('new-run-name', 'e2e lstm');
    await page.locator('[data-test="new-run-start"]').click();
    await page.waitForURL(/#\/runs\/\d+/);
    await expect.poll(async () => page.locator('[data-test="run-status"]').textContent(), { timeout: 120_000 }).toContain('finished');
    await page.locator('[data-test="nav-runs"]').click();
    await page.locator('[data-test="runs-table"]').waitFor();
    expect(await page.locator('[data-test^="run-row-"]').count()).toBe(2);
    await shot('05-runs');
    await page.goto(`${new URL(url).origin}/#/compare?ids=1,2`);
    await waitForCount('[data-test="compare-chart"]', 'data-points', 2);
    await page.locator('[data-test="compare-table"]').waitFor();
    const diff = await page.locator('[data-test="config-diff"]').textContent();
    expect(diff).toContain('hidden_size');
    await shot('06-compare');
  });

  it('generates a sample that streams in, with per-token probabilities', async () => {
    await page.goto(`${new URL(url).origin}/#/sample?run=1`);
    await page.locator('[data-test="sample-prompt"]').fill('ROMEO:');
    await page.locator('[data-test="sample-generate"]').click();
    await waitForCount('[data-test="sample-output"]', 'data-tokens', 50);
    await page.locator('[data-test="token"]').nth(10).hover();
    await shot('07-sample');
    await page.locator('[data-test="surprise-toggle"]').click();
    await page.waitForTimeout(500);
    await shot('08-surprise');
    await page.locator('[data-test="surprise-toggle"]').click();
    // a long sample can be stopped; the text so far stays
    await page.locator('[data-test="sample-length"]').fill('5000');
    await page.locator('[data-test="sample-generate"]').click();
    await waitForCount('[data-test="sample-output"]', 'data-tokens', 20);
    await page.locator('[data-test="sample-stop"]').click();
    await page.locator('[data-test="sample-stop"]').waitFor({ state: 'detached' });
    const kept = await countOf('[data-test="sample-output"]', 'data-tokens');
    expect(kept).toBeGreaterThanOrEqual(20);
    expect(kept).toBeLessThan(5000);
  });

  it('runs k-means on the embeddings and steps through its iterations', async () => {
    await page.goto(`${new URL(url).origin}/#/embeddings?run=1`);
    await page.locator('[data-test="kmeans-run"]').click();
    await page.locator('[data-test="kmeans-chart"]').waitFor();
    await page.locator('[data-test="kmeans-iteration"]').waitFor();
    const first = await page.locator('[data-test="kmeans-iteration"]').textContent();
    await page.locator('[data-test="kmeans-step-next"]').click();
    expect(await page.locator('[data-test="kmeans-iteration"]').textContent()).not.toBe(first);
    await shot('09-embeddings');
    await page.locator('[data-test="toy-mode"]').click();
    await page.waitForTimeout(500);
    await shot('10-toy-kmeans');
  });

  it('shows attention maps for the Transformer and says why an LSTM has none', async () => {
    await page.goto(`${new URL(url).origin}/#/attention?run=1`);
    await page.locator('[data-test="attention-grid"]').waitFor({ timeout: 30_000 });
    await shot('11-attention');
    await page.goto(`${new URL(url).origin}/#/attention?run=2`);
    await page.locator('[data-test="attention-reason"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-test="attention-reason"]').textContent()).toContain('no attention');
    await shot('12-attention-lstm');
    expect(serverLog.filter((l) => l.startsWith('page error'))).toEqual([]);
  });
});
