// The gemm helper's entry when NanoLab runs from its TypeScript sources (CLI, tests); the Electron
// build bundles gemm-helper.ts instead (see worker-source.mjs for why).
import { register } from 'tsx/esm/api';

register();
await import('./gemm-helper.ts');
