import { tokenizerBuilder, type Tokenizer, type TokenizerSpec } from './tokenizer';
import { UserError } from '../errors';

// A corpus is text checked for being text, tokenized, and split contiguously into train and
// validation (nanoGPT: the first 90% trains, the last 10% validates). A large text is read in
// pieces, twice (the vocabulary, then the ids), so memory holds one array of ids and one piece of
// text at a time: never the whole text as a string, nor a string per character.

export interface Corpus {
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
}

/** A corpus without its ids: its tokenizer and how many tokens train and validate (a Corpus is one too). */
export interface CorpusOutline {
  tokenizer: Tokenizer;
  train: { length: number };
  val: { length: number };
}

/**
 * A text as pieces, each ending where a token may end (see TokenizerBuilder); called once per
 * pass, and every call must give the same pieces.
 */
export type TextPieces = () => Iterable<string>;

export interface CorpusOptions {
  /** How messages name the text (a path). */
  name: string;
  /** Lower-case the text first. */
  lowercase?: boolean;
  tokenizer?: TokenizerSpec;
  valFraction?: number;
  /** Fewest tokens each side of the split must have. */
  minTokens?: number;
}

const SAMPLE_BYTES = 1 << 16;

/** Refuses bytes that are clearly not text, judging by the first 64 KiB. `name` is used in messages. */
export function checkTextSample(head: Uint8Array, name: string): void {
  if (head.length === 0) throw new UserError(`${name} is empty: choose a text file with some writing in it`);
  const sample = head.subarray(0, Math.min(head.length, SAMPLE_BYTES));
  if (sample.includes(0)) throw new UserError(`${name} looks binary (it contains NUL bytes): choose a UTF-8 text file`);
  // streamed: a character cut at the sample's end is not counted as undecodable
  const text = new TextDecoder('utf-8', { fatal: false }).decode(sample, { stream: true });
  let bad = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0xfffd) bad++;
  if (bad > 0.01 * text.length) {
    throw new UserError(`${name} is not UTF-8 text (${bad} undecodable bytes in its first 64 KiB): save it as UTF-8 and try again`);
  }
}

/** Decodes bytes as UTF-8 text, refusing what is clearly not text. `name` is used in messages. */
export function decodeText(bytes: Uint8Array, name: string): string {
  checkTextSample(bytes, name);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

function splitSizes(tokens: number, valFraction: number, minTokens: number, name: string): { train: number; val: number } {
  const train = Math.floor(tokens * (1 - valFraction));
  const val = tokens - train;
  if (train < minTokens || (valFraction > 0 && val < minTokens)) {
    throw new UserError(
      `${name} is too short: ${tokens} tokens give ${train} for training and ${val} for validation, ` +
        `and one batch window needs ${minTokens}; use a longer text or a shorter context`,
    );
  }
  return { train, val };
}

/** The first pass: the tokenizer and the split's sizes, without encoding anything. */
export function outlineCorpus(pieces: TextPieces, options: CorpusOptions): CorpusOutline {
  const { valFraction = 0.1, minTokens = 2 } = options;
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`validation fraction (${valFraction}) must be in [0, 1)`);
  const builder = tokenizerBuilder(options.tokenizer ?? { kind: 'char' });
  for (const piece of pieces()) builder.add(options.lowercase ? piece.toLowerCase() : piece);
  const sizes = splitSizes(builder.tokens, valFraction, minTokens, options.name);
  return { tokenizer: builder.build(), train: { length: sizes.train }, val: { length: sizes.val } };
}

/** Both passes: the tokenizer, then every piece's ids written into one array that train and val share. */
export function buildCorpus(pieces: TextPieces, options: CorpusOptions): Corpus {
  const { tokenizer, train, val } = outlineCorpus(pieces, options);
  const ids = new Int32Array(train.length + val.length);
  let n = 0;
  try {
    for (const piece of pieces()) n += tokenizer.encodeInto(options.lowercase ? piece.toLowerCase() : piece, ids, n);
    if (n !== ids.length) throw new Error(`it now has ${n} tokens, not ${ids.length}`);
  } catch (error) {
    throw new UserError(`${options.name} changed while it was read (${(error as Error).message}): make sure nothing writes to it and try again`);
  }
  return { tokenizer, train: ids.subarray(0, train.length), val: ids.subarray(train.length) };
}

export function splitCorpus(text: string, valFraction = 0.1, minTokens = 2, spec: TokenizerSpec = { kind: 'char' }): Corpus {
  return buildCorpus(() => [text], { name: 'the text', valFraction, minTokens, tokenizer: spec });
}
