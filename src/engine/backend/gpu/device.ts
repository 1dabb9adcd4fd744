import { NATIVE_FUNCTIONS } from './glsl';
import type { GpuJs, GpuJsArgument, GpuJsKernel, GpuJsTexture } from './gpujs';

// The device layer: compiles each kernel once per (program, output size, input sizes, constants)
// and runs it in gpu.js pipeline mode, so every result is a texture that stays on the GPU.
// Kernels are immutable: each run renders into a fresh texture, so a later run of the same kernel
// cannot overwrite an activation saved for the backward pass. Textures are not garbage-collected:
// whoever holds one deletes it (the backend, when a tensor is released or its value replaced).

/** The WebGL context was lost (driver reset, GPU removed, too many contexts): the run must move to the CPU. */
export class GpuContextLostError extends Error {
  constructor(what: string) {
    super(`the WebGL context was lost (${what}); the GPU backend cannot continue, continue the run on the CPU backend`);
    this.name = 'GpuContextLostError';
  }
}

/** The gpu.js instance does not run on WebGL2 (the GPU backend needs float textures and integer shader arithmetic). */
export class GpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

/** A kernel's source: a gpu.js kernel function written as text (robust to bundlers and minifiers). */
export interface Program {
  readonly id: string;
  readonly source: string;
}

export function program(id: string, params: readonly string[], body: string): Program {
  return { id, source: `function (${params.join(', ')}) {\n${body}\n}` };
}

/**
 * Every tensor is a flat texture of `size` floats (gpu.js packs a 1-D output into a near-square
 * 2-D texture) and indices are computed as floats: exact below 2^24.
 */
export const MAX_ELEMENTS = 1 << 24;

/** The part of WebGL2RenderingContext the device calls. */
export interface GlContext {
  isContextLost(): boolean;
  getParameter(p: number): unknown;
  getExtension(name: string): unknown;
  readonly MAX_TEXTURE_SIZE: number;
  readonly RENDERER: number;
  readonly VENDOR: number;
}

function describe(arg: GpuJsArgument): string {
  if (typeof arg === 'number') return 'n';
  if (arg instanceof Float32Array) return `a${arg.length}`;
  return `t${arg.output[0]}`;
}

export class GpuDevice {
  private readonly kernels = new Map<string, GpuJsKernel>();
  private lost = false;
  /** Fault injection: while set, every texture a kernel makes comes out corrupted (+1). */
  corrupting = false;
  /** Kernels compiled so far (for tests and logs). */
  compiled = 0;

  constructor(
    readonly gpu: GpuJs,
    readonly gl: GlContext,
    readonly maxTextureSize: number,
  ) {
    const canvas = gpu.canvas as { addEventListener?: (type: string, fn: () => void) => void } | null;
    canvas?.addEventListener?.('webglcontextlost', () => {
      this.lost = true;
    });
  }

  isContextLost(): boolean {
    if (!this.lost && this.gl.isContextLost()) this.lost = true;
    return this.lost;
  }

  check(what: string): void {
    if (this.isContextLost()) throw new GpuContextLostError(what);
  }

  /** Runs `p` over `output` threads (one per element of a flat result) and returns the result texture. */
  run(p: Program, output: number, args: GpuJsArgument[], constants: Record<string, number> = {}): GpuJsTexture {
    this.check(p.id);
    if (!(output > 0 && output <= MAX_ELEMENTS)) {
      throw new Error(`GPU kernel ${p.id}: ${output} elements is outside what one texture holds here (1 … ${MAX_ELEMENTS})`);
    }
    let key = `${p.id}|${output}|${args.map(describe).join(',')}`;
    for (const name in constants) key += `|${name}=${constants[name]}`;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      try {
        kernel = this.gpu.createKernel(p.source, {
          output: [output],
          pipeline: true,
          immutable: true,
          precision: 'single',
          tactic: 'precision',
          constants,
          nativeFunctions: NATIVE_FUNCTIONS,
          dynamicOutput: false,
          dynamicArguments: false,
        });
      } catch (e) {
        this.check(p.id);
        throw new Error(`GPU kernel ${p.id} could not be built: ${(e as Error).message}`);
      }
      this.kernels.set(key, kernel);
      this.compiled++;
    }
    let out: GpuJsTexture;
    try {
      out = kernel(...args) as GpuJsTexture;
    } catch (e) {
      this.check(p.id);
      throw new Error(`GPU kernel ${p.id} failed: ${(e as Error).message}`);
    }
    this.check(p.id);
    if (this.corrupting && p !== CORRUPT) {
      const bad = this.run(CORRUPT, output, [out]);
      out.delete();
      return bad;
    }
    return out;
  }

  /** A second handle on the same texture (reference counted), or a corrupted copy under fault injection. */
  share(t: GpuJsTexture): GpuJsTexture {
    this.check('copy');
    return this.corrupting ? this.run(CORRUPT, t.output[0], [t]) : t.clone();
  }

  /** Uploads host values as a texture of `values.length` floats. */
  upload(values: Float32Array): GpuJsTexture {
    return this.run(UPLOAD, values.length, [values]);
  }

  read(t: GpuJsTexture): Float32Array {
    this.check('read');
    const values = t.toArray();
    this.check('read');
    const n = t.output[0];
    if (values instanceof Float32Array && values.length === n) return values;
    if (values instanceof Float32Array) return values.slice(0, n);
    return Float32Array.from(values as ArrayLike<number>).subarray(0, n);
  }

  destroy(): void {
    for (const kernel of this.kernels.values()) {
      try {
        kernel.destroy(false);
      } catch {
        // a lost context has nothing left to free
      }
    }
    this.kernels.clear();
  }
}

const CORRUPT = program('corrupt', ['a'], 'return a[this.thread.x] + 1;');
const UPLOAD = program('upload', ['a'], 'return a[this.thread.x];');
