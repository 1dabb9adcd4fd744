import { describe, expect, it } from 'vitest';
import { attentionPicture, decoderInputs, headOrAverage, type TranslatedOutput } from '../../src/renderer/src/lib/translate-view';

// The Translate view's attention grid: which matrix, its labels, and which cells are masked.

const stack = (layers: number, heads: number, rows: number, cols: number, f: (l: number, h: number, r: number, c: number) => number) =>
  Array.from({ length: layers }, (_, l) =>
    Array.from({ length: heads }, (_, h) => Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => f(l, h, r, c)))),
  );

const output: TranslatedOutput = {
  tokens: [{ token: 'c' }, { token: 'b' }, { token: '<eos>' }],
  attention: {
    cross: stack(2, 2, 3, 4, (l, h, r, c) => (c < 3 ? (h === 0 ? (c === 2 - r ? 1 : 0) : 1 / 3) : 0)),
    decoderSelf: stack(2, 2, 3, 3, (l, h, r, c) => (c <= r ? 1 / (r + 1) : 0)),
    encoderSelf: stack(2, 2, 4, 4, (l, h, r, c) => (c < 3 ? 1 / 3 : 0)),
  },
};
const source = ['a', 'b', 'c', '<pad>'];
const padding = [false, false, false, true];

describe('translate view', () => {
  it('averages heads cell by cell, or picks one', () => {
    expect(headOrAverage(output.attention!.cross[0], 0)[0]).toEqual([0, 0, 1, 0]);
    const avg = headOrAverage(output.attention!.cross[0], -1);
    expect(avg[0][2]).toBeCloseTo((1 + 1 / 3) / 2, 12);
    expect(avg[0][3]).toBe(0);
  });

  it('labels cross rows by output token and masks the padding columns', () => {
    const p = attentionPicture(output, source, padding, 'cross', 1, 0)!;
    expect(p.rowLabels).toEqual(['c', 'b', '<eos>']);
    expect(p.colLabels).toEqual(source);
    expect(p.masked).toEqual([
      [0, 0, 0, 1],
      [0, 0, 0, 1],
      [0, 0, 0, 1],
    ]);
    expect(p.shape).toBe('(1, 2, 3, 4)');
  });

  it('draws the decoder’s triangle over its inputs, <bos> first', () => {
    expect(decoderInputs(output)).toEqual(['<bos>', 'c', 'b']);
    const p = attentionPicture(output, source, padding, 'decoderSelf', 0, -1)!;
    expect(p.rowLabels).toEqual(['<bos>', 'c', 'b']);
    expect(p.masked).toEqual([
      [0, 1, 1],
      [0, 0, 1],
      [0, 0, 0],
    ]);
  });

  it('draws the encoder’s square with padding masked, and nothing without maps', () => {
    const p = attentionPicture(output, source, padding, 'encoderSelf', 5, 7)!; // out of range: the last layer, the average
    expect(p.matrix).toHaveLength(4);
    expect(p.masked.every((row) => row.join('') === '0001')).toBe(true);
    expect(attentionPicture({ ...output, attention: null }, source, padding, 'cross', 0, 0)).toBeNull();
  });
});
