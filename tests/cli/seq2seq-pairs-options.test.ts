import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PairVocab } from '../../src/engine/data/pairs';
import { resolveSeq2SeqTrainConfig } from '../../src/engine/seq2seq-train';
import { SEQ2SEQ_PRESETS } from '../../src/engine/presets';

// train --model seq2seq with two aligned files and word-level tokenization (per side, or one
// shared vocabulary), then translate, eval and export that run; and the seq2seq-lesson preset.

const root = fileURLToPath(new URL('../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'nanolab-s2s-opts-home-'));
const dir = mkdtempSync(join(tmpdir(), 'nanolab-s2s-opts-'));

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
  'eval_interval=10',
];
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

// a toy word-for-word "translation": English words to French ones, 2-5 words a line
const DICT: Record<string, string> = {
  the: 'le',
  cat: 'chat',
  dog: 'chien',
  sees: 'voit',
  a: 'un',
  big: 'grand',
  small: 'petit',
  red: 'rouge',
  runs: 'court',
  eats: 'mange',
};
const words = Object.keys(DICT);
let state = 7;
const next = (n: number) => ((state = (state * 48271) % 2147483647), state % n);
const lines = Array.from({ length: 200 }, () => Array.from({ length: 2 + next(4) }, () => words[next(words.length)]));
const sourceFile = file('en.txt', lines.map((l) => l.join(' ')).join('\n') + '\n');
const targetFile = file('fr.txt', lines.map((l) => l.map((w) => DICT[w]).join(' ')).join('\n') + '\n');

describe('nanolab train --model seq2seq with --source/--target and word tokenizers', () => {
  it('trains a word-level run on two aligned files; translate, eval and export work on it', () => {
    const args = ['train', '--model', 'seq2seq', '--source', sourceFile, '--target', targetFile, '--source-tokenizer', 'word', '--target-tokenizer', 'word'];
    const r = nanolab(...args, '--steps', '20', ...small, '--json');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(
      /data {4}.*en\.txt \+ .*fr\.txt \(in the lab as corpora\/\w+\.txt\): 180 train \/ 20 held-out pairs, vocab \d+ word source \/ \d+ word target/,
    );
    const id = String(lastJson(r.out).run_id);

    const t = nanolab('translate', id, 'the cat runs', '--json');
    expect(t.code, t.err).toBe(0);
    const translated = JSON.parse(t.out.trim());

    const e = nanolab('eval', id, '--json');
    expect(e.code, e.err).toBe(0);
    expect(lastJson(e.out)).toMatchObject({ pairs: 20, bleu_tokens: 'whitespace', unknown: { source: { count: 0, kind: 'word' } } });
    const unk = nanolab('eval', id, '--pairs', file('zoo.tsv', 'the zebra runs\tle zèbre court\n'), '--json');
    expect(lastJson(unk.out).unknown.source).toMatchObject({ count: 1, pieces: [' zebra'], kind: 'word' });

    const out = join(dir, 'export');
    const x = nanolab('export', id, '--out', out, '--json');
    expect(x.code, x.err).toBe(0);
    const source = JSON.parse(readFileSync(join(out, 'source_tokenizer.json'), 'utf8'));
    const target = JSON.parse(readFileSync(join(out, 'target_tokenizer.json'), 'utf8'));
    expect(source.kind).toBe('word');
    expect(target.kind).toBe('word');
    expect(target.vocab).toContain(' chat');
    // translate's tokens are the target vocabulary's words (a word keeps the space before it), its output their text
    for (const tok of translated.tokens) expect(tok.token).toBe(target.vocab[tok.id]);
    expect(translated.output).toBe(PairVocab.fromJSON(target).decode(translated.tokens.map((x: { id: number }) => x.id)));

    // PyTorch (when /usr/bin/python3 has it) loads the export and decodes the word ids as translate does
    const python = '/usr/bin/python3';
    if (!existsSync(python) || spawnSync(python, ['-c', 'import torch']).status !== 0) {
      console.log('seq2seq word-level export: PyTorch check skipped (/usr/bin/python3 cannot import torch)');
      return;
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const src = Array.from(PairVocab.fromJSON(source).encode('the cat runs'));
    const request = { src: [src], tgt: [[config.bos_id, config.eos_id]], max_new: config.max_seq_length - 1 };
    const run = spawnSync(python, [join(root, 'tests/checkpoint/seq2seq_load.py'), out, JSON.stringify(request)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
    });
    expect(run.status, run.stderr).toBe(0);
    const theirs = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(theirs.greedy[0].outputs).toEqual([config.bos_id, ...translated.tokens.map((x: { id: number }) => x.id)]);
  }, 240_000);

  it('--shared-vocab gives both sides one vocabulary', () => {
    const r = nanolab('train', '--model', 'seq2seq', '--source', sourceFile, '--target', targetFile, '--shared-vocab', '--steps', '2', ...small, '--json');
    expect(r.code, r.out + r.err).toBe(0);
    const m = /vocab (\d+) char source \/ (\d+) char target \(shared\)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(m![1]).toBe(m![2]);
  }, 120_000);

  it('refuses in one sentence: line counts that differ (both counts), one file only, a bad tokenizer, a shared vocabulary of two kinds', () => {
    const one = (r: { code: number; err: string }) => {
      expect(r.code).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      return r.err;
    };
    const short = file('short.txt', 'le chat\n');
    expect(one(nanolab('train', '--model', 'seq2seq', '--source', sourceFile, '--target', short))).toMatch(
      /en\.txt has 200 lines but .*short\.txt has 1: the two files need one line per pair, in the same order/,
    );
    expect(one(nanolab('train', '--model', 'seq2seq', '--target', targetFile))).toMatch(/--source and --target go together \(got only --target\)/);
    expect(one(nanolab('train', '--model', 'seq2seq', '--source', join(dir, 'none.txt'), '--target', targetFile))).toMatch(
      /--source .*none\.txt does not exist/,
    );
    expect(one(nanolab('train', '--model', 'seq2seq', '--task', 'dates', '--source', sourceFile, '--target', targetFile))).toMatch(/one of them/);
    expect(one(nanolab('train', '--model', 'seq2seq', '--task', 'dates', '--target-tokenizer', 'bpe'))).toMatch(
      /--target-tokenizer bpe: choose char .* or word/,
    );
    expect(one(nanolab('train', '--model', 'seq2seq', '--source', sourceFile, '--target', targetFile, '--source-tokenizer', 'word', '--shared-vocab'))).toMatch(
      /--shared-vocab needs both sides tokenized alike, but the source is word and the target char/,
    );
    expect(one(nanolab('train', '--model', 'gru', '--source', sourceFile))).toMatch(/--source is for a seq2seq run/);
  }, 240_000);
});

describe('the seq2seq-lesson preset', () => {
  it("is the lesson's architecture on the dates task, and its settings resolve", () => {
    const preset = SEQ2SEQ_PRESETS['seq2seq-lesson'];
    expect(preset).toMatchObject({ family: 'seq2seq', task: 'dates' });
    const c = resolveSeq2SeqTrainConfig(40, 20, preset.settings);
    expect(c.model).toMatchObject({ d_model: 128, num_heads: 4, num_layers: 2, d_ff: 512, dropout: 0.1, layer_norm: 'torch', norm_position: 'post' });
    expect(c.optimizer).toMatchObject({ beta1: 0.9, beta2: 0.98, eps: 1e-9 });
    expect(c.schedule.kind).toBe('cosine');
    expect(c.steps).toBeGreaterThanOrEqual(1000);
  });

  it('nanolab train --preset seq2seq-lesson trains (a few steps here)', () => {
    const r = nanolab(
      'train',
      '--preset',
      'seq2seq-lesson',
      '--steps',
      '2',
      '--set',
      'eval_interval=2',
      '--set',
      'eval_pairs=4',
      '--set',
      'eval_iters=8',
      '--json',
    );
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/data {4}dates \(\d+ pairs, seed 1337\)/);
    expect(r.out).toContain('"d_model":128,"num_heads":4,"num_layers":2,"d_ff":512');
    expect(lastJson(r.out)).toMatchObject({ name: 'seq2seq-lesson', status: 'finished', steps: 2 });
  }, 120_000);
});
