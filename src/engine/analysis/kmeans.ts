import { Rng } from '../rng';

// k-means as the seed lesson teaches it: start from k points drawn at random from the data (or
// k-means++), assign every point to its nearest centroid (Euclidean), move every centroid to the
// mean of its points, and stop when no centroid moves or after maxIterations. Every iteration is
// returned, so a view can step through or animate it.

export interface KMeansOptions {
  k: number;
  maxIterations?: number;
  seed?: number;
  init?: 'random' | 'kmeans++';
  /** Explicit starting centroids (k of them), instead of drawing them. */
  initialCentroids?: ArrayLike<number>[];
}

export interface KMeansIteration {
  /** Centroids used for this iteration's assignment, k × dim. */
  centroids: Float64Array[];
  /** Cluster of every point under those centroids. */
  assignments: Int32Array;
  /** Sum of squared distances of points to their centroid. */
  inertia: number;
}

export interface KMeansResult {
  iterations: KMeansIteration[];
  centroids: Float64Array[];
  assignments: Int32Array;
  converged: boolean;
}

function dist2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

function initialCentroids(points: ArrayLike<number>[], k: number, init: 'random' | 'kmeans++', rng: Rng): Float64Array[] {
  if (init === 'random') {
    // k distinct points, drawn without replacement (partial Fisher–Yates)
    const order = Array.from(points.keys());
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(order.length - i);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order.slice(0, k).map((i) => Float64Array.from(points[i]));
  }
  const centroids = [Float64Array.from(points[rng.int(points.length)])];
  const d = points.map((p) => dist2(p, centroids[0]));
  while (centroids.length < k) {
    const total = d.reduce((a, b) => a + b, 0);
    let pick = 0;
    if (total > 0) {
      let u = rng.random() * total;
      while (pick < points.length - 1 && u >= d[pick]) u -= d[pick++];
    } else {
      pick = rng.int(points.length);
    }
    const c = Float64Array.from(points[pick]);
    centroids.push(c);
    points.forEach((p, i) => (d[i] = Math.min(d[i], dist2(p, c))));
  }
  return centroids;
}

export function kmeans(points: ArrayLike<number>[], options: KMeansOptions): KMeansResult {
  const { k } = options;
  const maxIterations = options.maxIterations ?? 100;
  if (points.length === 0) throw new Error('k-means needs at least one point');
  if (!Number.isInteger(k) || k < 1 || k > points.length) throw new Error(`k (${k}) must be a whole number from 1 to the number of points (${points.length})`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new Error(`max iterations (${maxIterations}) must be a positive whole number`);
  const dim = points[0].length;
  if (points.some((p) => p.length !== dim)) throw new Error('k-means: every point needs the same number of dimensions');
  const rng = new Rng(options.seed ?? 0);
  if (options.initialCentroids && (options.initialCentroids.length !== k || options.initialCentroids.some((c) => c.length !== dim))) {
    throw new Error(`initial centroids: expected ${k} of dimension ${dim}`);
  }
  let centroids = options.initialCentroids
    ? options.initialCentroids.map((c) => Float64Array.from(c))
    : initialCentroids(points, k, options.init ?? 'random', rng);
  const iterations: KMeansIteration[] = [];
  let converged = false;
  for (let it = 0; it < maxIterations; it++) {
    const assignments = new Int32Array(points.length);
    let inertia = 0;
    points.forEach((p, i) => {
      let best = 0,
        bestD = Infinity;
      centroids.forEach((c, j) => {
        const dd = dist2(p, c);
        if (dd < bestD) {
          bestD = dd;
          best = j;
        }
      });
      assignments[i] = best;
      inertia += bestD;
    });
    iterations.push({ centroids: centroids.map((c) => c.slice()), assignments, inertia });
    const sums = centroids.map(() => new Float64Array(dim));
    const counts = new Int32Array(k);
    points.forEach((p, i) => {
      counts[assignments[i]]++;
      for (let d = 0; d < dim; d++) sums[assignments[i]][d] += p[d];
    });
    // an empty cluster keeps its centroid (it may win points back as the others move)
    const next = centroids.map((c, j) => (counts[j] === 0 ? c.slice() : sums[j].map((s) => s / counts[j])));
    const moved = next.some((c, j) => dist2(c, centroids[j]) > 0);
    centroids = next;
    if (!moved) {
      converged = true;
      break;
    }
  }
  const last = iterations[iterations.length - 1];
  return { iterations, centroids: last.centroids, assignments: last.assignments, converged };
}

/** The lesson's toy data: n points from a standard normal in 2-D. */
export function toyGaussian(n = 100, seed = 0): Float64Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Float64Array.from([rng.normal(), rng.normal()]));
}

/** A few well-separated blobs in 2-D, for seeing k-means find real clusters. */
export function toyBlobs(
  centers: [number, number][] = [
    [-4, -4],
    [0, 4],
    [4, -2],
  ],
  perBlob = 40,
  spread = 0.8,
  seed = 0,
): Float64Array[] {
  const rng = new Rng(seed);
  return centers.flatMap(([x, y]) => Array.from({ length: perBlob }, () => Float64Array.from([x + spread * rng.normal(), y + spread * rng.normal()])));
}
