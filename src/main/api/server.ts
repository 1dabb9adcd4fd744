import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ContractError, MAX_CORPUS_BYTES, wireFrame, type WireFrame } from '../../shared/contract';
import type { LabApi } from './lab-api';

// Browser mode (`nanolab serve`): the built renderer over HTTP and the contract over a WebSocket,
// on 127.0.0.1 unless a host is named. Like Jupyter, the server prints a URL with a random token;
// any request without the token (query or the cookie the first request sets), with a foreign
// Origin, or naming a foreign Host (DNS rebinding) is refused: any web page the user visits could
// otherwise drive the lab over localhost.

export interface ServeOptions {
  api: LabApi;
  /** The built renderer (electron-vite's out/renderer). */
  rendererDir: string;
  host: string;
  port: number;
  token?: string;
}

export interface LabServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8', '.woff2': 'font/woff2',
};

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  // the token is in the first URL: never send it anywhere in a Referer
  'Referrer-Policy': 'no-referrer',
  // cross-origin isolation, so a worker may share memory (SharedArrayBuffer) with the page
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given), b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

export async function startServer(o: ServeOptions): Promise<LabServer> {
  const token = o.token ?? randomBytes(24).toString('hex');
  const loopback = LOOPBACK.has(o.host);
  let port = o.port;
  const cookieName = () => `nanolab-token-${port}`;

  /** The request's Host, when it names this server (loopback servers accept only loopback names). */
  const hostOk = (req: IncomingMessage): boolean => {
    const host = req.headers.host ?? '';
    if (!loopback) return true;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    return m !== null && LOOPBACK.has(m[1].replace(/^\[|\]$/g, '')) && Number(m[2] ?? 80) === port;
  };
  const originOk = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    return origin === undefined || origin === `http://${req.headers.host}`;
  };
  const authorised = (req: IncomingMessage, url: URL) => sameToken(url.searchParams.get('token') ?? cookie(req, cookieName()), token);

  const refuse = (res: ServerResponse, code: number, message: string) => {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    res.end(`${message}\n`);
  };

  const serveFile = (res: ServerResponse, pathname: string) => {
    const relative = normalize(decodeURIComponent(pathname === '/' ? '/index.html' : pathname)).replace(/^([/\\])+/, '');
    const file = join(o.rendererDir, relative);
    if (!file.startsWith(o.rendererDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      refuse(res, 404, `not found: ${pathname}`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': file.endsWith('index.html') ? 'no-store' : 'private, max-age=3600',
      ...SECURITY_HEADERS,
    });
    res.end(readFileSync(file));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!hostOk(req)) return refuse(res, 403, `refused: Host "${req.headers.host}" is not this NanoLab server`);
    if (!originOk(req)) return refuse(res, 403, `refused: requests from ${req.headers.origin} may not use this NanoLab server`);
    if (!authorised(req, url)) {
      return refuse(res, 403, 'This NanoLab server needs its access token: open the URL that `nanolab serve` printed (it ends in ?token=…).');
    }
    if (url.searchParams.has('token')) {
      // later requests (scripts, styles, the socket) carry the token in a cookie only this site sees
      res.setHeader('Set-Cookie', `${cookieName()}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, `${req.method} is not supported here`);
    if (url.pathname === '/api/export') {
      const run = Number(url.searchParams.get('run'));
      const kind = url.searchParams.get('checkpoint') ?? 'best';
      if (!Number.isInteger(run) || run < 1 || (kind !== 'best' && kind !== 'latest')) {
        return refuse(res, 400, 'export: expected ?run=<id>&checkpoint=best|latest');
      }
      try {
        const { filename, bytes } = o.api.exportArchive(run, kind);
        res.writeHead(200, {
          'Content-Type': 'application/x-tar', 'Content-Length': bytes.length, 'Content-Disposition': `attachment; filename="${filename}"`, ...SECURITY_HEADERS,
        });
        res.end(bytes);
      } catch (error) {
        refuse(res, 404, `export: ${(error as Error).message}`);
      }
      return;
    }
    serveFile(res, url.pathname);
  });

  // JSON escapes can grow a text: leave room above the corpus limit for the upload frame
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 3 * MAX_CORPUS_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // browsers always send Origin on a WebSocket; a missing one is not a page of ours either
    if (url.pathname !== '/ws' || !hostOk(req) || req.headers.origin !== `http://${req.headers.host}`) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
      // same origin but a stale token (the server restarted): say so in a close code the page understands
      if (!authorised(req, url)) ws.close(4401, 'wrong or missing token');
      else attach(ws);
    });
  });

  let sessions = 0;
  const attach = (ws: WebSocket) => {
    // each socket is a session: a GPU run belongs to the page that claimed it, and moves to the
    // CPU when that page's socket closes
    const session = `ws-${++sessions}`;
    const send = (frame: WireFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const unsubscribe = o.api.subscribe((name, payload) => send({ kind: 'event', name, payload }));
    ws.on('close', () => {
      unsubscribe();
      o.api.sessionClosed(session);
    });
    ws.on('message', async (data) => {
      let id = 0;
      try {
        const frame = wireFrame.parse(JSON.parse(String(data)));
        if (frame.kind !== 'request') throw new ContractError(`expected a request frame, got "${frame.kind}"`);
        id = frame.id;
        send({ kind: 'response', id, ok: true, result: await o.api.dispatch(frame.method, frame.payload, session) });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // a bug, not a refusal: keep its stack where the developer sees it
        if (!(error instanceof ContractError) && error instanceof Error && error.constructor !== Error) console.error(error);
        send({ kind: 'response', id, ok: false, error: message });
      }
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${o.port} on ${o.host} is in use: pass --port N (or --port 0 for any free port)`) : error);
    });
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : o.port;
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    close: () => new Promise<void>((resolve) => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
