import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { buildCorpus, checkTextSample, outlineCorpus, type Corpus, type CorpusOptions, type CorpusOutline } from '../../engine/data/corpus';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import { DEFAULT_MAX_CORPUS_BYTES } from '../../shared/contract';
import { UserError } from '../../shared/errors';

// Corpus files from disk, in bounded memory: a file is checked by type and size before a byte of
// it is read (a FIFO is never opened for a blocking read, /dev/zero never read), then read in
// blocks, twice (the vocabulary, then the ids), so a run holds its ids and one block at a time.

export const MAX_CORPUS_ENV = 'NANOLAB_MAX_CORPUS_MB';
/** The largest limit a setting may ask for: 4 GiB of text, 16 GiB of ids. */
const MAX_LIMIT_MB = 4096;
const BLOCK_BYTES = 4 << 20;

/** A size in words: "64.0 MB (67,108,865 bytes)", exact where rounding would mislead. */
export function describeSize(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB (${bytes.toLocaleString('en-US')} bytes)`;
}

/** Megabytes as a setting gives them (`source` names it in messages), as bytes. */
export function parseCorpusLimit(raw: string, source: string): number {
  const mb = Number(raw);
  if (raw.trim() === '' || !(mb >= 1 && mb <= MAX_LIMIT_MB)) {
    throw new UserError(
      `${source} ${JSON.stringify(raw)} is not a corpus limit: give megabytes between 1 and ${MAX_LIMIT_MB} (default ${DEFAULT_MAX_CORPUS_BYTES / 2 ** 20})`,
    );
  }
  return Math.floor(mb * 2 ** 20);
}

/** The corpus limit in force: NANOLAB_MAX_CORPUS_MB, or 256 MB. */
export function maxCorpusBytes(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[MAX_CORPUS_ENV];
  return raw === undefined || raw === '' ? DEFAULT_MAX_CORPUS_BYTES : parseCorpusLimit(raw, MAX_CORPUS_ENV);
}

/** The refusal for a file that is too large, naming both sizes and what to do. */
export function tooLarge(name: string, bytes: number, limit: number): Error {
  return new Error(
    `${name} is ${describeSize(bytes)}, over the corpus limit of ${describeSize(limit)}: ` +
      `use a shorter excerpt, or raise the limit with ${MAX_CORPUS_ENV} (or nanolab train --max-corpus-mb)`,
  );
}

function refuse(path: string, s: Stats, limit: number): void {
  if (s.isDirectory()) throw new UserError(`${path} is a directory, not a text file: give the path of a text file in it`);
  if (!s.isFile()) {
    const kind = s.isFIFO()
      ? 'a named pipe (FIFO)'
      : s.isCharacterDevice()
        ? 'a character device'
        : s.isBlockDevice()
          ? 'a block device'
          : s.isSocket()
            ? 'a socket'
            : 'not a regular file';
    throw new UserError(`${path} is ${kind}, not a text file: save the text to a file and give that file's path`);
  }
  if (s.size > limit) throw tooLarge(path, s.size, limit);
}

/**
 * Opens a corpus file for reading after checking its type and size; `size` is what will be read.
 * Errors from the file system (ENOENT, EACCES) keep their code.
 */
export function openCorpusFile(path: string, limit: number): { fd: number; size: number } {
  refuse(path, statSync(path), limit);
  // non-blocking: should the path become a FIFO between the check and the open, the open returns at once
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const s = fstatSync(fd);
    refuse(path, s, limit);
    return { fd, size: s.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** The file's first `size` bytes in blocks (one buffer, reused: copy what you keep). */
export function* readBlocks(fd: number, size: number): Generator<Uint8Array> {
  const buffer = new Uint8Array(Math.min(BLOCK_BYTES, Math.max(size, 1)));
  for (let position = 0; position < size;) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (n === 0) return;
    position += n;
    yield buffer.subarray(0, n);
  }
}

/**
 * Where a piece of text may end for the tokenizers (TokenizerBuilder): after the last newline, or
 * else before the last space that follows a non-space; 0 when nowhere.
 */
function lastBoundary(text: string): number {
  const newline = text.lastIndexOf('\n');
  if (newline >= 0) return newline + 1;
  for (let i = text.lastIndexOf(' '); i > 0; i = text.lastIndexOf(' ', i - 1)) if (!/\s/.test(text[i - 1])) return i;
  return 0;
}

/** The file's text, decoded block by block and checked for being text. */
function* textPieces(fd: number, size: number, name: string, atTokenBoundaries: boolean): Generator<string> {
  if (size === 0) checkTextSample(new Uint8Array(0), name);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let carry = '';
  let first = true;
  for (const block of readBlocks(fd, size)) {
    if (first) checkTextSample(block, name);
    first = false;
    const text = carry + decoder.decode(block, { stream: true });
    const cut = atTokenBoundaries ? lastBoundary(text) : text.length;
    if (cut > 0) yield text.slice(0, cut);
    carry = text.slice(cut);
  }
  const rest = carry + decoder.decode();
  if (rest.length > 0) yield rest;
}

export interface CorpusFileOptions {
  lowercase?: boolean;
  tokenizer?: TokenizerSpec;
  /** The corpus limit (maxCorpusBytes() when absent). */
  limit?: number;
  /** How messages name the text (the path when absent). */
  name?: string;
}

function withPieces<T>(path: string, o: CorpusFileOptions, use: (pieces: () => Iterable<string>, options: CorpusOptions) => T): T {
  const { fd, size } = openCorpusFile(path, o.limit ?? maxCorpusBytes());
  try {
    const tokenizer = o.tokenizer ?? { kind: 'char' };
    // a char tokenizer on text as it is may cut pieces anywhere; lower-casing and words need whole tokens
    const atTokenBoundaries = tokenizer.kind === 'word' || Boolean(o.lowercase);
    const name = o.name ?? path;
    return use(() => textPieces(fd, size, name, atTokenBoundaries), { name, lowercase: o.lowercase, tokenizer });
  } finally {
    closeSync(fd);
  }
}

/** A corpus file tokenized and split, holding one array of ids. */
export function loadCorpusFile(path: string, options: CorpusFileOptions = {}): Corpus {
  return withPieces(path, options, buildCorpus);
}

/** A corpus file's tokenizer and split sizes, without its ids (one pass, one block in memory). */
export function outlineCorpusFile(path: string, options: CorpusFileOptions = {}): CorpusOutline {
  return withPieces(path, options, outlineCorpus);
}

/**
 * A corpus file as one string, for a host that must send text on (a GPU page); with `headBytes`,
 * only the start of it (a calibration needs a few batches, not the whole text).
 */
export function readCorpusText(path: string, options: { limit?: number; headBytes?: number } = {}): string {
  const { fd, size } = openCorpusFile(path, options.limit ?? maxCorpusBytes());
  try {
    const bytes = new Uint8Array(Math.min(size, options.headBytes ?? size));
    let n = 0;
    for (const block of readBlocks(fd, bytes.length)) {
      bytes.set(block, n);
      n += block.length;
    }
    // a character cut at the head's end is left out, not decoded as U+FFFD
    checkTextSample(bytes.subarray(0, n), path);
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, n), { stream: n < size });
  } finally {
    closeSync(fd);
  }
}
