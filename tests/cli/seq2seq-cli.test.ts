import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// train --model seq2seq, translate, show and runs, as a user runs them (bin/nanolab.js, no build).

const root = fileURLToPath(new URL('../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'nanolab-s2s-home-'));

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

describe('nanolab train --model seq2seq', () => {
  it('trains on the reverse task, then translate, show and runs know the run', () => {
    const r = nanolab('train', '--model', 'seq2seq', '--task', 'reverse', '--task-pairs', '300', '--steps', '20', ...small, '--json');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/eval step 10 \| .* exact match \d+\.\d% \| CER \d\.\d{3} \| BLEU \d\.\d{3} \(20 held-out pairs, greedy\)/);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ status: 'finished', steps: 20 });
    const id = String(summary.run_id);

    const t = nanolab('translate', id, 'abc', '--json');
    expect(t.code, t.out + t.err).toBe(0);
    const translated = JSON.parse(t.out.trim());
    expect(translated).toMatchObject({ run_id: summary.run_id, source: 'abc', decoding: 'greedy' });
    expect(typeof translated.output).toBe('string');
    const plain = nanolab('translate', id, 'abc', '--checkpoint', 'latest');
    expect(plain.code, plain.err).toBe(0);

    expect(translated.log_prob).toBeLessThanOrEqual(0);
    expect(translated.tokens.length).toBeGreaterThan(0);
    expect(translated.tokens.reduce((s: number, t: { log_prob: number }) => s + t.log_prob, 0)).toBeCloseTo(translated.log_prob, 9);

    // beam search: its best hypothesis is at least as likely as greedy's (α = 0 ranks by log-probability)
    const beam = nanolab('translate', id, 'abc', '--beam', '3', '--length-penalty', '0', '--json');
    expect(beam.code, beam.out + beam.err).toBe(0);
    const beamed = JSON.parse(beam.out.trim());
    expect(beamed).toMatchObject({ run_id: summary.run_id, source: 'abc', decoding: 'beam', beam: 3, length_penalty: 0 });
    expect(beamed.n_best.length).toBeGreaterThanOrEqual(1);
    expect(beamed.n_best.length).toBeLessThanOrEqual(3);
    expect(beamed.output).toBe(beamed.n_best[0].output);
    expect(beamed.n_best[0].log_prob).toBeGreaterThanOrEqual(translated.log_prob - 1e-9);
    for (const h of beamed.n_best) {
      expect(h.score).toBeCloseTo(h.log_prob, 12);
      for (const t of h.tokens) expect(t.prob).toBeCloseTo(Math.exp(t.log_prob), 12);
    }
    const beamPlain = nanolab('translate', id, 'abc', '--beam', '3');
    expect(beamPlain.code, beamPlain.err).toBe(0);
    expect(beamPlain.out.trim().split('\n')).toHaveLength(1);
    // width 1 is greedy
    const one = nanolab('translate', id, 'abc', '--beam', '1', '--json');
    expect(JSON.parse(one.out.trim())).toMatchObject({ decoding: 'greedy', output: translated.output });
    const bad = nanolab('translate', id, 'abc', '--beam', '0');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--beam/);
    const penaltyAlone = nanolab('translate', id, 'abc', '--length-penalty', '1');
    expect(penaltyAlone.code).toBe(1);
    expect(penaltyAlone.err).toMatch(/give --beam K too/);

    const sample = nanolab('sample', id);
    expect(sample.code).toBe(1);
    expect(sample.err.trim()).toBe(`nanolab sample: run ${id} is a seq2seq run, which maps a source to a target: use nanolab translate ${id} "text"`);

    const show = nanolab('show', id, '--json');
    expect(show.code, show.out + show.err).toBe(0);
    expect(show.out).toContain('seq2seq');
    const runs = nanolab('runs', '--json');
    expect(runs.code, runs.err).toBe(0);
    expect(JSON.parse(runs.out).find((x: { id: number }) => x.id === summary.run_id)).toMatchObject({ family: 'seq2seq' });
  }, 180_000);

  it('export writes the lesson-loadable folder (model, config, both tokenizers), and PyTorch decodes as translate does', () => {
    const r = nanolab('train', '--model', 'seq2seq', '--task', 'reverse', '--task-pairs', '200', '--steps', '10', ...small, '--json');
    expect(r.code, r.out + r.err).toBe(0);
    const id = String(JSON.parse(r.out.trim().split('\n').at(-1)!).run_id);
    const out = join(mkdtempSync(join(tmpdir(), 'nanolab-s2s-export-')), 'model');
    const e = nanolab('export', id, '--out', out, '--json');
    expect(e.code, e.out + e.err).toBe(0);
    const files = ['model.safetensors', 'config.json', 'source_tokenizer.json', 'target_tokenizer.json'];
    expect(readdirSync(out).sort()).toEqual([...files].sort());
    expect(JSON.parse(e.out.trim().split('\n').at(-1)!)).toMatchObject({ run_id: Number(id), out, files });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ format: 'nanolab-seq2seq', model_type: 'seq2seq', d_model: 32, num_layers: 1 });
    expect(config.tokenizers).toEqual({ source: 'source_tokenizer.json', target: 'target_tokenizer.json' });
    const st = readFileSync(join(out, 'model.safetensors'));
    const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8'));
    expect(header['encoder.pos_encoding.pe']).toMatchObject({ dtype: 'F32', shape: [1, config.max_seq_length, 32] });
    expect(header['decoder.pos_encoding.pe']).toMatchObject({ dtype: 'F32', shape: [1, config.max_seq_length, 32] });
    const source = JSON.parse(readFileSync(join(out, 'source_tokenizer.json'), 'utf8'));
    const target = JSON.parse(readFileSync(join(out, 'target_tokenizer.json'), 'utf8'));
    expect(source.vocab.slice(0, 4)).toEqual(target.vocab.slice(0, 4));
    expect(config.src_vocab_size).toBe(source.vocab.length);
    expect(config.tgt_vocab_size).toBe(target.vocab.length);

    // the same refusals as every export: a non-empty folder needs --force
    const again = nanolab('export', id, '--out', out);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/--force/);
    expect(nanolab('export', id, '--out', out, '--force').code).toBe(0);

    // PyTorch (when /usr/bin/python3 has it) loads the folder strictly and decodes greedily as translate does
    const python = '/usr/bin/python3';
    if (!existsSync(python) || spawnSync(python, ['-c', 'import torch']).status !== 0) {
      console.log('seq2seq CLI export: PyTorch check skipped (/usr/bin/python3 cannot import torch)');
      return;
    }
    const t = nanolab('translate', id, 'abcd', '--json');
    expect(t.code, t.err).toBe(0);
    const translated = JSON.parse(t.out.trim());
    const src = Array.from('abcd', (ch) => source.vocab.indexOf(ch));
    expect(src.every((i) => i >= 4)).toBe(true);
    const request = { src: [src], tgt: [[config.bos_id, config.eos_id]], max_new: config.max_seq_length - 1 };
    const run = spawnSync(python, [join(root, 'tests/checkpoint/seq2seq_load.py'), out, JSON.stringify(request)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '2', OMP_NUM_THREADS: '2', OMP_WAIT_POLICY: 'PASSIVE' },
    });
    expect(run.status, run.stderr).toBe(0);
    const theirs = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(theirs.state_dict_keys).toContain('encoder.pos_encoding.pe');
    expect(theirs.parameter_count).toBe(config.parameter_count);
    expect(theirs.greedy[0].outputs).toEqual([config.bos_id, ...translated.tokens.map((x: { id: number }) => x.id)]);
    expect(theirs.greedy_text).toEqual([translated.output]);
  }, 120_000);

  it('Ctrl-C stops a run with a checkpoint, and nanolab resume continues from it', async () => {
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin/nanolab.js'),
        'train',
        '--model',
        'seq2seq',
        '--task',
        'reverse',
        '--task-pairs',
        '300',
        '--steps',
        '100000',
        ...small,
        '--log-every',
        '1',
      ],
      { cwd: root, env: { ...process.env, NANOLAB_HOME: home } },
    );
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && /step 12\//.test(out)) sent = child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    const id = /run {5}(\d+) in/.exec(out)![1];
    expect(out).toMatch(/stopped.*checkpoint/);
    // it resumes towards its 100000 steps, until stopped again
    const resumed = spawn(process.execPath, [join(root, 'bin/nanolab.js'), 'resume', id], { cwd: root, env: { ...process.env, NANOLAB_HOME: home } });
    let again = '';
    let sentAgain = false;
    resumed.stdout.on('data', (d: Buffer) => {
      again += d.toString();
      if (!sentAgain && /eval step 20 /.test(again)) sentAgain = resumed.kill('SIGINT');
    });
    expect(await new Promise<number | null>((resolve) => resumed.on('exit', resolve)), again).toBe(0);
    expect(again).toMatch(/resumed from step 1\d/);
    expect(again).toMatch(/eval step 20 \| .*exact match/);
  }, 120_000);

  it('--preset seq2seq-reverse trains the reverse task with its settings (the command line overrides them)', () => {
    const r = nanolab('train', '--preset', 'seq2seq-reverse', '--steps', '4', '--set', 'eval_interval=4', '--set', 'eval_pairs=5', '--json');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('reverse (20000 pairs');
    expect(r.out).toMatch(/"d_model":64,"num_heads":4,"num_layers":2,"d_ff":256/);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toMatchObject({ name: 'seq2seq-reverse', status: 'finished', steps: 4 });
  }, 120_000);

  it('refuses an unknown task and a ragged pairs file in one sentence, exit code 1', () => {
    const task = nanolab('train', '--model', 'seq2seq', '--task', 'translate-klingon');
    expect(task.code).toBe(1);
    expect(task.err.trim().split('\n')).toHaveLength(1);
    expect(task.err).toMatch(/translate-klingon/);
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'ragged.tsv');
    writeFileSync(file, 'abc\tcba\nhello world\nxy\tyx\n');
    const ragged = nanolab('train', '--model', 'seq2seq', '--pairs', file);
    expect(ragged.code).toBe(1);
    expect(ragged.err.trim().split('\n')).toHaveLength(1);
    expect(ragged.err).toMatch(/line 2 of .*ragged\.tsv has no tab/);
    const neither = nanolab('train', '--model', 'seq2seq');
    expect(neither.code).toBe(1);
    expect(neither.err).toMatch(/needs --task .* or --pairs/);
  }, 60_000);
});
