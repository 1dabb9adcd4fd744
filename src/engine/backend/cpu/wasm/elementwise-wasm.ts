import { ELEMENTWISE_WASM } from './elementwise-wasm.generated';

// Loader for elementwise.wat: vectorised kernels on float32 arrays in the shared heap: GELU
// (forward, and backward accumulating into dx), the LSTM and GRU cells forward and backward, tanh, AdamW, layer
// norm, softmax rows, row-wise adds, and the zeroing, sum of squares and scaling of whole arrays. Pointers are byte offsets; 0 stands for an array a kernel may go
// without. Sizes must be multiples of 4 where a kernel says so (the caller runs the tail).

export interface WasmElementwise {
  geluForward(xPtr: number, yPtr: number, n: number): void;
  /** dx += dy·GELU'(x), given the forward's output y. */
  geluBackward(xPtr: number, yPtr: number, dyPtr: number, dxPtr: number, n: number): void;
  /** One LSTM step's gates and states from its pre-activations (see lstm_cell); H % 4 === 0. */
  lstmCell(actsPtr: number, cPrevPtr: number, csPtr: number, hsPtr: number, B: number, H: number): void;
  /** One LSTM step's gate gradients, updating dcNext (see lstm_cell_backward); H % 4 === 0. */
  lstmCellBackward(
    actsPtr: number,
    csPtr: number,
    cPrevPtr: number,
    dhsPtr: number,
    dhNextPtr: number,
    dcNextPtr: number,
    dGPtr: number,
    B: number,
    H: number,
  ): void;
  /** One GRU step's gates and state (see gru_cell); H % 4 === 0. */
  gruCell(giPtr: number, ghPtr: number, hPrevPtr: number, actsPtr: number, ghnPtr: number, hsPtr: number, B: number, H: number): void;
  /** One GRU step's gate gradients, updating dhNext to dh·z (see gru_cell_backward); H % 4 === 0. */
  gruCellBackward(
    actsPtr: number,
    ghnPtr: number,
    hPrevPtr: number,
    dhsPtr: number,
    dhNextPtr: number,
    dGiPtr: number,
    dGhPtr: number,
    B: number,
    H: number,
  ): void;
  /** y = tanh(x); n % 4 === 0. */
  tanhForward(xPtr: number, yPtr: number, n: number): void;
  /** y = a + b over n floats, any n. */
  add(aPtr: number, bPtr: number, yPtr: number, n: number): void;
  /** y[r][k] = x[r][k] + bias[k], any width. */
  addRows(xPtr: number, biasPtr: number, yPtr: number, rows: number, width: number): void;
  /** dst[k] += Σ_r src[r][k], row by row, any width. */
  addRowSums(srcPtr: number, dstPtr: number, rows: number, width: number): void;
  /** One AdamW (or Adam with L2) update of n floats; n % 4 === 0. */
  adamStep(
    pPtr: number,
    gPtr: number,
    mPtr: number,
    vPtr: number,
    n: number,
    beta1: number,
    beta2: number,
    stepSize: number,
    bc2Sqrt: number,
    eps: number,
    decay: number,
    l2: number,
  ): void;
  layerNormForward(xPtr: number, gainPtr: number, biasPtr: number, yPtr: number, meanPtr: number, rstdPtr: number, R: number, C: number, eps: number): void;
  /** Softmax of R rows of C, any C, with each row's max and Σe^{x−max} into stats (2R floats). */
  softmaxRows(xPtr: number, yPtr: number, statsPtr: number, R: number, C: number): void;
  /** Zeroes n floats from ptr, any n. */
  zero(ptr: number, n: number): void;
  /** Σ x², in double precision, any n. */
  sumSquares(xPtr: number, n: number): number;
  /** x ← x·s, the product rounded once, any n. */
  scale(xPtr: number, n: number, s: number): void;
  layerNormBackward(
    dyPtr: number,
    xPtr: number,
    gainPtr: number,
    meanPtr: number,
    rstdPtr: number,
    dxPtr: number,
    dgainPtr: number,
    dbiasPtr: number,
    R: number,
    C: number,
  ): void;
}

