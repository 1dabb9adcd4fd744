// Tokenizers turn text into ids and back; both kinds serialise to JSON, stored with every
// checkpoint.

export interface Tokenizer {
  readonly kind: 'char' | 'word';
  readonly vocab: readonly string[];
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerJson;
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

export class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  private readonly index: Map<string, number>;

  constructor(readonly vocab: readonly string[]) {
    this.index = new Map(vocab.map((ch, i) => [ch, i]));
    if (this.index.size !== vocab.length) throw new Error('char tokenizer: the vocabulary has a repeated character');
  }

  static fromText(text: string): CharTokenizer {
    const chars = [...new Set(text)]; // iterates code points, so a surrogate pair is one character
    chars.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(chars);
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
    const chars = [...text];
    const ids = new Int32Array(chars.length);
    const unknown = new Set<string>();
    chars.forEach((ch, i) => {
      const id = this.index.get(ch);
      if (id === undefined) unknown.add(ch);
      else ids[i] = id;
    });
    if (unknown.size > 0) {
      const list = [...unknown].map((c) => JSON.stringify(c)).join(', ');
      throw new Error(`text has characters the vocabulary does not: ${list}; use only characters of the training text`);
    }
    return ids;
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

  constructor(readonly vocab: readonly string[], readonly lowercase: boolean) {
    if (vocab[0] !== WordTokenizer.UNK) throw new Error(`word tokenizer: id 0 must be ${WordTokenizer.UNK}`);
    this.index = new Map(vocab.map((w, i) => [w, i]));
  }

  static split(text: string): string[] {
    return text.match(WordTokenizer.PATTERN) ?? [];
  }

  static fromText(text: string, maxVocab: number, lowercase: boolean): WordTokenizer {
    if (!Number.isInteger(maxVocab) || maxVocab < 2) throw new Error(`word vocabulary size (${maxVocab}) must be a whole number ≥ 2`);
    const counts = new Map<string, number>();
    for (const w of WordTokenizer.split(lowercase ? text.toLowerCase() : text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    const kept = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxVocab - 1)
      .map(([w]) => w);
    return new WordTokenizer([WordTokenizer.UNK, ...kept], lowercase);
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

  decode(ids: ArrayLike<number>): string {
    return decodeWith(this.vocab, ids);
  }

  toJSON(): WordTokenizerJson {
    return { kind: 'word', vocab: [...this.vocab], lowercase: this.lowercase };
  }
}

export function buildTokenizer(text: string, spec: TokenizerSpec): Tokenizer {
  return spec.kind === 'word' ? WordTokenizer.fromText(text, spec.vocab_size, spec.lowercase) : CharTokenizer.fromText(text);
}

export function tokenizerFromJSON(json: TokenizerJson): Tokenizer {
  if (json?.kind === 'word') return WordTokenizer.fromJSON(json);
  if (json?.kind === 'char') return CharTokenizer.fromJSON(json);
  throw new Error(`unknown tokenizer kind "${String((json as { kind?: unknown })?.kind)}": expected char or word`);
}
