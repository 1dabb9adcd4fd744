import { describe, it, expect } from 'vitest';
import { flattenConfig } from '../../src/renderer/src/lib/config';
import { corpusEmpty, corpusTooLarge, distinctChars, visibleWhitespace } from '../../src/renderer/src/lib/corpus';
import { draftSettings, fieldText, parseSetting } from '../../src/renderer/src/lib/settings';
import { SETTINGS } from '../../src/shared/hyperparameters';

const info = (key: string) => SETTINGS.find((s) => s.key === key)!;

describe('setting fields', () => {
  it('parses by kind and range, with messages naming the setting and value', () => {
    expect(parseSetting(info('n_layer'), '4')).toEqual({ ok: true, value: 4 });
    expect(parseSetting(info('n_layer'), '2.5')).toEqual({ ok: false, error: 'n_layer must be a whole number (got 2.5)' });
    expect(parseSetting(info('n_layer'), '0')).toEqual({ ok: false, error: 'n_layer (0) must be at least 1' });
    expect(parseSetting(info('lr'), '3e-4')).toEqual({ ok: true, value: 3e-4 });
    expect(parseSetting(info('lr'), 'fast').ok).toBe(false);
    expect(parseSetting(info('lr'), ' ').ok).toBe(false);
    expect(parseSetting(info('bias'), false)).toEqual({ ok: true, value: false });
    expect(parseSetting(info('activation'), 'relu')).toEqual({ ok: true, value: 'relu' });
    expect(parseSetting(info('activation'), 'tanh').ok).toBe(false);
  });

  it('builds draft settings from the preset and the valid edits that apply', () => {
    const { settings, errors } = draftSettings({ n_layer: 4, lr: 1e-3 }, { lr: '2e-3', n_head: 'x', hidden_size: '64' }, SETTINGS, (k) => k !== 'hidden_size');
    expect(settings).toEqual({ n_layer: 4, lr: 2e-3 });
    expect(Object.keys(errors)).toEqual(['n_head']);
  });

  it('shows the edit, else the preset value, else nothing', () => {
    expect(fieldText('lr', { lr: 0.001 }, { lr: '0.01' })).toBe('0.01');
    expect(fieldText('lr', { lr: 0.001 }, {})).toBe('0.001');
    expect(fieldText('lr', {}, {})).toBe('');
  });
});

describe('corpus checks', () => {
  it('refuses a file over the limit, naming both sizes', () => {
    expect(corpusTooLarge('a.txt', 10, 10)).toBeNull();
    expect(corpusTooLarge('big.txt', 80 * 1024 * 1024, 64 * 1024 * 1024)).toBe(
      'big.txt is 80.0 MB; NanoLab takes texts up to 64.0 MB. Use a smaller file, or cut this one down.',
    );
    expect(corpusEmpty('e.txt', '')).toMatch(/empty/);
    expect(corpusEmpty('e.txt', 'x')).toBeNull();
  });

  it('makes whitespace visible and counts characters', () => {
    expect(visibleWhitespace('a\tb\r\nc\u0001')).toBe('a→\tb↵\nc\\x01');
    expect(distinctChars('hello')).toBe(4);
  });
});

describe('config summary', () => {
  it('flattens nested config to dotted keys', () => {
    expect(flattenConfig({ model: { n_layer: 4, dims: [1, 2] }, seed: 1 })).toEqual([
      { key: 'model.n_layer', value: 4 },
      { key: 'model.dims', value: [1, 2] },
      { key: 'seed', value: 1 },
    ]);
    expect(flattenConfig(null)).toEqual([]);
  });
});
