import { describe, expect, it } from 'vitest';
import { attentionMaps, embeddingVectors, positionTable, surprise } from '../../src/engine/analysis/inspect';
import { kmeans, toyBlobs, toyGaussian } from '../../src/engine/analysis/kmeans';
import { cosineSimilarity, nearestNeighbours } from '../../src/engine/analysis/neighbours';
import { pca } from '../../src/engine/analysis/pca';
import { splitCorpus } from '../../src/engine/data/corpus';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';

describe('k-means', () => {
  it('follows the lesson step by step on a hand-checked case', () => {
    // points 0, 2, 10, 12 from centroids 0 and 2:
    // it 1: {0} {2,10,12} -> means 0, 8;  it 2: {0,2} {10,12} -> means 1, 11;  it 3: same, nothing moves
    const r = kmeans([[0], [2], [10], [12]], { k: 2, initialCentroids: [[0], [2]] });
    expect(r.iterations.map((i) => Array.from(i.assignments))).toEqual([
      [0, 1, 1, 1],
      [0, 0, 1, 1],
      [0, 0, 1, 1],
    ]);
    expect(r.iterations.map((i) => i.centroids.map((c) => c[0]))).toEqual([
      [0, 2],
      [0, 8],
      [1, 11],
    ]);
    expect(r.iterations[0].inertia).toBe(0 + 0 + 64 + 100);
    expect(r.converged).toBe(true);
    expect(r.centroids.map((c) => c[0])).toEqual([1, 11]);
  });

  it('keeps an empty cluster where it was', () => {
    const r = kmeans([[0], [1]], { k: 2, initialCentroids: [[0.4], [100]] });
    expect(r.centroids.map((c) => c[0])).toEqual([0.5, 100]);
    expect(Array.from(r.assignments)).toEqual([0, 0]);
  });

  it('finds separated blobs (random and k-means++ starts) and stops at max iterations', () => {
    const points = toyBlobs();
    for (const init of ['random', 'kmeans++'] as const) {
      const r = kmeans(points, { k: 3, seed: 4, init });
      const clusters = [0, 1, 2].map((b) => new Set(Array.from(r.assignments.subarray(b * 40, b * 40 + 40))));
      if (init === 'kmeans++') clusters.forEach((c) => expect(c.size).toBe(1));
      expect(r.converged).toBe(true);
    }
    const gauss = toyGaussian(100, 1);
    expect(gauss).toHaveLength(100);
    expect(kmeans(gauss, { k: 3, seed: 1, maxIterations: 1 }).iterations).toHaveLength(1);
    expect(() => kmeans(gauss, { k: 101 })).toThrow('k (101) must be a whole number from 1 to the number of points (100)');
  });
});

