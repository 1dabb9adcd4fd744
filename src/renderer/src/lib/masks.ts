// The masks of the encoder–decoder lesson, built exactly as the lesson builds them (1 = masked),
// on small tensors a learner types: padding, look-ahead, their combination by `max` with
// broadcasting, and their effect on one attention map (scores + mask · −1e9, then softmax). Also
// the lesson's own pitfall: a look-ahead helper that returns `mask == 0` (1 = keep) combined with
// a padding mask that uses 1 = masked.
import { attentionRgb, type Rgb } from './colors';
import { heatmapOption } from './heatmap';
import { visibleText } from './sampling-view';

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
export const SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>', '<unk>'] as const;
/** What a mask adds to a masked score, as the lesson does: `scores + mask * -1e9`. */
export const MASK_VALUE = -1e9;
/** Longest sequence the explorer takes: the grids stay readable at 1280 px. */
export const MAX_CHARS = 12;

/** A row-major tensor: `data[i]` is the element at the i-th index in C order. */
export interface Tensor {
  shape: number[];
  data: number[];
}

/** A shape as the lesson prints it: `(2, 1, 1, 5)`. */
export function formatShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

function size(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Strides of a row-major tensor of `shape`. */
function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** The broadcast shape of two shapes (NumPy / PyTorch rules: align on the right, 1 stretches). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast: ${da} against ${db}`);
    out.push(Math.max(da, db));
  }
  return out;
}

/** `fn(a, b)` element by element, with broadcasting (as `torch.max(a, b)` or `a + b` do). */
export function broadcastBinary(a: Tensor, b: Tensor, fn: (x: number, y: number) => number): Tensor {
  const shape = broadcastShape(a.shape, b.shape);
  const rank = shape.length;
  // a stretched dimension (size 1) reads the same element again: stride 0
  const stridesFor = (t: Tensor) => {
    const own = strides(t.shape);
    return shape.map((_, i) => {
      const k = t.shape.length - rank + i;
      return k < 0 || t.shape[k] === 1 ? 0 : own[k];
    });
  };
  const sa = stridesFor(a);
  const sb = stridesFor(b);
  const n = size(shape);
  const data = new Array<number>(n);
  const index = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    data[i] = fn(a.data[ia], b.data[ib]);
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return { shape, data };
}

/**
 * The trailing (rows × columns) matrix of a tensor at the leading index `lead` (e.g. [b, 0] for
 * a (B, 1, T, T) mask); a size-1 leading dimension is read at 0 whatever `lead` says there.
 */
export function matrixAt(t: Tensor, lead: readonly number[] = []): number[][] {
  const rank = t.shape.length;
  const rows = rank >= 2 ? t.shape[rank - 2] : 1;
  const cols = t.shape[rank - 1] ?? 1;
  const st = strides(t.shape);
  let offset = 0;
  for (let d = 0; d < rank - 2; d++) offset += (t.shape[d] === 1 ? 0 : (lead[d] ?? 0)) * st[d];
  return Array.from({ length: rows }, (_, r) => t.data.slice(offset + r * cols, offset + (r + 1) * cols));
}

/** A character vocabulary: the four special tokens, then the distinct characters in code-point order. */
export function charVocabulary(texts: readonly string[]): string[] {
  const chars = [...new Set(texts.flatMap((t) => [...t]))].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return [...SPECIAL_TOKENS, ...chars];
}

/** Ids of a text's characters (`<unk>` for a character outside the vocabulary). */
export function encodeChars(text: string, vocabulary: readonly string[]): number[] {
  return [...text].map((c) => {
    const id = vocabulary.indexOf(c, SPECIAL_TOKENS.length);
    return id < 0 ? UNK_ID : id;
  });
}

/** Rows padded at the end with `<pad>` (0) to the longest: a (B, L) batch. */
export function padBatch(rows: readonly (readonly number[])[]): number[][] {
  const length = Math.max(0, ...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...new Array<number>(length - r.length).fill(PAD_ID)]);
}

/** `(seq == 0).unsqueeze(1).unsqueeze(2)`: (B, L) → (B, 1, 1, L), 1 where the token is padding. */
export function paddingMask(ids: readonly (readonly number[])[]): Tensor {
  const length = ids[0]?.length ?? 0;
  return { shape: [ids.length, 1, 1, length], data: ids.flatMap((row) => row.map((id) => (id === PAD_ID ? 1 : 0))) };
}

/** `torch.triu(torch.ones(T, T), diagonal=1)` as (1, T, T): 1 above the diagonal, the future. */
export function lookAheadMask(T: number): Tensor {
  const data: number[] = [];
  for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) data.push(k > q ? 1 : 0);
  return { shape: [1, T, T], data };
}

/**
 * The lesson's own helper: `mask = torch.triu(torch.ones(T, T), diagonal=1); return mask == 0`.
 * It returns 1 = KEEP (the past and the diagonal), the opposite of the padding mask's 1 = masked.
 */
export function lessonLookAheadMask(T: number): Tensor {
  const right = lookAheadMask(T);
  return { shape: right.shape, data: right.data.map((m) => (m === 0 ? 1 : 0)) };
}

/** `torch.max(padding, look_ahead)`: (B, 1, 1, T) with (1, T, T) broadcasts to (B, 1, T, T). */
export function combineMasks(padding: Tensor, lookAhead: Tensor): Tensor {
  return broadcastBinary(padding, lookAhead, Math.max);
}

/** Cells (same shape, 1 where they differ) of two masks of one shape. */
export function differingCells(a: Tensor, b: Tensor): Tensor {
  if (formatShape(a.shape) !== formatShape(b.shape)) throw new Error(`masks of shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} cannot be compared`);
  return { shape: a.shape, data: a.data.map((x, i) => (x === b.data[i] ? 0 : 1)) };
}

export function countOnes(t: Tensor): number {
  return t.data.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0);
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32): the same seed, the same numbers. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A d-vector of standard normal numbers for (seed, batch row, position): a position keeps its vector as the text grows. */
function normalVector(seed: number, row: number, position: number, d: number): number[] {
  const next = mulberry32(Math.imul(seed, 0x9e3779b1) ^ Math.imul(row + 1, 0x85ebca6b) ^ Math.imul(position + 1, 0xc2b2ae35));
  return Array.from({ length: d }, () => {
    const u = 1 - next(); // (0, 1]: the logarithm stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  });
}

/**
 * Illustrative attention scores Q·Kᵀ / √d of shape (B, 1, Tq, Tk) (one head): Q and K are fixed
 * random normal vectors (seeded, not a trained model), so the page shows the same numbers every time.
 */
export function illustrativeScores(batch: number, queries: number, keys: number, d = 8, seed = 7): Tensor {
  const data: number[] = [];
  for (let b = 0; b < batch; b++) {
    const K = Array.from({ length: keys }, (_, k) => normalVector(seed + 1, b, k, d));
    for (let q = 0; q < queries; q++) {
      const Q = normalVector(seed, b, q, d);
      for (const key of K) data.push(Q.reduce((s, x, i) => s + x * key[i], 0) / Math.sqrt(d));
    }
  }
  return { shape: [batch, 1, queries, keys], data };
}

/**
 * `scores + mask * -1e9`, in float32 as PyTorch computes it: a masked score becomes −1e9 exactly
 * (float32 cannot hold −1e9 + 0.37), which the softmax turns into a weight of 0.
 */
export function applyMask(scores: Tensor, mask: Tensor): Tensor {
  return broadcastBinary(scores, mask, (s, m) => Math.fround(Math.fround(s) + Math.fround(m * MASK_VALUE)));
}

/** Softmax over the last dimension. A row with every cell masked comes out uniform, masked cells included. */
export function softmaxLastDim(t: Tensor): Tensor {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  const data = new Array<number>(t.data.length);
  for (let start = 0; start < t.data.length; start += cols) {
    const row = t.data.slice(start, start + cols);
    const max = Math.max(...row);
    const exps = row.map((x) => Math.exp(x - max));
    const sum = exps.reduce((s, x) => s + x, 0);
    exps.forEach((e, i) => (data[start + i] = e / sum));
  }
  return { shape: [...t.shape], data };
}

export interface SideBatch {
  /** The typed texts, one per batch row. */
  texts: string[];
  vocabulary: string[];
  /** Token names per row, padded (`<pad>` for padding). */
  tokens: string[][];
  /** (B, L) ids, padded with 0. */
  ids: number[][];
}

export interface MaskBatch {
  source: SideBatch;
  /** The whole target: `<bos>` + characters + `<eos>`, padded. */
  target: SideBatch;
  /** What the decoder reads in training (teacher forcing): `tgt[:, :-1]`; the target mask is built for it. */
  decoderInput: SideBatch;
  /** (B, 1, 1, S): encoder self-attention and cross-attention. */
  sourceMask: Tensor;
  /** (B, 1, 1, T) of the decoder input. */
  targetPaddingMask: Tensor;
  /** (1, T, T). */
  lookAhead: Tensor;
  /** max(target padding, look-ahead): (B, 1, T, T). */
  targetMask: Tensor;
  /** The pitfall: the lesson's look-ahead (1 = keep) combined with the padding mask (1 = masked). */
  lessonLookAhead: Tensor;
  wrongTargetMask: Tensor;
  /** 1 where the wrong target mask differs from the right one. */
  wrongCells: Tensor;
}

function side(texts: string[], ids: number[][], vocabulary: string[]): SideBatch {
  const padded = padBatch(ids);
  return { texts, vocabulary, ids: padded, tokens: padded.map((row) => row.map((id) => vocabulary[id] ?? '<unk>')) };
}

/** Why a typed sequence cannot be used, or null. */
export function sequenceProblem(text: string): string | null {
  const n = [...text].length;
  if (n === 0) return 'Type at least one character: an empty row would be all padding, and every one of its scores would be masked.';
  if (n > MAX_CHARS) return `At most ${MAX_CHARS} characters (this one has ${n}), so the grids stay readable.`;
  return null;
}

/** Every mask of the lesson for a batch of (source, target) texts, char-tokenized with separate vocabularies. */
export function buildMaskBatch(sources: string[], targets: string[]): MaskBatch {
  const problem = [...sources, ...targets].map(sequenceProblem).find((p) => p !== null);
  if (problem) throw new Error(problem);
  const sourceVocabulary = charVocabulary(sources);
  const targetVocabulary = charVocabulary(targets);
  const source = side(
    sources,
    sources.map((s) => encodeChars(s, sourceVocabulary)),
    sourceVocabulary,
  );
  const targetIds = targets.map((t) => [BOS_ID, ...encodeChars(t, targetVocabulary), EOS_ID]);
  const target = side(targets, targetIds, targetVocabulary);
  // teacher forcing: the decoder reads the padded target without its last column
  const inputIds = target.ids.map((row) => row.slice(0, -1));
  const decoderInput: SideBatch = {
    texts: targets,
    vocabulary: targetVocabulary,
    ids: inputIds,
    tokens: inputIds.map((r) => r.map((id) => targetVocabulary[id])),
  };
  const T = inputIds[0].length;
  const sourceMask = paddingMask(source.ids);
  const targetPadding = paddingMask(inputIds);
  const lookAhead = lookAheadMask(T);
  const targetMask = combineMasks(targetPadding, lookAhead);
  const lessonLookAhead = lessonLookAheadMask(T);
  const wrongTargetMask = combineMasks(targetPadding, lessonLookAhead);
  return {
    source,
    target,
    decoderInput,
    sourceMask,
    targetPaddingMask: targetPadding,
    lookAhead,
    targetMask,
    lessonLookAhead,
    wrongTargetMask,
    wrongCells: differingCells(targetMask, wrongTargetMask),
  };
}

export type AttentionKind = 'encoder' | 'decoder' | 'cross';

export interface AttentionStages {
  kind: AttentionKind;
  /** Query and key token names of the chosen batch row. */
  queries: string[];
  keys: string[];
  /** The mask as the scores see it after broadcasting, (Tq × Tk) for the chosen row. */
  mask: number[][];
  maskName: string;
  maskShape: string;
  scoresShape: string;
  scores: number[][];
  masked: number[][];
  weights: number[][];
}

/**
 * One attention map of batch row `row` at each stage: the scores, the mask broadcast over them,
 * scores + mask · −1e9, and the softmax. Encoder self-attention and cross-attention take the
 * source padding mask; decoder self-attention takes the target mask (or the pitfall's `wrong` one).
 */
export function attentionStages(batch: MaskBatch, kind: AttentionKind, row: number, wrong = false): AttentionStages {
  const queriesSide = kind === 'encoder' ? batch.source : batch.decoderInput;
  const keysSide = kind === 'decoder' ? batch.decoderInput : batch.source;
  const mask = kind === 'decoder' ? (wrong ? batch.wrongTargetMask : batch.targetMask) : batch.sourceMask;
  const B = queriesSide.ids.length;
  const Tq = queriesSide.ids[0].length;
  const Tk = keysSide.ids[0].length;
  const seed = { encoder: 11, decoder: 23, cross: 37 }[kind];
  const scores = illustrativeScores(B, Tq, Tk, 8, seed);
  const masked = applyMask(scores, mask);
  const weights = softmaxLastDim(masked);
  const broadcastMask = broadcastBinary(scores, mask, (_, m) => m);
  const lead = [row, 0];
  return {
    kind,
    queries: queriesSide.tokens[row],
    keys: keysSide.tokens[row],
    mask: matrixAt(broadcastMask, lead),
    maskName: kind === 'decoder' ? (wrong ? 'wrong target mask' : 'target mask') : 'source padding mask',
    maskShape: formatShape(mask.shape),
    scoresShape: formatShape(scores.shape),
    scores: matrixAt(scores, lead),
    masked: matrixAt(masked, lead),
    weights: matrixAt(weights, lead),
  };
}

export type CellKind = 'mask' | 'score' | 'weight';

/** A cell's text in a grid: a mask's 0/1, a score to 2 decimals (−1e9 once masked), a weight to 2 decimals. */
export function formatCell(kind: CellKind, value: number): string {
  if (kind === 'mask') return value === 0 ? '0' : '1';
  if (kind === 'score' && value <= MASK_VALUE / 10) return '−1e9';
  const text = value.toFixed(2);
  return text.startsWith('-') ? (/^-0\.00$/.test(text) ? '0.00' : `−${text.slice(1)}`) : text;
}

const MASKED_RGB: Rgb = [174, 182, 192];
const KEPT_RGB: Rgb = [255, 255, 255];

/**
 * A mask or attention-weight grid as a picture (the ECharts option `saveChartPng` draws, and its
 * size, room for `title` and `subtitle` included): the page's heatmap with each cell's text written in, masked cells grey. Scores are not
 * drawn: a −1e9 has no place on a colour scale.
 */
export function gridPicture(
  kind: Exclude<CellKind, 'score'>,
  matrix: number[][],
  rowLabels: string[],
  colLabels: string[],
  title = '',
  subtitle = '',
): { option: Record<string, unknown>; width: number; height: number } {
  const scale = kind === 'mask' ? (v: number) => (v >= 0.5 ? MASKED_RGB : KEPT_RGB) : attentionRgb;
  const base = heatmapOption({
    matrix,
    xLabels: colLabels.map((t) => (t === '' ? '' : visibleText(t))),
    yLabels: rowLabels.map((t) => (t === '' ? '' : visibleText(t))),
    xName: 'key',
    yName: 'query',
    min: 0,
    max: 1,
    scale,
    tooltip: () => '',
  });
  const series = (base.series as Record<string, unknown>[]).map((one) => ({
    ...one,
    itemStyle: { borderColor: '#dfe3e8', borderWidth: 1 },
    label: {
      show: true,
      fontFamily: 'monospace',
      fontSize: 11,
      color: '#1f2328',
      formatter: (p: { value: [number, number, number] }) => formatCell(kind, p.value[2]),
    },
  }));
  const cols = matrix[0]?.length ?? 0;
  // a mask has no colour legend: its room under the axis name goes
  const bottom = kind === 'mask' ? 48 : 86;
  return {
    option: {
      ...base,
      grid: { ...(base.grid as object), bottom },
      tooltip: { show: false },
      visualMap: { ...(base.visualMap as object), show: kind !== 'mask' },
      series,
    },
    // wide enough for the title lines too (≈ 9.5 px a character at 15 px bold, 6.5 at 11 px)
    width: Math.max(64 + 24 + Math.max(6, cols) * 40, Math.ceil(title.length * 9.5 + 40), Math.ceil(subtitle.length * 6.5 + 40)),
    height: 12 + bottom + Math.max(1, matrix.length) * 28,
  };
}
