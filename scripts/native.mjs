#!/usr/bin/env node
// Keeps one better-sqlite3 binary per runtime side by side, so switching between the CLI/tests
// (Node) and the desktop app (Electron) never needs a rebuild:
//   build/native/node-<abi>/better_sqlite3.node      copied from node_modules (npm's own build)
//   build/native/electron-<abi>/better_sqlite3.node  built once by @electron/rebuild in a temp copy
// src/main/store/native.ts picks the one matching process.versions.modules at run time.
//
//   node scripts/native.mjs --runtime node       (postinstall; also run by bin/nanolab.js)
//   node scripts/native.mjs --runtime electron   (npm start / npm run dev)
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ELECTRON_VERSION = '41.7.1'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const packageDir = join(root, 'node_modules', 'better-sqlite3')
const defaultBinary = join(packageDir, 'build', 'Release', 'better_sqlite3.node')

/** Where the binary for one runtime/ABI lives; src/main/store/native.ts uses the same layout. */
export function nativeBinaryPath(runtime, abi) {
  return join(root, 'build', 'native', `${runtime}-${abi}`, 'better_sqlite3.node')
}

/**
 * The NODE_MODULE_VERSION a native addon was built for, as seen by this Node: its own ABI when
 * it loads, otherwise the version named in Node's refusal. Loaded in a child process so a good
 * load does not pin the file in this one.
 */
export function binaryAbi(file) {
  const probe = `try { process.dlopen({ exports: {} }, ${JSON.stringify(file)}); console.log(process.versions.modules) }
    catch (e) { const m = /NODE_MODULE_VERSION (\\d+)/.exec(e.message); console.log(m ? m[1] : 'error: ' + e.message.split('\\n')[0]) }`
  return execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }).trim()
}

/** Copies npm's Node build of better-sqlite3 into build/native/node-<abi>/ (no rebuild). */
export function ensureNodeBinary({ quiet = false } = {}) {
  const abi = process.versions.modules
  const target = nativeBinaryPath('node', abi)
  if (existsSync(target)) return target
  if (!existsSync(defaultBinary)) {
    throw new Error(`better-sqlite3 has no native build at ${defaultBinary}. Run \`npm rebuild better-sqlite3\` (with npm_config_nodedir=/usr where Node's headers cannot be downloaded).`)
  }
  const found = binaryAbi(defaultBinary)
  if (found !== abi) {
    throw new Error(`node_modules/better-sqlite3 was built for NODE_MODULE_VERSION ${found}, but Node ${process.version} needs ${abi}. Run \`npm rebuild better-sqlite3\` to restore the Node build; the Electron build lives under build/native/ and is kept.`)
  }
  mkdirSync(dirname(target), { recursive: true })
  copyFileSync(defaultBinary, target)
  if (!quiet) console.log(`better-sqlite3: Node build (ABI ${abi}) -> ${target}`)
  return target
}

/** The NODE_MODULE_VERSION of Electron ELECTRON_VERSION, from node-abi's registry. */
export function electronAbi() {
  const requireFromRebuild = createRequire(createRequire(import.meta.url).resolve('@electron/rebuild'))
  return requireFromRebuild('node-abi').getAbi(ELECTRON_VERSION, 'electron')
}

/**
 * Builds better-sqlite3 for Electron into a temporary copy of the package (node_modules keeps
 * the Node build), checks the result really has Electron's ABI, and stores it under build/native.
 */
export async function ensureElectronBinary() {
  const abi = electronAbi()
  const target = nativeBinaryPath('electron', abi)
  if (existsSync(target)) return target

  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'))
  const work = mkdtempSync(join(tmpdir(), 'nanolab-native-'))
  const copy = join(work, 'node_modules', 'better-sqlite3')
  try {
    cpSync(packageDir, copy, { recursive: true, filter: (src) => !src.startsWith(join(packageDir, 'build')) })
    // electron/rebuild rebuilds the dependencies of the package at buildPath
    writeJson(join(work, 'package.json'), { name: 'nanolab-native', private: true, dependencies: { 'better-sqlite3': version } })
    // npm_config_nodedir=/usr (needed for Node builds here) would make node-gyp silently build
    // against Node's headers, i.e. Node's ABI: Electron's headers must be used instead.
    for (const key of Object.keys(process.env)) if (/^npm_config_nodedir$/i.test(key)) delete process.env[key]
    const { rebuild } = await import('@electron/rebuild')
    console.log(`better-sqlite3: building for Electron ${ELECTRON_VERSION} (ABI ${abi}); this needs Electron's headers from the internet, once.`)
    await rebuild({ buildPath: work, electronVersion: ELECTRON_VERSION, onlyModules: ['better-sqlite3'], force: true })
    const built = join(copy, 'build', 'Release', 'better_sqlite3.node')
    if (!existsSync(built)) throw new Error(`@electron/rebuild finished but produced no ${built}`)
    const found = binaryAbi(built)
    if (found !== String(abi)) {
      throw new Error(`@electron/rebuild produced a binary for NODE_MODULE_VERSION ${found}, not Electron's ${abi} (was it built against Node's headers?). Nothing was installed.`)
    }
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(built, target)
    console.log(`better-sqlite3: Electron build (ABI ${abi}) -> ${target}`)
    return target
  } catch (error) {
    throw new Error(`Could not build better-sqlite3 for Electron ${ELECTRON_VERSION}: ${firstLine(error)}\n` +
      `The desktop app needs it; the CLI and the tests do not. On a machine without access to Electron's headers ` +
      `(https://artifacts.electronjs.org), build it elsewhere and copy it to ${target}.`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function writeJson(file, value) {
  writeFileSync(file, JSON.stringify(value, null, 2))
}

function firstLine(error) {
  return String(error instanceof Error ? error.message : error).split('\n')[0]
}

async function main(argv) {
  const runtime = argv[argv.indexOf('--runtime') + 1]
  if (!argv.includes('--runtime') || !['node', 'electron'].includes(runtime)) {
    throw new Error(`usage: node scripts/native.mjs --runtime node|electron (got ${argv.join(' ') || 'no arguments'})`)
  }
  if (runtime === 'node') ensureNodeBinary()
  else await ensureElectronBinary()
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`nanolab: ${error instanceof Error ? error.message : error}`)
    process.exit(1)
  })
}
