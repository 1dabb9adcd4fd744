// Electron entry: one window, a sandboxed renderer with no Node access, no remote content.
import { app, BrowserWindow, shell } from 'electron'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { APP_NAME } from '../shared/contract'

const here = fileURLToPath(new URL('.', import.meta.url))

function isAppUrl(url: string): boolean {
  const devServer = process.env['ELECTRON_RENDERER_URL']
  if (devServer !== undefined && url.startsWith(devServer)) return true
  return url.startsWith('file://')
}

function openExternally(url: string): void {
  // Only web links leave the app, and they go to the system browser, never into a window.
  if (url.startsWith('https://') || url.startsWith('http://')) void shell.openExternal(url)
}

function createMainWindow(): BrowserWindow {
  const window = new BrowserWindow({
    title: APP_NAME,
    width: 1280,
    height: 820,
    show: false,
    autoHideMenuBar: true,
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true
    }
  })
  window.once('ready-to-show', () => window.show())

  window.webContents.setWindowOpenHandler(({ url }) => {
    openExternally(url)
    return { action: 'deny' }
  })
  window.webContents.on('will-navigate', (event, url) => {
    if (isAppUrl(url)) return
    event.preventDefault()
    openExternally(url)
  })

  const devServer = process.env['ELECTRON_RENDERER_URL']
  if (!app.isPackaged && devServer !== undefined) void window.loadURL(devServer)
  else void window.loadFile(join(here, '../renderer/index.html'))
  return window
}

app.on('web-contents-created', (_event, contents) => {
  // No window may attach a <webview>: there is no remote content in NanoLab.
  contents.on('will-attach-webview', (event) => event.preventDefault())
})

void app.whenReady().then(() => {
  createMainWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
