import type { LinePair, PairsTokenization, TextPair } from './pairs';
import { pairsToTsv } from './pairs';
import { UserError } from '../errors';
import { Rng } from '../rng';

// Bundled pairs tasks, so a first encoder–decoder run needs no data: each makes as many pairs as
// asked, the same ones for the same seed, and says in a sentence what it teaches about attention.

export type PairTaskId = 'reverse' | 'sort' | 'number-to-words' | 'words-to-number' | 'dates' | 'pig-latin';

export interface PairTask {
  id: PairTaskId;
  name: string;
  /** One sentence: what learning this task shows about attention. */
  teaches: string;
  /** One pair, to show. */
  example: TextPair;
  /** How its sides are best tokenized. */
  tokenization: PairsTokenization;
  /** One random pair. */
  draw(rng: Rng): TextPair;
}

// Reverse and sort: random lowercase strings.

export const LETTERS_MIN = 3;
export const LETTERS_MAX = 10;

function randomLetters(rng: Rng): string {
  const n = LETTERS_MIN + rng.int(LETTERS_MAX - LETTERS_MIN + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + rng.int(26));
  return s;
}

// Numbers in words, 0–999 999, American style: no "and", hyphens in 21–99 ("ninety-nine").

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
export const NUMBER_MAX = 999_999;

/** 1..999 in words. */
function spellHundreds(n: number): string[] {
  const words: string[] = [];
  const hundreds = Math.floor(n / 100),
    rest = n % 100;
  if (hundreds > 0) words.push(ONES[hundreds], 'hundred');
  if (rest >= 20) words.push(TENS[Math.floor(rest / 10)] + (rest % 10 ? '-' + ONES[rest % 10] : ''));
  else if (rest > 0) words.push(ONES[rest]);
  return words;
}

/** 312 → "three hundred twelve"; 0 to 999 999. */
export function spellNumber(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > NUMBER_MAX) throw new UserError(`cannot spell ${n}: give a whole number from 0 to ${NUMBER_MAX}`);
  if (n === 0) return 'zero';
  const thousands = Math.floor(n / 1000),
    rest = n % 1000;
  const words = thousands > 0 ? [...spellHundreds(thousands), 'thousand'] : [];
  return [...words, ...spellHundreds(rest)].join(' ');
}

/** "three hundred twelve" → 312: the inverse of spellNumber, refusing anything it would not write. */
export function parseSpelledNumber(text: string): number {
  const fail = (why: string) => new UserError(`"${text}" is not a number in words (${why}): write it as spellNumber does, e.g. "three hundred twelve"`);
  const words = text.trim().split(/\s+/);
  if (words.length === 1 && words[0] === 'zero') return 0;
  const readHundreds = (part: string[]): number => {
    if (part.length === 0) throw fail('a part is missing');
    let value = 0,
      i = 0;
    if (part.length > 1 && part[1] === 'hundred') {
      const h = ONES.indexOf(part[0]);
      if (h < 1 || h > 9) throw fail(`"${part[0]} hundred"`);
      value = h * 100;
      i = 2;
    }
    if (i < part.length) {
      if (i !== part.length - 1) throw fail(`unexpected "${part.slice(i).join(' ')}"`);
      const word = part[i];
      const [tens, ones] = word.split('-');
      const t = TENS.indexOf(tens);
      if (t >= 2 && ones === undefined) value += t * 10;
      else if (t >= 2) {
        const o = ONES.indexOf(ones);
        if (o < 1 || o > 9) throw fail(`"${word}"`);
        value += t * 10 + o;
      } else {
        const o = ONES.indexOf(word);
        if (o < 1) throw fail(`"${word}"`);
        value += o;
      }
    }
    return value;
  };
  const k = words.indexOf('thousand');
  if (k === -1) return readHundreds(words);
  if (words.lastIndexOf('thousand') !== k) throw fail('"thousand" twice');
  const rest = words.slice(k + 1);
  return readHundreds(words.slice(0, k)) * 1000 + (rest.length > 0 ? readHundreds(rest) : 0);
}

