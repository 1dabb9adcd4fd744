import { existsSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LabApi } from '../../main/api/lab-api';
import { startServer } from '../../main/api/server';
import { labHome } from '../../main/store/paths';
import { parse, parseInteger, UsageError } from '../args';
import { BUNDLED_CORPUS } from './train';

// Browser mode: the desktop app's renderer and contract, served to a browser on this machine.

export const usage = `nanolab serve [--port P] [--host H]
  Serves the lab app to a browser: prints a URL with an access token (open it; requests without
  the token or from other sites are refused). Listens on 127.0.0.1 only, unless --host names
  another interface (0.0.0.0 for all: anyone who gets the URL can use the lab). Default port 8765;
  --port 0 picks a free one. Needs the built renderer (npm run build). Ctrl-C (or SIGTERM, SIGHUP)
  stops the server and any run it started (with a checkpoint: continue them later).`;

// NANOLAB_RENDERER_DIR serves another build (tests that build the renderer into their own folder)
const RENDERER_DIR = process.env.NANOLAB_RENDERER_DIR || fileURLToPath(new URL('../../../out/renderer', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../../package.json', import.meta.url));

export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parse('serve', argv, { port: { type: 'string' }, host: { type: 'string' } });
  const port = parseInteger('port', values.port as string | undefined, 8765, 0);
  if (port > 65535) throw new UsageError(`serve: --port ${port} is not a TCP port (0–65535)`);
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  if (!existsSync(`${RENDERER_DIR}/index.html`)) {
    throw new UsageError(`serve: the app is not built (no ${RENDERER_DIR}/index.html): run npm run build first`);
  }
  const version = (JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string }).version;
  const home = labHome();
  const api = new LabApi({
    home,
    host: 'browser',
    bundledCorpus: BUNDLED_CORPUS,
    versions: { app: version, electron: '', chrome: '', node: process.versions.node },
  });
  let server;
  try {
    server = await startServer({ api, rendererDir: RENDERER_DIR, host, port });
  } catch (error) {
    await api.close();
    throw new UsageError(`serve: ${(error as Error).message}`);
  }
  // Ctrl-C, SIGTERM (a service manager) and SIGHUP (the terminal closed) all stop cleanly; the
  // same signal again quits at once. Listening before the URL is printed: whoever reads it may
  // signal at once
  const stopped = new Promise<void>((resolve) => {
    let first: NodeJS.Signals | null = null;
    const stop = (signal: NodeJS.Signals) => {
      if (first) {
        if (signal === first) process.exit(128 + osConstants.signals[signal]);
        return;
      }
      first = signal;
      // after SIGHUP the terminal is gone, and a write to it would fail
      if (signal !== 'SIGHUP') console.log(`stopping: live runs write a checkpoint first (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to quit at once)`);
      resolve();
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
  });
  console.log(`NanoLab ${version} is serving the lab in ${home}`);
  console.log(`open ${server.url}`);
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
    console.log(`listening on ${host}: anyone who can reach this machine and has the URL can use the lab`);
  await stopped;
  // runs stop first, while the pages are still connected: a GPU run's page reports its last
  // checkpoint and its end (closing the sockets first would send the run to the CPU instead)
  await api.close();
  await server.close();
  return 0;
}
