// Electron entry: one window, a sandboxed renderer with no Node access and no remote content. The
// lab itself (database, runs, analysis) is the same LabApi that `nanolab serve` uses; here its
// methods are answered over IPC and its events pushed to every window. The decisions (which pages
// are the app, how it quits, dialogs' parent, a failed start) live in desktop.ts, with their tests.
import { app, BrowserWindow, dialog, ipcMain, shell, type IpcMainInvokeEvent, type OpenDialogOptions } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabApi } from './api/lab-api';
import {
  dialogParent,
  hasAppWindow,
  installQuitSequence,
  isAppUrl,
  isWebLink,
  navigationDecision,
  rendererSource,
  startDesktop,
  type QuitSequence,
  type RendererSource,
} from './desktop';
import { APP_NAME, ContractError, IPC_EVENT, IPC_INVOKE } from '../shared/contract';
import { isUserError } from '../shared/errors';

const here = fileURLToPath(new URL('.', import.meta.url));

function openExternally(url: string): void {
  // Only web links leave the app, and they go to the system browser, never into a window.
  if (isWebLink(url)) void shell.openExternal(url);
}

function createMainWindow(source: RendererSource, quitSequence: QuitSequence): BrowserWindow {
  const window = createAppWindow(source, '', { title: APP_NAME, width: 1360, height: 880, show: false, autoHideMenuBar: true });
  window.once('ready-to-show', () => window.show());
  // the hidden GPU host keeps 'window-all-closed' from firing: the app ends with its last visible window
  window.on('closed', () => {
    if (!hasAppWindow(BrowserWindow.getAllWindows(), gpuHost) && process.platform !== 'darwin') void quitSequence.quit();
  });
  return window;
}

/**
 * The GPU host: a hidden window that is never throttled, whose page runs GPU runs in a dedicated
 * Web Worker (gpu.js on WebGL2 through an OffscreenCanvas). It talks to the lab over the same IPC
 * as any window: it claims 'gpu.job's and reports each run's events; the lab logs them.
 */
let gpuHost: BrowserWindow | null = null;
function ensureGpuHost(lab: LabApi, source: RendererSource): void {
  if (gpuHost && !gpuHost.isDestroyed()) return;
  const window = createAppWindow(source, '/gpu-host', { show: false, width: 400, height: 300, webPreferences: { backgroundThrottling: false } });
  const session = `window-${window.webContents.id}`;
  // a crashed or closed host page hands its GPU runs to the CPU
  window.webContents.on('render-process-gone', () => lab.sessionClosed(session));
  window.webContents.on('destroyed', () => lab.sessionClosed(session));
  window.on('closed', () => {
    if (gpuHost === window) gpuHost = null;
  });
  gpuHost = window;
}

function createAppWindow(source: RendererSource, route: string, options: Electron.BrowserWindowConstructorOptions): BrowserWindow {
  const window = new BrowserWindow({
    ...options,
    webPreferences: {
      ...options.webPreferences,
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    },
  });

  window.webContents.setWindowOpenHandler(({ url }) => {
    openExternally(url);
    return { action: 'deny' };
  });
  // a file dropped outside the drop zone, or a link, must not replace the app's page
  window.webContents.on('will-navigate', (event, url) => {
    const decision = navigationDecision(url, source);
    if (decision === 'stay') return;
    event.preventDefault();
    if (decision === 'browser') openExternally(url);
  });

  if (source.kind === 'dev') void window.loadURL(route ? `${source.url.href}#${route}` : source.url.href);
  else void window.loadFile(source.path, route ? { hash: route } : undefined);
  return window;
}

/** A native Open dialog, attached to the window the user sees (never the hidden GPU host). */
function showOpenDialog(options: OpenDialogOptions): Promise<Electron.OpenDialogReturnValue> {
  const parent = dialogParent(BrowserWindow.getFocusedWindow(), BrowserWindow.getAllWindows(), gpuHost);
  return parent ? dialog.showOpenDialog(parent, options) : dialog.showOpenDialog(options);
}

function createLab(): LabApi {
  const home = process.env['NANOLAB_HOME'] ?? app.getPath('userData');
  return new LabApi({
    home,
    host: 'electron',
    bundledCorpus: join(app.getAppPath(), 'resources', 'tinyshakespeare.txt'),
    versions: { app: app.getVersion(), electron: process.versions.electron, chrome: process.versions.chrome, node: process.versions.node },
    dialogs: {
      async openText() {
        const r = await showOpenDialog({
          title: 'Choose a text to train on',
          properties: ['openFile'],
          filters: [
            { name: 'Text', extensions: ['txt', 'md', 'csv', 'tsv', 'json', 'py', 'js', 'ts', 'html'] },
            { name: 'All files', extensions: ['*'] },
          ],
        });
        const path = r.filePaths[0];
        return r.canceled || path === undefined ? null : path;
      },
      async chooseFolder(title) {
        const r = await showOpenDialog({ title, buttonLabel: 'Export here', properties: ['openDirectory', 'createDirectory'] });
        return r.canceled ? null : (r.filePaths[0] ?? null);
      },
    },
  });
}

app.on('web-contents-created', (_event, contents) => {
  // No window may attach a <webview>: there is no remote content in NanoLab.
  contents.on('will-attach-webview', (event) => event.preventDefault());
});

function start(): void {
  const source = rendererSource({
    isPackaged: app.isPackaged,
    devServerUrl: process.env['ELECTRON_RENDERER_URL'],
    builtIndex: join(here, '../renderer/index.html'),
  });
  const lab = createLab();
  const quitSequence = installQuitSequence({ app, lab, platform: process.platform, report: (message) => console.error(message) });
  ipcMain.handle(IPC_INVOKE, async (event: IpcMainInvokeEvent, method: unknown, payload: unknown) => {
    // only the app's own pages may call the lab
    if (!isAppUrl(event.senderFrame?.url ?? '', source)) return { ok: false, error: 'refused: this page is not part of NanoLab' };
    try {
      return { ok: true, result: await lab.dispatch(method, payload, `window-${event.sender.id}`) };
    } catch (error) {
      // a refusal (the user's error, a malformed payload) goes back to the page; anything else is a bug to log
      if (error instanceof Error && !isUserError(error) && !(error instanceof ContractError)) console.error(error);
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  });
  lab.subscribe((name, payload) => {
    // a GPU run needs its host page: start it on the first job (it claims the job when it loads)
    if (name === 'gpu.job') ensureGpuHost(lab, source);
    for (const window of BrowserWindow.getAllWindows()) window.webContents.send(IPC_EVENT, name, payload);
  });
  createMainWindow(source, quitSequence);
  app.on('activate', () => {
    if (!hasAppWindow(BrowserWindow.getAllWindows(), gpuHost)) createMainWindow(source, quitSequence);
  });
}

void startDesktop({ app, dialog, start, report: (message) => console.error(message) });
