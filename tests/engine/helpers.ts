import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TorchFixture } from '../../src/engine/parity';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));

/** Every fixture listed in the fixtures' index.json, parsed. */
export function loadFixtures(): { file: string; fx: TorchFixture }[] {
  const index = JSON.parse(readFileSync(FIXTURE_DIR + 'index.json', 'utf8')) as { files: { file: string }[] };
  return index.files.map(({ file }) => ({ file, fx: JSON.parse(readFileSync(FIXTURE_DIR + file, 'utf8')) as TorchFixture }));
}
