// "Closer vectors, similar words": the tokens whose embedding points the same way as a chosen
// one, by cosine similarity on the full vectors (a 2-D projection would invent neighbours).

/** cos θ = a·b / (|a| |b|), in −1..1; 0 when either vector is all zeros (it has no direction). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine similarity needs vectors of one length (got ${a.length} and ${b.length})`);
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}

export interface Neighbour {
  /** Row of the vector in the table it came from (the token id for an embedding table). */
  index: number;
  similarity: number;
}

/** The `count` vectors most similar to vectors[index] (itself left out), most similar first; ties by index. */
export function nearestNeighbours(vectors: readonly ArrayLike<number>[], index: number, count: number): Neighbour[] {
  if (!Number.isInteger(index) || index < 0 || index >= vectors.length) throw new Error(`index ${index} is outside the ${vectors.length} vectors`);
  const query = vectors[index];
  const all: Neighbour[] = [];
  vectors.forEach((v, i) => {
    if (i !== index) all.push({ index: i, similarity: cosineSimilarity(query, v) });
  });
  all.sort((x, y) => y.similarity - x.similarity || x.index - y.index);
  return all.slice(0, Math.max(0, count));
}
