import { describe, expect, it } from 'vitest';
import { buildPairsCorpus, parsePairsTsv } from '../../src/engine/data/pairs';
import {
  DATE_FORMATS,
  ENGLISH_WORDS,
  MONTHS,
  NUMBER_MAX,
  PAIR_TASKS,
  daysInMonth,
  generateTaskPairs,
  generateTaskTsv,
  isLeapYear,
  pairTask,
  parseSpelledNumber,
  pigLatin,
  pigLatinWord,
  spellNumber,
} from '../../src/engine/data/tasks';
import { UserError } from '../../src/engine/errors';

describe('bundled pairs tasks', () => {
  it('lists six tasks, each with a name, a sentence of what it teaches and a correct example', () => {
    expect(PAIR_TASKS.map((t) => t.id)).toEqual(['reverse', 'sort', 'number-to-words', 'words-to-number', 'dates', 'pig-latin']);
    for (const task of PAIR_TASKS) {
      expect(task.name.length).toBeGreaterThan(5);
      expect(task.teaches).toMatch(/^[A-Z].*\.$/);
      expect(task.teaches.split('. ').length).toBe(1);
    }
    expect(pairTask('reverse').example).toEqual({ source: 'attention', target: 'noitnetta' });
    expect(pairTask('sort').example.target).toBe([...pairTask('sort').example.source].sort().join(''));
    expect(pairTask('number-to-words').example.target).toBe(spellNumber(312));
    expect(parseSpelledNumber(pairTask('words-to-number').example.source)).toBe(1001);
    expect(pigLatin(pairTask('pig-latin').example.source)).toBe(pairTask('pig-latin').example.target);
    expect(() => pairTask('translate')).toThrow(UserError);
    expect(() => pairTask('translate')).toThrow(/no task "translate": choose one of reverse, sort/);
  });

  it('generates the same pairs for the same seed, other pairs for another, at any size', () => {
    for (const task of PAIR_TASKS) {
      const a = generateTaskPairs(task.id, 200, 42);
      expect(generateTaskPairs(task.id, 200, 42)).toEqual(a);
      expect(generateTaskPairs(task.id, 200, 43)).not.toEqual(a);
      expect(a.length).toBe(200);
      // a larger set starts with the smaller one
      expect(generateTaskPairs(task.id, 300, 42).slice(0, 200)).toEqual(a);
    }
    expect(generateTaskPairs('reverse', 1, 0).length).toBe(1);
    expect(generateTaskPairs('dates', 20_000, 1).length).toBe(20_000);
    expect(() => generateTaskPairs('reverse', 0, 1)).toThrow(/number of pairs \(0\)/);
  });

  it('keeps sources distinct', () => {
    const pairs = generateTaskPairs('number-to-words', 5000, 3);
    expect(new Set(pairs.map((p) => p.source)).size).toBe(5000);
    const sentences = generateTaskPairs('pig-latin', 3000, 3);
    expect(new Set(sentences.map((p) => p.source)).size).toBe(3000);
  });

  it('writes TSV that a pairs corpus reads, with the tokenization each task suggests', () => {
    for (const task of PAIR_TASKS) {
      const tsv = generateTaskTsv(task.id, 100, 7);
      const pairs = parsePairsTsv(tsv, task.id);
      expect(pairs).toEqual(generateTaskPairs(task.id, 100, 7));
      const corpus = buildPairsCorpus(pairs, { name: task.id, tokenization: task.tokenization, max_seq_length: 64 });
      expect(corpus.val.length).toBe(10);
      for (const p of corpus.val) expect(corpus.target.decode(p.tgt)).toBe(p.target);
    }
  });

  it('reverses and sorts', () => {
    for (const { source, target } of generateTaskPairs('reverse', 100, 1)) {
      expect(target).toBe([...source].reverse().join(''));
      expect(source).toMatch(/^[a-z]{3,10}$/);
    }
    for (const { source, target } of generateTaskPairs('sort', 100, 1)) expect(target).toBe([...source].sort().join(''));
  });
});

