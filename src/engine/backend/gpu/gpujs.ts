// The part of gpu.js (2.x) this backend uses, declared structurally: the engine imports nothing
// outside itself (it runs in Node, in Electron and in a browser Web Worker), so the host makes the
// gpu.js instance (`new GPU({ mode: 'webgl2', canvas, context })` from the browser build) and
// passes it in. A real `GPU` satisfies these types.

/** A gpu.js output texture (GLTextureFloat in pipeline mode). */
export interface GpuJsTexture {
  /** The kernel output shape, [n] for the flat tensors this backend keeps. */
  readonly output: readonly number[];
  /** The 2-D size of the WebGL texture gpu.js packed it into. */
  readonly size: ArrayLike<number>;
  toArray(): unknown;
  /** Shares the WebGL texture (reference counted); each clone is deleted on its own. */
  clone(): GpuJsTexture;
  delete(): void;
}

export type GpuJsArgument = GpuJsTexture | number | Float32Array;

/**
 * A compiled kernel ("run shortcut"): callable with GpuJsArgument values, returns a texture in
 * pipeline mode. Its parameters are `any` so that gpu.js's own declaration (a union of every value
 * a kernel accepts, textures included) is assignable here.
 */
export interface GpuJsKernel {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: gpu.js's own union must be assignable
  (...args: any[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
}

export interface GpuJsNativeFunction {
  name: string;
  source: string;
}

export interface GpuJsKernelSettings {
  output: number[];
  pipeline: boolean;
  immutable: boolean;
  precision: 'single';
  tactic: 'precision';
  constants?: Record<string, number>;
  nativeFunctions?: GpuJsNativeFunction[];
  dynamicOutput: false;
  dynamicArguments: false;
}

export interface GpuJs {
  /** 'webgl2' when gpu.js runs on WebGL2 (what this backend needs). */
  readonly mode: string;
  readonly canvas: unknown;
  /** The WebGL2 context gpu.js draws with (null before the first kernel unless the host passed one). */
  readonly context: unknown;
  createKernel(source: string, settings: GpuJsKernelSettings): GpuJsKernel;
}
