// The Embeddings view's neighbour list and raw-rows table: turning what a reader types into a
// token, which tokens the rows table starts with, and how a similarity is drawn.

/** Marks the views draw for whitespace, read back: a reader can type “␣” for a space. */
const TYPED: Record<string, string> = { '␣': ' ', '⏎': '\n', '⇥': '\t', '␍': '\r' };

/** The token a typed text names: the whitespace marks read back as whitespace; nothing else changes. */
export function tokenFromInput(text: string): string {
  return [...text].map((ch) => TYPED[ch] ?? ch).join('');
}

/** The tokens the rows table shows first: the chosen one and its closest `extra` neighbours. */
export function defaultRowTokens(chosen: string, neighbours: readonly { token: string }[], extra = 3): string[] {
  return [chosen, ...neighbours.slice(0, extra).map((n) => n.token)];
}

/** Adds a token to the rows table or takes it out (at most `max`; the oldest goes first). */
export function toggleRowToken(tokens: readonly string[], token: string, max = 8): string[] {
  if (tokens.includes(token)) return tokens.filter((t) => t !== token);
  const next = [...tokens, token];
  return next.slice(Math.max(0, next.length - max));
}

/** A cosine similarity (−1..1) as a bar: its width in % of a half-bar, and which side of 0. */
export function similarityBar(similarity: number): { width: number; negative: boolean } {
  const s = Number.isFinite(similarity) ? Math.max(-1, Math.min(1, similarity)) : 0;
  return { width: Math.round(Math.abs(s) * 1000) / 10, negative: s < 0 };
}
