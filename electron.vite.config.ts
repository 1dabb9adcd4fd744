import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'electron-vite';

const { version } = JSON.parse(readFileSync(fileURLToPath(new URL('./package.json', import.meta.url)), 'utf8')) as { version: string };
const define = { __APP_VERSION__: JSON.stringify(version) };
// The e2e tests' hooks (src/renderer/src/gpu/test-hooks.ts) are in the renderer only when it is
// built with NANOLAB_TEST_HOOKS=1 (tests/build/ensure-built.ts); `npm run build` leaves them out.
const testHooks = process.env['NANOLAB_TEST_HOOKS'] === '1';
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  main: {
    define,
    build: {
      // the training worker and the gemm helper are their own entries (out/main/worker.js,
      // out/main/gemm-helper.js), started by jobs/job-host.ts and jobs/gemm-threads.ts
      rolldownOptions: {
        input: { index: entry('./src/main/index.ts'), worker: entry('./src/main/jobs/worker.ts'), 'gemm-helper': entry('./src/main/jobs/gemm-helper.ts') },
      },
    },
  },
  preload: {
    define,
    build: {
      // a sandboxed preload can require only 'electron': bundle the contract's zod into it
      externalizeDeps: { exclude: ['zod'] },
      // A sandboxed preload cannot be an ES module: emit CommonJS (out/preload/index.cjs).
      rolldownOptions: { output: { format: 'cjs' } },
    },
  },
  renderer: {
    define: { ...define, __NANOLAB_TEST_HOOKS__: JSON.stringify(testHooks) },
    plugins: [vue()],
  },
});
