#!/usr/bin/env node
// Keeps one better-sqlite3 binary per runtime side by side, so switching between the CLI/tests
// (Node) and the desktop app (Electron) never needs a rebuild:
//   build/native/node-<abi>/better_sqlite3.node      copied from node_modules (npm's own build)
//   build/native/electron-<abi>/better_sqlite3.node  the published Electron prebuild, or compiled
//                                                     once, in a throwaway copy of the package
// src/main/store/native.ts picks the one matching process.versions.modules at run time.
//
//   node scripts/native.mjs --runtime node       (postinstall; also run by bin/nanolab.js)
//   node scripts/native.mjs --runtime electron   (npm start / npm run dev)
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

export const ELECTRON_VERSION = '41.7.1';
const execFileAsync = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packageDir = join(root, 'node_modules', 'better-sqlite3');
const defaultBinary = join(packageDir, 'build', 'Release', 'better_sqlite3.node');

/** Where the binary for one runtime/ABI lives; src/main/store/native.ts uses the same layout. */
export function nativeBinaryPath(runtime, abi) {
  return join(root, 'build', 'native', `${runtime}-${abi}`, 'better_sqlite3.node');
}

/**
 * The NODE_MODULE_VERSION a native addon was built for, as seen by this Node: its own ABI when
 * it loads, otherwise the version named in Node's refusal. Loaded in a child process so a good
 * load does not pin the file in this one.
 */
export function binaryAbi(file) {
  const probe = `try { process.dlopen({ exports: {} }, ${JSON.stringify(file)}); console.log(process.versions.modules) }
    catch (e) { const m = /NODE_MODULE_VERSION (\\d+)/.exec(e.message); console.log(m ? m[1] : 'error: ' + e.message.split('\\n')[0]) }`;
  return execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }).trim();
}

/** Copies npm's Node build of better-sqlite3 into build/native/node-<abi>/ (no rebuild). */
export function ensureNodeBinary({ quiet = false } = {}) {
  const abi = process.versions.modules;
  const target = nativeBinaryPath('node', abi);
  if (existsSync(target)) return target;
  if (!existsSync(defaultBinary)) {
    throw new Error(
      `better-sqlite3 has no native build at ${defaultBinary}. Run \`npm rebuild better-sqlite3\` (with npm_config_nodedir=/usr where Node's headers cannot be downloaded).`,
    );
  }
  const found = binaryAbi(defaultBinary);
  if (found !== abi) {
    throw new Error(
      `node_modules/better-sqlite3 was built for NODE_MODULE_VERSION ${found}, but Node ${process.version} needs ${abi}. Run \`npm rebuild better-sqlite3\` to restore the Node build; the Electron build lives under build/native/ and is kept.`,
    );
  }
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(defaultBinary, target);
  if (!quiet) console.log(`better-sqlite3: Node build (ABI ${abi}) -> ${target}`);
  return target;
}

/** The NODE_MODULE_VERSION of Electron ELECTRON_VERSION, from node-abi's registry. */
export function electronAbi() {
  const requireFromRebuild = createRequire(createRequire(import.meta.url).resolve('@electron/rebuild'));
  return String(requireFromRebuild('node-abi').getAbi(ELECTRON_VERSION, 'electron'));
}

/**
 * A throwaway copy of better-sqlite3 without its build/ (node_modules keeps the Node build),
 * made inside build/native/ rather than the system's temp folder: from there the copy resolves the
 * project's hoisted prebuild-install (and @electron/rebuild finds it), as node_modules/better-sqlite3
 * itself does. The caller removes `work`.
 */
export function makePackageCopy(parent = join(root, 'build', 'native')) {
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, '.electron-build-'));
  const copy = join(work, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  cpSync(packageDir, copy, { recursive: true, filter: (src) => !src.startsWith(join(packageDir, 'build')) });
  // @electron/rebuild rebuilds the dependencies of the package at its buildPath
  writeJson(join(work, 'package.json'), { name: 'nanolab-native', private: true, dependencies: { 'better-sqlite3': version } });
  return { work, copy };
}

/** prebuild-install's command as the package at `packageCopy` resolves it, or null where it cannot. */
export function prebuildInstallBin(packageCopy) {
  try {
    return createRequire(join(packageCopy, 'package.json')).resolve('prebuild-install/bin.js');
  } catch (error) {
    if (error?.code === 'MODULE_NOT_FOUND') return null;
    throw error;
  }
}

/**
 * Downloads better-sqlite3's published Electron build into `packageCopy`/build/Release, as its own
 * install script does for Node. Throws with prebuild-install's last word when there is none for this
 * platform or the download fails.
 */
export async function downloadPrebuild(packageCopy) {
  const bin = prebuildInstallBin(packageCopy);
  if (bin === null) throw new Error(`prebuild-install cannot be resolved from ${packageCopy}; run \`npm ci\` to restore it`);
  const args = [bin, '--runtime', 'electron', '--target', ELECTRON_VERSION, '--arch', process.arch, '--platform', process.platform];
  try {
    await execFileAsync(process.execPath, args, { cwd: packageCopy, encoding: 'utf8', timeout: 5 * 60_000 });
  } catch (error) {
    const said = String(error?.stderr ?? '')
      .trim()
      .split('\n')
      .filter(Boolean)
      .at(-1);
    throw new Error(said ? said.replace(/^prebuild-install (warn|info|ERR!) \S+ /, '') : firstLine(error));
  }
}

