import { UserError } from '../errors';

// How close decoded outputs are to their references, on the held-out pairs of a seq2seq run:
// exact match (the whole string right), character error rate (how many characters to fix) and
// corpus BLEU (how many n-grams agree, the machine-translation score). All three are corpus-level:
// totals are summed over every pair before dividing, so long and short pairs weigh by their size.

/** How BLEU cuts a string into tokens: on runs of whitespace (words), or into characters (char tasks). */
export type BleuTokenize = 'whitespace' | 'char';

export interface BleuOptions {
  tokenize?: BleuTokenize;
  /** Longest n-gram counted (4 for BLEU-4); the weights are uniform, 1/maxOrder each. */
  maxOrder?: number;
}

export interface BleuResult {
  /** In [0, 1] (sacrebleu prints 100 × this). */
  bleu: number;
  /** Clipped n-gram precision per order, matches[n] / totals[n]. */
  precisions: number[];
  /** Clipped n-gram matches summed over the corpus, for n = 1..maxOrder. */
  matches: number[];
  /** Hypothesis n-grams summed over the corpus, for n = 1..maxOrder. */
  totals: number[];
  brevityPenalty: number;
  /** c: tokens in all hypotheses. */
  hypothesisLength: number;
  /** r: for each pair, the length of the reference closest to the hypothesis (the shorter on a tie), summed. */
  referenceLength: number;
}

export interface CharacterErrorRate {
  /** edits / referenceChars: 0 is perfect; it can exceed 1 when outputs are much longer than references. */
  cer: number;
  edits: number;
  referenceChars: number;
}

export interface Seq2SeqMetrics {
  exact_match: number;
  cer: number;
  bleu: number;
  pairs: number;
}

function checkSameLength(hypotheses: readonly unknown[], references: readonly unknown[]): void {
  if (hypotheses.length !== references.length) {
    throw new UserError(`there are ${hypotheses.length} outputs but ${references.length} references: give one output per reference`);
  }
}

/** The code points of a string (a surrogate pair is one character, as a reader counts it). */
function characters(s: string): string[] {
  return Array.from(s);
}

export function tokenizeForBleu(s: string, tokenize: BleuTokenize): string[] {
  if (tokenize === 'char') return characters(s);
  const trimmed = s.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/u);
}

/** Fraction of outputs equal to their reference, character for character. */
export function exactMatch(hypotheses: readonly string[], references: readonly string[]): number {
  checkSameLength(hypotheses, references);
  if (hypotheses.length === 0) return 0;
  let same = 0;
  for (let i = 0; i < hypotheses.length; i++) if (hypotheses[i] === references[i]) same++;
  return same / hypotheses.length;
}

/** Levenshtein distance: the fewest insertions, deletions and substitutions that turn a into b (one row of the table at a time). */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(substitute, previous[j] + 1, current[j - 1] + 1);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length];
}

/** Corpus-level CER: the edits of every output to its reference, summed, over the reference characters, summed. */
export function characterErrorRate(hypotheses: readonly string[], references: readonly string[]): CharacterErrorRate {
  checkSameLength(hypotheses, references);
  let edits = 0,
    referenceChars = 0;
  for (let i = 0; i < hypotheses.length; i++) {
    const reference = characters(references[i]);
    edits += editDistance(characters(hypotheses[i]), reference);
    referenceChars += reference.length;
  }
  return { cer: referenceChars === 0 ? (edits === 0 ? 0 : Infinity) : edits / referenceChars, edits, referenceChars };
}

/** The n-grams of a token list with their counts; tokens are joined with a separator no token contains. */
function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Corpus BLEU (Papineni et al. 2002) as NLTK's corpus_bleu and sacrebleu compute it without
 * smoothing: for each order n, the hypothesis n-grams that also occur in a reference (each clipped
 * to the most times it occurs in any one reference) are summed over the corpus and divided by all
 * hypothesis n-grams; BLEU = BP · exp(Σ log p_n / N), with BP = exp(1 − r/c) when c ≤ r, else 1.
 * Any order with no match makes BLEU 0 (no smoothing). Each hypothesis may have several references.
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (string | readonly string[])[], options: BleuOptions = {}): BleuResult {
  const { tokenize = 'whitespace', maxOrder = 4 } = options;
  if (!Number.isInteger(maxOrder) || maxOrder < 1)
    throw new UserError(`BLEU's maximum n-gram order (${maxOrder}) must be a whole number ≥ 1: use 4 for BLEU-4`);
  checkSameLength(hypotheses, references);
  const matches = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let hypothesisLength = 0,
    referenceLength = 0;
  for (let i = 0; i < hypotheses.length; i++) {
    const hypothesis = tokenizeForBleu(hypotheses[i], tokenize);
    const refs = (typeof references[i] === 'string' ? [references[i] as string] : (references[i] as readonly string[])).map((r) =>
      tokenizeForBleu(r, tokenize),
    );
    if (refs.length === 0) throw new UserError(`output ${i + 1} has no reference: give every output at least one`);
    const c = hypothesis.length;
    hypothesisLength += c;
    // closest reference length, the shorter one on a tie (NLTK's closest_ref_length)
    let r = refs[0].length;
    for (const ref of refs) if (Math.abs(ref.length - c) < Math.abs(r - c) || (Math.abs(ref.length - c) === Math.abs(r - c) && ref.length < r)) r = ref.length;
    referenceLength += r;
    for (let n = 1; n <= maxOrder; n++) {
      const counts = ngramCounts(hypothesis, n);
      const maxRef = new Map<string, number>();
      for (const ref of refs) for (const [gram, k] of ngramCounts(ref, n)) if (counts.has(gram)) maxRef.set(gram, Math.max(maxRef.get(gram) ?? 0, k));
      for (const [gram, k] of counts) matches[n - 1] += Math.min(k, maxRef.get(gram) ?? 0);
      totals[n - 1] += Math.max(0, c - n + 1);
    }
  }
  const precisions = matches.map((m, n) => (totals[n] === 0 ? 0 : m / totals[n]));
  const c = hypothesisLength,
    r = referenceLength;
  const brevityPenalty = c === 0 ? 0 : c > r ? 1 : Math.exp(1 - r / c);
  const bleu = matches.some((m) => m === 0) ? 0 : brevityPenalty * Math.exp(precisions.reduce((s, p) => s + Math.log(p), 0) / maxOrder);
  return { bleu, precisions, matches, totals, brevityPenalty, hypothesisLength: c, referenceLength: r };
}

/** The three numbers an evaluation logs beside the loss, for decoded outputs and their references. */
export function seq2seqMetrics(hypotheses: readonly string[], references: readonly string[], options: BleuOptions = {}): Seq2SeqMetrics {
  return {
    exact_match: exactMatch(hypotheses, references),
    cer: characterErrorRate(hypotheses, references).cer,
    bleu: corpusBleu(hypotheses, references, options).bleu,
    pairs: hypotheses.length,
  };
}
