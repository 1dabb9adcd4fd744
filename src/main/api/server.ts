import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ContractError, isMethod, MAX_UPLOAD_BYTES, wireFrame, type WireFrame } from '../../shared/contract';
import { isUserError } from '../../shared/errors';
import type { LabApi } from './lab-api';

// Browser mode (`nanolab serve`): the built renderer over HTTP and the contract over a WebSocket,
// on 127.0.0.1 unless a host is named. Like Jupyter, the server prints a URL with a random token;
// any request without the token (query or the cookie the first request sets), with a foreign
// Origin, or naming a foreign Host (DNS rebinding) is refused: any web page the user visits could
// otherwise drive the lab over localhost.
//
// No request may stop the server (every live run would die with it): each request, upgrade and
// WebSocket frame runs inside one guard. A malformed one is refused (400, one sentence) and noted in
// one log line; a failure of the server itself is answered 500 and logged, with its stack only in
// debug mode.

export interface ServeOptions {
  api: LabApi;
  /** The built renderer (electron-vite's out/renderer). */
  rendererDir: string;
  host: string;
  port: number;
  token?: string;
  /** Log internal failures with their stacks (default: NANOLAB_DEBUG=1). */
  debug?: boolean;
  /** Where the server's one-line notes go (default: stderr). */
  log?: (line: string) => void;
}

export interface LabServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
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
  const a = Buffer.from(given),
    b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A request the server refuses as malformed: answered 400 with this sentence. */
class BadRequest extends Error {}

/** Errors that refuse a request (the contract's, and the user's: UserError), as opposed to bugs. */
const isRefusal = (error: unknown): error is Error =>
  error instanceof ContractError || error instanceof BadRequest || (error instanceof Error && isUserError(error));

/** A value from a request, quoted, on one line and short enough for a log or a reply. */
function quote(value: unknown, max = 80): string {
  const text = JSON.stringify(String(value));
  return text.length > max ? `${text.slice(0, max - 4)}…"` : text;
}

