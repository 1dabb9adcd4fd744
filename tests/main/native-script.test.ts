import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  downloadPrebuild,
  ensureElectronBinary,
  makePackageCopy,
  missingToolchain,
  onPath,
  prebuildInstallBin,
  type ElectronBuildSteps,
} from '../../scripts/native.mjs';

// How `npm start` gets better-sqlite3 for Electron (scripts/native.mjs): the published prebuild
// where one downloads, a compile otherwise, and a message that names what is missing. The network
// and the compiler are replaced by steps that write the file they would write; the package copy
// and the resolution of prebuild-install are real.

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nanolab-native-test-'));
  made.push(dir);
  return dir;
}

/** Steps that record what ran; a builder writes a binary whose ABI `abiOf` then reports. */
function harness(options: { prebuild: 'ok' | 'wrong-abi' | Error; compile?: 'ok' | 'wrong-abi' | Error; missing?: string[] }) {
  const dir = scratch();
  const work = join(dir, 'work');
  const copy = join(work, 'node_modules', 'better-sqlite3');
  const target = join(dir, 'build', 'native', 'electron-145', 'better_sqlite3.node');
  const ran: string[] = [];
  const lines: string[] = [];
  const produce = (outcome: 'ok' | 'wrong-abi' | Error | undefined, by: string) => {
    ran.push(by);
    if (outcome instanceof Error) throw outcome;
    mkdirSync(join(copy, 'build', 'Release'), { recursive: true });
    writeFileSync(join(copy, 'build', 'Release', 'better_sqlite3.node'), outcome === 'ok' ? `${by} for 145` : `${by} for 115`);
  };
  const steps: Partial<ElectronBuildSteps> & { abi: string; target: string } = {
    abi: '145',
    target,
    makeCopy: () => {
      mkdirSync(copy, { recursive: true });
      return { work, copy };
    },
    prebuild: async (packageCopy) => {
      expect(packageCopy).toBe(copy);
      produce(options.prebuild, 'prebuild');
    },
    compile: async (buildPath) => {
      expect(buildPath).toBe(work);
      produce(options.compile, 'compile');
    },
    missingTools: () => {
      ran.push('toolchain check');
      return options.missing ?? [];
    },
    abiOf: (file) => readFileSync(file, 'utf8').split(' for ')[1]!,
    log: (line) => lines.push(line),
  };
  return { steps, target, work, ran, lines };
}

describe('ensureElectronBinary', () => {
  it('stores the published prebuild and compiles nothing when one downloads', async () => {
    const h = harness({ prebuild: 'ok' });
    await expect(ensureElectronBinary(h.steps)).resolves.toBe(h.target);
    expect(h.ran).toEqual(['prebuild']);
    expect(readFileSync(h.target, 'utf8')).toBe('prebuild for 145');
    expect(h.lines).toEqual([`better-sqlite3: Electron 41.7.1 build (ABI 145, prebuilt) -> ${h.target}`]);
    expect(existsSync(h.work)).toBe(false);
  });

  it('compiles when there is no prebuild, and says why', async () => {
    const h = harness({ prebuild: new Error('No prebuilt binaries found (target=41.7.1 runtime=electron arch=riscv64 libc= platform=linux)'), compile: 'ok' });
    await expect(ensureElectronBinary(h.steps)).resolves.toBe(h.target);
    expect(h.ran).toEqual(['prebuild', 'toolchain check', 'compile']);
    expect(readFileSync(h.target, 'utf8')).toBe('compile for 145');
    expect(h.lines[0]).toBe(
      'better-sqlite3: no prebuilt binary for Electron 41.7.1 (No prebuilt binaries found (target=41.7.1 runtime=electron arch=riscv64 libc= platform=linux)); compiling one instead.',
    );
    expect(h.lines[1]).toContain('compiled');
  });

  it('compiles when the download is for another ABI, and never stores that one', async () => {
    const h = harness({ prebuild: 'wrong-abi', compile: 'ok' });
    await ensureElectronBinary(h.steps);
    expect(h.ran).toEqual(['prebuild', 'toolchain check', 'compile']);
    expect(h.lines[0]).toContain("the binary is for NODE_MODULE_VERSION 115, not Electron's 145");
    expect(readFileSync(h.target, 'utf8')).toBe('compile for 145');
  });

  it('names the missing tools, not the headers, when it cannot compile', async () => {
    const h = harness({ prebuild: new Error('getaddrinfo ENOTFOUND github.com'), missing: ['make', 'g++'] });
    const error = await ensureElectronBinary(h.steps).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toBe(
      'Could not get better-sqlite3 for Electron 41.7.1: there is no prebuilt binary (getaddrinfo ENOTFOUND github.com), and compiling one needs ' +
        'python3, make and a C++ compiler, but make, g++ are not on the PATH. Install them (Debian/Ubuntu: `sudo apt-get install python3 make g++`; ' +
        'macOS: `xcode-select --install`) and run `npm start` again. The desktop app needs this binary; the CLI and the tests do not.',
    );
    expect(error?.message).not.toMatch(/header/i);
    expect(h.ran).toEqual(['prebuild', 'toolchain check']);
    expect(existsSync(h.target)).toBe(false);
    expect(existsSync(h.work)).toBe(false);
  });

  it('points at the headers and a manual copy when the toolchain is there but the compile fails', async () => {
    const h = harness({ prebuild: new Error('getaddrinfo ENOTFOUND github.com'), compile: new Error("node-gyp failed to rebuild '/x/better-sqlite3'") });
    await expect(ensureElectronBinary(h.steps)).rejects.toThrow(
      `compiling one failed: node-gyp failed to rebuild '/x/better-sqlite3'. Compiling downloads Electron's headers (https://www.electronjs.org/headers) once; ` +
        `where that cannot be reached, build it on another machine and copy it to ${h.target}.`,
    );
    expect(existsSync(h.target)).toBe(false);
  });

  it("refuses a compiled binary that does not carry Electron's ABI", async () => {
    const h = harness({ prebuild: new Error('getaddrinfo ENOTFOUND github.com'), compile: 'wrong-abi' });
    await expect(ensureElectronBinary(h.steps)).rejects.toThrow(
      "the binary is for NODE_MODULE_VERSION 115, not Electron's 145 (was it built against Node's headers?). Nothing was installed.",
    );
    expect(existsSync(h.target)).toBe(false);
  });

  it('does nothing when the Electron build is already there', async () => {
    const h = harness({ prebuild: 'ok' });
    mkdirSync(dirname(h.target), { recursive: true });
    writeFileSync(h.target, 'kept');
    await expect(ensureElectronBinary(h.steps)).resolves.toBe(h.target);
    expect(h.ran).toEqual([]);
    expect(readFileSync(h.target, 'utf8')).toBe('kept');
  });
});

