import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../build/ensure-built';

// Runs the engine's GPU backend where gpu.js has a GPU: in a dedicated Web Worker of headless
// Chromium (WebGL2 through SwiftShader here). The worker is bundled with esbuild (gpu.js resolves to
// its browser build), served with the fixtures by a tiny HTTP server, and driven over postMessage.

export const CHROMIUM = '/usr/bin/chromium';
const FIXTURES = join(ROOT, 'tests', 'fixtures', 'torch');

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>NanoLab GPU tests</title>
<script type="module">
const worker = new Worker('/worker.js', { type: 'module' });
const pending = new Map();
let next = 0;
window.workerReady = new Promise((resolve, reject) => {
  worker.onmessage = (event) => {
    const { id, ready, result, error } = event.data;
    if (ready) return resolve(true);
    const call = pending.get(id);
    pending.delete(id);
    if (error !== undefined) call.reject(new Error(error));
    else call.resolve(result);
  };
  worker.onerror = (event) => {
    const error = new Error('worker failed: ' + event.message);
    reject(error);
    for (const call of pending.values()) call.reject(error);
  };
});
window.gpuCall = (cmd, args) => new Promise((resolve, reject) => {
  const id = next++;
  pending.set(id, { resolve, reject });
  worker.postMessage({ id, cmd, args });
});
</script>`;

export interface GpuHarness {
  call<T>(cmd: string, args?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function bundleWorker(): Promise<string> {
  const result = await build({
    entryPoints: [join(ROOT, 'tests', 'gpu', 'worker.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    define: { __APP_VERSION__: JSON.stringify('test') },
  });
  return result.outputFiles[0].text;
}

function serve(worker: string): Promise<Server> {
  const server = createServer((req, res) => {
    // cross-origin isolated, as the app's browser mode (SharedArrayBuffer for the wasm CPU kernels)
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    const url = req.url ?? '/';
    const fixture = /^\/fixtures\/([a-z0-9_]+\.json)$/.exec(url);
    if (url === '/' || url === '/index.html') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(PAGE);
    } else if (url === '/worker.js') {
      res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
      res.end(worker);
    } else if (fixture && existsSync(join(FIXTURES, fixture[1]))) {
      res.setHeader('Content-Type', 'application/json');
      res.end(readFileSync(join(FIXTURES, fixture[1])));
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export async function startGpuHarness(log: (line: string) => void = () => {}): Promise<GpuHarness> {
  const server = await serve(await bundleWorker());
  const userDataDir = mkdtempSync(join(tmpdir(), 'nanolab-gpu-chromium-'));
  let context: BrowserContext | null = null;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page: Page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => log(`console: ${m.text()}`));
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.evaluate(() => (globalThis as unknown as { workerReady: Promise<boolean> }).workerReady);
    const opened = context;
    return {
      call: <T>(cmd: string, args?: unknown) =>
        page.evaluate(([c, a]) => (globalThis as unknown as { gpuCall(c: string, a: unknown): Promise<unknown> }).gpuCall(c, a), [
          cmd,
          args,
        ] as const) as Promise<T>,
      async close() {
        await opened.close();
        server.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await context?.close();
    server.close();
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
}