/** A request target for a log line or a reply, its token left out. */
const shownTarget = (url: string | undefined) => quote((url ?? '').replace(/([?&]token=)[^&#]*/g, '$1…'));

/** One line of an error's message, bounded: a reply or a log line never carries a dump. */
function sentence(error: unknown, max = 300): string {
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The request target as a URL: origin-form (`/path?query`) or absolute-form (`http://host/path`). */
function requestUrl(req: IncomingMessage): URL {
  const url = req.url ?? '/';
  try {
    return new URL(url.startsWith('/') ? `http://localhost${url}` : url);
  } catch {
    throw new BadRequest(`malformed request target ${shownTarget(url)}: expected a path such as /index.html`);
  }
}

/** A cookie's value; one that does not decode is refused (a stale or forged cookie, never ours). */
function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      throw new BadRequest(`malformed cookie ${name}: clear this site's cookies and open the URL that \`nanolab serve\` printed`);
    }
  }
  return null;
}

/** A WebSocket frame as a request; a frame that is not one is refused in one sentence. */
function readRequest(data: RawData, isBinary: boolean): { id: number; method: string; payload: unknown } {
  if (isBinary) throw new BadRequest('binary frames are not accepted: send each request as a JSON text frame');
  const text = (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BadRequest(`a frame must be JSON, got ${quote(text, 40)}`);
  }
  const frame = wireFrame.safeParse(json);
  if (!frame.success) {
    throw new BadRequest('a frame must be {"kind":"request","id":<integer>,"method":"<name>","payload":{…}}');
  }
  if (frame.data.kind !== 'request') throw new BadRequest(`expected a request frame, got "${frame.data.kind}"`);
  return frame.data;
}

/** The id a frame carried, so a refusal reaches the request that caused it (0 when there is none). */
function frameId(data: RawData): number {
  try {
    const id = (JSON.parse(String(data)) as { id?: unknown })?.id;
    return typeof id === 'number' && Number.isSafeInteger(id) ? id : 0;
  } catch {
    return 0;
  }
}

export async function startServer(o: ServeOptions): Promise<LabServer> {
  const token = o.token ?? randomBytes(24).toString('hex');
  const loopback = LOOPBACK.has(o.host);
  let port = o.port;
  const cookieName = () => `nanolab-token-${port}`;
  const debug = o.debug ?? process.env.NANOLAB_DEBUG === '1';
  const log = o.log ?? ((line: string) => console.error(line));
  /** A bug: one line always; the stack only in debug mode. */
  const logFailure = (what: string, error: unknown) => {
    log(`nanolab serve: ${what} failed: ${sentence(error)}${debug ? '' : ' (NANOLAB_DEBUG=1 logs the stack)'}`);
    if (debug && error instanceof Error && error.stack) log(error.stack);
  };

  /** Runs a handler; whatever it throws, now or later, goes to `fail` and never up to the process. */
  const guarded = (handler: () => unknown, fail: (error: unknown) => void): void => {
    const failSafely = (error: unknown) => {
      try {
        fail(error);
      } catch (failure) {
        logFailure('answering a failed request', failure);
      }
    };
    try {
      const result = handler();
      if (result instanceof Promise) result.catch(failSafely);
    } catch (error) {
      failSafely(error);
    }
  };

  /** The request's Host, when it names this server (loopback servers accept only loopback names). */
  const hostOk = (req: IncomingMessage): boolean => {
    const host = req.headers.host;
    if (host === undefined) return false;
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
    const body = `${message}\n`;
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...SECURITY_HEADERS });
    res.end(body);
  };

  const serveFile = (res: ServerResponse, pathname: string) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
    } catch {
      throw new BadRequest(`malformed path ${quote(pathname)}: a %-escape in it is not UTF-8`);
    }
    const relative = normalize(decoded).replace(/^([/\\])+/, '');
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

  const handleRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = requestUrl(req);
    if (req.headers.host === undefined) throw new BadRequest('a request must name its Host (HTTP/1.1 requires the header)');
    if (!hostOk(req)) return refuse(res, 403, `refused: Host ${quote(req.headers.host)} is not this NanoLab server`);
    if (!originOk(req)) return refuse(res, 403, `refused: requests from ${quote(req.headers.origin)} may not use this NanoLab server`);
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
          'Content-Type': 'application/x-tar',
          'Content-Length': bytes.length,
          'Content-Disposition': `attachment; filename="${filename}"`,
          ...SECURITY_HEADERS,
        });
        res.end(bytes);
      } catch (error) {
        if (!isRefusal(error)) throw error;
        refuse(res, 404, `export: ${sentence(error)}`);
      }
      return;
    }
    serveFile(res, url.pathname);
  };

  // a request without a Host is refused in handleRequest, with a sentence (Node's own 400 has no body)
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    guarded(
      () => handleRequest(req, res),
      (error) => {
        const what = `${quote(req.method, 20)} ${shownTarget(req.url)}`;
        if (error instanceof BadRequest) log(`nanolab serve: refused ${what}: ${error.message}`);
        else logFailure(`request ${what}`, error);
        if (res.headersSent) res.destroy();
        else if (error instanceof BadRequest) refuse(res, 400, error.message);
        else refuse(res, 500, 'NanoLab failed to answer this request; the server log says why.');
      },
    );
  });
  /** Answers on a raw socket (no ServerResponse exists for it) and closes it. */
  const endSocket = (socket: Duplex, status: number, message: string) => {
    if (!socket.writable) return void socket.destroy();
    const body = `${message}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  };
  // a request the HTTP parser cannot read (bad request line, huge or broken headers): 400 and close
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // a response already under way on this connection cannot be followed by another one
    const answering = (socket as { _httpMessage?: ServerResponse })._httpMessage?.headersSent === true;
    if (error.code === 'ECONNRESET' || answering) return void socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    log(`nanolab serve: refused an unreadable request (${error.code ?? 'no code'}): ${sentence(error)}`);
    endSocket(socket, status, `NanoLab could not read this request (${STATUS_CODES[status]}).`);
  });

  // JSON escapes can grow a text: leave room above the corpus limit for the upload frame
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 3 * MAX_UPLOAD_BYTES });
  // ws refuses a broken handshake (method, key, version, protocol) itself: note it like any bad request
  sockets.on('wsClientError', (error: Error, socket: Duplex) => {
    log(`nanolab serve: refused a WebSocket handshake: ${sentence(error)}`);
    endSocket(socket, 400, `refused: this WebSocket handshake is malformed (${sentence(error)})`);
  });
  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = requestUrl(req);
    // browsers always send Origin on a WebSocket; a missing one is not a page of ours either
    if (url.pathname !== '/ws' || !hostOk(req) || req.headers.origin !== `http://${req.headers.host}`) {
      return endSocket(socket, 403, 'refused: only a NanoLab page of this server may open its socket');
    }
    const allowed = authorised(req, url);
    sockets.handleUpgrade(req, socket, head, (ws) => {
      // ws reports bad frames (invalid UTF-8, oversized, unmasked) as errors, then closes the socket
      ws.on('error', (error) => log(`nanolab serve: closed a WebSocket after a bad frame: ${sentence(error)}`));
      // same origin but a stale token (the server restarted): say so in a close code the page understands
      if (!allowed) ws.close(4401, 'wrong or missing token');
      else attach(ws);
    });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // the HTTP server stops watching an upgraded socket: a reset before ws takes it must not go unheard
    socket.on('error', (error) => log(`nanolab serve: a socket failed during its upgrade: ${sentence(error)}`));
    guarded(
      () => handleUpgrade(req, socket, head),
      (error) => {
        const what = `upgrade ${shownTarget(req.url)}`;
        if (error instanceof BadRequest) log(`nanolab serve: refused ${what}: ${error.message}`);
        else logFailure(what, error);
        endSocket(
          socket,
          error instanceof BadRequest ? 400 : 500,
          error instanceof BadRequest ? error.message : 'NanoLab failed to open this socket; the server log says why.',
        );
      },
    );
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
    const answer = async (data: RawData, isBinary: boolean) => {
      const { id, method, payload } = readRequest(data, isBinary);
      if (!isMethod(method)) throw new BadRequest(`${quote(method, 60)} is not a NanoLab method`);
      try {
        send({ kind: 'response', id, ok: true, result: await o.api.dispatch(method, payload, session) });
      } catch (error) {
        if (!isRefusal(error)) logFailure(method, error);
        send({ kind: 'response', id, ok: false, error: isRefusal(error) ? sentence(error) : `${method} failed: ${sentence(error)}` });
      }
    };
    ws.on('message', (data, isBinary) => {
      guarded(
        () => answer(data, isBinary),
        (error) => {
          if (error instanceof BadRequest) log(`nanolab serve: refused a WebSocket frame: ${error.message}`);
          else if (!isRefusal(error)) logFailure('a WebSocket frame', error);
          send({ kind: 'response', id: isBinary ? 0 : frameId(data), ok: false, error: sentence(error) });
        },
      );
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${o.port} on ${o.host} is in use: pass --port N (or --port 0 for any free port)`) : error);
    });
    server.listen(o.port, o.host, () => resolve());
  });
  // after listening, the server's own errors (accept failing for lack of file descriptors) are noted, not fatal
  server.on('error', (error) => logFailure('accepting a connection', error));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : o.port;
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets.clients) ws.terminate();
        sockets.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