describe('the package copy', () => {
  it('resolves the hoisted prebuild-install, so the published prebuild can be fetched', () => {
    const { work, copy } = makePackageCopy();
    made.push(work);
    expect(work.startsWith(join(root, 'build', 'native'))).toBe(true);
    expect(existsSync(join(copy, 'binding.gyp'))).toBe(true);
    // the Node build stays in node_modules; the copy starts without one
    expect(existsSync(join(copy, 'build'))).toBe(false);
    expect(prebuildInstallBin(copy)).toBe(join(root, 'node_modules', 'prebuild-install', 'bin.js'));
  });

  it('could not resolve it from the system temp folder (where the old copy lived)', async () => {
    const { work, copy } = makePackageCopy(scratch());
    made.push(work);
    expect(prebuildInstallBin(copy)).toBeNull();
    await expect(downloadPrebuild(copy)).rejects.toThrow(`prebuild-install cannot be resolved from ${copy}; run \`npm ci\` to restore it`);
  });
});

describe('missingToolchain', () => {
  const everything = () => true;
  const nothing = () => false;

  it('names Python, make and the C++ compiler node-gyp needs', () => {
    expect(missingToolchain({ platform: 'linux', env: {}, has: everything })).toEqual([]);
    expect(missingToolchain({ platform: 'linux', env: {}, has: nothing })).toEqual(['python3', 'make', 'g++']);
    expect(missingToolchain({ platform: 'darwin', env: {}, has: nothing })).toEqual(['python3', 'make', 'clang++']);
    expect(missingToolchain({ platform: 'linux', env: {}, has: (c) => c === 'python' || c === 'make' || c === 'clang++' })).toEqual([]);
  });

  it('honours PYTHON, npm_config_python and CXX as node-gyp does', () => {
    const has = (c: string) => ['/opt/py/bin/python3.12', 'make', '/opt/gcc/bin/g++-14'].includes(c);
    expect(missingToolchain({ platform: 'linux', env: { PYTHON: '/opt/py/bin/python3.12', CXX: '/opt/gcc/bin/g++-14' }, has })).toEqual([]);
    expect(missingToolchain({ platform: 'linux', env: { npm_config_python: '/opt/py/bin/python3.12' }, has })).toEqual(['g++']);
  });

  it('leaves Windows to node-gyp, which finds Visual Studio itself', () => {
    expect(missingToolchain({ platform: 'win32', env: {}, has: nothing })).toEqual([]);
  });

  it('looks on the real PATH', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'fake-cc'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(dir, 'not-executable'), '', { mode: 0o644 });
    expect(onPath('fake-cc', { PATH: dir })).toBe(true);
    expect(onPath('not-executable', { PATH: dir })).toBe(false);
    expect(onPath('fake-cc', { PATH: '/nonexistent' })).toBe(false);
    expect(onPath(join(dir, 'fake-cc'), {})).toBe(true);
  });
});