/** Compiles the package copy under `work` for Electron with node-gyp, through @electron/rebuild. */
export async function compileWithRebuild(work) {
  // npm_config_nodedir=/usr (needed for Node builds here) would make node-gyp silently build
  // against Node's headers, i.e. Node's ABI: Electron's headers must be used instead.
  for (const key of Object.keys(process.env)) if (/^npm_config_nodedir$/i.test(key)) delete process.env[key];
  const { rebuild } = await import('@electron/rebuild');
  // buildFromSource: the prebuild was already tried, by downloadPrebuild
  await rebuild({ buildPath: work, electronVersion: ELECTRON_VERSION, onlyModules: ['better-sqlite3'], force: true, buildFromSource: true });
}

/** Whether `command` is an executable file on PATH (or at that path, when it names one). */
export function onPath(command, env = process.env) {
  const names = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')].map((ext) => command + ext) : [command];
  const candidates =
    command.includes('/') || command.includes('\\')
      ? names
      : (env.PATH ?? '')
          .split(delimiter)
          .filter(Boolean)
          .flatMap((dir) => names.map((name) => join(dir, name)));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * The tools node-gyp needs to compile better-sqlite3 that this machine lacks: Python, make and a
 * C++ compiler. Empty on Windows, where node-gyp looks for Visual Studio itself and says what it
 * is missing.
 */
export function missingToolchain({ platform = process.platform, env = process.env, has = (command) => onPath(command, env) } = {}) {
  if (platform === 'win32') return [];
  const missing = [];
  const pythons = [env.npm_config_python, env.PYTHON, 'python3', 'python'].filter(Boolean);
  if (!pythons.some(has)) missing.push('python3');
  if (!has('make')) missing.push('make');
  const compilers = [env.CXX, 'g++', 'c++', 'clang++'].filter(Boolean);
  if (!compilers.some(has)) missing.push(platform === 'darwin' ? 'clang++' : 'g++');
  return missing;
}

const APP_ONLY = 'The desktop app needs this binary; the CLI and the tests do not.';

const defaultSteps = {
  makeCopy: makePackageCopy,
  prebuild: downloadPrebuild,
  compile: compileWithRebuild,
  missingTools: () => missingToolchain(),
  abiOf: binaryAbi,
  log: (line) => console.log(line),
};

/**
 * Gets better-sqlite3 for Electron into build/native/electron-<abi>/: the published prebuild where
 * one downloads, otherwise a compile (which needs Python, make and a C++ compiler, and Electron's
 * headers from the internet). Either way the binary must carry Electron's ABI before it is stored.
 * Each step can be replaced (tests pass their own; see defaultSteps).
 */
export async function ensureElectronBinary(options = {}) {
  const steps = { ...defaultSteps, ...options };
  const abi = String(options.abi ?? electronAbi());
  const target = options.target ?? nativeBinaryPath('electron', abi);
  if (existsSync(target)) return target;

  const { work, copy } = steps.makeCopy();
  const built = join(copy, 'build', 'Release', 'better_sqlite3.node');
  const wrongAbi = () => {
    if (!existsSync(built)) return `no ${built} was produced`;
    const found = steps.abiOf(built);
    return found === abi ? null : `the binary is for NODE_MODULE_VERSION ${found}, not Electron's ${abi}`;
  };
  const store = (how) => {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(built, target);
    steps.log(`better-sqlite3: Electron ${ELECTRON_VERSION} build (ABI ${abi}, ${how}) -> ${target}`);
    return target;
  };
  try {
    let noPrebuild;
    try {
      await steps.prebuild(copy);
      noPrebuild = wrongAbi();
    } catch (error) {
      noPrebuild = firstLine(error);
    }
    if (noPrebuild === null) return store('prebuilt');

    steps.log(`better-sqlite3: no prebuilt binary for Electron ${ELECTRON_VERSION} (${noPrebuild}); compiling one instead.`);
    const missing = steps.missingTools();
    if (missing.length > 0) {
      throw new Error(
        `Could not get better-sqlite3 for Electron ${ELECTRON_VERSION}: there is no prebuilt binary (${noPrebuild}), and compiling one ` +
          `needs python3, make and a C++ compiler, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not on the PATH. ` +
          `Install ${missing.length === 1 ? 'it' : 'them'} (Debian/Ubuntu: \`sudo apt-get install python3 make g++\`; macOS: \`xcode-select --install\`) ` +
          `and run \`npm start\` again. ${APP_ONLY}`,
      );
    }
    try {
      await steps.compile(work);
    } catch (error) {
      throw new Error(
        `Could not get better-sqlite3 for Electron ${ELECTRON_VERSION}: there is no prebuilt binary (${noPrebuild}), and compiling one failed: ` +
          `${firstLine(error)}. Compiling downloads Electron's headers (https://www.electronjs.org/headers) once; where that cannot be ` +
          `reached, build it on another machine and copy it to ${target}. ${APP_ONLY}`,
      );
    }
    const wrong = wrongAbi();
    if (wrong !== null) {
      throw new Error(
        `Compiling better-sqlite3 for Electron ${ELECTRON_VERSION} went wrong: ${wrong} (was it built against Node's headers?). Nothing was installed.`,
      );
    }
    return store('compiled');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function writeJson(file, value) {
  writeFileSync(file, JSON.stringify(value, null, 2));
}

function firstLine(error) {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}

async function main(argv) {
  const runtime = argv[argv.indexOf('--runtime') + 1];
  if (!argv.includes('--runtime') || !['node', 'electron'].includes(runtime)) {
    throw new Error(`usage: node scripts/native.mjs --runtime node|electron (got ${argv.join(' ') || 'no arguments'})`);
  }
  if (runtime === 'node') ensureNodeBinary();
  else await ensureElectronBinary();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`nanolab: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  });
}
