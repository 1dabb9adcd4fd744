import { defineConfig } from 'vitest/config';

export default defineConfig({
  // what electron.vite.config.ts injects into the app's bundles
  define: { __APP_VERSION__: JSON.stringify('test') },
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    environment: 'node',
    testTimeout: 60_000,
    // Relaxed SIMD is behind a flag in Node 20 and refused in NODE_OPTIONS (the engine
    // feature-detects it; bin/nanolab.js sets the same flag).
    execArgv: ['--experimental-wasm-relaxed-simd'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
