import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createWasmGemm, relaxedSimdSupported, type GemmVariant, type WasmGemm } from '../../src/engine/backend/cpu/wasm/gemm-wasm';
import { GEMM_WASM_SIMD } from '../../src/engine/backend/cpu/wasm/gemm-wasm.generated';
import { gemmGeneratedPath, generateGemmModule } from '../../scripts/build-wasm.mjs';

// The WebAssembly gemm against a float64 reference, in every transposition form, at edge sizes
// around its 2×16 tile and its K/M/N blocks, on sub-blocks of bigger matrices; and the property
// the thread split relies on: any split of C's rows or columns gives bit-identical results.

const MiB = 1 << 20;

/** A shared memory with a bump allocator of float32 matrices. */
class Arena {
  readonly memory: WebAssembly.Memory;
  private top = 64;

  constructor(mib: number) {
    const pages = (mib * MiB) / 65536;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  get f32(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** Byte pointer to `floats` floats, 16-byte aligned plus `skew` floats. */
  alloc(floats: number, skew = 0): number {
    const ptr = ((this.top + 15) & ~15) + skew * 4;
    this.top = ptr + floats * 4;
    if (this.top > this.memory.buffer.byteLength) throw new Error('test arena is full');
    return ptr;
  }

  reset(): void {
    this.top = 64;
  }
}

/** Deterministic uniform floats in [-1, 1) (mulberry32). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function fill(f32: Float32Array, ptr: number, n: number, next: () => number): void {
  for (let i = 0; i < n; i++) f32[ptr / 4 + i] = next();
}

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  accumulate: boolean;
  /** extra floats at the end of each row of A, B, C */
  pad?: number;
  /** misalign the matrices by this many floats */
  skew?: number;
}

interface Placed {
  c: Case;
  lda: number;
  ldb: number;
  ldc: number;
  aPtr: number;
  bPtr: number;
  cPtr: number;
  scratchPtr: number;
  aRows: number;
  bRows: number;
}

/** Puts A, B, C (with random contents) and the scratch in the arena. */
function place(arena: Arena, gemm: WasmGemm, c: Case, seed: number): Placed {
  const pad = c.pad ?? 0,
    skew = c.skew ?? 0;
  const [aRows, aCols] = c.transA ? [c.K, c.M] : [c.M, c.K];
  const [bRows, bCols] = c.transB ? [c.N, c.K] : [c.K, c.N];
  const lda = aCols + pad,
    ldb = bCols + pad,
    ldc = c.N + pad;
  const aPtr = arena.alloc(aRows * lda, skew);
  const bPtr = arena.alloc(bRows * ldb, skew);
  const cPtr = arena.alloc(c.M * ldc, skew);
  const scratchPtr = arena.alloc(gemm.scratchBytes(c.M, c.N, c.K) / 4, skew);
  const next = random(seed);
  const f32 = arena.f32;
  fill(f32, aPtr, aRows * lda, next);
  fill(f32, bPtr, bRows * ldb, next);
  fill(f32, cPtr, c.M * ldc, next);
  return { c, lda, ldb, ldc, aPtr, bPtr, cPtr, scratchPtr, aRows, bRows };
}

function run(gemm: WasmGemm, p: Placed): void {
  const { c } = p;
  gemm.gemm(c.transA, c.transB, c.M, c.N, c.K, p.aPtr, p.lda, p.bPtr, p.ldb, p.cPtr, p.ldc, c.accumulate, p.scratchPtr);
}

/** C as it should be after the call, in float64, from the current (pre-call) memory. */
function reference(f32: Float32Array, p: Placed): Float64Array {
  const { c, lda, ldb, ldc } = p;
  const A = p.aPtr / 4,
    B = p.bPtr / 4,
    C = p.cPtr / 4;
  const out = new Float64Array(c.M * c.N);
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < c.N; j++) {
      let s = c.accumulate ? f32[C + i * ldc + j] : 0;
      for (let k = 0; k < c.K; k++) {
        const a = c.transA ? f32[A + k * lda + i] : f32[A + i * lda + k];
        const b = c.transB ? f32[B + j * ldb + k] : f32[B + k * ldb + j];
        s += a * b;
      }
      out[i * c.N + j] = s;
    }
  }
  return out;
}

/** Max |got - want| over C relative to the float32 scale of the sum, K·max|a|·max|b| (+ max|C|). */
function relativeError(f32: Float32Array, p: Placed, want: Float64Array): number {
  const { c, ldc } = p;
  const scale = Math.max(c.K, 1) + (c.accumulate ? 1 : 0); // the inputs are in [-1, 1)
  let worst = 0;
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < c.N; j++) {
      worst = Math.max(worst, Math.abs(f32[p.cPtr / 4 + i * ldc + j] - want[i * c.N + j]) / scale);
    }
  }
  return worst;
}

