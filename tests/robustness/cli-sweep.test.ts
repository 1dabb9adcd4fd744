import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { databasePath } from '../../src/main/store/paths';
import { RunStore } from '../../src/main/store/run-store';
import { countParameters, type ModelConfig } from '../../src/engine/models';
import { labState, oneLine, root, smallCorpus, tempDir, TINY, type CliResult } from './cli';

// A table of bad inputs (files, settings, checkpoints, lab homes, arguments), each run through the
// real CLI: it must exit with the expected code, say what was wrong in one line without a stack
// trace, and leave the lab as it was.

interface Case {
  name: string;
  /** The command's arguments; `ctx` names the paths the table's set-up made. */
  args: (ctx: Ctx) => string[];
  /** What the one-line message says (a regular expression). */
  says: RegExp;
  code?: number;
  /** Runs before the command, on this case's own copy of the lab. */
  setup?: (ctx: Ctx) => void;
  env?: (ctx: Ctx) => Record<string, string>;
}

interface Ctx {
  home: string;
  dir: string;
  text: string;
  ckpt: (kind?: 'best' | 'latest') => string;
}

let template: string;
let corpus: string;

const writeJson = (path: string, edit: (o: Record<string, unknown>) => void) => {
  const o = JSON.parse(readFileSync(path, 'utf8'));
  edit(o);
  writeFileSync(path, JSON.stringify(o));
};

const train =
  (...extra: string[]) =>
  (c: Ctx) => ['train', ...TINY, '--data', c.text, '--steps', '5', ...extra];
const gpt =
  (...extra: string[]) =>
  (c: Ctx) => ['train', '--model', 'gpt', '--data', c.text, '--steps', '5', ...extra];
const set = (...kv: string[]) => kv.flatMap((x) => ['--set', x]);

