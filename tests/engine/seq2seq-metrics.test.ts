import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { characterErrorRate, corpusBleu, editDistance, exactMatch, seq2seqMetrics, tokenizeForBleu } from '../../src/engine/eval/seq2seq-metrics';
import { UserError } from '../../src/engine/errors';
import { Rng } from '../../src/engine/rng';

const words = (s: string) => s.split(' ');

describe('exact match and character error rate', () => {
  it('counts whole-string matches', () => {
    expect(exactMatch(['a', 'b', 'c'], ['a', 'x', 'c'])).toBeCloseTo(2 / 3, 15);
    expect(exactMatch([], [])).toBe(0);
    expect(() => exactMatch(['a'], ['a', 'b'])).toThrow(/1 outputs but 2 references/);
  });

  it('computes the Levenshtein distance', () => {
    // kitten -> sitting: k→s, e→i, insert g
    expect(editDistance([...'kitten'], [...'sitting'])).toBe(3);
    expect(editDistance([...'flaw'], [...'lawn'])).toBe(2);
    expect(editDistance([], [...'abc'])).toBe(3);
    expect(editDistance([...'abc'], [])).toBe(3);
    expect(editDistance([...'same'], [...'same'])).toBe(0);
  });

  it('divides total edits by total reference characters (corpus level, not a mean of rates)', () => {
    // 3 edits over "sitting" (7) and 1 over "abd" (3): 4 / 10, where the mean of rates would be (3/7 + 1/3) / 2
    const r = characterErrorRate(['kitten', 'abc'], ['sitting', 'abd']);
    expect(r).toEqual({ cer: 0.4, edits: 4, referenceChars: 10 });
    // a character outside the BMP counts once
    expect(characterErrorRate(['a😀'], ['a😁']).cer).toBe(0.5);
    expect(characterErrorRate([''], ['']).cer).toBe(0);
  });
});

