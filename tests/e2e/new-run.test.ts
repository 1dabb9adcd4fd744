/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// page.evaluate callbacks run in the page: they use the DOM types.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../build/ensure-built';
import { CHROMIUM, hasChromium, launchChromium, serveLab, setField as fillField, type Served } from './launch';

// The New-run view as a learner uses it, at 1280×800: preset cards with their cost, a form that
// keeps its state under several errors and a family switch, the learning-rate curve, a run
// started with the keyboard alone, and the run's Configuration panel. Screenshots go to
// test-results/e2e/new-run-*.png.

const SHOTS = join(ROOT, 'test-results', 'e2e');
if (!hasChromium) console.log(`e2e: skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

let served: Served;
let browser: Browser;
let page: Page;
let origin = '';

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `new-run-${name}.png`), fullPage: true });
}

const testId = (id: string) => page.locator(`[data-test="${id}"]`);
const setField = (id: string, value: string) => fillField(page, id, value);

async function openNewRun(): Promise<void> {
  await page.goto(`${origin}/#/new`);
  await page.reload();
  await expect.poll(async () => testId('preview-params').textContent(), { timeout: 15_000 }).toMatch(/\d/);
}

/** What the keyboard focus is on: its test id (or tag), where it is on the page and in which part. */
async function focused(): Promise<{ id: string; top: number; bottom: number; left: number; part: string; disabled: boolean }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { id: 'body', top: 0, bottom: 0, left: 0, part: 'none', disabled: false };
    const r = el.getBoundingClientRect();
    const panels = [...document.querySelectorAll('.page section.panel')];
    const panel = panels.findIndex((p) => p.contains(el));
    const part = panel >= 0 ? `panel${panel}` : el.closest('[data-test="start-bar"]') ? 'bar' : el.closest('.page') ? 'page' : 'shell';
    return {
      id: el.dataset.test || el.getAttribute('aria-label') || el.id || el.tagName,
      // relative to the page (which scrolls inside the app's shell)
      top: r.top - (document.querySelector('.page')?.getBoundingClientRect().top ?? 0),
      bottom: r.bottom - (document.querySelector('.page')?.getBoundingClientRect().top ?? 0),
      left: r.left,
      part,
      disabled: (el as HTMLButtonElement).disabled === true,
    };
  });
}

