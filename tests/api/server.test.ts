import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type LabServer } from '../../src/main/api/server';
import { openApi, tinyDraft } from './helpers';

// Browser mode's door: only the page opened from the printed URL gets in.

const servers: LabServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(extra: { debug?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nanolab-renderer-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>NanoLab</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, '..', 'secret.txt'), 'outside the renderer');
  const { api } = openApi();
  const log: string[] = [];
  const server = await startServer({ api, rendererDir: dir, host: '127.0.0.1', port: 0, log: (line) => log.push(line), ...extra });
  servers.push(server);
  return { server, api, log };
}

/** Sends bytes as they are (no client library tidies them up) and returns what came back before the close. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

const upgrade = (port: number, path: string, headers = '') =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`;

/** A reply is one sentence, and no log line is a stack trace. */
function expectOneSentence(text: string) {
  expect(text.trim().split('\n')).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at /);
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function socket(port: number, token: string, origin: string | undefined): Promise<{ ws: WebSocket; opened: boolean; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, origin === undefined ? {} : { origin });
    ws.once('open', () => resolve({ ws, opened: true }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, opened: false, status: res.statusCode }));
  });
}

function call(ws: WebSocket, id: number, method: string, payload: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data));
      if (frame.kind === 'response' && frame.id === id) {
        ws.off('message', onMessage);
        resolve(frame);
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ kind: 'request', id, method, payload }));
  });
}

