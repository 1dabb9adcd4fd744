import { WordTokenizer } from './tokenizer';
import { UserError } from '../errors';
import { Rng } from '../rng';

// A pairs corpus for the encoder–decoder: each example is a source text and its target text, read
// from a TSV (`source<TAB>target` per line) or from two files with one text per line, aligned.
// Each side is tokenized by characters or words, with the lesson's special ids in front of the
// vocabulary; a seeded shuffle holds some pairs out; batches are drawn from pairs of similar
// lengths, so little of each (B, S) and (B, T) block is padding.

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
/** The entries in front of every pairs vocabulary, at ids 0..3. */
export const SPECIAL_TOKENS: readonly string[] = ['<pad>', '<bos>', '<eos>', '<unk>'];

export type PairSideKind = 'char' | 'word';

/** How the two sides of a pairs corpus are tokenized. */
export interface PairsTokenization {
  source: PairSideKind;
  target: PairSideKind;
  /** One vocabulary for both sides (they must then tokenize alike), as when source and target share an alphabet. */
  shared: boolean;
  lowercase?: boolean;
  /** Most entries a word vocabulary keeps, the 4 specials included; rarer words become <unk>. Unlimited when absent. */
  max_vocab?: number;
}

export const DEFAULT_PAIRS_TOKENIZATION: PairsTokenization = { source: 'char', target: 'char', shared: false };

export interface PairVocabJson {
  kind: PairSideKind;
  /** The whole vocabulary, specials first. */
  vocab: string[];
  lowercase: boolean;
}

/**
 * The tokenizer of one side. Characters are code points; words are WordTokenizer's tokens (a word
 * keeps the spaces before it, so decoding is concatenation and gives the text back exactly).
 * Anything outside the vocabulary encodes as <unk>, so a learner may type any text to translate.
 */
export class PairVocab {
  private readonly index: Map<string, number>;

  constructor(
    readonly kind: PairSideKind,
    readonly vocab: readonly string[],
    readonly lowercase = false,
  ) {
    SPECIAL_TOKENS.forEach((token, id) => {
      if (vocab[id] !== token) throw new Error(`pairs vocabulary: id ${id} must be ${token}, not ${JSON.stringify(vocab[id])}`);
    });
    this.index = new Map(vocab.map((token, id) => [token, id]));
    if (this.index.size !== vocab.length) throw new Error('pairs vocabulary: an entry is repeated');
  }

  /** Cuts a text into the pieces a vocabulary of this kind holds. */
  static split(text: string, kind: PairSideKind): string[] {
    return kind === 'char' ? Array.from(text) : WordTokenizer.split(text);
  }

