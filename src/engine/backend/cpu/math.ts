// Scalar functions the kernels need and JavaScript's Math lacks, accurate to double precision so
// that float64 finite-difference checks see the true derivative.

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_PI = 0.5641895835477563;
const INV_SQRT2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

/** Error function. Positive-term series below 2.5, continued fraction for erfc above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return x > 0 ? 1 : -1; // erfc(6) < 3e-17
  if (ax < 2.5) {
    // erf(x) = 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)): every term positive, no cancellation.
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  const e = erfcContinuedFraction(ax);
  return x > 0 ? 1 - e : e - 1;
}

/** erfc(x) for x ≥ 2.5: e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by Lentz's method. */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    D = x + a * D;
    if (D === 0) D = tiny;
    C = x + a / C;
    if (C === 0) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}

/** GELU with the exact normal CDF: 0.5·x·(1 + erf(x/√2)). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x * INV_SQRT2));
}

/** d/dx GELU = Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * erfc to float32 accuracy (fractional error < 1.2e-7, Numerical Recipes' Chebyshev fit): one exp
 * instead of erf's series, for the float32 kernels; float64 keeps the exact erf above.
 */
function erfc32(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  return (
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  );
}

/** Φ(x), the normal CDF, to float32 accuracy. */
function normalCdf32(x: number): number {
  const e = 0.5 * erfc32(Math.abs(x) * INV_SQRT2);
  return x >= 0 ? 1 - e : e;
}

/** GELU for float32 tensors: x·Φ(x) with Φ accurate to float32 rounding. */
export function gelu32(x: number): number {
  return x * normalCdf32(x);
}

/** d/dx GELU for float32 tensors. */
export function geluGrad32(x: number): number {
  return normalCdf32(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/**
 * d/dx GELU given the forward's output y = x·Φ(x): Φ = y / x saves the erfc (one exp, not two),
 * except near 0 where the division loses the digits the product rounded away.
 */
export function geluGradFromOutput32(x: number, y: number): number {
  const cdf = Math.abs(x) > 1e-3 ? y / x : normalCdf32(x);
  return cdf + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}
