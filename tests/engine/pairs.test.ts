import { describe, expect, it } from 'vitest';
import {
  BOS_ID,
  EOS_ID,
  PAD_ID,
  PairSampler,
  PairVocab,
  SPECIAL_TOKENS,
  UNK_ID,
  buildPairVocabs,
  buildPairsCorpus,
  collatePairs,
  encodePairs,
  encodeSourceText,
  heldOutSplit,
  pairBatchesInOrder,
  pairsToTsv,
  parseAlignedPairs,
  parsePairsTsv,
  type EncodedPair,
  type LinePair,
} from '../../src/engine/data/pairs';
import { UserError } from '../../src/engine/errors';
import { Rng } from '../../src/engine/rng';

function expectUserError(fn: () => unknown, pattern: RegExp): void {
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UserError);
  expect((error as Error).message).toMatch(pattern);
}

describe('reading pairs', () => {
  it('parses a TSV, CRLF or LF, skipping a final empty line and a BOM', () => {
    const pairs = parsePairsTsv('\uFEFFabc\tcba\r\nhello world\tdlrow olleh\n', 'data.tsv');
    expect(pairs).toEqual([
      { source: 'abc', target: 'cba', line: 1 },
      { source: 'hello world', target: 'dlrow olleh', line: 2 },
    ]);
    expect(parsePairsTsv('a\tb', 'data.tsv')).toEqual([{ source: 'a', target: 'b', line: 1 }]);
  });

  it('refuses ragged lines with their number, shortened, and how many more', () => {
    expectUserError(
      () => parsePairsTsv('a\tb\nno tab here\nc\td\n', 'data.tsv'),
      /^line 2 of data\.tsv has no tab \("no tab here"\): write each pair as source<TAB>target/,
    );
    expectUserError(() => parsePairsTsv('a\tb\tc\nx\ty\tz\nq\tr\n', 'data.tsv'), /^line 1 of data\.tsv has 2 tabs \("a\\tb\\tc"\) \(and 1 more line like it\)/);
    expectUserError(() => parsePairsTsv('a\tb\n\nc\td\n', 'data.tsv'), /^line 2 of data\.tsv is empty:/);
    const long = 'x'.repeat(100);
    expectUserError(() => parsePairsTsv(long, 'data.tsv'), new RegExp(`\\("${'x'.repeat(40)}…"\\)`));
    expectUserError(() => parsePairsTsv('', 'data.tsv'), /^data\.tsv is empty/);
    expectUserError(() => parsePairsTsv('\n', 'data.tsv'), /^data\.tsv is empty/);
  });

  it('refuses empty sides', () => {
    expectUserError(
      () => parsePairsTsv('a\tb\nc\t\n', 'data.tsv'),
      /^line 2 of data\.tsv has an empty target \("c\\t"\): give every pair a source and a target/,
    );
    expectUserError(() => parsePairsTsv('  \tb\n', 'data.tsv'), /^line 1 of data\.tsv has an empty source/);
  });

  it('aligns two texts line by line and refuses different line counts', () => {
    const names = { source: 'en.txt', target: 'fr.txt' };
    expect(parseAlignedPairs('hello\ncat\n', 'bonjour\nchat\n', names)).toEqual([
      { source: 'hello', target: 'bonjour', line: 1 },
      { source: 'cat', target: 'chat', line: 2 },
    ]);
    expectUserError(() => parseAlignedPairs('a\nb\nc\n', 'x\ny\n', names), /^en\.txt has 3 lines but fr\.txt has 2: the two files need one line per pair/);
    expectUserError(() => parseAlignedPairs('a\n\n', 'x\ny\n', names), /^line 2 of en\.txt and fr\.txt has an empty source/);
  });

  it('writes TSV that reads back', () => {
    const pairs = [
      { source: 'a b', target: 'b a' },
      { source: 'ü', target: '😀' },
    ];
    expect(parsePairsTsv(pairsToTsv(pairs), 't').map(({ source, target }) => ({ source, target }))).toEqual(pairs);
    expectUserError(() => pairsToTsv([{ source: 'a\tb', target: 'c' }]), /tab or a line break/);
  });
});

