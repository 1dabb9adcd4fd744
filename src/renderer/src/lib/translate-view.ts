// The Translate view's attention map: which matrix to draw for a translation (cross, decoder self,
// encoder self; one head or the heads' average), its row and column tokens, and which cells the
// masks hide (the decoder's future, the source's padding), drawn as masked rather than as 0.

export type MapKind = 'cross' | 'decoderSelf' | 'encoderSelf';

export const MAP_KINDS: readonly { id: MapKind; label: string }[] = [
  { id: 'cross', label: 'Cross-attention (target × source)' },
  { id: 'decoderSelf', label: 'Decoder self-attention (target × target)' },
  { id: 'encoderSelf', label: 'Encoder self-attention (source × source)' },
];

export interface TranslatedOutput {
  tokens: { token: string }[];
  attention: { cross: number[][][][]; decoderSelf: number[][][][]; encoderSelf: number[][][][] } | null;
}

export interface AttentionPicture {
  matrix: number[][];
  /** 1 = hidden by a mask (striped in the grid), 0 = a real weight. */
  masked: number[][];
  rowLabels: string[];
  colLabels: string[];
  /** What the rows and columns are, for the caption. */
  rows: string;
  columns: string;
  /** The tensor's shape as the lesson prints it, e.g. `(1, 4, 6, 5)` (batch, heads, queries, keys). */
  shape: string;
}

/** Head `head` of a layer's [head][row][col] maps, or (head < 0) their mean, cell by cell. */
export function headOrAverage(heads: readonly (readonly (readonly number[])[])[], head: number): number[][] {
  if (head >= 0) return heads[head].map((row) => [...row]);
  const n = heads.length;
  return heads[0].map((row, r) => row.map((_, c) => heads.reduce((s, h) => s + h[r][c], 0) / n));
}

/** The decoder's input tokens for an output: <bos>, then the output's tokens but the last. */
export function decoderInputs(output: TranslatedOutput): string[] {
  return ['<bos>', ...output.tokens.slice(0, -1).map((t) => t.token)];
}

/** The picture of one map of one output; null when the output carries no maps. */
export function attentionPicture(
  output: TranslatedOutput,
  sourceTokens: readonly string[],
  sourcePadding: readonly boolean[],
  kind: MapKind,
  layer: number,
  head: number,
): AttentionPicture | null {
  const layers = output.attention?.[kind];
  if (!layers || layers.length === 0) return null;
  const l = Math.min(layer, layers.length - 1);
  const heads = layers[l];
  const matrix = headOrAverage(heads, head < heads.length ? head : -1);
  const inputs = decoderInputs(output);
  const outputs = output.tokens.map((t) => t.token);
  const padCol = (_: number, c: number) => (sourcePadding[c] ? 1 : 0);
  const shape = (rows: number, cols: number) => `(1, ${heads.length}, ${rows}, ${cols})`;
  if (kind === 'cross') {
    return {
      matrix,
      masked: matrix.map((row) => row.map(padCol)),
      rowLabels: outputs,
      colLabels: [...sourceTokens],
      rows: 'the output token each decoder step chose',
      columns: 'the source tokens (the encoder’s output)',
      shape: shape(matrix.length, sourceTokens.length),
    };
  }
  if (kind === 'decoderSelf') {
    return {
      matrix,
      masked: matrix.map((row, r) => row.map((_, c) => (c > r ? 1 : 0))),
      rowLabels: inputs,
      colLabels: inputs,
      rows: 'the token the decoder was fed at each step',
      columns: 'the tokens fed so far (later ones are masked)',
      shape: shape(matrix.length, matrix.length),
    };
  }
  return {
    matrix,
    masked: matrix.map((row) => row.map(padCol)),
    rowLabels: [...sourceTokens],
    colLabels: [...sourceTokens],
    rows: 'each source token reading the source',
    columns: 'every source token (padding masked)',
    shape: shape(sourceTokens.length, sourceTokens.length),
  };
}
