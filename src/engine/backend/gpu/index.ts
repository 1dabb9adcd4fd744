// The GPU backend's public surface, for the host that runs training in a browser Web Worker.
export { GpuBackend, type GpuAdapter, type GpuBackendOptions, type SelfCheckResult } from './backend';
export { GpuContextLostError, GpuUnavailableError } from './device';
export type { GpuJs, GpuJsKernel, GpuJsTexture } from './gpujs';
export { checkKernels, maxRelError, SELF_CHECK_SIZES, SELF_CHECK_TOLERANCE, type KernelCheck } from './self-check';