describe('nanolab serve', () => {
  it('prints a loopback URL with a long random token', async () => {
    const { server } = await serve();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
  });

  it('serves the app only with the token, then by cookie; refuses foreign Hosts, Origins and paths outside the app', async () => {
    const { server } = await serve();
    const p = server.port;
    expect((await get(p, '/')).status).toBe(403);
    expect((await get(p, '/')).body).toContain('open the URL that `nanolab serve` printed');
    expect((await get(p, '/?token=wrong')).status).toBe(403);
    const first = await get(p, `/?token=${server.token}`);
    expect(first.status).toBe(200);
    expect(first.body).toContain('<title>NanoLab</title>');
    expect(first.headers['content-security-policy']).toContain("default-src 'self'");
    expect(first.headers['referrer-policy']).toBe('no-referrer');
    const cookie = String((first.headers['set-cookie'] as string[])[0]).split(';')[0];
    expect(first.headers['set-cookie']).toEqual([expect.stringContaining('HttpOnly; SameSite=Strict')]);
    expect((await get(p, '/assets/app.js', { cookie })).status).toBe(200);
    expect((await get(p, '/assets/app.js', { cookie, host: `evil.example:${p}` })).status).toBe(403);
    expect((await get(p, '/assets/app.js', { cookie, origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(p, '/../secret.txt', { cookie })).status).toBe(404);
    expect((await get(p, '/%2e%2e/secret.txt', { cookie })).status).toBe(404);
    expect((await get(p, '/api/export?run=1&checkpoint=best', { cookie })).body).toContain('no run with id 1');
    expect((await get(p, '/api/export?run=x', { cookie })).status).toBe(400);
  });

  it('speaks the contract over a WebSocket from its own origin only', async () => {
    const { server } = await serve();
    const own = `http://127.0.0.1:${server.port}`;
    expect((await socket(server.port, server.token, 'http://evil.example')).status).toBe(403);
    expect((await socket(server.port, server.token, undefined)).status).toBe(403);
    const stale = await socket(server.port, 'stale', own);
    expect(stale.opened).toBe(true);
    const code = await new Promise((r) => stale.ws.once('close', (c) => r(c)));
    expect(code).toBe(4401);
    const { ws } = await socket(server.port, server.token, own);
    const info = await call(ws, 1, 'app.info', {});
    expect(info).toMatchObject({ ok: true, result: { host: 'browser' } });
    expect(await call(ws, 2, 'runs.get', { id: 0 })).toMatchObject({ ok: false, error: expect.stringMatching(/^runs.get request: id: /) });
    expect(await call(ws, 3, 'shell.exec', {})).toEqual({ kind: 'response', id: 3, ok: false, error: '"shell.exec" is not a NanoLab method' });
    const events: string[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (f.kind === 'event') events.push(f.name);
    });
    const up = await call(ws, 4, 'corpus.upload', { name: 'x.txt', text: 'hello world, hello lab. '.repeat(50) });
    expect(up).toMatchObject({ ok: true, result: { name: 'x.txt', vocabSize: 12 } });
    await call(ws, 5, 'runs.start', tinyDraft());
    for (let i = 0; i < 200 && !events.includes('run.event'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(events).toContain('runs.changed');
    expect(events).toContain('run.event');
    ws.close();
  });

  it('answers the requests that used to kill it with 400 and keeps serving', async () => {
    const { server, log } = await serve();
    const p = server.port;
    // 1. a target `new URL` could not parse: any web page can send it (an <img> at the default port);
    // it is a path like any other, and a target that is no URL at all is refused
    expect((await get(p, '//[')).status).toBe(403);
    expect((await get(p, `//[?token=${server.token}`)).status).toBe(404);
    expect(await raw(p, upgrade(p, '//['))).toMatch(/^HTTP\/1.1 403 Forbidden\r\n/);
    const absolute = await raw(p, `GET http://[/ HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nConnection: close\r\n\r\n`);
    expect(absolute).toMatch(/^HTTP\/1.1 400 Bad Request\r\n[\s\S]*malformed request target "http:\/\/\[\/": expected a path/);
    expect(await raw(p, upgrade(p, 'http://['))).toMatch(/^HTTP\/1.1 400 Bad Request\r\n[\s\S]*malformed request target/);
    // 2. a token cookie that does not decode, over HTTP and on a socket upgrade
    const cookie = `nanolab-token-${p}=%E0%A4%A`;
    const bad = await get(p, '/', { cookie });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain(`malformed cookie nanolab-token-${p}`);
    expectOneSentence(bad.body);
    expect(await raw(p, upgrade(p, '/ws', `Cookie: ${cookie}\r\n`))).toMatch(/^HTTP\/1.1 400 Bad Request\r\n[\s\S]*malformed cookie/);
    // 3. with the token, a path whose %-escape is not UTF-8
    const path = await get(p, `/%E0%A4%A?token=${server.token}`);
    expect(path.status).toBe(400);
    expect(path.body).toContain('malformed path "/%E0%A4%A"');
    // a request line the HTTP parser cannot read
    expect(await raw(p, 'GET / HTTP/9.9\r\n\r\n')).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    // still alive and serving the app
    expect((await get(p, `/?token=${server.token}`)).status).toBe(200);
    expect(log.length).toBeGreaterThanOrEqual(5);
    for (const line of log) expectOneSentence(line);
    expect(log.join('\n')).not.toContain(server.token);
  });

  it('answers bad WebSocket frames in one sentence and survives frames ws itself rejects', async () => {
    const { server, log } = await serve();
    const { ws } = await socket(server.port, server.token, `http://127.0.0.1:${server.port}`);
    const replies: Record<string, unknown>[] = [];
    ws.on('message', (d) => replies.push(JSON.parse(String(d))));
    ws.send('not json');
    ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    ws.send(JSON.stringify({ kind: 'request', id: 7, method: 'runs.get', payload: {} }));
    ws.send(JSON.stringify({ kind: 'request', id: 8, method: 'x'.repeat(10_000), payload: {} }));
    ws.send(JSON.stringify({ kind: 'request', id: 9, method: 'runs.get', payload: { id: 'abc' } }));
    ws.send(JSON.stringify({ kind: 'event', name: 'runs.changed', payload: {} }));
    ws.send(JSON.stringify({ id: 10, method: 'runs.get' }));
    for (let i = 0; i < 100 && replies.length < 7; i++) await new Promise((r) => setTimeout(r, 20));
    expect(replies).toEqual([
      { kind: 'response', id: 0, ok: false, error: 'a frame must be JSON, got "not json"' },
      { kind: 'response', id: 0, ok: false, error: 'binary frames are not accepted: send each request as a JSON text frame' },
      { kind: 'response', id: 7, ok: false, error: 'runs.get request: id: expected number, got nothing' },
      { kind: 'response', id: 8, ok: false, error: expect.stringMatching(/^"x{50,80}…" is not a NanoLab method$/) },
      { kind: 'response', id: 9, ok: false, error: 'runs.get request: id: expected number, got "abc"' },
      { kind: 'response', id: 0, ok: false, error: 'expected a request frame, got "event"' },
      { kind: 'response', id: 10, ok: false, error: expect.stringMatching(/^a frame must be \{"kind":"request"/) },
    ]);
    // a text frame that is not UTF-8: ws raises an error on the server's socket and closes it
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    (ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0xff ^ 1, 0xfe ^ 2]));
    expect(await closed).toBe(1007);
    expect(log.some((l) => l.includes('closed a WebSocket after a bad frame'))).toBe(true);
    expect((await get(server.port, `/?token=${server.token}`)).status).toBe(200);
    for (const line of log) expectOneSentence(line);
  });

  it('logs a failure of its own in one line, with the stack only in debug mode', async () => {
    for (const debug of [false, true]) {
      const { server, api, log } = await serve({ debug });
      const { ws } = await socket(server.port, server.token, `http://127.0.0.1:${server.port}`);
      await api.close();
      const reply = await call(ws, 1, 'runs.list', {});
      expect(reply).toMatchObject({ ok: false, error: expect.stringMatching(/^runs.list failed: /) });
      expectOneSentence(String(reply.error));
      expect(log[0]).toMatch(/^nanolab serve: runs.list failed: /);
      expect(log.some((l) => /\n\s+at /.test(l))).toBe(debug);
      ws.close();
    }
  });
});
