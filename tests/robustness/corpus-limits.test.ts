import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Corpora } from '../../src/main/api/corpora';
import { splitCorpus } from '../../src/engine/data/corpus';
import type { TokenizerSpec } from '../../src/engine/data/tokenizer';
import { loadCorpusFile, maxCorpusBytes, outlineCorpusFile, readCorpusText } from '../../src/main/jobs/corpus-file';
import { BUNDLED_CORPUS_REF, corpusFile, databasePath, resolveInHome } from '../../src/main/store/paths';
import { RunStore } from '../../src/main/store/run-store';
import { BUNDLED, openApi, tinyDraft } from '../api/helpers';

// Corpora at the edges: a file is refused by type and size before a byte of it is read (a FIFO
// never opened for reading, /dev/zero never read), messages give exact sizes, large texts are read
// in pieces that tokenize exactly as the whole text does, and a CLI run keeps a copy of its text
// in the lab, stored relative to the lab home.

const root = fileURLToPath(new URL('../../', import.meta.url));
const MB = 2 ** 20;
const tmp = () => mkdtempSync(join(tmpdir(), 'nanolab-corpus-'));

function nanolab(home: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NANOLAB_HOME: home, ...env },
  });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const tiny = ['--model', 'rnn', '--set', 'hidden_size=8', '--set', 'embedding_dim=4', '--set', 'batch_size=2', '--set', 'seq_len=8', '--set', 'eval_iters=1'];

