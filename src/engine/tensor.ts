// A tensor is a shape plus storage that belongs to a backend. Models never index `data`
// themselves: every computation goes through a backend kernel, so a backend may keep the
// storage elsewhere (WebAssembly memory, a GPU texture) without touching model code.

export type FloatArray = Float32Array | Float64Array;
export type Dtype = 'float32' | 'float64';

export class Tensor {
  /** Gradient of the loss with respect to this tensor, allocated on first use. */
  grad: Tensor | null = null;
  /** Whether the autograd tape propagates gradients into this tensor. */
  requiresGrad = false;

  /** Number of elements (the product of the shape). */
  readonly size: number;

  constructor(
    readonly shape: readonly number[],
    /**
     * Host storage. A backend that keeps its storage elsewhere (a GPU texture) passes an empty
     * array here and keeps its own handle; only that backend's kernels touch the storage.
     */
    readonly data: FloatArray,
    /** Arena that frees this tensor at the end of a step; null for persistent tensors. */
    readonly arena: Arena | null,
  ) {
    let n = 1;
    for (const d of shape) n *= d;
    this.size = n;
  }

  /** Size of the last dimension (the feature dimension of row-major activations). */
  get cols(): number {
    return this.shape[this.shape.length - 1];
  }

  /** Number of rows when the tensor is read as a matrix of its last dimension. */
  get rows(): number {
    return this.size / this.cols;
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(t: Tensor, shape: readonly number[], what: string): void {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${what}: expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}

/**
 * Tensors allocated during one training step (activations, their gradients, scratch) live in an
 * arena and are released together when the step ends. WebAssembly memory and GPU textures are not
 * garbage-collected, so lifetimes are explicit from the start.
 */
export class Arena {
  readonly tensors: Tensor[] = [];
  closed = false;
}

/**
 * Runs `fn` in a fresh arena pushed on `arenas` and, when it returns or throws, closes the arena
 * and hands each tensor allocated there to `release` (a backend's `scoped`).
 */
export function withArena<T>(arenas: Arena[], fn: () => T, release: (tensors: readonly Tensor[]) => void): T {
  const arena = new Arena();
  arenas.push(arena);
  try {
    return fn();
  } finally {
    arenas.pop();
    arena.closed = true;
    release(arena.tensors);
    arena.tensors.length = 0;
  }
}
