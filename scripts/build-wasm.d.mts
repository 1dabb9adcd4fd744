// Types for scripts/build-wasm.mjs, which the tests import to check the generated module.
export declare const gemmWatPath: string;
export declare const gemmGeneratedPath: string;
export declare function expandMadd(wat: string, variant: 'relaxed' | 'simd'): string;
export declare function assemble(name: string, wat: string): Promise<Uint8Array>;
export declare function generateGemmModule(): Promise<string>;
export declare const elementwiseWatPath: string;
export declare const elementwiseGeneratedPath: string;
export declare function generateElementwiseModule(): Promise<string>;
