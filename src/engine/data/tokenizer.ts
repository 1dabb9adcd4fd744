import { UserError } from '../errors';

// Tokenizers turn text into ids and back; both kinds serialise to JSON, stored with every
// checkpoint.

export interface Tokenizer {
  readonly kind: 'char' | 'word';
  readonly vocab: readonly string[];
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  /**
   * Writes the ids of `text` into `out` from `offset` and returns how many it wrote: a large corpus
   * is encoded piece by piece into one array. Throws a RangeError when `out` has no room left.
   */
  encodeInto(text: string, out: Int32Array, offset: number): number;
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerJson;
}

/**
 * Builds a tokenizer from text seen in pieces, so a large corpus is never one string: `add` every
 * piece (each ending where a token may end: after a newline, or before a space that follows a
 * non-space), then `build`. `tokens` counts the tokens the pieces encode to.
 */
export interface TokenizerBuilder<T extends Tokenizer = Tokenizer> {
  add(text: string): void;
  readonly tokens: number;
  build(): T;
}

export type TokenizerJson = CharTokenizerJson | WordTokenizerJson;

/** How a run tokenizes its text. */
export type TokenizerSpec = { kind: 'char' } | { kind: 'word'; vocab_size: number; lowercase: boolean };

/** Both tokenizers decode by concatenating their vocabulary entries. */
function decodeWith(vocab: readonly string[], ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) {
    const token = vocab[ids[i]];
    if (token === undefined) throw new Error(`token id ${ids[i]} is outside the vocabulary (size ${vocab.length})`);
    s += token;
  }
  return s;
}

// Character tokenizer: the vocabulary is the sorted set of characters (code points) of the corpus,
// as nanoGPT's shakespeare_char and char-rnn build it. Serialisable, so every checkpoint carries it.

export interface CharTokenizerJson {
  kind: 'char';
  vocab: string[];
}

const HIGH_SURROGATE = 0xd800,
  LOW_SURROGATE = 0xdc00,
  SURROGATE_END = 0xe000;

/**
 * Calls `visit` with each code point of `text` (a surrogate pair is one; a lone surrogate is its
 * own), as iterating a string does, without making a string per character.
 */
function forEachCodePoint(text: string, visit: (cp: number) => void): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= HIGH_SURROGATE && c < LOW_SURROGATE && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= LOW_SURROGATE && d < SURROGATE_END) {
        visit(((c - HIGH_SURROGATE) << 10) + (d - LOW_SURROGATE) + 0x10000);
        i++;
        continue;
      }
    }
    visit(c);
  }
}

export class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  /** Code point -> id, built on the first encode: a table for the BMP (-1: not in the vocabulary), a map above it. */
  private ids: { bmp: Int32Array; astral: Map<number, number> } | null = null;

  constructor(readonly vocab: readonly string[]) {
    if (new Set(vocab).size !== vocab.length) throw new Error('char tokenizer: the vocabulary has a repeated character');
  }

  static fromText(text: string): CharTokenizer {
    const builder = CharTokenizer.builder();
    builder.add(text);
    return builder.build();
  }

  /** The vocabulary is the sorted set of code points seen (one byte per possible code point). */
  static builder(): TokenizerBuilder<CharTokenizer> {
    const seen = new Uint8Array(0x110000);
    let tokens = 0;
    const mark = (cp: number) => {
      seen[cp] = 1;
      tokens++;
    };
    return {
      add: (text) => forEachCodePoint(text, mark),
      get tokens() {
        return tokens;
      },
      build() {
        const chars: string[] = [];
        for (let cp = 0; cp < seen.length; cp++) if (seen[cp]) chars.push(String.fromCodePoint(cp));
        return new CharTokenizer(chars);
      },
    };
  }

  static fromJSON(json: CharTokenizerJson): CharTokenizer {
    if (json.kind !== 'char' || !Array.isArray(json.vocab)) throw new Error('not a char tokenizer');
    return new CharTokenizer(json.vocab);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Throws naming every character that is not in the vocabulary. */
  encode(text: string): Int32Array {
    let n = 0;
    forEachCodePoint(text, () => n++);
    const ids = new Int32Array(n);
    this.encodeInto(text, ids, 0);
    return ids;
  }

  encodeInto(text: string, out: Int32Array, offset: number): number {
    const { bmp, astral } = (this.ids ??= this.table());
    const unknown = new Set<number>();
    let n = offset;
    forEachCodePoint(text, (cp) => {
      if (n >= out.length) throw new RangeError(`no room for more than ${out.length} tokens`);
      const id = cp < 0x10000 ? bmp[cp] : (astral.get(cp) ?? -1);
      if (id < 0) unknown.add(cp);
      else out[n] = id;
      n++;
    });
    if (unknown.size > 0) {
      const list = [...unknown].map((cp) => JSON.stringify(String.fromCodePoint(cp))).join(', ');
      throw new UserError(`text has characters the vocabulary does not: ${list}; use only characters of the training text`);
    }
    return n - offset;
  }

  private table(): { bmp: Int32Array; astral: Map<number, number> } {
    const bmp = new Int32Array(0x10000).fill(-1);
    const astral = new Map<number, number>();
    this.vocab.forEach((ch, i) => {
      const cp = ch.codePointAt(0);
      // an entry longer than one code point can never match a character
      if (cp === undefined || String.fromCodePoint(cp) !== ch) return;
      if (cp < 0x10000) bmp[cp] = i;
      else astral.set(cp, i);
    });
    return { bmp, astral };
  }

  decode(ids: ArrayLike<number>): string {
    return decodeWith(this.vocab, ids);
  }

  toJSON(): CharTokenizerJson {
    return { kind: 'char', vocab: [...this.vocab] };
  }
}