/** The floats of C's rows outside the M×N block (row padding), which gemm must not touch. */
function padding(f32: Float32Array, p: Placed): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.c.M; i++) {
    for (let j = p.c.N; j < p.ldc; j++) out.push(f32[p.cPtr / 4 + i * p.ldc + j]);
  }
  return out;
}

const FORMS: [boolean, boolean, string][] = [
  [false, false, 'A·B'],
  [false, true, 'A·Bᵀ'],
  [true, false, 'Aᵀ·B'],
  [true, true, 'Aᵀ·Bᵀ'],
];

// Around the 2×16 tile (1, 2, 3, 15, 16, 17), the 4-wide packing steps, the blocks (KC = MC = 256,
// NC = 1024), and the models' shapes.
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 17],
  [3, 1, 65],
  [17, 3, 1],
  [65, 127, 3],
  [127, 65, 17],
  [2, 16, 4],
  [3, 17, 5],
  [16, 15, 127],
  [33, 48, 64],
  [1, 127, 257],
  [300, 20, 9],
  [5, 1030, 6],
  [34, 33, 600],
];

const variants: GemmVariant[] = ['relaxed', 'simd'];

for (const variant of variants) {
  const supported = variant === 'simd' || relaxedSimdSupported();
  if (!supported) {
    console.log('wasm gemm: skipping the relaxed variant: this runtime has no relaxed SIMD ' + '(Node 20 needs --experimental-wasm-relaxed-simd)');
  }

  describe.skipIf(!supported)(`wasm gemm (${variant})`, () => {
    const arena = new Arena(64);
    const gemm = createWasmGemm(arena.memory, variant);

    it(`is the ${variant} build`, () => {
      expect(gemm.variant).toBe(variant);
    });

    for (const [transA, transB, form] of FORMS) {
      it(`${form} matches a float64 reference at edge sizes, overwriting and accumulating`, () => {
        let seed = 1;
        for (const [M, N, K] of SIZES) {
          for (const accumulate of [false, true]) {
            arena.reset();
            const p = place(arena, gemm, { transA, transB, M, N, K, accumulate }, seed++);
            const want = reference(arena.f32, p);
            run(gemm, p);
            expect(relativeError(arena.f32, p, want), `${form} M=${M} N=${N} K=${K} acc=${accumulate}`).toBeLessThan(1e-5);
          }
        }
      });

      it(`${form} works on misaligned sub-blocks of bigger matrices and leaves the rest alone`, () => {
        let seed = 100;
        for (const [M, N, K] of [
          [3, 17, 65],
          [17, 33, 7],
          [64, 16, 300],
          [1, 1, 1],
        ] as const) {
          arena.reset();
          const p = place(arena, gemm, { transA, transB, M, N, K, accumulate: true, pad: 5, skew: 3 }, seed++);
          const want = reference(arena.f32, p);
          const before = padding(arena.f32, p);
          run(gemm, p);
          expect(relativeError(arena.f32, p, want)).toBeLessThan(1e-5);
          expect(padding(arena.f32, p)).toEqual(before);
        }
      });

      it(`${form} gives bit-identical C for any split of rows or columns`, () => {
        arena.reset();
        const M = 45,
          N = 70,
          K = 300;
        const p = place(arena, gemm, { transA, transB, M, N, K, accumulate: true }, 7);
        const c0 = arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N);
        run(gemm, p);
        const whole = arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N);

        // rows [0, 1), [1, 6), [6, 45): each row block is op(A) starting at row r
        arena.f32.set(c0, p.cPtr / 4);
        for (const [r0, r1] of [
          [0, 1],
          [1, 6],
          [6, 45],
        ]) {
          const a = p.aPtr + (transA ? r0 : r0 * p.lda) * 4;
          gemm.gemm(transA, transB, r1 - r0, N, K, a, p.lda, p.bPtr, p.ldb, p.cPtr + r0 * p.ldc * 4, p.ldc, true, p.scratchPtr);
        }
        expect(arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N)).toEqual(whole);

        // columns [0, 7), [7, 40), [40, 70): each column block is op(B) starting at column c
        arena.f32.set(c0, p.cPtr / 4);
        for (const [c0_, c1] of [
          [0, 7],
          [7, 40],
          [40, 70],
        ]) {
          const b = p.bPtr + (transB ? c0_ * p.ldb : c0_) * 4;
          gemm.gemm(transA, transB, M, c1 - c0_, K, p.aPtr, p.lda, b, p.ldb, p.cPtr + c0_ * 4, p.ldc, true, p.scratchPtr);
        }
        expect(arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N)).toEqual(whole);
      });
    }

    it('gives with a pre-packed B the same bits as gemm, whole or by 16-aligned column blocks', () => {
      for (const [transA, transB] of FORMS) {
        arena.reset();
        // K > KC = 256: the packed B holds two K blocks
        const M = 21,
          N = 53,
          K = 300;
        const p = place(arena, gemm, { transA, transB, M, N, K, accumulate: true }, 31);
        const c0 = arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N);
        run(gemm, p);
        const whole = arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N);

        const packed = arena.alloc(gemm.packedBBytes(K, N) / 4);
        gemm.packB(transB, K, N, p.bPtr, p.ldb, packed);
        arena.f32.set(c0, p.cPtr / 4);
        gemm.gemmPackedB(transA, M, N, K, p.aPtr, p.lda, packed, N, 0, p.cPtr, p.ldc, true, p.scratchPtr);
        expect(arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N)).toEqual(whole);

        arena.f32.set(c0, p.cPtr / 4);
        for (const [j0, j1] of [
          [0, 16],
          [16, 48],
          [48, 53],
        ]) {
          gemm.gemmPackedB(transA, M, j1 - j0, K, p.aPtr, p.lda, packed, N, j0, p.cPtr + j0 * 4, p.ldc, true, p.scratchPtr);
        }
        expect(arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N)).toEqual(whole);
      }
      expect(() => gemm.gemmPackedB(false, 2, 8, 4, 0, 4, 1024, 32, 8, 2048, 8, false, 4096)).toThrow(/multiple of 16/);
    });

    it("matches the reference at the models' size 768×512×128 (MLP down), both weight-gradient forms", () => {
      for (const [transA, transB] of [
        [false, true],
        [true, false],
      ] as const) {
        arena.reset();
        const p = place(arena, gemm, { transA, transB, M: 768, N: 128, K: 512, accumulate: false }, 11);
        const want = reference(arena.f32, p);
        run(gemm, p);
        expect(relativeError(arena.f32, p, want)).toBeLessThan(1e-5);
      }
    });

    it('with K = 0 sets C to zero, or leaves it when accumulating', () => {
      arena.reset();
      const p = place(arena, gemm, { transA: false, transB: false, M: 3, N: 5, K: 0, accumulate: true, pad: 2 }, 3);
      const before = arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + 3 * p.ldc);
      const rowPadding = padding(arena.f32, p);
      run(gemm, p);
      expect(arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + 3 * p.ldc)).toEqual(before);
      run(gemm, { ...p, c: { ...p.c, accumulate: false } });
      expect(padding(arena.f32, p)).toEqual(rowPadding);
      for (let i = 0; i < 3; i++) {
        expect(Array.from(arena.f32.subarray(p.cPtr / 4 + i * p.ldc, p.cPtr / 4 + i * p.ldc + 5))).toEqual([0, 0, 0, 0, 0]);
      }
    });

    it('reads and writes nothing past its operands and scratch (all placed at the end of memory)', () => {
      const small = new Arena(4);
      const g = createWasmGemm(small.memory, variant);
      for (const [transA, transB] of FORMS) {
        const M = 19,
          N = 37,
          K = 23;
        const end = small.memory.buffer.byteLength;
        const scratchPtr = end - g.scratchBytes(M, N, K);
        const [aRows, aCols] = transA ? [K, M] : [M, K];
        const [bRows, bCols] = transB ? [N, K] : [K, N];
        // A, B, C packed right below the scratch, so an overrun of any of them hits the next
        // one and shows in C, and one of the scratch traps
        const cPtr = scratchPtr - M * N * 4;
        const bPtr = cPtr - bRows * bCols * 4;
        const aPtr = bPtr - aRows * aCols * 4;
        const next = random(5);
        fill(small.f32, aPtr, (scratchPtr - aPtr) / 4, next);
        const p: Placed = {
          c: { transA, transB, M, N, K, accumulate: true },
          lda: aCols,
          ldb: bCols,
          ldc: N,
          aPtr,
          bPtr,
          cPtr,
          scratchPtr,
          aRows,
          bRows,
        };
        const want = reference(small.f32, p);
        run(g, p);
        expect(relativeError(small.f32, p, want)).toBeLessThan(1e-5);
      }
    });

    it('refuses strides shorter than a row and operands past the memory, saying which', () => {
      expect(() => gemm.gemm(false, false, 4, 4, 4, 0, 3, 64, 4, 128, 4, false, 256)).toThrow(/row strides lda 3/);
      expect(() => gemm.gemm(false, false, 4, 4, 4, 0, 4, 64, 4, 64 * MiB, 4, false, 256)).toThrow(/C ends at byte/);
      expect(() => gemm.gemm(false, false, 4, 4, 4.5, 0, 4, 64, 4, 128, 4, false, 256)).toThrow(/K \(4.5\)/);
    });
  });
}

