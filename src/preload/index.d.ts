import type { NanoLabApi } from '../shared/contract'

declare global {
  interface Window {
    /** Present in the desktop app; absent in a plain browser. */
    nanolab?: NanoLabApi
  }
}