  /** The specials, then every piece of `texts` (by frequency, then code unit order), up to `maxVocab` entries in all. */
  static build(texts: Iterable<string>, kind: PairSideKind, options: { lowercase?: boolean; maxVocab?: number } = {}): PairVocab {
    const { lowercase = false, maxVocab = Infinity } = options;
    if (!(maxVocab > SPECIAL_TOKENS.length)) {
      throw new UserError(`max_vocab (${maxVocab}) must be more than the ${SPECIAL_TOKENS.length} special tokens: raise it or leave it out`);
    }
    const counts = new Map<string, number>();
    for (const text of texts) for (const piece of PairVocab.split(lowercase ? text.toLowerCase() : text, kind)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
    for (const special of SPECIAL_TOKENS) counts.delete(special);
    const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    // characters sorted, as the char tokenizer's vocabulary is; words by frequency, as the word tokenizer's is
    const kept = [...counts.entries()].sort((a, b) => (kind === 'char' ? byCode(a[0], b[0]) : b[1] - a[1] || byCode(a[0], b[0])));
    if (kind === 'char' && kept.length + SPECIAL_TOKENS.length > maxVocab) kept.sort((a, b) => b[1] - a[1] || byCode(a[0], b[0]));
    const entries = kept.slice(0, maxVocab - SPECIAL_TOKENS.length).map(([piece]) => piece);
    if (kind === 'char') entries.sort(byCode);
    return new PairVocab(kind, [...SPECIAL_TOKENS, ...entries], lowercase);
  }

  static fromJSON(json: PairVocabJson): PairVocab {
    if ((json?.kind !== 'char' && json?.kind !== 'word') || !Array.isArray(json.vocab)) throw new Error('not a pairs vocabulary');
    return new PairVocab(json.kind, json.vocab, Boolean(json.lowercase));
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The ids of a text, without <bos> or <eos>; pieces outside the vocabulary are <unk>. */
  encode(text: string): Int32Array {
    return Int32Array.from(PairVocab.split(this.lowercase ? text.toLowerCase() : text, this.kind), (piece) => this.index.get(piece) ?? UNK_ID);
  }

  /** <bos>, the ids of a text, <eos>: a target row. */
  encodeTarget(text: string): Int32Array {
    const ids = this.encode(text);
    const row = new Int32Array(ids.length + 2);
    row[0] = BOS_ID;
    row.set(ids, 1);
    row[ids.length + 1] = EOS_ID;
    return row;
  }

  /** The text of a row of ids: <pad> and <bos> are skipped, <eos> ends it, <unk> shows as "<unk>". */
  decode(ids: ArrayLike<number>): string {
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      const piece = this.vocab[id];
      if (piece === undefined) throw new Error(`token id ${id} is outside the vocabulary (size ${this.vocab.length})`);
      text += piece;
    }
    return text;
  }

  toJSON(): PairVocabJson {
    return { kind: this.kind, vocab: [...this.vocab], lowercase: this.lowercase };
  }
}

/** The vocabularies of both sides (the same object when shared). */
export function buildPairVocabs(
  pairs: readonly TextPair[],
  tokenization: PairsTokenization = DEFAULT_PAIRS_TOKENIZATION,
): { source: PairVocab; target: PairVocab } {
  const options = { lowercase: tokenization.lowercase, maxVocab: tokenization.max_vocab };
  if (tokenization.shared) {
    if (tokenization.source !== tokenization.target) {
      throw new UserError(
        `a shared vocabulary needs both sides tokenized alike, but the source is ${tokenization.source} and the target ${tokenization.target}: use separate vocabularies or one kind`,
      );
    }
    const both = PairVocab.build(
      pairs.flatMap((p) => [p.source, p.target]),
      tokenization.source,
      options,
    );
    return { source: both, target: both };
  }
  return {
    source: PairVocab.build(
      pairs.map((p) => p.source),
      tokenization.source,
      options,
    ),
    target: PairVocab.build(
      pairs.map((p) => p.target),
      tokenization.target,
      options,
    ),
  };
}

// Reading pairs.

export interface TextPair {
  source: string;
  target: string;
}

/** A pair with where it came from: its 1-based line in the file(s). */
export interface LinePair extends TextPair {
  line: number;
}

/** A line as a message quotes it: escaped, at most 40 characters. */
function quoteLine(line: string): string {
  const chars = Array.from(line);
  return JSON.stringify(chars.length > 40 ? chars.slice(0, 40).join('') + '…' : line);
}

/** The lines of a text: CRLF or LF, a BOM dropped, and a final empty line (the file's last newline) skipped. */
function textLines(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function andMore(count: number): string {
  return count > 0 ? ` (and ${count} more line${count === 1 ? '' : 's'} like it)` : '';
}

function checkSides(pairs: readonly LinePair[], where: (line: number) => string): void {
  for (const side of ['source', 'target'] as const) {
    const empty = pairs.filter((p) => p[side].trim() === '');
    if (empty.length > 0) {
      const first = empty[0];
      throw new UserError(
        `${where(first.line)} has an empty ${side} (${quoteLine(first.source + '\t' + first.target)})${andMore(empty.length - 1)}: give every pair a source and a target, or delete that line`,
      );
    }
  }
}

/** The pairs of a TSV text, one `source<TAB>target` per line. `name` names the file in messages. */
export function parsePairsTsv(text: string, name: string): LinePair[] {
  const lines = textLines(text);
  if (lines.every((line) => line.trim() === '')) throw new UserError(`${name} is empty: write one pair per line, source<TAB>target`);
  const pairs: LinePair[] = [];
  const ragged: { line: number; text: string; tabs: number }[] = [];
  lines.forEach((line, i) => {
    const sides = line.split('\t');
    if (sides.length === 2) pairs.push({ source: sides[0], target: sides[1], line: i + 1 });
    else ragged.push({ line: i + 1, text: line, tabs: sides.length - 1 });
  });
  if (ragged.length > 0) {
    const { line, text: shown, tabs } = ragged[0];
    const what = shown === '' ? 'is empty' : tabs === 0 ? `has no tab (${quoteLine(shown)})` : `has ${tabs} tabs (${quoteLine(shown)})`;
    throw new UserError(`line ${line} of ${name} ${what}${andMore(ragged.length - 1)}: write each pair as source<TAB>target, with exactly one tab`);
  }
  checkSides(pairs, (line) => `line ${line} of ${name}`);
  return pairs;
}

/** The pairs of two aligned texts, line i of one with line i of the other. */
export function parseAlignedPairs(sourceText: string, targetText: string, names: { source: string; target: string }): LinePair[] {
  const sources = textLines(sourceText);
  const targets = textLines(targetText);
  if (sources.every((line) => line.trim() === '')) throw new UserError(`${names.source} is empty: write one source text per line`);
  if (sources.length !== targets.length) {
    throw new UserError(
      `${names.source} has ${sources.length} lines but ${names.target} has ${targets.length}: the two files need one line per pair, in the same order`,
    );
  }
  const pairs = sources.map((source, i) => ({ source, target: targets[i], line: i + 1 }));
  checkSides(pairs, (line) => `line ${line} of ${names.source} and ${names.target}`);
  return pairs;
}

/** The TSV text of some pairs, one per line, ending with a newline: what parsePairsTsv reads back. */
export function pairsToTsv(pairs: readonly TextPair[]): string {
  let text = '';
  for (const { source, target } of pairs) {
    for (const side of [source, target]) {
      if (/[\t\r\n]/.test(side)) throw new UserError(`the pair side ${quoteLine(side)} holds a tab or a line break: a TSV line cannot, so remove it`);
    }
    text += `${source}\t${target}\n`;
  }
  return text;
}

// Encoding and the held-out split.

/** A pair, its ids (src: no specials; tgt: <bos> … <eos>) and where it came from. */
export interface EncodedPair extends LinePair {
  src: Int32Array;
  tgt: Int32Array;
}

export interface PairsCorpus {
  source: PairVocab;
  target: PairVocab;
  train: EncodedPair[];
  /** Held out, in file order. */
  val: EncodedPair[];
}

export interface PairsCorpusOptions {
  /** How messages name the data (a path). */
  name: string;
  tokenization?: PairsTokenization;
  /** Longest row the model takes: the source in tokens, the target in tokens with <bos> and <eos>. */
  max_seq_length: number;
  /** Fraction held out (default 0.1); at least one pair when above 0. */
  valFraction?: number;
  /**
   * Seed of the shuffle that picks the held-out pairs (default 0): its own, not the run's Rng, so
   * the same data and seed always hold out the same pairs, whatever the training draws.
   */
  seed?: number;
}

/**
 * Encodes pairs with given vocabularies (a run's own, to evaluate it on a new file), refusing any
 * row longer than max_seq_length. `name` names the data in messages.
 */
export function encodePairs(pairs: readonly LinePair[], vocabs: { source: PairVocab; target: PairVocab }, maxSeqLength: number, name: string): EncodedPair[] {
  if (!Number.isInteger(maxSeqLength) || maxSeqLength < 3)
    throw new UserError(`max_seq_length (${maxSeqLength}) must be a whole number ≥ 3: <bos>, a token and <eos>`);
  return pairs.map((pair) => {
    const src = vocabs.source.encode(pair.source);
    const tgt = vocabs.target.encodeTarget(pair.target);
    const long =
      src.length > maxSeqLength
        ? `the source is ${src.length} tokens`
        : tgt.length > maxSeqLength
          ? `the target is ${tgt.length} tokens with <bos> and <eos>`
          : null;
    if (long) {
      throw new UserError(
        `line ${pair.line} of ${name}: ${long}, more than max_seq_length (${maxSeqLength}) (${quoteLine(pair.source + '\t' + pair.target)}): shorten that pair or raise max_seq_length`,
      );
    }
    return { ...pair, src, tgt };
  });
}

/** The ids of a source a learner typed, refused when longer than max_seq_length. */
export function encodeSourceText(text: string, vocab: PairVocab, maxSeqLength: number): Int32Array {
  const src = vocab.encode(text);
  if (src.length === 0) throw new UserError('the source is empty: type something to translate');
  if (src.length > maxSeqLength) {
    throw new UserError(`the source is ${src.length} tokens, more than max_seq_length (${maxSeqLength}) (${quoteLine(text)}): shorten it`);
  }
  return src;
}

/**
 * Which of n items are held out: a seeded Fisher–Yates shuffle picks round(n · valFraction) of them
 * (at least 1 when valFraction > 0), returned as sorted indices with the rest.
 */
export function heldOutSplit(n: number, valFraction: number, seed: number, name = 'the data'): { train: number[]; val: number[] } {
  if (!(valFraction >= 0 && valFraction < 1)) throw new UserError(`the held-out fraction (${valFraction}) must be in [0, 1): use e.g. 0.1`);
  const valCount = valFraction > 0 ? Math.max(1, Math.round(n * valFraction)) : 0;
  if (n - valCount < 1) {
    throw new UserError(`${name} has ${n} pair${n === 1 ? '' : 's'}, too few to hold ${valCount} out and train on the rest: add pairs or hold none out`);
  }
  const rng = new Rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const ascending = (a: number, b: number) => a - b;
  return { val: order.slice(0, valCount).sort(ascending), train: order.slice(valCount).sort(ascending) };
}

/** Vocabularies from every pair, ids, and a seeded held-out split. */
export function buildPairsCorpus(pairs: readonly LinePair[], options: PairsCorpusOptions): PairsCorpus {
  const vocabs = buildPairVocabs(pairs, options.tokenization);
  const encoded = encodePairs(pairs, vocabs, options.max_seq_length, options.name);
  const split = heldOutSplit(encoded.length, options.valFraction ?? 0.1, options.seed ?? 0, options.name);
  return { ...vocabs, train: split.train.map((i) => encoded[i]), val: split.val.map((i) => encoded[i]) };
}

// Batches.

/**
 * One batch, rows padded with <pad> (0) at the end. The decoder reads `decoderInput` (tgt without
 * its last column) and learns to predict `target` (tgt without <bos>): teacher forcing.
 */
export interface PairBatch {
  B: number;
  /** Longest source in the batch. */
  S: number;
  /** Longest target in the batch, <bos> and <eos> included. */
  T: number;
  /** (B, S) */
  src: Int32Array;
  /** (B, T) */
  tgt: Int32Array;
  /** (B, T-1): tgt[:, :-1] */
  decoderInput: Int32Array;
  /** (B, T-1): tgt[:, 1:] */
  target: Int32Array;
  /** Fraction of the cells of src and tgt that are padding. */
  padding: number;
}

/** Pads the rows of some pairs into one batch. */
export function collatePairs(pairs: readonly { src: Int32Array; tgt: Int32Array }[]): PairBatch {
  const B = pairs.length;
  if (B === 0) throw new Error('collatePairs: no pairs');
  let S = 1,
    T = 2,
    tokens = 0;
  for (const { src, tgt } of pairs) {
    S = Math.max(S, src.length);
    T = Math.max(T, tgt.length);
    tokens += src.length + tgt.length;
  }
  const src = new Int32Array(B * S);
  const tgt = new Int32Array(B * T);
  const decoderInput = new Int32Array(B * (T - 1));
  const target = new Int32Array(B * (T - 1));
  pairs.forEach((pair, b) => {
    src.set(pair.src, b * S);
    tgt.set(pair.tgt, b * T);
    const row = tgt.subarray(b * T, (b + 1) * T); // (T,)
    decoderInput.set(row.subarray(0, T - 1), b * (T - 1));
    target.set(row.subarray(1), b * (T - 1));
  });
  return { B, S, T, src, tgt, decoderInput, target, padding: 1 - tokens / (B * (S + T)) };
}

/** k distinct integers of [0, n), by Floyd's algorithm (k draws, no array of n). */
function sampleDistinct(n: number, k: number, rng: Rng): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = rng.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen];
}

