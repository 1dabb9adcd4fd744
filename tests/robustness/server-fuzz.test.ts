import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type LabServer } from '../../src/main/api/server';
import { openDatabase } from '../../src/main/store/native';
import { openApi, tinyDraft } from '../api/helpers';

// `nanolab serve` under hostile traffic: a few thousand random and malformed request lines,
// headers, cookies, upgrades and WebSocket frames (seeded, so a failure reproduces with
// FUZZ_SEED=<seed>), sent to a live server on 127.0.0.1 while one of its runs trains. Afterwards the
// server must still serve its token URL, the run must still be training, and the lab's database
// must be intact. Bounded: at most TOTAL inputs and BUDGET_MS of sending.

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const TOTAL = 2600;
const BUDGET_MS = 18_000;
const BUILT_RENDERER = fileURLToPath(new URL('../../out/renderer', import.meta.url));

/** mulberry32: a small seeded generator, so every input can be made again. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)],
    bytes: (n: number) => {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
    text: (n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_./%?&=;:[]{}"\'<> \t') => {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = alphabet.charCodeAt(int(alphabet.length));
      return out.toString('latin1');
    },
  };
}
type Rng = ReturnType<typeof prng>;

interface RawReply {
  /** The status of the first response, or null when the server closed without answering. */
  status: number | null;
  /** The first response's body (by its Content-Length). */
  body: string;
  text: string;
}

/** Writes bytes on a fresh connection and collects what comes back until the close or `waitMs`. */
function rawExchange(port: number, bytes: Buffer, waitMs: number, after?: (reply: string) => Buffer | null): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let sentAfter = false;
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      const head = text.split('\r\n\r\n')[0];
      const length = /\r\ncontent-length: (\d+)/i.exec(head);
      const body = length ? text.slice(head.length + 4, head.length + 4 + Number(length[1])) : '';
      resolve({ status: m ? Number(m[1]) : null, body, text });
    };
    const timer = setTimeout(done, waitMs);
    s.on('data', (c) => {
      chunks.push(c);
      if (after && !sentAfter && Buffer.concat(chunks).includes('\r\n\r\n')) {
        sentAfter = true;
        const more = after(Buffer.concat(chunks).toString('latin1'));
        if (more) s.write(more);
      }
    });
    // the server may reset a connection it refuses: that is an answer, not a failure
    s.on('error', () => undefined);
    s.on('close', done);
  });
}

/** A client WebSocket frame: FIN, opcode, masked payload (unless told otherwise). */
function frame(opcode: number, payload: Buffer, o: { fin?: boolean; rsv?: number; masked?: boolean; claimedLength?: bigint } = {}): Buffer {
  const first = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | (opcode & 0x0f);
  const masked = o.masked ?? true;
  const length = o.claimedLength ?? BigInt(payload.length);
  let head: Buffer;
  if (length < 126n) head = Buffer.from([first, (masked ? 0x80 : 0) | Number(length)]);
  else if (length < 65536n) {
    head = Buffer.alloc(4);
    head[0] = first;
    head[1] = (masked ? 0x80 : 0) | 126;
    head.writeUInt16BE(Number(length), 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = first;
    head[1] = (masked ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(length, 2);
  }
  if (!masked) return Buffer.concat([head, payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]))]);
}

/** Frames a browser never sends: bad opcodes, reserved bits, unmasked, oversized, invalid UTF-8, broken closes. */
function hostileFrames(rng: Rng): Buffer {
  const json = Buffer.from(JSON.stringify({ kind: 'request', id: rng.int(1000), method: 'app.info', payload: {} }));
  const choices: (() => Buffer)[] = [
    () => rng.bytes(1 + rng.int(300)),
    () => frame(0x1, Buffer.from([0xc3, 0x28, 0xff, 0xfe])),
    () => frame(rng.pick([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xf]), json),
    () => frame(0x1, json, { rsv: 1 + rng.int(7) }),
    () => frame(0x1, json, { masked: false }),
    () => frame(0x1, Buffer.alloc(0), { claimedLength: 2n ** 62n }),
    () => frame(0x2, Buffer.alloc(0), { claimedLength: 1n << BigInt(20 + rng.int(40)) }),
    () => frame(0x9, rng.bytes(126)),
    () => frame(0x8, Buffer.from([0x03, 0xe7])),
    () => frame(0x8, Buffer.from([0x03, 0xe8, 0xff, 0xfe])),
    () => frame(0x9, json, { fin: false }),
    () => frame(0x0, json),
    () => Buffer.concat([frame(0x1, json.subarray(0, 10), { fin: false }), frame(0x1, json.subarray(10))]),
    () => frame(0x1, json),
  ];
  return Buffer.concat(Array.from({ length: 1 + rng.int(3) }, () => rng.pick(choices)()));
}