describe('pair vocabularies', () => {
  it('puts <pad> <bos> <eos> <unk> at 0..3, then the sorted characters', () => {
    const v = PairVocab.build(['cab', 'bad'], 'char');
    expect([PAD_ID, BOS_ID, EOS_ID, UNK_ID]).toEqual([0, 1, 2, 3]);
    expect(v.vocab).toEqual([...SPECIAL_TOKENS, 'a', 'b', 'c', 'd']);
    expect(Array.from(v.encode('abz'))).toEqual([4, 5, UNK_ID]);
    expect(Array.from(v.encodeTarget('dab'))).toEqual([BOS_ID, 7, 4, 5, EOS_ID]);
  });

  it('decodes skipping <pad> and <bos>, stopping at <eos>', () => {
    const v = PairVocab.build(['hello'], 'char');
    const ids = v.encodeTarget('hello');
    expect(v.decode(ids)).toBe('hello');
    expect(v.decode([...ids, 5, 5, PAD_ID])).toBe('hello');
    expect(v.decode([BOS_ID, v.encode('h')[0], UNK_ID])).toBe('h<unk>');
    expect(() => v.decode([99])).toThrow(/outside the vocabulary/);
  });

  it('keeps words with their leading spaces, most frequent first, so text round-trips', () => {
    const v = PairVocab.build(['three hundred twelve', 'three hundred'], 'word');
    expect(v.vocab.slice(4)).toEqual([' hundred', 'three', ' twelve']);
    expect(v.decode(v.encodeTarget('three hundred twelve'))).toBe('three hundred twelve');
    expect(v.decode(v.encode('three million'))).toBe('three<unk>');
    const capped = PairVocab.build(['a a a b b c'], 'word', { maxVocab: 6 });
    expect(capped.vocab.slice(4)).toEqual([' a', ' b']);
    expectUserError(() => PairVocab.build(['a'], 'word', { maxVocab: 4 }), /max_vocab \(4\)/);
  });

  it('caps a char vocabulary by frequency and lowercases when asked', () => {
    const v = PairVocab.build(['aaabbc'], 'char', { maxVocab: 6 });
    expect(v.vocab.slice(4)).toEqual(['a', 'b']);
    const lower = PairVocab.build(['AbC'], 'char', { lowercase: true });
    expect(lower.vocab.slice(4)).toEqual(['a', 'b', 'c']);
    expect(lower.decode(lower.encode('CAB'))).toBe('cab');
  });

  it('serialises to JSON and back', () => {
    const v = PairVocab.build(['Hi there'], 'word', { lowercase: true });
    const back = PairVocab.fromJSON(JSON.parse(JSON.stringify(v)));
    expect(back.vocab).toEqual(v.vocab);
    expect(back.lowercase).toBe(true);
    expect(Array.from(back.encode('HI THERE'))).toEqual(Array.from(v.encode('hi there')));
    expect(() => new PairVocab('char', ['a', 'b'])).toThrow(/id 0 must be <pad>/);
  });

  it('builds shared or separate vocabularies', () => {
    const pairs = [{ source: 'ab', target: 'xy' }];
    const separate = buildPairVocabs(pairs, { source: 'char', target: 'char', shared: false });
    expect(separate.source.vocab.slice(4)).toEqual(['a', 'b']);
    expect(separate.target.vocab.slice(4)).toEqual(['x', 'y']);
    const shared = buildPairVocabs(pairs, { source: 'char', target: 'char', shared: true });
    expect(shared.source).toBe(shared.target);
    expect(shared.source.vocab.slice(4)).toEqual(['a', 'b', 'x', 'y']);
    const mixed = buildPairVocabs([{ source: '312', target: 'three hundred twelve' }], { source: 'char', target: 'word', shared: false });
    expect(mixed.source.kind).toBe('char');
    expect(mixed.target.vocabSize).toBe(7);
    expectUserError(() => buildPairVocabs(pairs, { source: 'char', target: 'word', shared: true }), /shared vocabulary needs both sides tokenized alike/);
  });
});