describe('wasm gemm (simd) arithmetic', () => {
  it('computes each element as one float32 chain c = c + a·b over k in order, whatever the blocking', () => {
    // K > KC (256) crosses a K block, M > MC (256) an M block, N odd a partial tile: the float32
    // emulation of the sequential chain must agree to the bit.
    const arena = new Arena(64);
    const gemm = createWasmGemm(arena.memory, 'simd');
    const f = Math.fround;
    for (const [transA, transB] of FORMS) {
      arena.reset();
      const p = place(arena, gemm, { transA, transB, M: 260, N: 19, K: 530, accumulate: true }, 21);
      const { lda, ldb, ldc } = p,
        F = arena.f32,
        A = p.aPtr / 4,
        B = p.bPtr / 4,
        C = p.cPtr / 4;
      const want = new Float32Array(260 * 19);
      for (let i = 0; i < 260; i++) {
        for (let j = 0; j < 19; j++) {
          let s = F[C + i * ldc + j];
          for (let k = 0; k < 530; k++) {
            const a = transA ? F[A + k * lda + i] : F[A + i * lda + k];
            const b = transB ? F[B + j * ldb + k] : F[B + k * ldb + j];
            s = f(s + f(a * b));
          }
          want[i * 19 + j] = s;
        }
      }
      run(gemm, p);
      const got = new Float32Array(260 * 19);
      for (let i = 0; i < 260; i++) got.set(F.subarray(C + i * ldc, C + i * ldc + 19), i * 19);
      expect(got).toEqual(want);
    }
  });
});

