import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateTaskTsv } from '../../src/engine/data/tasks';

// nanolab eval: a seq2seq run's outputs scored on a file or on its own held-out pairs, as a user
// runs it (bin/nanolab.js, no build).

const root = fileURLToPath(new URL('../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'nanolab-s2s-eval-home-'));
const dir = mkdtempSync(join(tmpdir(), 'nanolab-s2s-eval-'));

function nanolab(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NANOLAB_HOME: home },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const small = [
  '--set',
  'd_model=32',
  '--set',
  'num_heads=2',
  '--set',
  'num_layers=1',
  '--set',
  'd_ff=64',
  '--set',
  'eval_pairs=20',
  '--set',
  'eval_interval=20',
];
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

let id = '';

beforeAll(() => {
  const r = nanolab('train', '--model', 'seq2seq', '--task', 'reverse', '--task-pairs', '300', '--steps', '40', '--set', 'lr=3e-3', ...small, '--json');
  expect(r.code, r.out + r.err).toBe(0);
  id = String(lastJson(r.out).run_id);
}, 120_000);

describe('nanolab eval', () => {
  it("scores the run's own held-out pairs: a table, and the same numbers in --json", () => {
    const j = nanolab('eval', id, '--json');
    expect(j.code, j.out + j.err).toBe(0);
    const r = lastJson(j.out);
    expect(r).toMatchObject({ run_id: Number(id), pairs: 30, decoding: 'greedy', beam: 1, bleu_tokens: 'char', data: `the held-out pairs of run ${id}` });
    expect(r.checkpoint.kind).toBe('best');
    expect(r.exact_match).toBeCloseTo((r.pairs - r.wrong) / r.pairs, 12);
    expect(r.cer).toBeGreaterThanOrEqual(0);
    expect(r.bleu).toBeGreaterThanOrEqual(0);
    expect(r.bleu).toBeLessThanOrEqual(1);
    expect(r.mistakes.length).toBe(Math.min(5, r.wrong));
    for (const m of r.mistakes) {
      expect(m.got).not.toBe(m.expected);
      // the reverse task: the expected output is the source backwards
      expect(m.expected).toBe([...m.source].reverse().join(''));
    }
    // the held-out outputs are what translate (the cached one-source decoder) gives
    for (const m of r.mistakes.slice(0, 2)) {
      const t = nanolab('translate', id, m.source);
      expect(t.code, t.err).toBe(0);
      expect(t.out.trim()).toBe(m.got);
    }

    const plain = nanolab('eval', id);
    expect(plain.code, plain.err).toBe(0);
    expect(plain.out).toContain(`run ${id}, best checkpoint`);
    expect(plain.out).toMatch(/^pairs\s+30\b/m);
    expect(plain.out).toMatch(new RegExp(`^exact match\\s+${(100 * r.exact_match).toFixed(1)} %`, 'm'));
    expect(plain.out).toMatch(new RegExp(`^CER\\s+${r.cer.toFixed(4)}\\b`, 'm'));
    expect(plain.out).toMatch(new RegExp(`^BLEU\\s+${r.bleu.toFixed(4)}\\b`, 'm'));
    if (r.wrong > 0) {
      expect(plain.out).toContain(`mistakes (${r.mistakes.length} of ${r.wrong})`);
      expect(plain.out).toContain(`expected ${JSON.stringify(r.mistakes[0].expected)}`);
      expect(plain.out).toContain(`got      ${JSON.stringify(r.mistakes[0].got)}`);
    }
  }, 120_000);

  it('scores a TSV file, says which characters are outside the vocabulary, and takes two aligned files the same way', () => {
    const tsv = file('test.tsv', 'abc\tcba\nhello\tolleh\nnaïve\tevïan\n');
    const j = nanolab('eval', id, '--pairs', tsv, '--json', '--examples', '1');
    expect(j.code, j.out + j.err).toBe(0);
    const r = lastJson(j.out);
    expect(r).toMatchObject({ pairs: 3, data: tsv });
    expect(r.mistakes.length).toBeLessThanOrEqual(1);
    expect(r.unknown.source).toMatchObject({ count: 1, pairs: 1, pieces: ['ï'], kind: 'char' });
    expect(r.unknown.target).toMatchObject({ count: 1, pairs: 1, pieces: ['ï'] });
    const plain = nanolab('eval', id, '--pairs', tsv);
    expect(plain.out).toContain('1 source character in 1 pair is outside the run\'s vocabulary and became <unk> when encoded: "ï"');
    expect(plain.out).toMatch(/1 target character in 1 pair is outside the run's vocabulary and cannot be produced/);

    const aligned = nanolab('eval', id, '--source', file('src.txt', 'abc\nhello\nnaïve\n'), '--target', file('tgt.txt', 'cba\nolleh\nevïan\n'), '--json');
    expect(aligned.code, aligned.err).toBe(0);
    expect(lastJson(aligned.out)).toMatchObject({ pairs: 3, exact_match: r.exact_match, cer: r.cer, bleu: r.bleu });

    // beam search of width 2
    const beam = nanolab('eval', id, '--pairs', tsv, '--beam', '2', '--length-penalty', '0', '--json');
    expect(beam.code, beam.err).toBe(0);
    expect(lastJson(beam.out)).toMatchObject({ pairs: 3, decoding: 'beam', beam: 2, length_penalty: 0 });
    const plainBeam = nanolab('eval', id, '--pairs', tsv, '--beam', '2');
    expect(plainBeam.out).toContain('beam search (width 2, length penalty 0.6)');
  }, 120_000);

  it('shows progress on stderr for a large file', () => {
    const tsv = file('large.tsv', generateTaskTsv('reverse', 600, 7));
    const r = nanolab('eval', id, '--pairs', tsv, '--checkpoint', 'latest', '--json');
    expect(r.code, r.err).toBe(0);
    expect(lastJson(r.out)).toMatchObject({ pairs: 600, checkpoint: { kind: 'latest' } });
    expect(r.err).toMatch(/eval {4}decoded \d+ of 600 pairs/);
  }, 120_000);

  it('refuses in one sentence: ragged lines, a missing file, a non-seq2seq run, bad options, an overlong source', () => {
    const one = (r: { code: number; err: string }) => {
      expect(r.code).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      return r.err;
    };
    expect(one(nanolab('eval', id, '--pairs', file('ragged.tsv', 'abc\tcba\nno tab here\nx\ty\tz\n')))).toMatch(
      /line 2 of .*ragged\.tsv has no tab \("no tab here"\) \(and 1 more line like it\): write each pair as source<TAB>target/,
    );
    expect(one(nanolab('eval', id, '--pairs', join(dir, 'nope.tsv')))).toMatch(/--pairs .*nope\.tsv does not exist/);
    expect(one(nanolab('eval', id, '--pairs', dir))).toMatch(/is a folder/);
    expect(one(nanolab('eval', id, '--source', file('a.txt', 'abc\nab\n'), '--target', file('b.txt', 'cba\n')))).toMatch(
      /a\.txt has 2 lines but .*b\.txt has 1/,
    );
    expect(one(nanolab('eval', id, '--source', join(dir, 'a.txt')))).toMatch(/--source and --target go together/);
    expect(one(nanolab('eval', id, '--pairs', join(dir, 'test.tsv'), '--source', join(dir, 'a.txt'), '--target', join(dir, 'b.txt')))).toMatch(/not both/);
    expect(one(nanolab('eval', id, '--checkpoint', 'first'))).toMatch(/choose best or latest/);
    expect(one(nanolab('eval', id, '--length-penalty', '1'))).toMatch(/give --beam K too/);
    expect(one(nanolab('eval', id, '--pairs', file('long.tsv', `${'a'.repeat(40)}\tb\n`)))).toMatch(
      /line 1 of .*long\.tsv: the source is 40 tokens, more than the run's max_seq_length \(32\)/,
    );
    expect(one(nanolab('eval', '999'))).toMatch(/no run with id 999/);
    expect(nanolab('eval').code).toBe(1);
  }, 180_000);

  it('refuses a run of another family', () => {
    const text = file('poem.txt', 'Shall I compare thee to a summer’s day?\n'.repeat(40));
    const gru = nanolab(
      'train',
      '--model',
      'gru',
      '--data',
      text,
      '--steps',
      '2',
      '--set',
      'hidden_size=8',
      '--set',
      'embedding_dim=8',
      '--set',
      'batch_size=2',
      '--set',
      'seq_len=8',
      '--set',
      'eval_iters=1',
      '--json',
    );
    expect(gru.code, gru.err).toBe(0);
    const r = nanolab('eval', String(lastJson(gru.out).run_id));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is a gru run; eval scores a seq2seq run's translations/);
  }, 120_000);
});
