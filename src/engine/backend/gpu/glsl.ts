import type { GpuJsNativeFunction } from './gpujs';

// GLSL helpers the kernels call. gpu.js turns `a / b` into a float division and `const i =
// this.thread.x` into a float, so index arithmetic goes through idiv / imod, which divide as
// integers (exact: every index is below 2^24, see MAX_ELEMENTS). The activations are written out
// because GLSL has no erf and its tanh overflows to NaN for large |x| on some drivers.
// Each helper is self-contained: gpu.js pastes native functions in without tracing their calls.

/** Φ(x) into `cdf`, with erfc from Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7). */
const NORMAL_CDF = `  float z = abs(x) * 0.7071067811865476;
  float t = 1.0 / (1.0 + 0.5 * z);
  float erfc = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  float e = 0.5 * erfc;
  float cdf = x >= 0.0 ? 1.0 - e : e;`;

export const NATIVE_FUNCTIONS: GpuJsNativeFunction[] = [
  {
    name: 'idiv',
    source: `float idiv(float a, float b) {
  return float(int(a) / int(b));
}`,
  },
  {
    name: 'imod',
    source: `float imod(float a, float b) {
  int ia = int(a);
  int ib = int(b);
  return float(ia - ib * (ia / ib));
}`,
  },
  {
    name: 'sigm',
    source: `float sigm(float x) {
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  float e = exp(x);
  return e / (1.0 + e);
}`,
  },
  {
    // odd Taylor series near 0 (where (1 - e)/(1 + e) cancels), saturated beyond 10
    name: 'tanh_',
    source: `float tanh_(float x) {
  float a = abs(x);
  if (a < 0.125) {
    float x2 = x * x;
    return x * (1.0 + x2 * (-0.3333333333333333 + x2 * (0.13333333333333333 + x2 * (-0.05396825396825397 + x2 * 0.021869488536155203))));
  }
  if (a > 10.0) {
    return sign(x);
  }
  float e = exp(-2.0 * a);
  return sign(x) * (1.0 - e) / (1.0 + e);
}`,
  },
  {
    // x·Φ(x) with erfc from Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7), as the CPU's gelu32
    name: 'gelu_',
    source: `float gelu_(float x) {
${NORMAL_CDF}
  return x * cdf;
}`,
  },
  {
    // d/dx GELU = Φ(x) + x·φ(x)
    name: 'geluGrad_',
    source: `float geluGrad_(float x) {
${NORMAL_CDF}
  return cdf + x * 0.3989422804014327 * exp(-0.5 * x * x);
}`,
  },
];
