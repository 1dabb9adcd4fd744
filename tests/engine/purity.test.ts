import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The engine runs in Node, in Electron's main process and in a browser Web Worker (the GPU
// backend): it may import nothing from Node, Electron or the DOM. Hosts pass bytes and text in.

const engineDir = fileURLToPath(new URL('../../src/engine/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('engine purity', () => {
  const files = sources(engineDir);

  it('finds the engine sources', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it('imports only engine modules: no node:*, fs, path, worker_threads, electron', () => {
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2];
        expect(spec.startsWith('.'), `${file} imports ${spec}`).toBe(true);
      }
    }
  });

  it('uses no Node or DOM globals', () => {
    const forbidden = /\b(Buffer|process|require|__dirname|document|window|localStorage)\b\s*[.(]/;
    for (const file of files) {
      const code = readFileSync(file, 'utf8')
        .replace(/\/\/.*$/gm, '')
        .replace(/\/\*[\s\S]*?\*\//g, '');
      expect(code.match(forbidden)?.[0] ?? null, file).toBeNull();
    }
  });
});
