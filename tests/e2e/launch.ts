import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../build/ensure-built';

// What the e2e files share: the real `nanolab serve` on a temporary lab, and Debian's Chromium.

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

export interface Served {
  server: ChildProcess;
  url: string;
  home: string;
  /** Everything the server printed, and page errors the tests add. */
  log: string[];
  stop(): Promise<void>;
}

/** Serves a new temporary lab, or `home` (a lab the test has filled first, e.g. with CLI runs). */
export async function serveLab(home = mkdtempSync(join(tmpdir(), 'nanolab-e2e-'))): Promise<Served> {
  const log: string[] = [];
  const server = spawn(process.execPath, [join(ROOT, 'bin/nanolab.js'), 'serve', '--port', '0'], { env: { ...process.env, NANOLAB_HOME: home }, cwd: ROOT });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nanolab serve printed no URL:\n${log.join('')}`)), 30_000);
    const read = (chunk: Buffer) => {
      log.push(String(chunk));
      const m = /open (http:\/\/\S+)/.exec(log.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server.stdout!.on('data', read);
    server.stderr!.on('data', read);
    server.on('exit', (code) => reject(new Error(`nanolab serve exited (${code}):\n${log.join('')}`)));
  });
  return {
    server,
    url,
    home,
    log,
    async stop() {
      if (server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGINT');
      await exited;
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
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
}

/** Types into a field the way a user does, then commits it (the views validate on change). */
export async function setField(page: Page, testId: string, value: string): Promise<void> {
  const field = page.locator(`[data-test="${testId}"]`);
  await field.fill(value);
  await field.dispatchEvent('change');
}
