import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
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

async function serve() {
  const dir = mkdtempSync(join(tmpdir(), 'nanolab-renderer-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>NanoLab</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, '..', 'secret.txt'), 'outside the renderer');
  const { api } = openApi();
  const server = await startServer({ api, rendererDir: dir, host: '127.0.0.1', port: 0 });
  servers.push(server);
  return { server, api };
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
});
