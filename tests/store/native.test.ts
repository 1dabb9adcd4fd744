import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseNativeBinding, currentRuntime, nativeBinaryPath, openDatabase, projectRoot } from '../../src/main/store/native';

describe('openDatabase', () => {
  it('opens an in-memory database under Node and runs SQL', () => {
    const db = openDatabase(':memory:');
    try {
      const row = db.prepare('select sqlite_version() as version').get() as { version: string };
      expect(row.version).toMatch(/^3\.\d+\.\d+$/);
    } finally {
      db.close();
    }
  });
});

describe('chooseNativeBinding', () => {
  const root = '/lab';
  const node = { modules: '115' };
  const electron = { modules: '145', electron: '41.7.1' };

  it('names one folder per runtime and ABI', () => {
    expect(nativeBinaryPath(root, 'node', '115')).toBe(join(root, 'build', 'native', 'node-115', 'better_sqlite3.node'));
    expect(nativeBinaryPath(root, 'electron', '145')).toBe(join(root, 'build', 'native', 'electron-145', 'better_sqlite3.node'));
  });

  it('tells Node from Electron by process.versions.electron', () => {
    expect(currentRuntime(node)).toBe('node');
    expect(currentRuntime(electron)).toBe('electron');
  });

  it('picks the side-by-side build for the running ABI', () => {
    const everything = () => true;
    expect(chooseNativeBinding({ root, versions: node, exists: everything })).toBe(nativeBinaryPath(root, 'node', '115'));
    expect(chooseNativeBinding({ root, versions: electron, exists: everything })).toBe(nativeBinaryPath(root, 'electron', '145'));
  });

  it("falls back to the package's own build under Node", () => {
    expect(chooseNativeBinding({ root, versions: node, exists: () => false })).toBeUndefined();
  });

  it('says how to build the Electron binary when it is missing', () => {
    expect(() => chooseNativeBinding({ root, versions: electron, exists: () => false })).toThrow(/scripts\/native\.mjs --runtime electron/);
  });

  it('finds the project root from the source tree', () => {
    expect(projectRoot()).toBe(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
  });
});
