import { describe, expect, it } from 'vitest';
import {
  checkSamplingForm,
  completeForm,
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
import type { GeneratedToken, GridCell } from '../../src/shared/contract';
import { nextTokenBars, reshapeDistribution } from '../../src/renderer/src/lib/next-token';
import { cellLabel, checkGridForm, DEFAULT_GRID_FORM, gridScatterOption, gridSize, temperatureColor } from '../../src/renderer/src/lib/sampling-grid';
import { samplingDistribution } from '../../src/engine/sample';
import { Rng } from '../../src/engine/rng';
import gptFixture from '../fixtures/torch/gpt.json';

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
    expect(r).toEqual({ ok: true, values: { length: 300, temperature: 0.8, topK: 0, topP: 1, seed: 1337, noRepeatNgram: 0 } });
  });

  it('names every wrong field with its value', () => {
    const r = checkSamplingForm({ length: '6000', temperature: 'hot', topK: '2.5', topP: '0', seed: '-1', noRepeatNgram: '30' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.length).toBe('length must be between 0 and 5000 (got 6000)');
    expect(r.errors.temperature).toBe('temperature must be a number between 0 and 10 (got “hot”)');
    expect(r.errors.topK).toBe('top-k must be a whole number ≥ 0 (0 = off) (got “2.5”)');
    expect(r.errors.topP).toBe('top-p must be above 0 and at most 1 (got 0)');
    expect(r.errors.seed).toContain('between 0 and');
    expect(r.errors.noRepeatNgram).toBe('no-repeat-ngram must be between 0 and 20 (0 = off) (got 30)');
    // one wrong field leaves the others without a message
    const one = checkSamplingForm({ ...DEFAULT_SAMPLING_FORM, temperature: '11' });
    expect(one).toEqual({ ok: false, errors: { temperature: 'temperature must be between 0 and 10 (got 11)' } });
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

describe('the live next-token bars', () => {
  it('reshape the logits exactly as the engine samples, for every setting', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 200; trial++) {
      // small integer-ish logits make ties, which both must break the same way
      const logits = Array.from({ length: 12 }, () => (trial % 3 === 0 ? Math.round(rng.random() * 4) : rng.random() * 8 - 4));
      const settings = {
        temperature: [0, 0.3, 0.8, 1, 1.7][trial % 5],
        topK: [0, 1, 3, 5, 12, 20][trial % 6],
        topP: [1, 0.9, 0.5, 0.1][trial % 4],
        banned: trial % 7 === 0 ? [0, 3] : [],
      };
      const mine = reshapeDistribution(logits, settings);
      const engine = samplingDistribution(logits, settings);
      expect(Array.from(mine), JSON.stringify({ logits, settings })).toEqual(Array.from(engine));
    }
  });

  it('matches PyTorch on the fixture (temperature, top-k, top-p)', () => {
    const s = gptFixture.sampling;
    const logits = s.logits.data;
    const close = (a: Float64Array, b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 6));
    close(reshapeDistribution(logits, { temperature: s.temperature, topK: 0, topP: 1 }), s.probs_temperature.data);
    close(reshapeDistribution(logits, { temperature: s.temperature, topK: s.top_k, topP: 1 }), s.probs_top_k.data);
    close(reshapeDistribution(logits, { temperature: s.temperature, topK: 0, topP: s.top_p }), s.probs_top_p.data);
  });

  it('greys the cut tokens and keeps the model order', () => {
    const next = { logits: [2, 1, 0, -1], top: [0, 1, 2].map((id) => ({ id, text: 'abc'[id] })), banned: [1] };
    const view = nextTokenBars(next, { temperature: 1, topK: 2, topP: 1 });
    expect(view.vocab).toBe(4);
    // token 1 is banned: top-2 of the rest keeps 0 and 2
    expect(view.bars.map((b) => [b.text, b.cut, b.banned])).toEqual([
      ['a', false, false],
      ['b', true, true],
      ['c', false, false],
    ]);
    expect(view.kept).toBe(2);
    expect(view.bars[0].prob).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1), 12);
    const z = Math.exp(2) + Math.exp(1) + 1 + Math.exp(-1);
    expect(view.bars[1].modelProb).toBeCloseTo(Math.exp(1) / z, 12);
    expect(nextTokenBars(next, { temperature: 0, topK: 0, topP: 1 }).bars.map((b) => b.prob)).toEqual([1, 0, 0]);
  });
});

