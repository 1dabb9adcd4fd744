import { ensureBuilt } from './build/ensure-built';

// Once before every test file: the app's bundles must match the sources (the bundle and
// end-to-end tests use them), and building twice at once would race.
export default function setup(): void {
  ensureBuilt();
}
