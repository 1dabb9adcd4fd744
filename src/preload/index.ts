// Exposes the contract as window.nanolab. The renderer is sandboxed: this file is its only
// door to the main process.
import { contextBridge } from 'electron'
import { APP_NAME, type NanoLabApi } from '../shared/contract'

const api: NanoLabApi = {
  name: APP_NAME,
  versions: {
    app: __APP_VERSION__,
    electron: process.versions.electron ?? '',
    chrome: process.versions.chrome ?? '',
    node: process.versions.node
  }
}

contextBridge.exposeInMainWorld('nanolab', api)