const CASES: Case[] = [
  // files
  { name: 'a --data file that does not exist', args: (c) => ['train', ...TINY, '--data', join(c.dir, 'nope.txt')], says: /--data \S*nope\.txt does not exist/ },
  { name: 'a folder as --data', args: (c) => ['train', ...TINY, '--data', c.dir], says: /folder|directory/i },
  { name: '/dev/zero as --data', args: () => ['train', ...TINY, '--data', '/dev/zero'], says: /\/dev\/zero.*(device|not a regular file|special)/i },
  {
    name: 'a FIFO as --data',
    setup: (c) => {
      spawnSync('mkfifo', [join(c.dir, 'pipe')]);
    },
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'pipe')],
    says: /pipe.*(FIFO|pipe|not a regular file|special)/i,
  },
  {
    name: 'an empty file',
    setup: (c) => writeFileSync(join(c.dir, 'empty.txt'), ''),
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'empty.txt')],
    says: /empty/i,
  },
  {
    name: 'a binary file',
    setup: (c) => writeFileSync(join(c.dir, 'b.bin'), Buffer.from([0, 1, 2, 0, 255, 0, 7, 0])),
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'b.bin')],
    says: /binary/i,
  },
  {
    name: 'a file that is not UTF-8',
    setup: (c) => writeFileSync(join(c.dir, 'l1.txt'), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i % 3 ? 0xe9 : 0x41)))),
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'l1.txt')],
    says: /not UTF-8/i,
  },
  {
    name: 'a file over the corpus size limit',
    setup: (c) => {
      writeFileSync(join(c.dir, 'big.txt'), 'a');
      truncateSync(join(c.dir, 'big.txt'), 300 * 2 ** 20);
    },
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'big.txt')],
    says: /big\.txt.*(limit|larger|up to)/i,
  },
  {
    name: 'a one-character text',
    setup: (c) => writeFileSync(join(c.dir, 'one.txt'), 'aaaaaaaaaaaa'),
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'one.txt')],
    says: /short|single character|one character/i,
  },
  {
    name: 'a text too short for one batch',
    setup: (c) => writeFileSync(join(c.dir, 'short.txt'), 'hello world, hello moon.\n'),
    args: (c) => ['train', ...TINY, '--data', join(c.dir, 'short.txt')],
    says: /too short/i,
  },
  // settings
  { name: 'a 3.2 B-parameter GPT', args: gpt(...set('n_embd=8192', 'n_layer=4')), says: /needs about .* but .*(can use|has)/i },
  { name: 'hidden_size=1e308', args: train(...set('hidden_size=1e308')), says: /hidden_size/ },
  { name: 'hidden_size=-1', args: train(...set('hidden_size=-1')), says: /hidden_size/ },
  { name: 'hidden_size=2.5', args: train(...set('hidden_size=2.5')), says: /hidden_size/ },
  { name: 'lr=abc', args: train(...set('lr=abc')), says: /lr/ },
  { name: 'lr=-1', args: train(...set('lr=-1')), says: /lr/ },
  { name: 'lr=1e309 (infinite)', args: train(...set('lr=1e309')), says: /lr/ },
  { name: 'an unknown setting', args: train(...set('learning_rate=0.1')), says: /unknown setting "learning_rate"/ },
  { name: 'n_embd not divisible by n_head', args: gpt(...set('n_embd=130', 'n_head=4')), says: /n_embd \(130\) must be divisible by n_head \(4\)/ },
  { name: 'dropout=1.5', args: gpt(...set('dropout=1.5')), says: /^nanolab: dropout \(1\.5\) must be a number in \[0, 1\)/ },
  { name: 'batch_size=0', args: train(...set('batch_size=0')), says: /batch_size/ },
  { name: 'seq_len=1e9', args: train(...set('seq_len=1e9')), says: /seq_len/ },
  { name: 'block_size=1e7', args: gpt(...set('block_size=10000000')), says: /block_size/ },
  { name: '--steps 0', args: (c) => ['train', ...TINY, '--data', c.text, '--steps', '0'], says: /--steps 0/ },
  { name: '--steps abc', args: (c) => ['train', ...TINY, '--data', c.text, '--steps', 'abc'], says: /--steps abc/ },
  { name: '--minutes -1', args: (c) => ['train', ...TINY, '--data', c.text, '--minutes=-1'], says: /--minutes -1/ },
  { name: '--minutes 1e9', args: (c) => ['train', ...TINY, '--data', c.text, '--minutes', '1e9'], says: /--minutes 1e9: .*up to 525,600/ },
  {
    name: '--word-vocab 1e9',
    args: (c) => ['train', ...TINY, '--data', c.text, '--tokenizer', 'word', '--word-vocab', '1000000000'],
    says: /--word-vocab 1000000000: expected a whole number from 2 to 100,000/,
  },
  { name: 'an unknown model family', args: () => ['train', '--model', 'transformerx'], says: /transformerx is not a model family/ },
  { name: 'an unknown preset', args: () => ['train', '--preset', 'nope'], says: /nope/ },
  { name: 'an unknown tokenizer', args: (c) => ['train', ...TINY, '--data', c.text, '--tokenizer', 'bpe'], says: /--tokenizer bpe/ },
  {
    name: '--word-vocab without --tokenizer word',
    args: (c) => ['train', ...TINY, '--data', c.text, '--word-vocab', '10'],
    says: /--word-vocab needs --tokenizer word/,
  },
  { name: 'an unknown optimizer', args: train(...set('optimizer=lion')), says: /lion/ },
  { name: 'an unknown schedule', args: train(...set('schedule=weird')), says: /weird/ },
  { name: 'a negative seed', args: (c) => ['train', ...TINY, '--data', c.text, '--seed=-5'], says: /--seed -5/ },
  { name: 'an unknown flag', args: () => ['train', '--bogus'], says: /Unknown option '--bogus' \(nanolab train --help lists the options\)/ },
  // checkpoints
  {
    name: 'a truncated model.safetensors',
    setup: (c) => {
      const p = join(c.ckpt(), 'model.safetensors');
      writeFileSync(p, readFileSync(p).subarray(0, 300));
    },
    args: (c) => ['export', '1', '--out', join(c.dir, 'out')],
    says: /model\.safetensors/,
  },
  {
    name: 'a safetensors header length of 10^12',
    setup: (c) => {
      const p = join(c.ckpt(), 'model.safetensors');
      const b = readFileSync(p);
      b.writeBigUInt64LE(10n ** 12n, 0);
      writeFileSync(p, b);
    },
    args: (c) => ['export', '1', '--out', join(c.dir, 'out')],
    says: /model\.safetensors.*header/,
  },
  {
    name: 'a GPT config.json beside LSTM weights',
    setup: (c) =>
      writeJson(join(c.ckpt(), 'config.json'), (o) => {
        o.model = {
          family: 'gpt',
          vocab_size: (o.model as { vocab_size: number }).vocab_size,
          n_layer: 1,
          n_head: 1,
          n_embd: 8,
          block_size: 16,
          mlp_ratio: 4,
          activation: 'gelu',
          norm_position: 'pre',
          position_encoding: 'learned',
          final_layer_norm: true,
          tie_word_embeddings: true,
          lm_head_bias: false,
          bias: true,
          attn_dropout: 0,
          resid_dropout: 0,
          embd_dropout: 0,
        };
        Object.assign(o.train as object, { model: o.model, batching: 'random' });
        o.tied_params = { 'lm_head.weight': 'transformer.wte.weight' };
        o.parameter_count = countParameters(o.model as ModelConfig);
      }),
    args: (c) => ['export', '1', '--out', join(c.dir, 'out')],
    says: /model\.safetensors .*(transformer|tensor)/,
  },
  {
    name: 'a missing tokenizer.json',
    setup: (c) => rmSync(join(c.ckpt(), 'tokenizer.json')),
    args: () => ['sample', '1', '--length', '5'],
    says: /tokenizer\.json/,
  },
  {
    name: 'state.json at step 1e7',
    setup: (c) => {
      for (const k of ['best', 'latest'] as const)
        writeJson(join(c.ckpt(k), 'state.json'), (o) => {
          o.step = 1e7;
        });
    },
    args: () => ['sample', '1'],
    says: /state\.json has step 10000000/,
  },
  {
    name: 'a negative tokens_seen in state.json',
    setup: (c) =>
      writeJson(join(c.ckpt('latest'), 'state.json'), (o) => {
        o.tokens_seen = -3;
      }),
    args: () => ['sample', '1', '--checkpoint', 'latest'],
    says: /state\.json/,
  },
  {
    name: 'an optimizer state of the wrong shape, on resume',
    setup: (c) => {
      const s = new RunStore(databasePath(c.home));
      const row = s.db.prepare('SELECT config FROM runs WHERE id = 1').get() as { config: string };
      s.db.prepare('UPDATE runs SET config = ? WHERE id = 1').run(row.config.replace('"steps":20', '"steps":200'));
      s.close();
      const p = join(c.ckpt('latest'), 'optimizer.safetensors');
      writeFileSync(p, readFileSync(p).subarray(0, 200));
    },
    args: () => ['resume', '1'],
    says: /latest checkpoint .* cannot be resumed: .*optimizer\.safetensors/,
  },
  {
    name: 'a config.json that is not JSON',
    setup: (c) => writeFileSync(join(c.ckpt(), 'config.json'), '{"format": "nanolab-che'),
    args: () => ['sample', '1'],
    says: /config\.json/,
  },
  {
    name: 'a deleted checkpoint folder',
    setup: (c) => rmSync(join(c.home, 'runs'), { recursive: true }),
    args: () => ['sample', '1', '--length', '5'],
    says: /no checkpoint folder/,
  },
  // arguments
  { name: 'a run that does not exist', args: () => ['sample', '999'], says: /no run with id 999/ },
  { name: 'a run id that is not a number', args: () => ['show', 'abc'], says: /run id abc/ },
  { name: 'two run ids to show', args: () => ['show', '1', '2'], says: /name one run/ },
  { name: 'sample --length 1e9', args: () => ['sample', '1', '--length', '1e9'], says: /--length 1e9/ },
  { name: 'sample --temperature abc', args: () => ['sample', '1', '--temperature', 'abc'], says: /--temperature abc/ },
  { name: 'export without --out', args: () => ['export', '1'], says: /--out DIR is required/ },
  { name: 'export --checkpoint middle', args: (c) => ['export', '1', '--out', join(c.dir, 'o'), '--checkpoint', 'middle'], says: /--checkpoint middle/ },
  { name: 'runs --status weird', args: () => ['runs', '--status', 'weird'], says: /--status weird/ },
  { name: 'an unknown command', args: () => ['trian'], says: /unknown command "trian"/, code: 2 },
  { name: 'compare with one run', args: () => ['compare', '1'], says: /two or more/ },
  // lab homes
  {
    name: 'NANOLAB_HOME naming a file',
    setup: (c) => writeFileSync(join(c.dir, 'home-file'), 'x'),
    env: (c) => ({ NANOLAB_HOME: join(c.dir, 'home-file') }),
    args: () => ['runs'],
    says: /home-file/,
  },
  {
    name: 'a lab database from a newer NanoLab',
    setup: (c) => {
      const s = new RunStore(databasePath(c.home));
      s.db.pragma('user_version = 99');
      s.close();
    },
    args: () => ['runs'],
    says: /schema version 99, newer than this NanoLab/,
  },
  {
    name: 'a lab database that is not a database',
    setup: (c) => {
      rmSync(`${databasePath(c.home)}-wal`, { force: true });
      rmSync(`${databasePath(c.home)}-shm`, { force: true });
      writeFileSync(databasePath(c.home), 'x'.repeat(5000));
    },
    args: () => ['runs'],
    says: /is damaged/,
  },
  { name: 'a lab home under /proc', env: () => ({ NANOLAB_HOME: '/proc/nanolab-lab' }), args: () => ['runs'], says: /\/proc\/nanolab-lab/ },
];

