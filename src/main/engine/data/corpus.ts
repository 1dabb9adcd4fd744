import { buildTokenizer, type Tokenizer, type TokenizerSpec } from './tokenizer';

// A corpus is text checked for being text, tokenized, and split contiguously into train and
// validation (nanoGPT: the first 90% trains, the last 10% validates).

export interface Corpus {
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
}

/** Decodes bytes as UTF-8 text, refusing what is clearly not text. `name` is used in messages. */
export function decodeText(bytes: Uint8Array, name: string): string {
  if (bytes.length === 0) throw new Error(`${name} is empty: choose a text file with some writing in it`);
  const sample = bytes.subarray(0, Math.min(bytes.length, 1 << 16));
  if (sample.includes(0)) throw new Error(`${name} looks binary (it contains NUL bytes): choose a UTF-8 text file`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  let bad = 0;
  for (const ch of text.slice(0, 1 << 16)) if (ch === '\uFFFD') bad++;
  if (bad > 0.01 * Math.min(text.length, 1 << 16)) {
    throw new Error(`${name} is not UTF-8 text (${bad} undecodable bytes in its first 64 KiB): save it as UTF-8 and try again`);
  }
  return text;
}

export function splitCorpus(text: string, valFraction = 0.1, minTokens = 2, spec: TokenizerSpec = { kind: 'char' }): Corpus {
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`validation fraction (${valFraction}) must be in [0, 1)`);
  const tokenizer = buildTokenizer(text, spec);
  const ids = tokenizer.encode(text);
  const nTrain = Math.floor(ids.length * (1 - valFraction));
  const train = ids.subarray(0, nTrain);
  const val = ids.subarray(nTrain);
  if (train.length < minTokens || (valFraction > 0 && val.length < minTokens)) {
    throw new Error(
      `the text is too short: ${ids.length} tokens give ${train.length} for training and ${val.length} for validation, ` +
        `and one batch window needs ${minTokens}; use a longer text or a shorter context`,
    );
  }
  return { tokenizer, train, val };
}
