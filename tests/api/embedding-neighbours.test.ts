import { describe, expect, it } from 'vitest';
import type { LabApi } from '../../src/main/api/lab-api';
import { openApi, tinyDraft } from './helpers';

// analysis.neighbours and analysis.embeddingRows: the Embeddings view's "closer vectors, similar
// words" and its raw rows, read from a real trained checkpoint.

async function finished(api: LabApi, id: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const run = await api.call('runs.get', { id });
    if (!run.live && run.status !== 'running' && run.status !== 'queued') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${id} did not finish`);
}

/** cos θ written out once more, independently of the engine's. */
function cosine(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot / (Math.hypot(...a) * Math.hypot(...b));
}

describe('embedding neighbours and rows', () => {
  it('ranks every other token by cosine similarity of the full vectors, and gives raw rows', async () => {
    const { api } = openApi();
    const { id } = await api.call('runs.start', tinyDraft());
    await finished(api, id);
    const { vectors, vocab } = api.tokenEmbeddings(id, 'best');

    const r = await api.call('analysis.neighbours', { runId: id, checkpoint: 'best', token: 'e', count: 10 });
    const e = vocab.indexOf('e');
    expect(r).toMatchObject({ token: 'e', index: e, dimension: 16 });
    expect(r.neighbours).toHaveLength(10);
    expect(r.neighbours.some((n) => n.token === 'e')).toBe(false);
    const expected = vocab
      .map((token, i) => ({ token, similarity: cosine(vectors[e], vectors[i]) }))
      .filter((n) => n.token !== 'e')
      .sort((a, b) => b.similarity - a.similarity)
      .slice(0, 10);
    expect(r.neighbours.map((n) => n.token)).toEqual(expected.map((n) => n.token));
    r.neighbours.forEach((n, i) => expect(n.similarity).toBeCloseTo(expected[i].similarity, 10));

    const rows = await api.call('analysis.embeddingRows', { runId: id, checkpoint: 'best', tokens: ['e', ' '], dims: 4 });
    expect(rows.dimension).toBe(16);
    expect(rows.rows.map((x) => x.token)).toEqual(['e', ' ']);
    expect(rows.rows[0].values).toEqual(Array.from(vectors[e].subarray(0, 4)));

    await expect(api.call('analysis.neighbours', { runId: id, checkpoint: 'best', token: '€' })).rejects.toThrow(
      '"€" is not one of this model\'s 65 tokens: type a token it knows, or click a point',
    );
    await expect(api.dispatch('analysis.embeddingRows', { runId: id, checkpoint: 'best', tokens: [], dims: 4 })).rejects.toThrow(/tokens/);
  }, 60_000);
});
