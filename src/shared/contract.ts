// The one contract between processes: what the preload exposes as window.nanolab (and, later,
// what the web transport of `nanolab serve` speaks). Channel names and payload types are declared
// here once and used by main, preload and renderer alike.

export const APP_NAME = 'NanoLab'

/** Which process hosts the engine: the desktop app, or the headless CLI / server. */
export type HostKind = 'electron' | 'node'

/** Versions shown in the About line and recorded with every run. */
export interface AppVersions {
  app: string
  electron: string
  chrome: string
  node: string
}

/** What the preload exposes on window.nanolab. */
export interface NanoLabApi {
  readonly name: typeof APP_NAME
  readonly versions: AppVersions
}
