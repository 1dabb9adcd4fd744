import type { Rng } from '../rng';

// Two ways to cut a token stream into (B, T) batches of inputs x and next-token targets y.

export interface Batch {
  x: Int32Array;
  y: Int32Array;
  B: number;
  T: number;
}

/** nanoGPT's get_batch: B windows of T+1 tokens at uniformly random offsets. */
export function randomBatch(data: Int32Array, B: number, T: number, rng: Rng): Batch {
  if (data.length < T + 1) throw new Error(`the data (${data.length} tokens) is shorter than one window of ${T + 1}`);
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = rng.int(data.length - T);
    x.set(data.subarray(start, start + T), b * T);
    y.set(data.subarray(start + 1, start + T + 1), b * T);
  }
  return { x, y, B, T };
}

/**
 * char-rnn's layout for recurrent models: the stream is cut into B contiguous lanes and each batch
 * takes the next T tokens of every lane, so row b continues exactly where it stopped and the
 * carried hidden state stays meaningful. Wraps to the lanes' start at the end of an epoch.
 */
export class SequentialBatcher {
  /** Offset within each lane of the next batch. */
  position = 0;
  private readonly laneLength: number;

  constructor(
    private readonly data: Int32Array,
    readonly B: number,
    readonly T: number,
  ) {
    this.laneLength = Math.floor((data.length - 1) / B);
    if (this.laneLength < T) {
      throw new Error(`the data (${data.length} tokens) is too short for ${B} lanes of ${T + 1} tokens: use a smaller batch or context`);
    }
  }

  /** True when the next batch starts a new epoch (the trainer resets the carried state then). */
  get atEpochStart(): boolean {
    return this.position === 0;
  }

  next(): Batch {
    const { B, T } = this;
    if (this.position + T > this.laneLength) this.position = 0;
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = b * this.laneLength + this.position;
      x.set(this.data.subarray(start, start + T), b * T);
      y.set(this.data.subarray(start + 1, start + T + 1), b * T);
    }
    this.position += T;
    if (this.position + T > this.laneLength) this.position = 0;
    return { x, y, B, T };
  }
}