export interface WordTokenizerJson {
  kind: 'word';
  vocab: string[];
  lowercase: boolean;
}

/**
 * Word tokenizer: words (letters and digits, with inner apostrophes), single punctuation marks,
 * newlines and runs of other whitespace are tokens; a word keeps the spaces before it (" thou"),
 * so decoding is concatenation and the text comes back exactly. The vocabulary keeps the most
 * frequent tokens up to a size; the rest become <unk> (id 0).
 */
export class WordTokenizer implements Tokenizer {
  static readonly UNK = '<unk>';
  private static readonly PATTERN = /\n|[^\S\n]*(?:[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}])|[^\S\n]+/gu;
  readonly kind = 'word' as const;
  private readonly index: Map<string, number>;

  constructor(
    readonly vocab: readonly string[],
    readonly lowercase: boolean,
  ) {
    if (vocab[0] !== WordTokenizer.UNK) throw new Error(`word tokenizer: id 0 must be ${WordTokenizer.UNK}`);
    this.index = new Map(vocab.map((w, i) => [w, i]));
  }

  static split(text: string): string[] {
    return text.match(WordTokenizer.PATTERN) ?? [];
  }

  static fromText(text: string, maxVocab: number, lowercase: boolean): WordTokenizer {
    const builder = WordTokenizer.builder(maxVocab, lowercase);
    builder.add(text);
    return builder.build();
  }

  /** Counts the tokens of every piece; the vocabulary keeps the most frequent (ties by code unit order). */
  static builder(maxVocab: number, lowercase: boolean): TokenizerBuilder<WordTokenizer> {
    if (!Number.isInteger(maxVocab) || maxVocab < 2) throw new UserError(`word vocabulary size (${maxVocab}) must be a whole number ≥ 2`);
    const counts = new Map<string, number>();
    let tokens = 0;
    return {
      add(text) {
        for (const w of WordTokenizer.split(lowercase ? text.toLowerCase() : text)) {
          counts.set(w, (counts.get(w) ?? 0) + 1);
          tokens++;
        }
      },
      get tokens() {
        return tokens;
      },
      build() {
        const kept = [...counts.entries()]
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          .slice(0, maxVocab - 1)
          .map(([w]) => w);
        return new WordTokenizer([WordTokenizer.UNK, ...kept], lowercase);
      },
    };
  }

  static fromJSON(json: WordTokenizerJson): WordTokenizer {
    if (json.kind !== 'word' || !Array.isArray(json.vocab)) throw new Error('not a word tokenizer');
    return new WordTokenizer(json.vocab, Boolean(json.lowercase));
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Words outside the vocabulary become <unk>. */
  encode(text: string): Int32Array {
    const words = WordTokenizer.split(this.lowercase ? text.toLowerCase() : text);
    return Int32Array.from(words, (w) => this.index.get(w) ?? 0);
  }

  encodeInto(text: string, out: Int32Array, offset: number): number {
    const words = WordTokenizer.split(this.lowercase ? text.toLowerCase() : text);
    if (offset + words.length > out.length) throw new RangeError(`no room for more than ${out.length} tokens`);
    for (let i = 0; i < words.length; i++) out[offset + i] = this.index.get(words[i]) ?? 0;
    return words.length;
  }

  decode(ids: ArrayLike<number>): string {
    return decodeWith(this.vocab, ids);
  }

  toJSON(): WordTokenizerJson {
    return { kind: 'word', vocab: [...this.vocab], lowercase: this.lowercase };
  }
}

export function tokenizerBuilder(spec: TokenizerSpec): TokenizerBuilder {
  return spec.kind === 'word' ? WordTokenizer.builder(spec.vocab_size, spec.lowercase) : CharTokenizer.builder();
}

export function buildTokenizer(text: string, spec: TokenizerSpec): Tokenizer {
  const builder = tokenizerBuilder(spec);
  builder.add(text);
  return builder.build();
}

export function tokenizerFromJSON(json: TokenizerJson): Tokenizer {
  if (json?.kind === 'word') return WordTokenizer.fromJSON(json);
  if (json?.kind === 'char') return CharTokenizer.fromJSON(json);
  throw new UserError(`unknown tokenizer kind "${String((json as { kind?: unknown })?.kind)}": expected char or word`);
}
