// Principal components by power iteration with deflation on the covariance matrix: exact enough
// for a 2-D picture of embedding vectors, and dependency-free.

export interface PcaResult {
  /** Each point projected on the components, n × components. */
  projected: Float64Array[];
  /** Unit component vectors, components × dim. */
  components: Float64Array[];
  /** Variance along each component. */
  variance: number[];
  /** Share of the total variance each component explains. */
  explained: number[];
  /** Any point of the same space on the components (centred on the data's mean): a centroid drawn beside the data. */
  project(point: ArrayLike<number>): Float64Array;
}

export function pca(points: ArrayLike<number>[], components = 2, iterations = 500): PcaResult {
  const n = points.length;
  if (n < 2) throw new Error('PCA needs at least two points');
  const dim = points[0].length;
  if (components < 1 || components > dim) throw new Error(`components (${components}) must be between 1 and the dimension (${dim})`);
  const mean = new Float64Array(dim);
  for (const p of points) for (let d = 0; d < dim; d++) mean[d] += p[d] / n;
  const cov = Array.from({ length: dim }, () => new Float64Array(dim));
  for (const p of points) {
    for (let i = 0; i < dim; i++) {
      const a = p[i] - mean[i];
      for (let j = i; j < dim; j++) cov[i][j] += (a * (p[j] - mean[j])) / (n - 1);
    }
  }
  for (let i = 0; i < dim; i++) for (let j = 0; j < i; j++) cov[i][j] = cov[j][i];
  const total = cov.reduce((s, row, i) => s + row[i], 0);
  const comps: Float64Array[] = [];
  const variance: number[] = [];
  for (let c = 0; c < components; c++) {
    let v = Float64Array.from({ length: dim }, (_, i) => 1 + ((i * 7919) % 13) / 13); // deterministic start
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      const w = new Float64Array(dim);
      for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) w[i] += cov[i][j] * v[j];
      for (const u of comps) {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += w[i] * u[i];
        for (let i = 0; i < dim; i++) w[i] -= dot * u[i];
      }
      const norm = Math.hypot(...w);
      if (norm === 0) break;
      lambda = norm;
      const next = w.map((x) => x / norm);
      const change = next.reduce((s, x, i) => s + Math.abs(x - v[i]), 0);
      v = next;
      if (change < 1e-12) break;
    }
    // sign convention: the largest-magnitude coordinate is positive, so pictures do not flip
    let big = 0;
    for (let i = 1; i < dim; i++) if (Math.abs(v[i]) > Math.abs(v[big])) big = i;
    if (v[big] < 0) v = v.map((x) => -x);
    comps.push(v);
    variance.push(lambda);
  }
  const project = (p: ArrayLike<number>) => Float64Array.from(comps, (u) => u.reduce((s, x, i) => s + x * (p[i] - mean[i]), 0));
  return { projected: points.map(project), components: comps, variance, explained: variance.map((x) => (total > 0 ? x / total : 0)), project };
}
