// Types for scripts/native.mjs, which bin/nanolab.js runs and the tests import to check its choices.
export declare const ELECTRON_VERSION: string;
export declare function nativeBinaryPath(runtime: 'node' | 'electron', abi: string): string;
export declare function binaryAbi(file: string): string;
export declare function ensureNodeBinary(options?: { quiet?: boolean }): string;
export declare function electronAbi(): string;
export declare function makePackageCopy(parent?: string): { work: string; copy: string };
export declare function prebuildInstallBin(packageCopy: string): string | null;
export declare function downloadPrebuild(packageCopy: string): Promise<void>;
export declare function compileWithRebuild(work: string): Promise<void>;
export declare function onPath(command: string, env?: NodeJS.ProcessEnv): boolean;
export declare function missingToolchain(options?: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; has?: (command: string) => boolean }): string[];

/** The steps ensureElectronBinary takes; each can be replaced. */
export interface ElectronBuildSteps {
  makeCopy: () => { work: string; copy: string };
  prebuild: (packageCopy: string) => Promise<void>;
  compile: (work: string) => Promise<void>;
  missingTools: () => string[];
  abiOf: (file: string) => string;
  log: (line: string) => void;
}
export declare function ensureElectronBinary(options?: Partial<ElectronBuildSteps> & { abi?: string; target?: string }): Promise<string>;
