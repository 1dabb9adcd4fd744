import { describe, expect, it } from 'vitest';
import {
  checkSamplingForm,
  DEFAULT_SAMPLING_FORM,
  formatProb,
  generatedSegments,
  generatedTokenInfo,
  lossScaleMax,
  meanLoss,
  newRequestId,
  surpriseInput,
  surprisePointInfo,
  surpriseSegments,
  surpriseTextSegments,
  tokenName,
  visibleText,
  type SurprisePoint,
} from '../../src/renderer/src/lib/sampling-view';
import { rgbCss, surpriseRgb } from '../../src/renderer/src/lib/colors';
import type { GeneratedToken } from '../../src/shared/contract';

const point = (char: string, loss: number): SurprisePoint => ({ char, loss, top: [] });

describe('tokens as a reader sees them', () => {
  it('makes whitespace visible', () => {
    expect(visibleText('a b\n\tc')).toBe('a␣b⏎⇥c');
    expect(visibleText('')).toBe('∅');
    expect(tokenName(' ')).toBe('space ␣');
    expect(tokenName('\n')).toBe('newline ⏎');
    expect(tokenName('e')).toBe('“e”');
  });

  it('formats probabilities at a useful precision', () => {
    expect(formatProb(0.4213)).toBe('42.1%');
    expect(formatProb(0.0307)).toBe('3.07%');
    expect(formatProb(0.00004)).toBe('<0.01%');
    expect(formatProb(1)).toBe('100%');
    expect(formatProb(0)).toBe('0%');
  });

  it('gives every request its own id', () => {
    expect(newRequestId(5)).not.toBe(newRequestId(5));
    expect(newRequestId().length).toBeLessThanOrEqual(64);
  });
});

describe('the sampling form', () => {
  it('accepts the defaults', () => {
    const r = checkSamplingForm(DEFAULT_SAMPLING_FORM);
    expect(r).toEqual({ ok: true, values: { length: 300, temperature: 0.8, topK: 0, topP: 1, seed: 1337 } });
  });

  it('names every wrong field with its value', () => {
    const r = checkSamplingForm({ length: '6000', temperature: 'hot', topK: '2.5', topP: '0', seed: '-1' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.length).toBe('length must be between 0 and 5000 (got 6000)');
    expect(r.errors.temperature).toBe('temperature must be a number (got “hot”)');
    expect(r.errors.topK).toContain('whole number');
    expect(r.errors.topP).toBe('top-p must be above 0 and at most 1 (got 0)');
    expect(r.errors.seed).toContain('between 0 and');
  });
});

describe('surprise', () => {
  it('scores at most 5000 characters of prompt and sample', () => {
    expect(surpriseInput('ab', 'cd')).toEqual({ text: 'abcd', truncated: false });
    const long = surpriseInput('x'.repeat(4000), 'y'.repeat(2000));
    expect(long.text.length).toBe(5000);
    expect(long.truncated).toBe(true);
  });

  it('splits off the unscored first token', () => {
    const points = [point('b', 1), point('c', 2)];
    expect(surpriseSegments('abc', points)).toEqual({ lead: 'a', points });
    // a word model's <unk> does not spell the text: draw what the model saw
    expect(surpriseSegments('a zz', [point(' ', 1), point('<unk>', 3)]).lead).toBe('');
  });

  it('tops the colour scale at a round number above most losses', () => {
    expect(lossScaleMax([])).toBe(1);
    expect(lossScaleMax([0.1, 0.2])).toBe(1);
    expect(lossScaleMax([0.5, 2.2, 3.7])).toBe(4);
    // one outlier among many does not set the scale
    expect(lossScaleMax([...Array(99).fill(1.5), 20])).toBe(2);
  });

  it('averages the loss in nats and bits', () => {
    expect(meanLoss([])).toBeNull();
    const m = meanLoss([point('a', Math.LN2), point('b', Math.LN2)])!;
    expect(m.nats).toBeCloseTo(Math.LN2);
    expect(m.bits).toBeCloseTo(1);
  });
});

describe('the output as drawn', () => {
  const token = (text: string, prob: number): GeneratedToken => ({
    text,
    id: 0,
    prob,
    sampledProb: prob * 2,
    top: [
      { text, prob },
      { text: 'x', prob: prob / 2 },
    ],
  });

  it('draws the prompt muted and every generated token with its numbers', () => {
    const segments = generatedSegments('ab', [token('c', 0.5), token('\n', 0.25)]);
    expect(segments.map((s) => s.text)).toEqual(['ab', 'c', '\n']);
    expect(segments[0].info).toBeNull();
    expect(segments[2].info?.title).toBe('newline ⏎');
    expect(generatedSegments('', [token('c', 0.5)])).toHaveLength(1);
    const info = generatedTokenInfo(token('c', 0.5));
    expect(info.facts.map((f) => f.value)).toEqual(['50.0%', '100%', '0.69 nats']);
    expect(info.actual).toBe('c');
  });

  it('colours scored tokens by their loss and leaves the first one muted', () => {
    const segments = surpriseTextSegments('abc', [point('b', 0), point('c', 4)], 4);
    expect(segments.map((s) => [s.text, s.background])).toEqual([
      ['a', null],
      ['b', rgbCss(surpriseRgb(0, 4))],
      ['c', rgbCss(surpriseRgb(4, 4))],
    ]);
    expect(segments[2].color).toBe('#ffffff');
    const info = surprisePointInfo(point('c', Math.LN2));
    expect(info.facts.map((f) => f.value)).toEqual(['0.693 nats', '1.00 bits', '50.0%']);
  });
});
