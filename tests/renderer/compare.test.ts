import { describe, it, expect } from 'vitest';
import { runColor, RUN_COLORS } from '../../src/renderer/src/lib/colors';
import { compareCsvLong, compareCsvWide, defaultMetric, nameFilter, tokenizerOf, tokenizersDiffer } from '../../src/renderer/src/lib/compare';

const p = (step: number, value: number) => ({ step, tokens: step * 64, wallMs: step * 10, activeMs: step * 9, value });

describe('tokenizers and the default metric', () => {
  it('reads how a run splits its text from its stored config', () => {
    expect(tokenizerOf({ data: { tokenizer: { kind: 'char' } } })).toBe('char');
    expect(tokenizerOf({ data: { tokenizer: { kind: 'word', vocab_size: 2000, lowercase: true } } })).toBe('word (2000)');
    expect(tokenizerOf({})).toBeNull();
    expect(tokenizerOf(null)).toBeNull();
  });

  it('opens on train loss, or on bits/char when the runs split text differently', () => {
    expect(tokenizersDiffer(['char', 'char', null])).toBe(false);
    expect(tokenizersDiffer(['char', 'word (2000)'])).toBe(true);
    expect(tokenizersDiffer(['word (500)', 'word (2000)'])).toBe(true);
    expect(defaultMetric(false)).toBe('train_loss');
    expect(defaultMetric(true)).toBe('val_bpc');
  });
});

describe('run name filter', () => {
  it('matches text and regular expressions, ignoring case', () => {
    const f = nameFilter('GPT|lstm');
    expect(f.error).toBeNull();
    expect(['gpt small', 'LSTM 2', 'gru'].filter(f.matches!)).toEqual(['gpt small', 'LSTM 2']);
    expect(nameFilter('  ').matches!('anything')).toBe(true);
  });

  it('says what is wrong with an invalid expression instead of throwing', () => {
    const f = nameFilter('gpt(');
    expect(f.matches).toBeNull();
    expect(f.error).toMatch(/^"gpt\(" is not a valid regular expression \(.+\); fix it or clear the filter\.$/);
  });
});

describe('Compare CSV', () => {
  const runs = [
    { id: 1, name: 'gpt, small', points: [p(10, 2.5), p(20, 2.25)] },
    { id: 2, name: 'lstm', points: [p(20, 2.75)] },
  ];

  it('writes long format: one row per run and point, names quoted where needed', () => {
    expect(compareCsvLong('val_loss', runs)).toBe(
      [
        'run_id,run_name,metric,step,tokens,wall_ms,active_ms,value',
        '1,"gpt, small",val_loss,10,640,100,90,2.5',
        '1,"gpt, small",val_loss,20,1280,200,180,2.25',
        '2,lstm,val_loss,20,1280,200,180,2.75',
        '',
      ].join('\n'),
    );
  });

  it('writes wide format: one row per step, empty cells where a run logged nothing', () => {
    const lines = compareCsvWide('val_loss', runs).trim().split('\n');
    expect(lines[0]).toBe(
      'step,"gpt, small #1 val_loss","gpt, small #1 tokens","gpt, small #1 wall_ms","gpt, small #1 active_ms",lstm #2 val_loss,lstm #2 tokens,lstm #2 wall_ms,lstm #2 active_ms',
    );
    expect(lines[1]).toBe('10,2.5,640,100,90,,,,');
    expect(lines[2]).toBe('20,2.25,1280,200,180,2.75,1280,200,180');
  });
});

describe('run colours', () => {
  it('come from the run id, not from a place in a list', () => {
    expect(runColor(1)).toBe(RUN_COLORS[0]);
    expect(runColor(2)).toBe(RUN_COLORS[1]);
    expect(runColor(1 + RUN_COLORS.length)).toBe(RUN_COLORS[0]);
    expect(new Set([1, 2, 3, 4, 5].map(runColor)).size).toBe(5);
  });
});