describe('corpus BLEU', () => {
  it('matches a worked 4-gram example', () => {
    // hyp "the cat sat on the mat", ref "the cat sat on a mat" (c = r = 6, BP = 1)
    // 1-grams: the×2 clipped to 1, cat, sat, on, mat → 5/6
    // 2-grams: the cat, cat sat, sat on | on the, the mat → 3/5
    // 3-grams: the cat sat, cat sat on | sat on the, on the mat → 2/4
    // 4-grams: the cat sat on | cat sat on the, sat on the mat → 1/3
    // BLEU = (5/6 · 3/5 · 1/2 · 1/3)^(1/4) = (1/12)^(1/4)
    const r = corpusBleu(['the cat sat on the mat'], ['the cat sat on a mat']);
    expect(r.matches).toEqual([5, 3, 2, 1]);
    expect(r.totals).toEqual([6, 5, 4, 3]);
    expect(r.brevityPenalty).toBe(1);
    expect(r.bleu).toBeCloseTo(Math.pow(1 / 12, 0.25), 14);
    expect(r.bleu).toBeCloseTo(0.537284965911771, 12);
  });

  it('applies the brevity penalty exp(1 − r/c) when the output is shorter', () => {
    // every n-gram matches, c = 4, r = 6: BP = exp(1 − 6/4) = exp(−0.5)
    const r = corpusBleu(['the cat sat on'], ['the cat sat on the mat']);
    expect(r.precisions).toEqual([1, 1, 1, 1]);
    expect(r.brevityPenalty).toBeCloseTo(Math.exp(-0.5), 15);
    expect(r.bleu).toBeCloseTo(0.6065306597126334, 14);
    // longer outputs are not penalised (precision already is)
    expect(corpusBleu(['a b c d e'], ['a b c d']).brevityPenalty).toBe(1);
  });

  it('clips counts as in Papineni et al. (2002): "the the the the the the the" has unigram precision 2/7', () => {
    const candidate = 'the the the the the the the';
    const references = ['the cat is on the mat', 'there is a cat on the mat'];
    const r = corpusBleu([candidate], [references]);
    expect(r.matches[0]).toBe(2);
    expect(r.precisions[0]).toBeCloseTo(2 / 7, 15);
    expect(r.bleu).toBe(0); // no bigram matches, and there is no smoothing
    // r is the closest reference length: 7 (the second reference), so BLEU-1 has BP 1
    const unigram = corpusBleu([candidate], [references], { maxOrder: 1 });
    expect(unigram.referenceLength).toBe(7);
    expect(unigram.bleu).toBeCloseTo(2 / 7, 15);
  });

  it("reproduces NLTK's documented values (bleu_score.py docstrings)", () => {
    const hyp1 = 'It is a guide to action which ensures that the military always obeys the commands of the party';
    const ref1a = 'It is a guide to action that ensures that the military will forever heed Party commands';
    const ref1b = 'It is the guiding principle which guarantees the military forces always being under the command of the Party';
    const ref1c = 'It is the practical guide for the army always to heed the directions of the party';
    const hyp2 = 'he read the book because he was interested in world history';
    const ref2a = 'he was interested in world history because he read the book';
    // sentence_bleu([ref1a, ref1b, ref1c], hyp1) == 0.5045666840058485
    expect(corpusBleu([hyp1], [[ref1a, ref1b, ref1c]]).bleu).toBeCloseTo(0.5045666840058485, 14);
    // corpus_bleu([[ref1a, ref1b, ref1c], [ref2a]], [hyp1, hyp2]) == 0.5920778868801042
    expect(corpusBleu([hyp1, hyp2], [[ref1a, ref1b, ref1c], [ref2a]]).bleu).toBeCloseTo(0.5920778868801042, 14);
  });

  it('sums n-gram counts over the corpus before dividing', () => {
    // pair 1 all right (4, 3, 2, 1 of 4, 3, 2, 1); pair 2 last word wrong (3, 2, 1, 0 of 4, 3, 2, 1)
    // p = 7/8, 5/6, 3/4, 1/2 (pair 2 alone would score 0), c = r = 8
    const r = corpusBleu(['a b c d', 'x y z w'], ['a b c d', 'x y z q']);
    expect(r.matches).toEqual([7, 5, 3, 1]);
    expect(r.bleu).toBeCloseTo(Math.pow((7 / 8) * (5 / 6) * (3 / 4) * (1 / 2), 0.25), 15);
  });

  it('tokenizes on whitespace or into characters', () => {
    expect(tokenizeForBleu('  two   words\n', 'whitespace')).toEqual(['two', 'words']);
    expect(tokenizeForBleu('   ', 'whitespace')).toEqual([]);
    expect(tokenizeForBleu('ab c', 'char')).toEqual(['a', 'b', ' ', 'c']);
    // "abcd" vs "abce" by characters, up to 3-grams: (3/4 · 2/3 · 1/2)^(1/3) = (1/4)^(1/3)
    expect(corpusBleu(['abcd'], ['abce'], { tokenize: 'char', maxOrder: 3 }).bleu).toBeCloseTo(Math.cbrt(1 / 4), 15);
    // as one word each, nothing matches
    expect(corpusBleu(['abcd'], ['abce'], { maxOrder: 1 }).bleu).toBe(0);
  });

  it('handles the edge cases: identical, empty, shorter than four tokens', () => {
    expect(corpusBleu(['a b c d e'], ['a b c d e']).bleu).toBe(1);
    expect(corpusBleu([''], ['a b c d']).bleu).toBe(0);
    expect(corpusBleu(['a b c'], ['a b c']).bleu).toBe(0); // no 4-grams at all: NLTK and sacrebleu (unsmoothed) give 0 too
    expect(() => corpusBleu(['a'], [[]])).toThrow(UserError);
    expect(() => corpusBleu(['a'], ['a'], { maxOrder: 0 })).toThrow(/maximum n-gram order \(0\)/);
  });

  it('bundles the three metrics', () => {
    const m = seq2seqMetrics(['2024-03-03', '1999-12-31'], ['2024-03-03', '1999-12-30'], { tokenize: 'char' });
    expect(m.exact_match).toBe(0.5);
    expect(m.cer).toBeCloseTo(1 / 20, 15);
    expect(m.bleu).toBeGreaterThan(0.8);
    expect(m.pairs).toBe(2);
  });
});

// NLTK agrees on random corpora, when it is installed (the suite never installs it).
const nltk = spawnSync('/usr/bin/python3', ['-c', 'import nltk'], { encoding: 'utf8' });
const nltkMissing = nltk.error ? `python3 not runnable (${nltk.error.message})` : nltk.status !== 0 ? 'python3 has no nltk module' : null;
if (nltkMissing) console.log(`seq2seq-metrics: skipping the NLTK comparison: ${nltkMissing}`);

describe.skipIf(nltkMissing !== null)("corpus BLEU against NLTK's corpus_bleu", () => {
  it('agrees on random word corpora with one or two references', () => {
    const rng = new Rng(5);
    const vocab = words('a b c d e f g h');
    const sentence = () => Array.from({ length: 3 + rng.int(10) }, () => vocab[rng.int(vocab.length)]).join(' ');
    const cases = Array.from({ length: 20 }, () => {
      const hypotheses = Array.from({ length: 5 }, sentence);
      const references = hypotheses.map(() => (rng.int(2) ? [sentence()] : [sentence(), sentence()]));
      return { hypotheses, references };
    });
    const script = [
      'import json, sys',
      'from nltk.translate.bleu_score import corpus_bleu',
      'out = []',
      'for case in json.load(sys.stdin):',
      '    refs = [[r.split() for r in rs] for rs in case["references"]]',
      '    hyps = [h.split() for h in case["hypotheses"]]',
      '    out.append(corpus_bleu(refs, hyps))',
      'print(json.dumps(out))',
    ].join('\n');
    const run = spawnSync('/usr/bin/python3', ['-W', 'ignore', '-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const expected = JSON.parse(run.stdout) as number[];
    cases.forEach((c, i) => expect(corpusBleu(c.hypotheses, c.references).bleu).toBeCloseTo(expected[i], 12));
  });
});
