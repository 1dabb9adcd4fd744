import { ELEMENTWISE_WASM } from './elementwise-wasm.generated';

// Loader for elementwise.wat: vectorised GELU (forward, and backward accumulating into dx) and
// the LSTM cell on
// float32 arrays in the shared heap. Pointers are byte offsets; n must be a multiple of 4.

export interface WasmElementwise {
  geluForward(xPtr: number, yPtr: number, n: number): void;
  geluBackward(xPtr: number, dyPtr: number, dxPtr: number, n: number): void;
  /** One LSTM step's gates and states from its pre-activations (see lstm_cell); H % 4 === 0. */
  lstmCell(actsPtr: number, cPrevPtr: number, csPtr: number, hsPtr: number, B: number, H: number): void;
}

let compiled: WebAssembly.Module | null = null;

export function createWasmElementwise(memory: WebAssembly.Memory): WasmElementwise {
  if (!compiled) {
    const binary = atob(ELEMENTWISE_WASM);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  const e = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as {
    gelu_forward(x: number, y: number, n: number): void;
    gelu_backward(x: number, dy: number, dx: number, n: number): void;
    lstm_cell(acts: number, cPrev: number, cs: number, hs: number, B: number, H: number): void;
  };
  const check = (n: number) => {
    if (n % 4 !== 0) throw new RangeError(`wasm elementwise: n (${n}) must be a multiple of 4`);
  };
  return {
    geluForward(xPtr, yPtr, n) {
      check(n);
      e.gelu_forward(xPtr, yPtr, n);
    },
    geluBackward(xPtr, dyPtr, dxPtr, n) {
      check(n);
      e.gelu_backward(xPtr, dyPtr, dxPtr, n);
    },
    lstmCell(actsPtr, cPrevPtr, csPtr, hsPtr, B, H) {
      check(H);
      e.lstm_cell(actsPtr, cPrevPtr, csPtr, hsPtr, B, H);
    },
  };
}