describe('numbers in words', () => {
  it('spells the spot checks', () => {
    const expected: [number, string][] = [
      [0, 'zero'],
      [7, 'seven'],
      [13, 'thirteen'],
      [20, 'twenty'],
      [21, 'twenty-one'],
      [101, 'one hundred one'],
      [110, 'one hundred ten'],
      [312, 'three hundred twelve'],
      [999, 'nine hundred ninety-nine'],
      [1000, 'one thousand'],
      [1001, 'one thousand one'],
      [10_010, 'ten thousand ten'],
      [100_000, 'one hundred thousand'],
      [999_999, 'nine hundred ninety-nine thousand nine hundred ninety-nine'],
    ];
    for (const [n, words] of expected) {
      expect(spellNumber(n)).toBe(words);
      expect(parseSpelledNumber(words)).toBe(n);
    }
    expect(() => spellNumber(1_000_000)).toThrow(/cannot spell 1000000: give a whole number from 0 to 999999/);
    expect(() => spellNumber(-1)).toThrow(UserError);
    expect(() => spellNumber(1.5)).toThrow(UserError);
  });

  it('round-trips through its inverse on every 37th number and the generated pairs', () => {
    for (let n = 0; n <= NUMBER_MAX; n += 37) expect(parseSpelledNumber(spellNumber(n))).toBe(n);
    for (const { source, target } of generateTaskPairs('words-to-number', 500, 9)) expect(spellNumber(Number(target))).toBe(source);
    for (const { source, target } of generateTaskPairs('number-to-words', 500, 9)) expect(parseSpelledNumber(target)).toBe(Number(source));
  });

  it('draws numbers of every length', () => {
    const lengths = new Set(generateTaskPairs('number-to-words', 300, 2).map((p) => p.source.length));
    expect([...lengths].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses what spellNumber would not write', () => {
    for (const bad of [
      '',
      'thousand',
      'ten hundred',
      'twenty-zero',
      'one thousand zero',
      'one thousand two thousand',
      'three hundred twelve four',
      'eleventy',
    ]) {
      expect(() => parseSpelledNumber(bad), bad).toThrow(UserError);
    }
  });
});

describe('dates', () => {
  it('knows leap years and month lengths', () => {
    expect([1900, 2000, 2023, 2024, 2100].map(isLeapYear)).toEqual([false, true, false, true, false]);
    expect(daysInMonth(1900, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
    expect(daysInMonth(2024, 4)).toBe(30);
    expect(daysInMonth(2024, 12)).toBe(31);
  });

  it('writes the surface forms', () => {
    expect(DATE_FORMATS.map((f) => f(2024, 3, 3))).toEqual(['March 3, 2024', '3 March 2024', 'Mar 3, 2024', 'March 3rd, 2024', '03/03/2024']);
    expect(DATE_FORMATS[3](2024, 1, 11)).toBe('January 11th, 2024');
    expect(DATE_FORMATS[3](2024, 1, 22)).toBe('January 22nd, 2024');
  });

  it('makes only valid calendar dates, Feb 29 only in leap years, in every format', () => {
    const pairs = generateTaskPairs('dates', 20_000, 5);
    let leapDays = 0;
    const formats = new Set<number>();
    for (const { source, target } of pairs) {
      const [y, m, d] = target.split('-').map(Number);
      expect(target).toMatch(/^(19|20)\d\d-\d\d-\d\d$/);
      const date = new Date(Date.UTC(y, m - 1, d));
      expect([date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()], target).toEqual([y, m, d]);
      if (m === 2 && d === 29) {
        leapDays++;
        expect(isLeapYear(y), target).toBe(true);
      }
      const format = DATE_FORMATS.findIndex((f) => f(y, m, d) === source);
      expect(format, source).toBeGreaterThanOrEqual(0);
      formats.add(format);
      expect(source).toContain(String(y));
    }
    expect(leapDays).toBeGreaterThan(0);
    expect(formats.size).toBe(DATE_FORMATS.length);
    expect(MONTHS.length).toBe(12);
  });
});

describe('Pig Latin', () => {
  it('follows the stated rule', () => {
    const expected: Record<string, string> = {
      pig: 'igpay',
      latin: 'atinlay',
      banana: 'ananabay',
      string: 'ingstray',
      school: 'oolschay',
      eat: 'eatway',
      apple: 'appleway',
      yellow: 'ellowyay',
      rhythm: 'ythmrhay',
      my: 'ymay',
      queen: 'eenquay',
      square: 'aresquay',
    };
    for (const [word, pig] of Object.entries(expected)) expect(pigLatinWord(word), word).toBe(pig);
    expect(pigLatin('the quick string')).toBe('ethay ickquay ingstray');
  });

  it('uses a built-in word list of distinct lowercase words', () => {
    expect(ENGLISH_WORDS.length).toBeGreaterThan(150);
    expect(new Set(ENGLISH_WORDS).size).toBe(ENGLISH_WORDS.length);
    for (const w of ENGLISH_WORDS) expect(w).toMatch(/^[a-z]+$/);
    for (const { source, target } of generateTaskPairs('pig-latin', 200, 4)) {
      expect(source.split(' ').length).toBeLessThanOrEqual(4);
      expect(target.split(' ').length).toBe(source.split(' ').length);
    }
  });
});