export interface PairSamplerOptions {
  batchSize: number;
  /** Draw each batch from pairs of similar lengths (default true); false draws uniformly, as a baseline. */
  bucketed?: boolean;
  /** How many length-neighbours a bucketed batch is drawn from (default 4 × batchSize): wider is more random, narrower pads less. */
  window?: number;
}

/**
 * Draws training batches. Bucketed: the pairs are sorted by (source, target) length once; a batch
 * is one uniformly chosen pair plus batchSize − 1 others drawn from the `window` pairs around it in
 * that order, so every pair is drawn and a batch's rows have similar lengths. Each draw depends only
 * on the Rng passed in, like randomBatch: a run resumes from its Rng's saved state.
 */
export class PairSampler {
  readonly batchSize: number;
  private readonly sorted: readonly EncodedPair[];
  private readonly window: number;
  private readonly bucketed: boolean;

  constructor(pairs: readonly EncodedPair[], options: PairSamplerOptions) {
    const { batchSize, bucketed = true } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch_size (${batchSize}) must be a whole number ≥ 1`);
    if (pairs.length === 0) throw new UserError('there are no training pairs: add pairs to the data');
    // a corpus smaller than a batch gives batches of all its pairs
    this.batchSize = Math.min(batchSize, pairs.length);
    this.bucketed = bucketed;
    this.window = Math.min(pairs.length, Math.max(this.batchSize, options.window ?? 4 * batchSize));
    this.sorted = [...pairs].sort((a, b) => a.src.length - b.src.length || a.tgt.length - b.tgt.length || a.line - b.line);
  }

  /** The pairs of the next batch, shortest first. */
  nextPairs(rng: Rng): EncodedPair[] {
    const n = this.sorted.length,
      B = this.batchSize;
    let positions: number[];
    if (!this.bucketed) {
      positions = sampleDistinct(n, B, rng);
    } else {
      const W = this.window;
      const anchor = rng.int(n);
      const lo = Math.min(Math.max(0, anchor - (W >> 1)), n - W);
      // the others: B − 1 distinct slots of the window with the anchor's slot taken out
      const others = sampleDistinct(W - 1, B - 1, rng).map((slot) => lo + (slot >= anchor - lo ? slot + 1 : slot));
      positions = [anchor, ...others];
    }
    return positions.sort((a, b) => a - b).map((p) => this.sorted[p]);
  }

  nextBatch(rng: Rng): PairBatch {
    return collatePairs(this.nextPairs(rng));
  }
}

/**
 * Every pair once, in batches of pairs of similar lengths (sorted by source, then target length),
 * for evaluation; `indices` are the rows' positions in `pairs`.
 */
export function* pairBatchesInOrder(pairs: readonly EncodedPair[], batchSize: number): Generator<{ batch: PairBatch; indices: number[] }> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batch_size (${batchSize}) must be a whole number ≥ 1`);
  const order = pairs.map((_, i) => i).sort((a, b) => pairs[a].src.length - pairs[b].src.length || pairs[a].tgt.length - pairs[b].tgt.length || a - b);
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    yield { batch: collatePairs(indices.map((i) => pairs[i])), indices };
  }
}