/** A number with 1 to 6 digits, each length equally likely, so small numbers are not rare. */
function randomNumber(rng: Rng): number {
  const digits = 1 + rng.int(6);
  const lo = digits === 1 ? 0 : 10 ** (digits - 1);
  return lo + rng.int(10 ** digits - lo);
}

// Dates, 1900-01-01 to 2099-12-31, valid in the Gregorian calendar.

export const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** month 1..12 */
export function daysInMonth(year: number, month: number): number {
  return month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function ordinal(day: number): string {
  const suffix = day % 10 === 1 && day !== 11 ? 'st' : day % 10 === 2 && day !== 12 ? 'nd' : day % 10 === 3 && day !== 13 ? 'rd' : 'th';
  return `${day}${suffix}`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The surface forms a date is written in: "March 3, 2024", "3 March 2024", "Mar 3, 2024",
 * "March 3rd, 2024", and "03/03/2024" (month first, as in the US).
 */
export const DATE_FORMATS: readonly ((year: number, month: number, day: number) => string)[] = [
  (y, m, d) => `${MONTHS[m - 1]} ${d}, ${y}`,
  (y, m, d) => `${d} ${MONTHS[m - 1]} ${y}`,
  (y, m, d) => `${MONTHS[m - 1].slice(0, 3)} ${d}, ${y}`,
  (y, m, d) => `${MONTHS[m - 1]} ${ordinal(d)}, ${y}`,
  (y, m, d) => `${pad2(m)}/${pad2(d)}/${y}`,
];

export function isoDate(year: number, month: number, day: number): string {
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

// Pig Latin.

/** A small English word list for the Pig Latin task: common words of every initial sound. */
export const ENGLISH_WORDS: readonly string[] = (
  'the be to of and a in that have it for not on with he as you do at this but his by from they we say her she or ' +
  'an will my one all would there their what so up out if about who get which go me when make can like time no ' +
  'just him know take people into year your good some could them see other than then now look only come its over ' +
  'think also back after use two how our work first well way even new want because any these give day most us ' +
  'apple egg ice old under eat open end east early idea island orange umbrella uncle art animal ' +
  'pig latin banana string school street spring three child chair cheese shoe ship white where when whale thing think ' +
  'queen quiet quick square question rhythm yellow yes young my style happy friend glove smile black brown green ' +
  'trash plant dog cat bird fish tree house water light night music river story small large little simple'
)
  .split(' ')
  .filter((word, i, all) => all.indexOf(word) === i);

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u']);

/**
 * One lowercase word in Pig Latin. The rule: a word that starts with a vowel (a, e, i, o, u) gets
 * "way" ("eat" → "eatway"); otherwise its leading consonants move to the end and "ay" follows
 * ("pig" → "igpay", "string" → "ingstray"), where "y" after the first letter counts as a vowel
 * ("rhythm" → "ythmrhay") and a "u" after "q" moves with it ("queen" → "eenquay", "square" → "aresquay").
 * A word with no vowel just gets "ay".
 */
export function pigLatinWord(word: string): string {
  if (word === '') return word;
  if (VOWELS.has(word[0])) return word + 'way';
  let i = 0;
  while (i < word.length && !VOWELS.has(word[i]) && !(word[i] === 'y' && i > 0)) i++;
  if (i < word.length && word[i] === 'u' && i > 0 && word[i - 1] === 'q') i++;
  return word.slice(i) + word.slice(0, i) + 'ay';
}

export function pigLatin(sentence: string): string {
  return sentence.split(' ').map(pigLatinWord).join(' ');
}

// The tasks.

const CHAR_SHARED: PairsTokenization = { source: 'char', target: 'char', shared: true };

export const PAIR_TASKS: readonly PairTask[] = [
  {
    id: 'reverse',
    name: 'Reverse a string',
    teaches: 'Alignment that crosses: the first output letter must attend to the last input letter, so the attention map is an anti-diagonal.',
    example: { source: 'attention', target: 'noitnetta' },
    tokenization: CHAR_SHARED,
    draw(rng) {
      const source = randomLetters(rng);
      return { source, target: Array.from(source).reverse().join('') };
    },
  },
  {
    id: 'sort',
    name: 'Sort the letters',
    teaches: 'Attention by content, not position: each output letter looks for the smallest input letter not yet written, wherever it is.',
    example: { source: 'transformer', target: 'aefmnorrrst' },
    tokenization: CHAR_SHARED,
    draw(rng) {
      const source = randomLetters(rng);
      return { source, target: Array.from(source).sort().join('') };
    },
  },
  {
    id: 'number-to-words',
    name: 'Spell out a number',
    teaches: 'One-to-many alignment: one digit becomes one or more words, and which words depends on its place in the number.',
    example: { source: '312', target: 'three hundred twelve' },
    tokenization: { source: 'char', target: 'word', shared: false },
    draw(rng) {
      const n = randomNumber(rng);
      return { source: String(n), target: spellNumber(n) };
    },
  },
  {
    id: 'words-to-number',
    name: 'Read a spelled-out number',
    teaches: 'Many-to-one alignment: several words make one digit, and a missing "thousand" or "hundred" means writing zeros that no word stands for.',
    example: { source: 'one thousand one', target: '1001' },
    tokenization: { source: 'word', target: 'char', shared: false },
    draw(rng) {
      const n = randomNumber(rng);
      return { source: spellNumber(n), target: String(n) };
    },
  },
  {
    id: 'dates',
    name: 'Normalise a date',
    teaches: 'Reordering and format: the year moves to the front, month names become numbers, and one meaning is read from several surface forms.',
    example: { source: 'March 3, 2024', target: '2024-03-03' },
    tokenization: { source: 'char', target: 'char', shared: false },
    draw(rng) {
      const year = 1900 + rng.int(200);
      const month = 1 + rng.int(12);
      const day = 1 + rng.int(daysInMonth(year, month));
      const format = DATE_FORMATS[rng.int(DATE_FORMATS.length)];
      return { source: format(year, month, day), target: isoDate(year, month, day) };
    },
  },
  {
    id: 'pig-latin',
    name: 'English to Pig Latin',
    teaches: 'Local rewriting: each word is changed within itself and in order, so attention stays near the diagonal and jumps only inside a word.',
    example: { source: 'the quick string', target: 'ethay ickquay ingstray' },
    tokenization: CHAR_SHARED,
    draw(rng) {
      const words = Array.from({ length: 1 + rng.int(4) }, () => ENGLISH_WORDS[rng.int(ENGLISH_WORDS.length)]);
      const source = words.join(' ');
      return { source, target: pigLatin(source) };
    },
  },
];

export function pairTask(id: string): PairTask {
  const task = PAIR_TASKS.find((t) => t.id === id);
  if (!task) throw new UserError(`there is no task "${id}": choose one of ${PAIR_TASKS.map((t) => t.id).join(', ')}`);
  return task;
}

/**
 * `count` pairs of a task, the same for the same seed, numbered by their line in generateTaskTsv's
 * text (buildPairsCorpus takes them as they are). Sources are distinct while the task has enough
 * of them (a held-out pair then never also trains); a task asked for more than it has repeats some.
 */
export function generateTaskPairs(id: PairTaskId | string, count: number, seed: number): LinePair[] {
  const task = pairTask(id);
  if (!Number.isInteger(count) || count < 1) throw new UserError(`the number of pairs (${count}) must be a whole number ≥ 1`);
  const rng = new Rng(seed);
  const pairs: LinePair[] = [];
  const seen = new Set<string>();
  // give up on distinct sources after many draws in a row find nothing new
  let misses = 0;
  while (pairs.length < count) {
    const pair = task.draw(rng);
    if (!seen.has(pair.source) || misses >= 1000) {
      seen.add(pair.source);
      pairs.push({ ...pair, line: pairs.length + 1 });
      misses = 0;
    } else misses++;
  }
  return pairs;
}

/** The same pairs as TSV text, one `source<TAB>target` per line. */
export function generateTaskTsv(id: PairTaskId | string, count: number, seed: number): string {
  return pairsToTsv(generateTaskPairs(id, count, seed));
}