describe('the sampling grid form and chart', () => {
  it('reads lists of values and names each wrong field', () => {
    const ok = checkGridForm(DEFAULT_GRID_FORM);
    expect(ok).toEqual({ ok: true, values: { temperatures: [0.5, 0.8, 1.2], topKs: [0, 10], topPs: [1], samples: 3 } });
    if (ok.ok) expect(gridSize(ok.values, 200)).toEqual({ cells: 6, tokens: 3600 });
    const bad = checkGridForm({ temperatures: '0.5, hot', topKs: '1.5', topPs: '', samples: '0' });
    expect(bad).toEqual({
      ok: false,
      errors: {
        temperatures: 'temperatures: “hot” is not a number between 0 and 10',
        topKs: 'top-k values: “1.5” is not a whole number ≥ 0',
        topPs: 'top-p values: give at least one value (above 0 and at most 1)',
        samples: 'samples per cell must be a whole number between 1 and 10 (got “0”)',
      },
    });
    expect(checkGridForm({ ...DEFAULT_GRID_FORM, temperatures: '0.8 0.8; 1' })).toMatchObject({ ok: true, values: { temperatures: [0.8, 1] } });
    expect(checkGridForm({ ...DEFAULT_GRID_FORM, topPs: '1, 0.9, 0.8, 0.7, 0.6' })).toMatchObject({
      ok: false,
      errors: { topPs: 'top-p values: at most 4 values (got 5)' },
    });
  });

  it('labels cells as the lesson writes them and plots one point per cell', () => {
    expect(cellLabel({ temperature: 0.8, topK: 40, topP: 1 })).toBe('T=0.8 k=40');
    expect(cellLabel({ temperature: 1.2, topK: 0, topP: 0.9 })).toBe('T=1.2 k=off p=0.9');
    const cell = (temperature: number, d2: number, s: number): GridCell => ({
      temperature,
      topK: 40,
      topP: 1,
      tokens: 10,
      distinctTokens: 5,
      distinct2: 5,
      distinct2Ratio: d2,
      distinct3: 5,
      distinct3Ratio: 0.5,
      repetitionRate: 0.1,
      meanSurprise: s,
      texts: ['x'],
    });
    const option = gridScatterOption([cell(0.5, 0.3, 0.8), cell(1.5, 0.9, 2.4)]) as {
      series: { data: { value: number[]; name: string; itemStyle: { color: string } }[] }[];
      xAxis: { name: string };
      yAxis: { name: string };
      title: { text: string };
    };
    expect(option.series[0].data.map((d) => [d.name, ...d.value])).toEqual([
      ['T=0.5 k=40', 0.3, 0.8],
      ['T=1.5 k=40', 0.9, 2.4],
    ]);
    expect(option.xAxis.name).toContain('distinct 2-grams');
    expect(option.yAxis.name).toContain('nats');
    expect(option.title.text).toContain('Diversity vs surprise');
    expect(option.series[0].data[0].itemStyle.color).toBe(temperatureColor(0.5, 0.5, 1.5));
    // a label near the right edge goes to the left of its point, so it stays inside the chart
    expect(option.series[0].data.map((d) => (d as unknown as { label: { position: string } }).label.position)).toEqual(['right', 'left']);
    expect(temperatureColor(0.5, 0.5, 1.5)).toBe('rgb(40, 110, 200)');
    expect(temperatureColor(1.5, 0.5, 1.5)).toBe('rgb(214, 60, 50)');
  });
});

describe('stored Sample settings', () => {
  it('fill what an older stored form lacks and drop what is not text', () => {
    expect(completeForm({ temperature: '1.2', topK: 5, extra: 'x' }, DEFAULT_SAMPLING_FORM)).toEqual({ ...DEFAULT_SAMPLING_FORM, temperature: '1.2' });
    expect(completeForm(null, DEFAULT_GRID_FORM)).toEqual(DEFAULT_GRID_FORM);
    expect(completeForm('garbage', DEFAULT_SAMPLING_FORM)).toEqual(DEFAULT_SAMPLING_FORM);
  });
});