function hostileRequest(rng: Rng, port: number, token: string): { bytes: Buffer; upgrade: boolean } {
  const own = `127.0.0.1:${port}`;
  if (rng.chance(0.05)) return { bytes: rng.bytes(1 + rng.int(2000)), upgrade: false };
  const upgrade = rng.chance(0.25);
  const method =
    upgrade || rng.chance(0.7)
      ? 'GET'
      : rng.pick([
          'HEAD',
          'POST',
          'PUT',
          'DELETE',
          'OPTIONS',
          'PATCH',
          'TRACE',
          'CONNECT',
          'get',
          'G ET',
          'GET\0',
          'BREW',
          '',
          rng.text(1 + rng.int(12), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
        ]);
  const targets = [
    '/',
    '//[',
    '/%E0%A4%A',
    '/%',
    '/%%',
    '/%ZZ',
    '/%00',
    '/%C0%AE%C0%AE/%C0%AE%C0%AE/etc/passwd',
    '/..%2f..%2fetc%2fpasswd',
    '/../../etc/passwd',
    '/\\..\\..\\secret',
    '*',
    `http://${own}/`,
    'http://[',
    `http://[::1]:${port}/`,
    'https://evil.example/',
    'ftp://x/',
    '/ws',
    '//evil.example/x',
    '/api/export?run=1&checkpoint=best',
    '/api/export?run=1e999&checkpoint=latest',
    '/api/export?run=-1',
    '/api/export?run=1&checkpoint=%E0',
    '/api/export?run=99999999999999999999&checkpoint=best',
    '/?token=%E0%A4%A',
    `/?token=${'a'.repeat(5000)}`,
    `/${'a'.repeat(9000)}`,
    '/index.html',
    '/assets/',
    `/${rng.text(1 + rng.int(60))}`,
    `/${rng.bytes(1 + rng.int(30)).toString('latin1')}`,
  ];
  let target = upgrade && rng.chance(0.7) ? '/ws' : rng.pick(targets);
  if (rng.chance(upgrade ? 0.8 : 0.5))
    target += `${target.includes('?') ? '&' : '?'}token=${rng.chance(0.8) ? token : rng.pick(['%E0%A4%A', '', 'x', token + '%'])}`;
  const version = rng.chance(0.75)
    ? 'HTTP/1.1'
    : rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1x', 'HTTP/11', 'http/1.1', '', 'HTTP/1.1 extra', 'HTTP/9.9']);
  const cookieName = `nanolab-token-${port}`;
  const headers: string[] = [];
  if (rng.chance(0.85))
    headers.push(
      `Host: ${rng.chance(0.7) ? own : rng.pick([`localhost:${port}`, `[::1]:${port}`, 'evil.example', '127.0.0.1:99999', '[::1', '', `${own}, evil`, 'h'.repeat(3000)])}`,
    );
  if (rng.chance(upgrade ? 0.9 : 0.4))
    headers.push(
      `Origin: ${rng.chance(upgrade ? 0.8 : 0.2) ? `http://${own}` : rng.pick([`http://${own}`, 'null', 'http://evil.example', '', `http://${own}/x`, `http://${own}\u00ff`])}`,
    );
  if (rng.chance(0.5)) {
    headers.push(
      `Cookie: ${rng.pick([
        `${cookieName}=${token}`,
        `${cookieName}=%E0%A4%A`,
        `${cookieName}=%`,
        `${cookieName}=%ZZ`,
        cookieName,
        '=;;;=',
        `${cookieName}=${'%'.repeat(1000)}`,
        `a=b; ${cookieName}=%E0%A4%A; c=d`,
        `${cookieName}=${token}; ${cookieName}=%E0`,
        rng.text(1 + rng.int(200)),
      ])}`,
    );
  }
  if (rng.chance(0.15)) headers.push(`Content-Length: ${rng.pick(['0', '-1', 'abc', '99999999999999999999', '5, 6', '3'])}`);
  if (rng.chance(0.1)) headers.push(`Transfer-Encoding: ${rng.pick(['chunked', 'gzip, chunked', 'identity', 'x'])}`);
  if (rng.chance(0.05)) headers.push(`X-Pad: ${'a'.repeat(20_000 + rng.int(20_000))}`);
  if (rng.chance(0.05)) headers.push(`X-Nul: a\0b`);
  if (rng.chance(0.05)) headers.push('Broken header line without a colon');
  if (rng.chance(0.05)) headers.push(`${rng.text(1 + rng.int(20))}: ${rng.bytes(rng.int(40)).toString('latin1')}`);
  if (rng.chance(0.05)) headers.push('Expect: 100-continue');
  if (upgrade) {
    headers.push(`Upgrade: ${rng.chance(0.9) ? 'websocket' : rng.pick(['h2c', 'WebSocket, x', ''])}`, 'Connection: Upgrade');
    headers.push(`Sec-WebSocket-Key: ${rng.chance(0.8) ? Buffer.from(rng.bytes(16)).toString('base64') : rng.pick(['', 'short', '!!!!', 'a'.repeat(500)])}`);
    headers.push(`Sec-WebSocket-Version: ${rng.chance(0.8) ? '13' : rng.pick(['8', 'abc', '', '13, 8', '99999999999'])}`);
    if (rng.chance(0.2)) headers.push(`Sec-WebSocket-Protocol: ${rng.pick(['', ',', 'a b', 'chat, chat'])}`);
    if (rng.chance(0.2))
      headers.push(`Sec-WebSocket-Extensions: ${rng.pick(['permessage-deflate; client_max_window_bits=99', 'x;;;', 'permessage-deflate; a="'])}`);
  }
  const eol = rng.chance(0.9) ? '\r\n' : rng.pick(['\n', '\r', '\r\n\r\n']);
  let text = `${method} ${target}${version ? ` ${version}` : ''}${eol}${headers.join(eol)}${eol}${eol}`;
  if (rng.chance(0.1)) text += rng.pick(['hello', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\nxx\r\n', rng.bytes(50).toString('latin1')]);
  if (rng.chance(0.05)) text = text.repeat(2 + rng.int(2));
  if (rng.chance(0.05)) text = text.slice(0, rng.int(text.length));
  return { bytes: Buffer.from(text, 'latin1'), upgrade };
}

/** A WebSocket message a page of ours would never send; none of them may start, stop or delete anything. */
function hostileMessage(rng: Rng, runId: number): { data: string | Buffer; binary: boolean } {
  const readOnly = ['app.info', 'runs.list', 'runs.get', 'runs.series', 'runs.configDiff', 'runs.metricsCsv', 'corpus.list', 'gpu.pending', 'sample.cancel'];
  const mutating = [
    'runs.delete',
    'runs.control',
    'runs.continue',
    'runs.rename',
    'runs.tag',
    'runs.start',
    'runs.startPreset',
    'corpus.upload',
    'sample.generate',
    'gpu.claim',
    'gpu.report',
    'checkpoint.export',
    'runs.preview',
  ];
  // JSON.parse makes "__proto__" an own key, as it arrives from the wire
  const oddValues: unknown[] = [
    null,
    true,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    2 ** 53,
    '',
    'x'.repeat(100_000),
    '\u0000',
    '%E0%A4%A',
    [],
    [1, 2],
    {},
    JSON.parse('{"__proto__":{"id":1}}'),
    { constructor: 'x' },
  ];
  const request = (method: unknown, payload: unknown, id: unknown = rng.int(1e6)) => JSON.stringify({ kind: 'request', id, method, payload });
  const kind = rng.int(10);
  switch (kind) {
    case 0:
      return { data: rng.bytes(1 + rng.int(rng.chance(0.05) ? 2_000_000 : 500)), binary: true };
    case 1:
      return { data: rng.text(1 + rng.int(rng.chance(0.05) ? 1_000_000 : 300)), binary: false };
    case 2:
      return { data: JSON.stringify(rng.pick(oddValues)), binary: false };
    case 3:
      return {
        data: JSON.stringify({
          kind: rng.pick(['request', 'response', 'event', 'x', 1]),
          id: rng.pick(oddValues),
          method: rng.pick(oddValues),
          payload: rng.pick(oddValues),
        }),
        binary: false,
      };
    case 4:
      return {
        data: request(
          rng.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'shell.exec', '', 'runs.get ', 'x'.repeat(200_000), rng.text(20)]),
          {},
        ),
        binary: false,
      };
    case 5:
      return { data: request('app.info', {}, rng.pick([1e308, 2 ** 53, -(2 ** 53), 1.5, -1, '1', null, 1e21])), binary: false };
    case 6: {
      const id = rng.pick([runId, 0, -1, 1.5, 2 ** 53, 2 ** 31, 'abc', null, 999_999]);
      const payload = rng.pick([
        { id },
        { ids: [id, id] },
        { ids: [id, runId], names: ['train_loss'], maxPoints: rng.pick([10, 0, 1e9, -1]) },
        { requestId: rng.pick(['', 'x', 'y'.repeat(100)]) },
        rng.pick(oddValues),
      ]);
      return { data: request(rng.pick(readOnly), payload), binary: false };
    }
    case 7: {
      // wrong shapes only: none of these may pass validation and touch the training run
      const payload = rng.pick([
        null,
        5,
        'x',
        [],
        { id: '1' },
        { id: -1 },
        { id: 1.5 },
        { id: 2 ** 60 },
        { id: runId, action: 'explode' },
        { id: runId, name: '' },
        { family: 'transformer' },
        { preset: 5 },
        { name: 7, text: 8 },
        { runId: 'x' },
      ]);
      return { data: request(rng.pick(mutating), payload), binary: false };
    }
    case 8:
      return {
        data: `${request('runs.list', {})}${rng.pick(['', '}', ']', ',', '\u0000'])}`.slice(0, rng.chance(0.5) ? undefined : 20 + rng.int(30)),
        binary: false,
      };
    default:
      return { data: request('runs.get', { id: runId, extra: rng.pick(oddValues) }), binary: false };
  }
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function rendererDir(): string {
  if (existsSync(join(BUILT_RENDERER, 'index.html'))) return BUILT_RENDERER;
  const dir = mkdtempSync(join(tmpdir(), 'nanolab-renderer-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>NanoLab</title>');
  return dir;
}

/** Runs `count` tasks made by `make`, `width` at a time, until they are done or the deadline passes. */
async function pool(count: number, width: number, deadline: number, make: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < count && Date.now() < deadline) await make(next++);
  };
  await Promise.all(Array.from({ length: width }, lane));
  return next;
}

const servers: LabServer[] = [];
afterAll(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe(`nanolab serve under hostile traffic (FUZZ_SEED=${SEED})`, () => {
  it('keeps serving, keeps training and keeps its database intact', async () => {
    const { api, home } = openApi();
    const log: string[] = [];
    const server = await startServer({ api, rendererDir: rendererDir(), host: '127.0.0.1', port: 0, log: (line) => log.push(line) });
    servers.push(server);
    const { port, token } = server;

    let step = 0;
    let ended: string | null = null;
    api.subscribe((name, payload) => {
      if (name !== 'run.event') return;
      const { event } = payload as { event: { type: string; step?: number; status?: string } };
      if (event.type === 'step') step = event.step!;
      if (event.type === 'end') ended = event.status!;
    });
    const lstm = { hidden_size: 16, embedding_dim: 8, batch_size: 4, seq_len: 16, steps: 1_000_000, eval_interval: 500, eval_iters: 1, warmup_iters: 2 };
    const { id: runId } = await api.call('runs.start', tinyDraft({ family: 'lstm', name: 'under fire', settings: lstm }));
    for (let i = 0; i < 500 && step < 5; i++) await new Promise((r) => setTimeout(r, 20));
    const stepBefore = step;
    expect(stepBefore, 'the run never started training').toBeGreaterThanOrEqual(5);

    const rng = prng(SEED);
    const started = Date.now();
    const deadline = started + BUDGET_MS;
    const sent = { http: 0, upgrades: 0, frames: 0, messages: 0 };
    const replies: RawReply[] = [];
    const wsErrors: string[] = [];

    // 1. raw requests and upgrades over plain sockets, 24 at a time
    const httpCount = Math.round(TOTAL * 0.6);
    const inputs = Array.from({ length: httpCount }, () => hostileRequest(rng, port, token));
    const frameSeeds = Array.from({ length: httpCount }, () => rng.int(2 ** 31));
    // the raw requests may take 55 % of the time, the rest is the WebSocket's
    sent.http = await pool(httpCount, 24, started + BUDGET_MS * 0.55, async (i) => {
      const { bytes, upgrade } = inputs[i];
      if (upgrade) sent.upgrades++;
      // an upgrade the server accepts gets hostile frames right after its 101
      const after = upgrade ? (reply: string) => (reply.startsWith('HTTP/1.1 101') ? (sent.frames++, hostileFrames(prng(frameSeeds[i]))) : null) : undefined;
      // a HEAD request's answer has no body
      if (!bytes.subarray(0, 5).equals(Buffer.from('HEAD '))) replies.push(await rawExchange(port, bytes, 300, after));
      else await rawExchange(port, bytes, 300, after);
    });

    const httpSeconds = ((Date.now() - started) / 1000).toFixed(1);
    // 2. an authorised WebSocket (and a few stale ones) sent everything a page never would
    const own = `http://127.0.0.1:${port}`;
    const messageCount = TOTAL - httpCount;
    for (let socketNo = 0; sent.messages < messageCount && Date.now() < deadline; socketNo++) {
      const stale = socketNo % 4 === 3;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${stale ? 'stale' : token}`, { origin: own, maxPayload: 0 });
      ws.on('error', () => undefined);
      const opened = await new Promise<boolean>((r) => {
        ws.once('open', () => r(true));
        ws.once('close', () => r(false));
      });
      if (!opened) continue;
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      if (stale) {
        expect(await closed).toBe(4401);
        continue;
      }
      let answered = 0;
      ws.on('message', (d) => {
        answered++;
        const reply = JSON.parse(String(d)) as { kind: string; ok?: boolean; error?: string };
        if (reply.kind === 'response' && reply.ok === false) wsErrors.push(reply.error!);
      });
      let mine = 0;
      for (; mine < 200 && sent.messages < messageCount && Date.now() < deadline; mine++, sent.messages++) {
        const { data, binary } = hostileMessage(rng, runId);
        ws.send(data, { binary });
      }
      for (let i = 0; i < 300 && answered < mine; i++) await new Promise((r) => setTimeout(r, 10));
      expect(answered, `socket ${socketNo}: every frame gets an answer`).toBeGreaterThanOrEqual(mine);
      ws.close();
      // a close handshake stuck behind a slow answer must not eat the budget
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500))]);
      ws.terminate();
    }

    const total = sent.http + sent.messages;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `server fuzz (seed ${SEED}): ${sent.http} raw requests in ${httpSeconds} s (${sent.upgrades} upgrades, ${sent.frames} with hostile frames), ${sent.messages} WebSocket messages in ${seconds} s; ${log.length} log lines`,
    );
    expect(total, 'the fuzz sent too few inputs in its time budget').toBeGreaterThanOrEqual(1500);

    // every answer is a client error or a success, never a failure of the server, in one sentence
    const statuses = new Set(replies.map((r) => r.status));
    expect(
      [...statuses].filter((s) => s !== null && (s < 100 || s >= 500)),
      'no hostile request gets a 5xx',
    ).toEqual([]);
    for (const r of replies) {
      if (r.status !== null && r.status >= 400) expect(r.body, r.text).toMatch(/^[^\n]+\n$/);
    }
    for (const error of wsErrors) {
      expect(error, 'a WebSocket refusal is one sentence').not.toContain('\n');
      expect(error.length).toBeLessThanOrEqual(400);
    }
    expect(
      log.filter((line) => /\n\s+at /.test(line)),
      'the log holds no stack traces',
    ).toEqual([]);
    expect(
      log.filter((line) => / failed: /.test(line)),
      'no hostile input is a failure of the server',
    ).toEqual([]);
    if (process.env.FUZZ_LOG) writeFileSync(process.env.FUZZ_LOG, log.join('\n'));

    // the server still serves its token URL
    const index = await get(port, `/?token=${token}`);
    expect(index.status).toBe(200);
    expect(index.body).toContain('<title>');

    // the run kept training through it all, and still trains
    const stepAfter = step;
    expect(ended, 'the run ended during the fuzz').toBeNull();
    expect(stepAfter).toBeGreaterThan(stepBefore);
    for (let i = 0; i < 250 && step <= stepAfter; i++) await new Promise((r) => setTimeout(r, 20));
    expect(step, 'the run stopped training after the fuzz').toBeGreaterThan(stepAfter);
    await api.call('runs.control', { id: runId, action: 'stop' });
    for (let i = 0; i < 500 && ended === null; i++) await new Promise((r) => setTimeout(r, 20));
    expect(ended).toBe('stopped');

    // the lab's database is intact and holds the run's steps
    const db = openDatabase(join(home, 'lab.sqlite'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const { steps } = db.prepare('SELECT max(step) AS steps FROM metrics WHERE run_id = ?').get(runId) as { steps: number };
      expect(steps).toBeGreaterThan(stepAfter);
    } finally {
      db.close();
    }
  }, 60_000);
});
