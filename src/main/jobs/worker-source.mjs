// Worker entry when NanoLab runs from its TypeScript sources (CLI, tests): a worker thread does
// not inherit its parent's module loader, so it registers tsx itself, then loads the real worker.
// The Electron build bundles worker.ts instead and never uses this file.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
