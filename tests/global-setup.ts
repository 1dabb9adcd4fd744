import { ensureBuilt } from './build/ensure-built';

// Once before every test file: the app's bundles must match the sources (the bundle and
// end-to-end tests use them), and building twice at once would race. NANOLAB_TEST_NO_BUILD=1
// skips it for a quick run of tests that use no bundle (the engine, the store, the CLI).
export default function setup(): void {
  if (process.env.NANOLAB_TEST_NO_BUILD === '1') return;
  ensureBuilt();
}