describe('wasm gemm on worker threads', () => {
  it("lets a worker compute a row block of C in the caller's shared memory, bit-identical", async () => {
    // The plan for multi-threading: each worker instantiates the same module on the shared
    // memory and computes a block of C's rows with its own scratch.
    const arena = new Arena(16);
    const gemm = createWasmGemm(arena.memory, 'simd');
    const M = 64,
      N = 48,
      K = 96;
    const p = place(arena, gemm, { transA: true, transB: false, M, N, K, accumulate: false }, 41);
    run(gemm, p);
    const whole = arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N);
    arena.f32.fill(0, p.cPtr / 4, p.cPtr / 4 + M * N);

    const split = 24;
    const workerScratch = arena.alloc(gemm.scratchBytes(M - split, N, K) / 4);
    const module = new WebAssembly.Module(decodeForTest());
    const worker = new Worker(
      `
      const { parentPort, workerData: d } = require('node:worker_threads');
      const { exports } = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
      exports.gemm(1, 0, d.M, d.N, d.K, d.a, d.lda, d.b, d.ldb, d.c, d.ldc, 0, d.scratch);
      parentPort.postMessage('done');
    `,
      {
        eval: true,
        workerData: {
          module,
          memory: arena.memory,
          M: M - split,
          N,
          K,
          a: p.aPtr + split * 4,
          lda: p.lda,
          b: p.bPtr,
          ldb: p.ldb,
          c: p.cPtr + split * p.ldc * 4,
          ldc: p.ldc,
          scratch: workerScratch,
        },
      },
    );
    const done = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    gemm.gemm(true, false, split, N, K, p.aPtr, p.lda, p.bPtr, p.ldb, p.cPtr, p.ldc, false, p.scratchPtr);
    await done;
    await worker.terminate();
    expect(arena.f32.slice(p.cPtr / 4, p.cPtr / 4 + M * N)).toEqual(whole);
  });
});

/** The plain-SIMD binary, as the loader decodes it. */
function decodeForTest(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(GEMM_WASM_SIMD, 'base64'));
}

describe('gemm-wasm.generated.ts', () => {
  it('is up to date with gemm.wat (run npm run build:wasm after editing it)', async () => {
    expect(readFileSync(gemmGeneratedPath, 'utf8')).toBe(await generateGemmModule());
  });
});
