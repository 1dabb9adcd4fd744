import { homedir } from 'node:os';
import { join } from 'node:path';

// Where the lab keeps its database and checkpoints. The CLI uses the same folder as the Electron
// app's userData (Electron names it after package.json's "name"), so both see one lab;
// NANOLAB_HOME overrides it.

export function labHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.NANOLAB_HOME) return env.NANOLAB_HOME;
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'nanolab');
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'nanolab');
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'nanolab');
}

export const databasePath = (home: string) => join(home, 'lab.sqlite');
export const checkpointDir = (home: string, runId: number, kind: 'latest' | 'best') => join(home, 'runs', String(runId), 'checkpoints', kind);