function run(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
      cwd: root,
      env: { ...process.env, NANOLAB_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

beforeAll(() => {
  template = tempDir('nanolab-sweep-');
  corpus = smallCorpus();
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), 'train', ...TINY, '--data', corpus, '--steps', '20'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NANOLAB_HOME: template },
  });
  expect(r.status, r.stderr).toBe(0);
}, 120_000);

describe('the CLI refuses bad input in one line and loses nothing', () => {
  it(`${CASES.length} bad inputs`, async () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    const results: { c: Case; r: CliResult; ctx: Ctx; before: ReturnType<typeof labState> | null }[] = [];
    const queue = [...CASES];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const dir = tempDir('nanolab-case-');
        const home = join(dir, 'lab');
        cpSync(template, home, { recursive: true });
        mkdirSync(join(dir, 'files'));
        const ctx: Ctx = { home, dir: join(dir, 'files'), text: corpus, ckpt: (kind = 'best') => join(home, 'runs', '1', 'checkpoints', kind) };
        c.setup?.(ctx);
        let before: ReturnType<typeof labState> | null = null;
        try {
          before = labState(databasePath(home));
        } catch {
          before = null; // the case broke the database on purpose
        }
        results.push({ c, r: await run(c.args(ctx), { NANOLAB_HOME: home, ...c.env?.(ctx) }), ctx, before });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const failures: string[] = [];
    for (const { c, r, ctx, before } of results) {
      const why: string[] = [];
      if (r.code !== (c.code ?? 1)) why.push(`exit ${r.code}, expected ${c.code ?? 1}`);
      if (!oneLine(r.err)) why.push('not one line without a stack trace');
      if (!c.says.test(r.err)) why.push(`does not match ${c.says}`);
      if (before) {
        const after = labState(databasePath(ctx.home));
        if (after.integrity !== 'ok' || after.runs !== before.runs || after.metrics !== before.metrics)
          why.push(`the lab changed: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
      }
      if (why.length) failures.push(`${c.name}: ${why.join('; ')}\n    stderr: ${r.err.trim().slice(0, 400)}`);
    }
    // NANOLAB_SWEEP_REPORT=FILE writes the table of inputs and what the CLI said, for a report
    const report = process.env.NANOLAB_SWEEP_REPORT;
    if (report) {
      const cell = (text: string) => text.trim().replace(/\|/g, '\\|').replace(/\n/g, ' ');
      writeFileSync(
        report,
        ['| input | exit | message |', '|---|---|---|', ...results.map(({ c, r }) => `| ${c.name} | ${r.code} | ${cell(r.err)} |`)].join('\n') + '\n',
      );
    }
    expect(failures.join('\n')).toBe('');
  }, 600_000);
});