describe.skipIf(!hasChromium)('New run at 1280×800 (nanolab serve + Chromium)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    served = await serveLab();
    origin = new URL(served.url).origin;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => served.log.push(`page error: ${error.message}\n`));
    await page.goto(served.url);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  }, 60_000);

  it('shows each preset with its size and its duration on this computer, and a quick look', async () => {
    await testId('welcome').waitFor();
    const first = testId('preset-cost-char-rnn-lstm');
    expect(await first.textContent()).toMatch(/parameters.*(estimating…|on this computer)/s);
    await expect.poll(async () => first.textContent(), { timeout: 90_000 }).toMatch(/takes (about \d+ minutes?|under a minute) on this computer/);
    expect(await first.textContent()).toMatch(/\d+(\.\d+)?k parameters/);
    // the quick look says its length in steps and time
    expect(await testId('quick-preset-char-rnn-lstm').textContent()).toMatch(/Quick look \([\d,]+ steps, (about 1 minute|under a minute)\)/);
    await shot('01-presets');
  }, 120_000);

  it('keeps values, checkboxes and the preview under three errors, and drops GPT-only errors on a switch to LSTM', async () => {
    await openNewRun();
    const before = await testId('preview-params').textContent();
    const tiedBefore = await testId('setting-tie_word_embeddings').isChecked();
    await setField('setting-batch_size', '8');
    await setField('new-run-name', 'e2e form');
    await expect.poll(async () => testId('new-run-start').isEnabled(), { timeout: 10_000 }).toBe(true);
    // three errors at once: a setting that does not parse, one the host refuses, a wrong seed
    await setField('setting-lr', 'abc');
    await setField('setting-n_embd', '33');
    await setField('new-run-seed', '-1');
    await testId('setting-error-n_embd').waitFor();
    expect(await testId('setting-error-n_embd').textContent()).toContain('n_embd (33) must be divisible by n_head');
    expect(await testId('setting-error-lr').textContent()).toContain('lr must be a number (got "abc")');
    expect(await testId('error-seed').textContent()).toContain('(got "-1")');
    for (const [field, error] of [
      ['setting-lr', 'error-lr'],
      ['setting-n_embd', 'error-n_embd'],
      ['new-run-seed', 'error-seed'],
    ]) {
      expect(await testId(field).getAttribute('aria-invalid')).toBe('true');
      expect(await testId(field).getAttribute('aria-describedby')).toContain(error);
    }
    expect(await testId('wrong-count').textContent()).toContain('Fix the 3 fields');
    expect(await testId('new-run-start').isDisabled()).toBe(true);
    // the rest of the form is as it was: values, defaults, checkboxes, the last valid preview
    expect(await testId('setting-batch_size').inputValue()).toBe('8');
    expect(await testId('new-run-name').inputValue()).toBe('e2e form');
    expect(await testId('setting-n_layer').getAttribute('placeholder')).toMatch(/^\d+$/);
    expect(await testId('setting-tie_word_embeddings').isChecked()).toBe(tiedBefore);
    // the last valid draft differed only in batch_size, which does not change the parameter count
    expect(await testId('preview-params').textContent()).toBe(before);
    expect(await testId('preview-summary').getAttribute('data-stale')).toBe('true');
    await shot('02-three-errors');

    await testId('family-select').selectOption('lstm');
    await testId('setting-hidden_size').waitFor();
    // the GPT-only error went with its field; the shared ones stay
    await testId('setting-error-n_embd').waitFor({ state: 'detached' });
    expect(await page.locator('.page').textContent()).not.toContain('divisible');
    expect(await testId('preview-error').count()).toBe(0);
    expect(await testId('setting-error-lr').textContent()).toContain('got "abc"');
    expect(await testId('error-seed').count()).toBe(1);
    await expect.poll(async () => testId('wrong-count').textContent()).toContain('Fix the 2 fields');
    // the LSTM's own defaults fill its fields; values typed before are still there
    await expect.poll(async () => testId('setting-hidden_size').getAttribute('placeholder'), { timeout: 10_000 }).toMatch(/^\d+$/);
    expect(await testId('setting-batch_size').inputValue()).toBe('8');
    expect(await testId('setting-lr').inputValue()).toBe('abc');
    expect(await testId('new-run-name').inputValue()).toBe('e2e form');
    expect(await testId('preview-params').textContent()).toMatch(/\d/);
    await shot('03-switched-to-lstm');

    // back to GPT: the value typed for n_embd is still there, and so is its error
    await testId('family-select').selectOption('gpt');
    expect(await testId('setting-n_embd').inputValue()).toBe('33');
    await testId('setting-error-n_embd').waitFor();
  }, 60_000);

  it('draws the learning-rate curve for a step budget and sizes a time budget on this computer', async () => {
    await openNewRun();
    await setField('setting-steps', '300');
    await expect
      .poll(async () => testId('schedule-words').textContent(), { timeout: 10_000 })
      .toMatch(/warm-up [\d,]+ steps to 1e-3, cosine to 1e-4 at step 300/);
    expect(Number(await testId('lr-curve').getAttribute('data-points'))).toBeGreaterThan(10);
    await testId('schedule-preview').scrollIntoViewIfNeeded();
    await shot('04-lr-curve');
    // a time budget: a short calibration first, then the horizon and the curve for it
    for (const [k, v] of Object.entries({ n_layer: '1', n_embd: '32', n_head: '2', block_size: '32', seq_len: '32', batch_size: '4' }))
      await setField(`setting-${k}`, v);
    await testId('budget-minutes').check();
    await setField('new-run-minutes', '1');
    await expect.poll(async () => testId('schedule-horizon').textContent(), { timeout: 30_000 }).toMatch(/≈ [\d,]+ steps in 1 min on this computer/);
    expect(await testId('budget-horizon').textContent()).toMatch(/≈ [\d,]+ steps in 1 min on this computer/);
    await expect.poll(async () => testId('schedule-words').textContent()).toMatch(/cosine to 1e-4 at step [\d,]+/);
    await shot('05-time-budget');
  }, 60_000);

  it("describes a chosen preset's schedule and time, shortens it to a quick look, and shows help on a tap", async () => {
    await openNewRun();
    await testId('preset-select').selectOption('nanogpt-cpu:0');
    await expect
      .poll(async () => testId('schedule-words').textContent(), { timeout: 10_000 })
      .toContain('warm-up 100 steps to 1e-3, cosine to 1e-4 at step 2,000');
    await expect
      .poll(async () => testId('preset-estimate').textContent(), { timeout: 60_000 })
      .toMatch(/\(2,000 steps\), it trains in (about \d+ minutes?|under a minute|about \d+ h( \d+ min)?) on this computer/);
    await testId('preset-quick-look').click();
    const steps = Number(await testId('setting-steps').inputValue());
    expect(steps).toBeGreaterThanOrEqual(10);
    expect(steps).toBeLessThan(2000);
    // the preset's warm-up and decay shrink with it
    await expect.poll(async () => testId('schedule-words').textContent()).toContain(`at step ${steps.toLocaleString('en-US')}`);
    // a tap on "?" shows a setting's help without focusing it
    expect(await testId('help-warmup_iters').isVisible()).toBe(false);
    await testId('help-toggle-warmup_iters').click();
    expect(await testId('help-warmup_iters').isVisible()).toBe(true);
    expect(await testId('help-warmup_iters').textContent()).toContain('rises linearly');
    await testId('preset-estimate').scrollIntoViewIfNeeded();
    await shot('06-preset-in-form');
  }, 90_000);

  it('is usable with the keyboard alone: fields in page order, Start last, a tiny run started with Enter', async () => {
    await openNewRun();
    expect(await page.evaluate(() => [...document.querySelectorAll('[tabindex]')].filter((e) => Number(e.getAttribute('tabindex')) > 0).length)).toBe(0);
    const tiny: Record<string, string> = {
      'new-run-name': 'e2e keyboard',
      'setting-n_layer': '1',
      'setting-n_head': '2',
      'setting-n_embd': '32',
      'setting-block_size': '32',
      'setting-steps': '30',
      'setting-batch_size': '4',
      'setting-seq_len': '32',
      'setting-eval_interval': '10',
      'setting-eval_iters': '2',
    };
    await page.locator('body').focus();
    const seen: Awaited<ReturnType<typeof focused>>[] = [];
    for (let i = 0; i < 150; i++) {
      await page.keyboard.press('Tab');
      const f = await focused();
      seen.push(f);
      if (f.id in tiny) {
        await page.keyboard.press('Control+A');
        await page.keyboard.type(tiny[f.id]);
        // its help shows while it has focus
        if (f.id.startsWith('setting-')) expect(await testId(`help-${f.id.slice('setting-'.length)}`).isVisible()).toBe(true);
      }
      if (f.id === 'family-select' || f.id === 'new-run-seed' || f.id === 'tokenizer-select') {
        const help = { 'family-select': 'help-family', 'new-run-seed': 'help-seed', 'tokenizer-select': 'help-tokenizer' }[f.id];
        expect(await page.locator(`#${help}`).isVisible(), `${help} shows while ${f.id} has focus`).toBe(true);
      }
      if (f.id === 'setting-batching') await expect.poll(async () => testId('new-run-start').isEnabled(), { timeout: 15_000 }).toBe(true);
      // the app's navigation comes first; after the page, focus leaving it means Start was skipped
      const inPageYet = seen.some((x) => x.part !== 'shell' && x.part !== 'none');
      if (f.id === 'new-run-start' || (inPageYet && (f.part === 'shell' || f.id === 'body'))) break;
    }
    const last = seen[seen.length - 1];
    expect(last.id, `the Tab order ended at ${JSON.stringify(last)}`).toBe('new-run-start');
    // page order (a stop in a row before the next row): the left column top to bottom, then the right one, then the bar with Start
    const inPage = seen.filter((f) => f.part.startsWith('panel') || f.part === 'bar');
    const parts = inPage.map((f) => f.part).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    expect(parts).toEqual(['panel0', 'panel1', 'bar']);
    for (let i = 1; i < inPage.length; i++) {
      if (inPage[i].part !== inPage[i - 1].part) continue;
      // the next stop is on the same line (side by side) or below, never on a line above
      expect(inPage[i].bottom, `${inPage[i].id} comes after ${inPage[i - 1].id} but sits above it`).toBeGreaterThan(inPage[i - 1].top);
    }
    // every field of the model was reached before Start
    const settingIds = await page
      .locator('[data-test^="setting-"]:is(input, select):not([disabled])')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.test));
    for (const id of settingIds) expect(inPage.map((f) => f.id)).toContain(id);
    await shot('07-keyboard-start');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/runs\/\d+/, { timeout: 30_000 });
    await expect.poll(async () => testId('run-status').textContent(), { timeout: 90_000 }).toMatch(/finished|running/);
  }, 150_000);

  it("shows the run's configuration as name | value rows grouped like the form, nothing overlapping at 1280 px", async () => {
    await testId('config-summary').locator('summary').click();
    await testId('config-group-model').waitFor();
    expect(await testId('config-norm_position').textContent()).toMatch(/Layer norm\s*norm_position\s*pre/);
    expect(await testId('config-lr').textContent()).toContain('Learning rate');
    const overlaps = await page.locator('[data-test="config-summary"] .row').evaluateAll((rows) =>
      rows
        .map((row) => {
          const dt = row.querySelector('dt')!.getBoundingClientRect();
          const dd = row.querySelector('dd')!.getBoundingClientRect();
          return { text: row.textContent, overlap: dt.right > dd.left + 0.5 || dd.right > row.getBoundingClientRect().right + 0.5 };
        })
        .filter((r) => r.overlap),
    );
    expect(overlaps).toEqual([]);
    await testId('config-summary').scrollIntoViewIfNeeded();
    await shot('08-configuration');
    expect(served.log.filter((l) => l.startsWith('page error'))).toEqual([]);
  }, 60_000);
});
