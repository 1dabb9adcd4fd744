import type { PreloadBridge } from '../shared/contract';

declare global {
  interface Window {
    /** Present in the desktop app (the preload's contextBridge); absent in a plain browser. */
    nanolab?: PreloadBridge;
  }
}
