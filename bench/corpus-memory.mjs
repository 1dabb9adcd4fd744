// Peak memory of `nanolab train` on a large corpus: writes a text of the given size (tinyshakespeare
// repeated, each copy with its own numbered lines, so the text is not one block over and over),
// trains an LSTM for 3 steps on it under /usr/bin/time -v in a fresh lab home, and prints the
// maximum resident set size and the wall time.
//   node bench/corpus-memory.mjs [MB=200] [--keep]   (the text stays in /tmp with --keep)
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const mb = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 200);
const keep = process.argv.includes('--keep');
const file = join(tmpdir(), `nanolab-corpus-${mb}mb.txt`);
const bytes = mb * 2 ** 20;

if (!existsSync(file) || statSync(file).size !== bytes) {
  const lines = readFileSync(join(root, 'resources/tinyshakespeare.txt'), 'utf8').split('\n');
  const fd = openSync(file, 'w');
  let written = 0;
  for (let copy = 0; written < bytes; copy++) {
    const chunk = Buffer.from(lines.map((l, i) => (i % 10 === 0 ? `${l} (${copy}.${i})` : l)).join('\n') + '\n');
    const n = Math.min(chunk.length, bytes - written);
    writeSync(fd, chunk, 0, n);
    written += n;
  }
  closeSync(fd);
}

const home = mkdtempSync(join(tmpdir(), 'nanolab-corpus-memory-'));
const args = [
  '-v',
  process.execPath,
  join(root, 'bin/nanolab.js'),
  'train',
  '--model',
  'lstm',
  '--data',
  file,
  '--steps',
  '3',
  '--set',
  'eval_iters=1',
  '--set',
  'eval_interval=3',
  '--json',
];
const r = spawnSync('/usr/bin/time', args, { cwd: root, encoding: 'utf8', env: { ...process.env, NANOLAB_HOME: home }, maxBuffer: 64 << 20 });
rmSync(home, { recursive: true, force: true });
if (!keep) rmSync(file);
const field = (name) => new RegExp(`${name}: (.+)`).exec(r.stderr)?.[1]?.trim();
const rssKb = Number(field('Maximum resident set size \\(kbytes\\)'));
if (r.status !== 0 || !rssKb) {
  console.error(r.stdout.slice(-4000), r.stderr.slice(-4000));
  process.exit(1);
}
console.log(`corpus ${mb} MB (${bytes.toLocaleString('en-US')} bytes): nanolab train --model lstm --steps 3`);
console.log(`maximum resident set size ${(rssKb / 1024).toFixed(0)} MB, wall ${field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')}`);
console.log(
  r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('data'))
    .join('\n'),
);