describe('corpus files are refused by type and size before they are read', () => {
  it('refuses a file over the limit from its size alone, naming both sizes exactly', () => {
    const file = join(tmp(), 'huge.txt');
    writeFileSync(file, '');
    truncateSync(file, 300 * MB); // sparse: no disk used, and reading it would take 300 MB
    const message = `${file} is 300.0 MB (314,572,800 bytes), over the corpus limit of 256.0 MB (268,435,456 bytes)`;
    const t0 = performance.now();
    expect(() => loadCorpusFile(file)).toThrow(message);
    expect(() => outlineCorpusFile(file)).toThrow(message);
    expect(() => new Corpora(tmp(), BUNDLED).addFile(file)).toThrow(message);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(() => loadCorpusFile(file)).toThrow('NANOLAB_MAX_CORPUS_MB');
    // the limit is a setting
    expect(maxCorpusBytes({})).toBe(256 * MB);
    expect(maxCorpusBytes({ NANOLAB_MAX_CORPUS_MB: '512' })).toBe(512 * MB);
    expect(() => loadCorpusFile(file, { limit: maxCorpusBytes({ NANOLAB_MAX_CORPUS_MB: '100' }) })).toThrow(
      'over the corpus limit of 100.0 MB (104,857,600 bytes)',
    );
    expect(() => maxCorpusBytes({ NANOLAB_MAX_CORPUS_MB: 'lots' })).toThrow(
      'NANOLAB_MAX_CORPUS_MB "lots" is not a corpus limit: give megabytes between 1 and 4096 (default 256)',
    );
    expect(() => maxCorpusBytes({ NANOLAB_MAX_CORPUS_MB: '-1' })).toThrow('is not a corpus limit');
  });

  it('refuses /dev/zero, a directory and a FIFO by type, and an empty or non-UTF-8 file by content', () => {
    const dir = tmp();
    expect(() => loadCorpusFile('/dev/zero')).toThrow('/dev/zero is a character device, not a text file: save the text to a file');
    expect(() => readCorpusText('/dev/zero')).toThrow('is a character device');
    expect(() => loadCorpusFile(dir)).toThrow(`${dir} is a directory, not a text file: give the path of a text file in it`);
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // refused from its type: were it opened for reading, this would wait for a writer forever
    expect(() => outlineCorpusFile(fifo)).toThrow(`${fifo} is a named pipe (FIFO), not a text file`);
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    expect(() => loadCorpusFile(empty)).toThrow(`${empty} is empty: choose a text file with some writing in it`);
    expect(() => new Corpora(dir, BUNDLED).addFile(empty)).toThrow('is empty');
    const latin1 = join(dir, 'latin1.txt');
    writeFileSync(latin1, Buffer.from('café crème brûlée à la carte, déjà vu. '.repeat(200), 'latin1'));
    expect(() => loadCorpusFile(latin1)).toThrow(`${latin1} is not UTF-8 text (`);
    expect(() => new Corpora(dir, BUNDLED).addFile(latin1)).toThrow('save it as UTF-8 and try again');
    expect(() => loadCorpusFile(join(dir, 'missing.txt'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    // nothing half-written is left in the lab
    expect(existsSync(join(dir, 'corpora')) ? spawnSync('ls', ['-A', join(dir, 'corpora')], { encoding: 'utf8' }).stdout : '').toBe('');
  });

  it('says exactly how large an upload is, and where larger texts go', () => {
    const home = tmp();
    const bytes = new Uint8Array(64 * MB + 1).fill(0x61);
    expect(() => new Corpora(home, BUNDLED).upload('big.txt', bytes)).toThrow(
      'big.txt is 64.0 MB (67,108,865 bytes); uploads over the browser are limited to 64.0 MB (67,108,864 bytes): ' +
        'for larger texts (up to 256.0 MB (268,435,456 bytes)) use nanolab train --data',
    );
    expect(() => new Corpora(home, BUNDLED, 64 * MB).add('big.txt', bytes)).toThrow(
      'big.txt is 64.0 MB (67,108,865 bytes), over the corpus limit of 64.0 MB (67,108,864 bytes): use a shorter excerpt',
    );
    const fits = new Corpora(home, BUNDLED).add('big.txt', bytes.subarray(0, 64 * MB));
    expect(fits).toMatchObject({ bytes: 64 * MB, chars: 64 * MB, vocabSize: 1 });
  });

  it('the CLI refuses a FIFO, /dev/zero, a directory and a file over --max-corpus-mb in one sentence, without hanging', () => {
    const home = tmp();
    const fifo = join(home, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const big = join(home, 'big.txt');
    writeFileSync(big, 'x'.repeat(MB + 1));
    const cases: [string[], string, Record<string, string>?][] = [
      [['--data', fifo], `${fifo} is a named pipe (FIFO), not a text file`],
      [['--data', '/dev/zero'], '/dev/zero is a character device, not a text file'],
      [['--data', home], `${home} is a directory, not a text file`],
      [['--data', big, '--max-corpus-mb', '1'], `${big} is 1.0 MB (1,048,577 bytes), over the corpus limit of 1.0 MB (1,048,576 bytes)`],
      [['--data', big], 'over the corpus limit of 1.0 MB (1,048,576 bytes)', { NANOLAB_MAX_CORPUS_MB: '1' }],
      [['--data', big, '--max-corpus-mb', 'x'], '--max-corpus-mb "x" is not a corpus limit'],
    ];
    for (const [args, message, env] of cases) {
      const r = nanolab(home, ['train', ...tiny, '--steps', '2', ...args], env);
      expect(r.signal, args.join(' ')).toBeNull();
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toContain(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  }, 120_000);
});

describe('a large text is read in pieces, tokenized as the whole text is', () => {
  // over one 4 MiB block, opening with a line longer than a block (a piece then ends before a
  // space, not after a newline); then lines, CRLF, Greek capitals (final sigma when lower-cased),
  // astral characters, a dotted capital I (two code points when lower-cased)
  const line = (i: number) =>
    `${i % 7 === 0 ? 'ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΟΣ. ' : ''}Line ${i}: Thou art more lovely 😀 and İstanbul’s rose, don't you think?${i % 5 === 0 ? '\r\n' : '\n'}`;
  const lines: string[] = [];
  for (let i = 0, n = 0; n < 6 * MB; i++) {
    const l = i === 0 ? `${'ΣΟΦΟΣ word '.repeat(300_000)}\n` : line(i);
    lines.push(l);
    n += Buffer.byteLength(l);
  }
  const text = lines.join('');
  const file = join(tmp(), 'large.txt');
  writeFileSync(file, text);

  const cases: [string, boolean, TokenizerSpec][] = [
    ['chars', false, { kind: 'char' }],
    ['lower-cased chars', true, { kind: 'char' }],
    ['lower-cased words', true, { kind: 'word', vocab_size: 300, lowercase: true }],
    ['words', false, { kind: 'word', vocab_size: 300, lowercase: false }],
  ];
  for (const [what, lowercase, tokenizer] of cases) {
    it(
      what,
      () => {
        const pieces = loadCorpusFile(file, { lowercase, tokenizer });
        const whole = splitCorpus(lowercase ? text.toLowerCase() : text, 0.1, 2, tokenizer);
        expect(pieces.tokenizer.toJSON()).toEqual(whole.tokenizer.toJSON());
        expect(pieces.train.length).toBe(whole.train.length);
        expect(Buffer.from(pieces.train.buffer).equals(Buffer.from(whole.train.buffer))).toBe(true);
        // train and val share one array of ids
        expect(pieces.val.buffer).toBe(pieces.train.buffer);
        expect(outlineCorpusFile(file, { lowercase, tokenizer }).val.length).toBe(whole.val.length);
      },
      60_000,
    );
  }
});

describe('a run stores its corpus where the lab home can move with it', () => {
  it('resolves stored paths: relative in the home, absolute as they are, bundled by name', () => {
    expect(resolveInHome('/lab', 'corpora/abc.txt')).toBe(join('/lab', 'corpora/abc.txt'));
    expect(resolveInHome('/lab', '/elsewhere/old.txt')).toBe('/elsewhere/old.txt');
    expect(readFileSync(corpusFile('/lab', BUNDLED_CORPUS_REF)).equals(readFileSync(BUNDLED))).toBe(true);
    expect(() => corpusFile('/lab', 'bundled:../../etc/passwd')).toThrow('is not the name of a bundled text');
  });

  it('nanolab train --data copies the text into the lab; a run resumes after the original is gone', async () => {
    const home = tmp();
    const file = join(tmp(), 'sonnet.txt');
    const content = 'From fairest creatures we desire increase, that thereby beauty’s rose might never die.\n'.repeat(60);
    writeFileSync(file, content);
    const id16 = createHash('sha256').update(content).digest('hex').slice(0, 16);
    const args = ['--steps', '100000', '--set', 'eval_interval=2'];
    const stopped = await trainUntil(home, ['train', ...tiny, '--data', file, ...args], /eval step 2\b/);
    expect(stopped.out).toContain(`data    ${file} (in the lab as corpora/${id16}.txt): `);
    const id = Number(/run {5}(\d+) in/.exec(stopped.out)![1]);
    expect(readFileSync(join(home, 'corpora', `${id16}.txt`), 'utf8')).toBe(content);
    expect(JSON.parse(readFileSync(join(home, 'corpora', `${id16}.json`), 'utf8'))).toMatchObject({ name: 'sonnet.txt', bytes: Buffer.byteLength(content) });
    const store = new RunStore(databasePath(home));
    try {
      expect((store.getRun(id).config as { data: { path: string } }).data.path).toBe(`corpora/${id16}.txt`);
    } finally {
      store.close();
    }
    rmSync(file);
    const resumed = await trainUntil(home, ['resume', String(id)], /resumed from step \d+/);
    expect(resumed.out).toMatch(/stopped \(stopped by the user\)/);
  }, 120_000);

  it('the app stores uploads relative to the lab home and the bundled text by name', async () => {
    const { api, home } = openApi();
    const upload = await api.call('corpus.upload', { name: 'poem.txt', text: 'Shall I compare thee to a summer’s day? Thou art more lovely.\n'.repeat(80) });
    expect((await api.call('app.info', {})).maxCorpusBytes).toBe(64 * MB);
    const ids = [(await api.call('runs.start', tinyDraft())).id, (await api.call('runs.start', tinyDraft({ corpusId: upload.id }))).id];
    for (const id of ids) {
      for (let i = 0; i < 600 && (await api.call('runs.get', { id })).status === 'running'; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await api.call('runs.get', { id })).status).toBe('finished');
    }
    const store = new RunStore(databasePath(home));
    try {
      expect(ids.map((id) => (store.getRun(id).config as { data: { path: string } }).data.path)).toEqual([BUNDLED_CORPUS_REF, `corpora/${upload.id}.txt`]);
    } finally {
      store.close();
    }
    const desktop = openApi(tmp(), { host: 'electron' });
    expect((await desktop.api.call('app.info', {})).maxCorpusBytes).toBe(256 * MB);
  }, 120_000);
});

/** Runs a CLI command until its output matches `until`, then stops it with Ctrl-C (SIGINT) and waits. */
async function trainUntil(home: string, args: string[], until: RegExp): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    env: { ...process.env, NANOLAB_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let asked = false;
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    // once: a second Ctrl-C aborts without a checkpoint
    if (!asked && until.test(out)) asked = child.kill('SIGINT');
  });
  const code = await closed;
  clearTimeout(timer);
  expect(code, out + err).toBe(0);
  return { out, code };
}
