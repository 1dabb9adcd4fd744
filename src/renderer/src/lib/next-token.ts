// The next token's probability bars: the model's logits for the token after the prompt, fetched
// once, reshaped here as the temperature, top-k and top-p sliders move (as Transformer Explainer
// does). The reshaping follows the engine's sampling step exactly (src/engine/sample.ts; a test
// holds them equal): banned ids out, then temperature 0 = greedy, else top-k on the logits (ties
// with the k-th kept), softmax(logits / T), top-p nucleus, renormalise.

export interface ShapeSettings {
  temperature: number;
  topK: number;
  topP: number;
  /** Ids no-repeat-ngram forbids here. */
  banned?: readonly number[];
}

/** softmax(logits / temperature); -Infinity logits get 0. */
function softmax(logits: ArrayLike<number>, temperature: number): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] / temperature;
    out[i] = v === -Infinity ? 0 : Math.exp(v - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** The distribution the next token is drawn from under `settings`. */
export function reshapeDistribution(logits: readonly number[], settings: ShapeSettings): Float64Array {
  const n = logits.length;
  const scaled = Float64Array.from(logits);
  for (const id of settings.banned ?? []) if (id >= 0 && id < n) scaled[id] = -Infinity;
  if (n === 0 || scaled.every((v) => v === -Infinity)) return new Float64Array(n);
  if (settings.temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (scaled[i] > scaled[best]) best = i;
    const onehot = new Float64Array(n);
    onehot[best] = 1;
    return onehot;
  }
  if (settings.topK > 0 && settings.topK < n) {
    const kth = Array.from(scaled).sort((a, b) => b - a)[settings.topK - 1];
    for (let i = 0; i < n; i++) if (scaled[i] < kth) scaled[i] = -Infinity;
  }
  const probs = softmax(scaled, settings.temperature);
  if (settings.topP >= 1) return probs;
  // the smallest most-probable prefix whose mass reaches p (ties: lower id first)
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  const out = new Float64Array(n);
  let before = 0;
  for (const id of order) {
    if (!(before < settings.topP) || probs[id] === 0) break;
    out[id] = probs[id];
    before += probs[id];
  }
  for (let i = 0; i < n; i++) out[i] /= before;
  return out;
}

export interface NextTokenBar {
  id: number;
  text: string;
  /** Under the model as trained: temperature 1, no filters. */
  modelProb: number;
  /** Under the current settings: what the draw uses. */
  prob: number;
  /** Removed by top-k, top-p or greedy decoding (probability 0 now). */
  cut: boolean;
  /** Forbidden by no-repeat-ngram. */
  banned: boolean;
}

export interface NextTokenView {
  bars: NextTokenBar[];
  /** Tokens left with a chance of being drawn, out of the vocabulary. */
  kept: number;
  vocab: number;
}

/** The bars of the most likely tokens (the model's order, which no setting changes) under `settings`. */
export function nextTokenBars(
  next: { logits: readonly number[]; top: readonly { id: number; text: string }[]; banned: readonly number[] },
  settings: ShapeSettings,
): NextTokenView {
  const model = softmax(next.logits, 1);
  const shaped = reshapeDistribution(next.logits, { ...settings, banned: next.banned });
  const banned = new Set(next.banned);
  return {
    bars: next.top.map(({ id, text }) => ({ id, text, modelProb: model[id], prob: shaped[id], cut: shaped[id] === 0, banned: banned.has(id) })),
    kept: shaped.reduce((n, p) => n + (p > 0 ? 1 : 0), 0),
    vocab: next.logits.length,
  };
}