// a type, not an interface: WebAssembly.Exports (a record of functions) narrows to it
type Exports = {
  gelu_forward(x: number, y: number, n: number): void;
  gelu_backward(x: number, y: number, dy: number, dx: number, n: number): void;
  lstm_cell(acts: number, cPrev: number, cs: number, hs: number, B: number, H: number): void;
  lstm_cell_backward(acts: number, cs: number, cPrev: number, dhs: number, dhNext: number, dcNext: number, dG: number, B: number, H: number): void;
  gru_cell(gi: number, gh: number, hPrev: number, acts: number, ghn: number, hs: number, B: number, H: number): void;
  gru_cell_backward(acts: number, ghn: number, hPrev: number, dhs: number, dhNext: number, dGi: number, dGh: number, B: number, H: number): void;
  tanh_forward(x: number, y: number, n: number): void;
  add(a: number, b: number, y: number, n: number): void;
  add_rows(x: number, bias: number, y: number, rows: number, width: number): void;
  add_row_sums(src: number, dst: number, rows: number, width: number): void;
  adam_step(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    stepSize: number,
    bc2Sqrt: number,
    eps: number,
    decay: number,
    l2: number,
  ): void;
  layer_norm_forward(x: number, gain: number, bias: number, y: number, mean: number, rstd: number, R: number, C: number, eps: number): void;
  softmax_rows(x: number, y: number, stats: number, R: number, C: number): void;
  zero(at: number, bytes: number): void;
  sum_squares(x: number, n: number): number;
  scale(x: number, n: number, s: number): void;
  layer_norm_backward(dy: number, x: number, gain: number, mean: number, rstd: number, dx: number, dgain: number, dbias: number, R: number, C: number): void;
};

let compiled: WebAssembly.Module | null = null;

export function createWasmElementwise(memory: WebAssembly.Memory): WasmElementwise {
  if (!compiled) {
    const binary = atob(ELEMENTWISE_WASM);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  const e = new WebAssembly.Instance(compiled, { env: { memory } }).exports as Exports;
  const check = (what: string, n: number) => {
    if (n % 4 !== 0) throw new RangeError(`wasm elementwise: ${what} (${n}) must be a multiple of 4`);
  };
  return {
    geluForward(xPtr, yPtr, n) {
      check('n', n);
      e.gelu_forward(xPtr, yPtr, n);
    },
    geluBackward(xPtr, yPtr, dyPtr, dxPtr, n) {
      check('n', n);
      e.gelu_backward(xPtr, yPtr, dyPtr, dxPtr, n);
    },
    lstmCell(actsPtr, cPrevPtr, csPtr, hsPtr, B, H) {
      check('H', H);
      e.lstm_cell(actsPtr, cPrevPtr, csPtr, hsPtr, B, H);
    },
    lstmCellBackward(actsPtr, csPtr, cPrevPtr, dhsPtr, dhNextPtr, dcNextPtr, dGPtr, B, H) {
      check('H', H);
      e.lstm_cell_backward(actsPtr, csPtr, cPrevPtr, dhsPtr, dhNextPtr, dcNextPtr, dGPtr, B, H);
    },
    gruCell(giPtr, ghPtr, hPrevPtr, actsPtr, ghnPtr, hsPtr, B, H) {
      check('H', H);
      e.gru_cell(giPtr, ghPtr, hPrevPtr, actsPtr, ghnPtr, hsPtr, B, H);
    },
    gruCellBackward(actsPtr, ghnPtr, hPrevPtr, dhsPtr, dhNextPtr, dGiPtr, dGhPtr, B, H) {
      check('H', H);
      e.gru_cell_backward(actsPtr, ghnPtr, hPrevPtr, dhsPtr, dhNextPtr, dGiPtr, dGhPtr, B, H);
    },
    tanhForward(xPtr, yPtr, n) {
      check('n', n);
      e.tanh_forward(xPtr, yPtr, n);
    },
    add: e.add,
    softmaxRows: e.softmax_rows,
    zero: (ptr, n) => e.zero(ptr, 4 * n),
    sumSquares: e.sum_squares,
    scale: e.scale,
    addRows: e.add_rows,
    addRowSums: e.add_row_sums,
    adamStep(pPtr, gPtr, mPtr, vPtr, n, beta1, beta2, stepSize, bc2Sqrt, eps, decay, l2) {
      check('n', n);
      e.adam_step(pPtr, gPtr, mPtr, vPtr, n, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, bc2Sqrt, eps, decay, l2);
    },
    layerNormForward(xPtr, gainPtr, biasPtr, yPtr, meanPtr, rstdPtr, R, C, eps) {
      check('C', C);
      e.layer_norm_forward(xPtr, gainPtr, biasPtr, yPtr, meanPtr, rstdPtr, R, C, eps);
    },
    layerNormBackward(dyPtr, xPtr, gainPtr, meanPtr, rstdPtr, dxPtr, dgainPtr, dbiasPtr, R, C) {
      check('C', C);
      e.layer_norm_backward(dyPtr, xPtr, gainPtr, meanPtr, rstdPtr, dxPtr, dgainPtr, dbiasPtr, R, C);
    },
  };
}
