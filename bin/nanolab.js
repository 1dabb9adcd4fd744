#!/usr/bin/env node
// The headless host: runs src/cli/index.ts straight from source through tsx, so `npx nanolab`
// works right after `npm ci`, with no build step.
import { setFlagsFromString } from 'node:v8';
import { register } from 'tsx/esm/api';
import { ensureNodeBinary } from '../scripts/native.mjs';

// Relaxed SIMD is behind a flag in Node 20 and refused in NODE_OPTIONS; it must be set before
// any WebAssembly is compiled. The engine still feature-detects it.
setFlagsFromString('--experimental-wasm-relaxed-simd');

// The store loads better-sqlite3's Node build from build/native/node-<abi>/ (see
// src/main/store/native.ts); put it there if `npm start` left node_modules with Electron's.
try {
  ensureNodeBinary({ quiet: true });
} catch (error) {
  console.error(`nanolab: warning: ${error instanceof Error ? error.message : error}`);
}

register({ tsconfig: new URL('../tsconfig.node.json', import.meta.url).pathname });
await import('../src/cli/index.ts');