describe('nearest neighbours by cosine similarity', () => {
  it('matches a hand computation', () => {
    // a=(1,0,0) b=(1,1,0) c=(0,0,2) d=(-1,0,0):
    // cos(a,b) = 1/(1·√2) = 0.7071…, cos(a,c) = 0/(1·2) = 0, cos(a,d) = −1/(1·1) = −1
    const v = [
      [1, 0, 0],
      [1, 1, 0],
      [0, 0, 2],
      [-1, 0, 0],
    ];
    expect(cosineSimilarity(v[0], v[1])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(cosineSimilarity([3, 4], [6, 8])).toBeCloseTo(1, 12); // same direction, different length
    expect(cosineSimilarity([1, 2], [0, 0])).toBe(0); // a zero vector has no direction
    const n = nearestNeighbours(v, 0, 10);
    expect(n.map((x) => x.index)).toEqual([1, 2, 3]); // itself left out, most similar first
    expect(n[0].similarity).toBeCloseTo(Math.SQRT1_2, 12);
    expect(n[1].similarity).toBe(0);
    expect(n[2].similarity).toBeCloseTo(-1, 12);
    expect(nearestNeighbours(v, 1, 1)).toEqual([{ index: 0, similarity: expect.closeTo(Math.SQRT1_2, 12) }]);
  });

  it('breaks ties by index and refuses an index outside the table', () => {
    expect(
      nearestNeighbours(
        [
          [1, 0],
          [0, 1],
          [0, -1],
          [1, 0],
        ],
        0,
        3,
      ).map((x) => x.index),
    ).toEqual([3, 1, 2]);
    expect(() => nearestNeighbours([[1], [2]], 2, 1)).toThrow('index 2 is outside the 2 vectors');
    expect(() => cosineSimilarity([1], [1, 2])).toThrow('one length');
  });
});

describe('PCA', () => {
  it('recovers the principal axis of stretched data', () => {
    const pts = toyGaussian(400, 2).map(([x, y]) => [3 * x + y * 0.1, 3 * x - y * 0.1, y * 0.5]);
    const r = pca(pts, 2);
    const [u] = r.components;
    expect(Math.abs(u[0])).toBeCloseTo(Math.SQRT1_2, 2);
    expect(Math.abs(u[1])).toBeCloseTo(Math.SQRT1_2, 2);
    expect(r.explained[0]).toBeGreaterThan(0.95);
    expect(r.projected).toHaveLength(400);
  });

  it('projects other points of the space on the same plane as the data (centred on its mean)', () => {
    const pts = toyGaussian(200, 5).map(([x, y]) => [2 * x + 1, y - 3, x - y + 0.5]);
    const r = pca(pts, 2);
    expect(Array.from(r.project(pts[7]))).toEqual(Array.from(r.projected[7]));
    const mean = [0, 1, 2].map((d) => pts.reduce((s, p) => s + p[d] / pts.length, 0));
    for (const x of r.project(mean)) expect(x).toBeCloseTo(0, 9);
    // a step of 2 along the first component lands at (2, 0)
    const along = r.project(mean.map((m, d) => m + 2 * r.components[0][d]));
    expect(along[0]).toBeCloseTo(2, 9);
    expect(along[1]).toBeCloseTo(0, 9);
  });
});

describe('model inspection', () => {
  const corpus = splitCorpus('abcabcabd abcabcabd '.repeat(30));
  const tok = corpus.tokenizer;

  it('attention maps per layer and head are causal rows summing to 1; recurrent models say why not', () => {
    const gpt = new Trainer(resolveTrainConfig('gpt', tok.vocabSize, { n_layer: 2, n_head: 2, n_embd: 8, block_size: 6, seq_len: 6 }), corpus);
    const { tokens, maps } = attentionMaps(gpt.model, tok, 'abcabcabd'); // longer than block_size: the last 6
    expect(tokens.join('')).toBe('abcabd');
    expect(maps).toHaveLength(2);
    expect(maps[0]).toHaveLength(2);
    maps[1][1].forEach((row, i) => {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      row.slice(i + 1).forEach((v) => expect(v).toBe(0));
    });
    expect(embeddingVectors(gpt.model)).toHaveLength(tok.vocabSize);
    const lstm = new Trainer(resolveTrainConfig('lstm', tok.vocabSize, { hidden_size: 4, embedding_dim: 3, seq_len: 4, batch_size: 2 }), corpus);
    expect(() => attentionMaps(lstm.model, tok, 'abc')).toThrow('attention maps need a Transformer; a lstm model has no attention');
    expect(embeddingVectors(lstm.model)[0]).toHaveLength(3);
    gpt.dispose();
    lstm.dispose();
  });

  it('per-character surprise is the cross-entropy of each next character', () => {
    const t = new Trainer(resolveTrainConfig('gru', tok.vocabSize, { hidden_size: 8, embedding_dim: 4, seq_len: 8, batch_size: 4, lr: 2e-2 }), corpus);
    const before = surprise(t.model, tok, 'abcabcabd');
    expect(before.map((s) => s.char).join('')).toBe('bcabcabd');
    for (let i = 0; i < 60; i++) t.trainStep();
    const after = surprise(t.model, tok, 'abcabcabd');
    const mean = (xs: { loss: number }[]) => xs.reduce((s, x) => s + x.loss, 0) / xs.length;
    expect(mean(after)).toBeLessThan(mean(before));
    for (const point of after) {
      expect(point.top).toHaveLength(5);
      const own = point.top.find((g) => g.text === point.char);
      if (own) expect(-Math.log(own.prob)).toBeCloseTo(point.loss, 6); // the same distribution
      expect(point.top[0].prob).toBeGreaterThanOrEqual(point.top[4].prob);
    }
    t.dispose();
  });

  it('gives the sinusoidal table for the heatmap', () => {
    const t = positionTable(4, 6);
    expect(t[0]).toEqual([0, 1, 0, 1, 0, 1]);
    expect(t[1][0]).toBeCloseTo(Math.sin(1), 12);
  });
});
