// The main process's decisions, kept apart from Electron so that tests run them under Node with
// stand-ins for Electron's objects: which pages are NanoLab, how the app quits, which window a
// dialog belongs to, and what happens when the lab cannot start. index.ts wires them to Electron.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../shared/errors';

/** Where the windows' pages come from: electron-vite's dev server, or the built index.html. */
export type RendererSource = { kind: 'dev'; url: URL } | { kind: 'file'; path: string };

/**
 * The dev server only for an unpackaged app started by `electron-vite dev` (which sets
 * ELECTRON_RENDERER_URL); the built page otherwise, whatever the environment says.
 */
export function rendererSource(options: { isPackaged: boolean; devServerUrl: string | undefined; builtIndex: string }): RendererSource {
  const { isPackaged, devServerUrl, builtIndex } = options;
  if (isPackaged || devServerUrl === undefined) return { kind: 'file', path: resolve(builtIndex) };
  let url: URL;
  try {
    url = new URL(devServerUrl);
  } catch {
    throw new UserError(`ELECTRON_RENDERER_URL (${devServerUrl}) is not a URL: start the app with \`npm run dev\`, or unset it to use the built pages`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`ELECTRON_RENDERER_URL (${devServerUrl}) must be an http(s) address of the dev server: start the app with \`npm run dev\``);
  }
  return { kind: 'dev', url };
}

/**
 * Whether `url` is one of NanoLab's own pages: exactly the built index.html, or exactly the dev
 * server's page, with any #route. Anything else (another file, the same file with a query, another
 * port or host) is not, so it can neither replace the app's page nor call the lab over IPC.
 */
export function isAppUrl(url: string, source: RendererSource): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  // a query, even an empty one (`index.html?`), makes it another address
  if (parsed.href.split('#', 1)[0]!.includes('?')) return false;
  if (source.kind === 'dev') {
    return parsed.origin === source.url.origin && parsed.username === '' && parsed.password === '' && parsed.pathname === source.url.pathname;
  }
  if (parsed.protocol !== 'file:' || parsed.host !== '') return false;
  let path: string;
  try {
    // decodes %-escapes (so `index%2Ehtml` is the same file) and refuses an escaped separator (%2F)
    path = fileURLToPath(parsed);
  } catch {
    return false;
  }
  return samePath(path, source.path);
}

function samePath(a: string, b: string): boolean {
  // Windows paths are case-insensitive, and Chromium writes the drive letter in upper case
  return process.platform === 'win32' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** Links that leave the app open in the system browser; every other address goes nowhere. */
export function isWebLink(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** What a window does when its page asks to navigate to `url`. */
export function navigationDecision(url: string, source: RendererSource): 'stay' | 'browser' | 'block' {
  if (isAppUrl(url, source)) return 'stay';
  return isWebLink(url) ? 'browser' : 'block';
}

/** The part of a BrowserWindow the decisions below look at. */
export interface WindowState {
  isDestroyed(): boolean;
  isVisible(): boolean;
}

/** Whether any window the user can see or bring back is open (the hidden GPU host does not count). */
export function hasAppWindow<W extends WindowState>(windows: readonly W[], gpuHost: W | null): boolean {
  return windows.some((w) => w !== gpuHost && !w.isDestroyed());
}

/**
 * The window a native dialog belongs to: the focused one, else the first visible app window, never
 * the hidden GPU host (a dialog attached to a hidden window would not show). Undefined: no parent.
 */
export function dialogParent<W extends WindowState>(focused: W | null, windows: readonly W[], gpuHost: W | null): W | undefined {
  const usable = (w: W) => w !== gpuHost && !w.isDestroyed() && w.isVisible();
  if (focused !== null && usable(focused)) return focused;
  return windows.find(usable);
}

/** The part of Electron's `app` the quit sequence uses. */
export interface QuitApp {
  on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): unknown;
  on(event: 'window-all-closed', listener: () => void): unknown;
  /** Ends the process at once: no before-quit, no window may refuse. */
  exit(exitCode?: number): void;
}

export interface QuitSequence {
  /** Starts the shutdown, or joins the one under way; resolves once the lab is closed. */
  quit(): Promise<void>;
}

/**
 * One way out of the app, whoever asks (Quit in the menu, the last window closing, `app.quit()`
 * anywhere): live runs stop and write their checkpoint, the database closes (`lab.close()`), and
 * only then does the app exit. Every request after the first joins the same shutdown, so there is
 * exactly one `lab.close()` and nothing quits around it.
 */
export function installQuitSequence(options: {
  app: QuitApp;
  lab: { close(): Promise<void> };
  platform: NodeJS.Platform;
  report: (message: string) => void;
}): QuitSequence {
  const { app, lab, platform, report } = options;
  let shutdown: Promise<void> | null = null;
  const quit = (): Promise<void> => {
    shutdown ??= Promise.resolve()
      .then(() => lab.close())
      .then(
        () => app.exit(0),
        (error: unknown) => {
          report(`NanoLab could not stop its runs cleanly: ${messageOf(error)}. Runs that were training continue from their last saved checkpoint.`);
          app.exit(1);
        },
      );
    return shutdown;
  };
  // app.quit() would close the windows (and the GPU host's page with its runs) right after this
  // event: hold it, and leave through app.exit once the lab is closed
  app.on('before-quit', (event) => {
    event.preventDefault();
    void quit();
  });
  // on macOS an app stays open without windows, as its users expect
  app.on('window-all-closed', () => {
    if (platform !== 'darwin') void quit();
  });
  return { quit };
}

/** The part of Electron's `app` and `dialog` the startup uses. */
export interface StartupApp {
  whenReady(): Promise<unknown>;
  exit(exitCode?: number): void;
}
export interface StartupDialog {
  showErrorBox(title: string, content: string): void;
}

/**
 * Starts the app once Electron is ready. When that fails (no better-sqlite3 build for Electron, a
 * database that cannot be opened) the user sees why in a message box, never a process left running
 * with no window, and the app exits with status 1.
 */
export async function startDesktop(options: {
  app: StartupApp;
  dialog: StartupDialog;
  start: () => void | Promise<void>;
  report: (message: string) => void;
}): Promise<void> {
  const { app, dialog, start, report } = options;
  try {
    await app.whenReady();
    await start();
  } catch (error) {
    const message = messageOf(error);
    report(`NanoLab could not start: ${message}`);
    dialog.showErrorBox('NanoLab could not start', message);
    app.exit(1);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
