import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The page talks to the host through the contract (src/shared) alone. Only its GPU executor
// (src/renderer/src/gpu) runs the engine, in a Web Worker; views, components, stores,
// composables and lib/ import nothing from src/engine or src/main, and src/shared names engine
// types only (`import type`, erased), so the contract pulls no engine code into the page.

const root = fileURLToPath(new URL('../../', import.meta.url));
const rendererDir = join(root, 'src/renderer/src');
const gpuDir = join(rendererDir, 'gpu');
const sharedDir = join(root, 'src/shared');
const forbidden = ['src/engine', 'src/main'].map((d) => join(root, d));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.(ts|vue)$/.test(path) ? [path] : [];
  });
}

/** Every module a file imports (static, side-effect, dynamic, re-export), with whether it is type-only. */
function imports(file: string): { spec: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const found: { spec: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/^\s*(import|export)(\s+type)?\b[^'"]*?from\s*['"]([^'"]+)['"]/gm)) found.push({ spec: m[3], typeOnly: Boolean(m[2]) });
  for (const m of text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) found.push({ spec: m[1], typeOnly: false });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ spec: m[1], typeOnly: false });
  return found;
}

/** The engine or main folder a relative import reaches, or null. */
function reaches(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = resolve(dirname(file), spec);
  const hit = forbidden.find((d) => target === d || target.startsWith(`${d}/`));
  return hit ? relative(root, hit) : null;
}

describe('the renderer imports the engine only from its GPU executor', () => {
  const files = sources(rendererDir).filter((f) => !f.startsWith(`${gpuDir}/`));

  it('finds the views, components, stores, composables and lib', () => {
    for (const dir of ['views', 'components', 'stores', 'composables', 'lib']) {
      expect(files.some((f) => f.startsWith(join(rendererDir, dir))), dir).toBe(true);
    }
  });

  it('no file outside src/renderer/src/gpu imports from src/engine or src/main', () => {
    const offending = files.flatMap((file) => imports(file)
      .filter(({ spec }) => reaches(file, spec))
      .map(({ spec }) => `${relative(root, file)} imports ${spec}`));
    expect(offending).toEqual([]);
  });

  it('src/shared names engine and main modules in types only', () => {
    const offending = sources(sharedDir).flatMap((file) => imports(file)
      .filter(({ spec, typeOnly }) => !typeOnly && reaches(file, spec))
      .map(({ spec }) => `${relative(root, file)} imports ${spec}`));
    expect(offending).toEqual([]);
  });

  it('the scan catches an import it should refuse', () => {
    const view = join(rendererDir, 'views/Example.vue');
    expect(reaches(view, '../../../engine/train')).toBe('src/engine');
    expect(reaches(view, '../../../main/api/lab-api')).toBe('src/main');
    expect(reaches(view, '../../../shared/contract')).toBeNull();
    expect(reaches(view, '../gpu/executor')).toBeNull();
  });
});