describe('encoding and the held-out split', () => {
  const lines = (n: number): LinePair[] => Array.from({ length: n }, (_, i) => ({ source: `s${i}`, target: `t${i}`, line: i + 1 }));

  it('refuses a row longer than max_seq_length, counting <bos> and <eos> on the target', () => {
    const pairs = parsePairsTsv('abc\tab\nabcdef\tabc\n', 'data.tsv');
    const vocabs = buildPairVocabs(pairs);
    expect(encodePairs(pairs, vocabs, 6, 'data.tsv')[1].tgt.length).toBe(5);
    expectUserError(() => encodePairs(pairs, vocabs, 5, 'data.tsv'), /^line 2 of data\.tsv: the source is 6 tokens, more than max_seq_length \(5\)/);
    const longTarget = parsePairsTsv('a\tabcd\n', 'data.tsv');
    expectUserError(
      () => encodePairs(longTarget, buildPairVocabs(longTarget), 5, 'data.tsv'),
      /^line 1 of data\.tsv: the target is 6 tokens with <bos> and <eos>, more than max_seq_length \(5\) \("a\\tabcd"\): shorten that pair or raise max_seq_length/,
    );
  });

  it('holds out a seeded 10 %, the same for the same seed, disjoint and complete', () => {
    const a = heldOutSplit(100, 0.1, 1);
    const b = heldOutSplit(100, 0.1, 1);
    const c = heldOutSplit(100, 0.1, 2);
    expect(a).toEqual(b);
    expect(a.val).not.toEqual(c.val);
    expect(a.val.length).toBe(10);
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // not simply the last 10 %
    expect(a.val).not.toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
    expect(heldOutSplit(3, 0.1, 0).val.length).toBe(1);
    expect(heldOutSplit(3, 0, 0).val).toEqual([]);
    expectUserError(() => heldOutSplit(1, 0.1, 0, 'tiny.tsv'), /^tiny\.tsv has 1 pair, too few/);
    expectUserError(() => heldOutSplit(10, 1, 0), /held-out fraction \(1\)/);
  });

  it('encodes a typed source, refusing one too long or empty', () => {
    const v = PairVocab.build(['abc'], 'char');
    expect(Array.from(encodeSourceText('cab', v, 5))).toEqual([6, 4, 5]);
    expectUserError(() => encodeSourceText('abcabc', v, 5), /^the source is 6 tokens, more than max_seq_length \(5\) \("abcabc"\): shorten it$/);
    expectUserError(() => encodeSourceText('', v, 5), /source is empty/);
  });

  it('builds a corpus: vocabularies, ids, split in file order', () => {
    const corpus = buildPairsCorpus(lines(50), { name: 'd', max_seq_length: 8, valFraction: 0.2, seed: 3 });
    expect(corpus.train.length).toBe(40);
    expect(corpus.val.length).toBe(10);
    const valLines = corpus.val.map((p) => p.line);
    expect(valLines).toEqual([...valLines].sort((x, y) => x - y));
    for (const p of corpus.val) {
      expect(corpus.source.decode(p.src)).toBe(p.source);
      expect(corpus.target.decode(p.tgt)).toBe(p.target);
      expect(p.tgt[0]).toBe(BOS_ID);
      expect(p.tgt[p.tgt.length - 1]).toBe(EOS_ID);
    }
  });
});

describe('batches', () => {
  it('pads with 0 and shifts the target for teacher forcing', () => {
    const v = PairVocab.build(['abcde'], 'char');
    const pairs = [
      { src: v.encode('abc'), tgt: v.encodeTarget('ab') },
      { src: v.encode('a'), tgt: v.encodeTarget('abcd') },
    ];
    const batch = collatePairs(pairs);
    const [a, b, c, d] = [4, 5, 6, 7];
    expect([batch.B, batch.S, batch.T]).toEqual([2, 3, 6]);
    expect(Array.from(batch.src)).toEqual([a, b, c, a, 0, 0]);
    expect(Array.from(batch.tgt)).toEqual([1, a, b, 2, 0, 0, 1, a, b, c, d, 2]);
    expect(Array.from(batch.decoderInput)).toEqual([1, a, b, 2, 0, 1, a, b, c, d]);
    expect(Array.from(batch.target)).toEqual([a, b, 2, 0, 0, a, b, c, d, 2]);
    // 4 + 10 tokens in 6 + 12 cells
    expect(batch.padding).toBeCloseTo(1 - 14 / 18, 15);
  });

  // pairs of lengths 1..60, mixed
  function mixedPairs(n: number, seed: number): EncodedPair[] {
    const rng = new Rng(seed);
    const v = PairVocab.build(['ab'], 'char');
    return Array.from({ length: n }, (_, i) => {
      const text = 'ab'.repeat(30).slice(0, 1 + rng.int(60));
      return { source: text, target: text, line: i + 1, src: v.encode(text), tgt: v.encodeTarget(text) };
    });
  }

  it('draws batches that depend only on the Rng', () => {
    const pairs = mixedPairs(500, 1);
    const sampler = new PairSampler(pairs, { batchSize: 16 });
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 5 }, () => sampler.nextPairs(rng).map((p) => p.line));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    for (const batch of draw(7)) {
      expect(batch.length).toBe(16);
      expect(new Set(batch).size).toBe(16);
    }
  });

  it('wastes much less on padding bucketed than drawn at random', () => {
    const pairs = mixedPairs(2000, 2);
    const mean = (sampler: PairSampler) => {
      const rng = new Rng(11);
      let sum = 0;
      for (let i = 0; i < 200; i++) sum += sampler.nextBatch(rng).padding;
      return sum / 200;
    };
    const bucketed = mean(new PairSampler(pairs, { batchSize: 32 }));
    const random = mean(new PairSampler(pairs, { batchSize: 32, bucketed: false }));
    // random batches of lengths uniform in 1..60 are about half padding; bucketed ones under a tenth
    expect(random).toBeGreaterThan(0.4);
    expect(bucketed).toBeLessThan(0.12);
    expect(bucketed).toBeLessThan(random / 4);
  });

  it('reaches every pair', () => {
    const pairs = mixedPairs(200, 3);
    const sampler = new PairSampler(pairs, { batchSize: 8 });
    const rng = new Rng(0);
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) for (const p of sampler.nextPairs(rng)) seen.add(p.line);
    expect(seen.size).toBe(200);
  });

  it('gives a corpus smaller than a batch whole, and refuses bad sizes', () => {
    const pairs = mixedPairs(5, 4);
    expect(new PairSampler(pairs, { batchSize: 32 }).nextBatch(new Rng(0)).B).toBe(5);
    expectUserError(() => new PairSampler(pairs, { batchSize: 0 }), /batch_size \(0\)/);
    expectUserError(() => new PairSampler([], { batchSize: 4 }), /no training pairs/);
  });

  it('iterates held-out pairs once each, in batches of similar lengths', () => {
    const pairs = mixedPairs(103, 5);
    const seen: number[] = [];
    let batches = 0;
    for (const { batch, indices } of pairBatchesInOrder(pairs, 10)) {
      batches++;
      indices.forEach((i, row) => expect(Array.from(batch.src.subarray(row * batch.S, row * batch.S + pairs[i].src.length))).toEqual(Array.from(pairs[i].src)));
      seen.push(...indices);
    }
    expect(batches).toBe(11);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
  });
});
