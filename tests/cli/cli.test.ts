import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The CLI as a user runs it: a separate process through bin/nanolab.js (tsx, no build step).

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'tests/fixtures/torch');

const home = mkdtempSync(join(tmpdir(), 'nanolab-cli-home-'));

function nanolab(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NANOLAB_HOME: home },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('nanolab check-fixture', () => {
  it('passes every PyTorch fixture, one line per field', () => {
    const files = ['rnn', 'lstm', 'gru', 'gpt', 'gpt_sinusoidal'].map((c) => join(fixtures, `${c}.json`));
    const r = nanolab('check-fixture', ...files);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/PASS {2}logits +max abs +\d\.\d\de-?\d+ +max rel/);
    expect(r.out).toContain('PASS  adamw[1].step2.params_after');
    expect(r.out).toContain('PASS  sampling.probs_top_p');
    expect(r.out.trim().split('\n').at(-1)).toBe('PASS');
  });

  it('passes both encoder–decoder fixtures, one line per field', () => {
    const r = nanolab('check-fixture', join(fixtures, 'seq2seq.json'), join(fixtures, 'seq2seq_seed.json'));
    expect(r.code, r.out + r.err).toBe(0);
    for (const field of [
      'masks.tgt',
      'attention_probs.decoder_cross',
      'grads.decoder.decoder_layers.1.mha2.W_k.weight',
      'adam.params_after',
      'greedy[1].outputs',
    ]) {
      expect(r.out).toMatch(new RegExp(`PASS {2}${field.replace(/[.[\]]/g, '\\$&')} +max abs`));
    }
    expect(r.out).toContain('seq2seq_seed.json: PASS');
    expect(r.out.trim().split('\n').at(-1)).toBe('PASS');
  });

  it('fails with exit code 1 on a fixture the engine disagrees with', () => {
    const fx = JSON.parse(readFileSync(join(fixtures, 'gru.json'), 'utf8'));
    fx.logits.data[3] += 0.01;
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'gru-broken.json');
    writeFileSync(file, JSON.stringify(fx));
    const r = nanolab('check-fixture', file);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}logits/);
    expect(r.out).toContain('PASS  grads.rnn.weight_hh_l0');
    expect(r.out.trim().split('\n').at(-1)).toBe('FAIL');
    const json = JSON.parse(nanolab('check-fixture', file, '--json').out.trim().split('\n').at(-1)!);
    expect(json.pass).toBe(false);
    expect(json.files[0].fields.find((f: { field: string }) => f.field === 'logits').pass).toBe(false);
  });

  it('says what is wrong with a file that is not a fixture', () => {
    const r = nanolab('check-fixture', join(fixtures, 'index.json'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('not a PyTorch parity fixture');
    expect(nanolab('check-fixture', '/no/such/file.json').err).toContain('cannot read /no/such/file.json');
  });
});

describe('nanolab train', () => {
  it('trains on a text file into the lab, then lists, shows, samples, exports, compares and clusters it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'poem.txt');
    writeFileSync(file, 'Shall I compare thee to a summer’s day?\nThou art more lovely and more temperate.\n'.repeat(40));
    const small = ['--set', 'embedding_dim=8', '--set', 'batch_size=4', '--set', 'seq_len=16', '--set', 'eval_iters=2', '--set', 'eval_interval=10'];
    const r = nanolab('train', '--model', 'gru', '--data', file, '--steps', '20', '--seed', '3', '--set', 'hidden_size=32', ...small, '--json');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\[gru\] step 20\/20 \| loss \d\.\d{4} \| lr 3\.00e-3 \| grad norm \d+\.\d{3} \| [\d,]+ tok\/s \| ETA 0m00s/);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ name: 'gru', status: 'finished', steps: 20 });
    expect(summary.val_loss).toBeLessThan(Math.log(30));
    const id = String(summary.run_id);
    const other = JSON.parse(
      nanolab('train', '--model', 'lstm', '--data', file, '--steps', '10', '--set', 'hidden_size=16', ...small, '--json')
        .out.trim()
        .split('\n')
        .at(-1)!,
    );

    const runs = nanolab('runs');
    expect(runs.out).toMatch(new RegExp(`^${id} +gru +gru +[\\d,]+ +finished +20 `, 'm'));
    expect(nanolab('show', id).out).toContain(`run ${id}: gru (gru,`);
    const sample = nanolab('sample', id, '--prompt', 'Thou', '--length', '30', '--seed', '2', '--json');
    expect(sample.code, sample.err).toBe(0);
    const s = JSON.parse(sample.out.trim());
    expect(s.text).toHaveLength(30);
    expect(s.tokens[0].top).toHaveLength(5);
    // --no-repeat-ngram 2 (the lesson's no_repeat_ngram_size=2): no pair of characters twice, prompt included
    const unrepeated = nanolab('sample', id, '--prompt', 'Thou', '--length', '30', '--seed', '2', '--temperature', '0.3', '--no-repeat-ngram', '2', '--json');
    expect(unrepeated.code, unrepeated.err).toBe(0);
    const full = [...`Thou${JSON.parse(unrepeated.out.trim()).text}`];
    const pairs = full.slice(1).map((c, i) => full[i] + c);
    expect(new Set(pairs).size).toBe(pairs.length);
    expect(nanolab('sample', id, '--no-repeat-ngram', '-1').err).toContain('no-repeat-ngram');
    expect(nanolab('sample', id, '--prompt', 'Zz§').err).toContain('text has characters the vocabulary does not: "Z", "z", "§"');
    const out = join(mkdtempSync(join(tmpdir(), 'nanolab-export-')), 'gru');
    const exported = nanolab('export', id, '--out', out, '--json');
    expect(exported.code, exported.err).toBe(0);
    expect(JSON.parse(exported.out.trim().split('\n').at(-1)!)).toMatchObject({
      run_id: Number(id),
      out,
      files: ['model.safetensors', 'config.json', 'tokenizer.json'],
    });
    const compare = nanolab('compare', id, String(other.run_id));
    expect(compare.out).toContain('config differences:');
    expect(compare.out).toMatch(/train\.model\.family +"gru" +"lstm"/);
    expect(nanolab('kmeans', id, '--k', '3').out).toMatch(/^cluster 2: /m);
    expect(nanolab('resume', id).err).toContain(`run ${id} already reached its 20 steps`);
  });

  it('prints the loss per token and the text’s bits/char; --minutes fixes the horizon before step 1; runs and show give the best bits/char', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'poem.txt');
    writeFileSync(file, 'Shall I compare thee to a summer’s day?\nThou art more lovely and more temperate.\n'.repeat(40));
    const small = ['--set', 'embedding_dim=8', '--set', 'hidden_size=16', '--set', 'batch_size=4', '--set', 'seq_len=16', '--set', 'eval_iters=2'];
    const r = nanolab(
      'train',
      '--model',
      'gru',
      '--data',
      file,
      '--tokenizer',
      'word',
      '--word-vocab',
      '40',
      '--minutes',
      '0.03',
      ...small,
      '--set',
      'eval_interval=10',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    const sized = /time budget 1\.8s: calibrated [\d,]+ tok\/s → ([\d,]+) steps/.exec(r.out);
    expect(sized, r.out).not.toBeNull();
    const horizon = Number(sized![1].replace(/,/g, ''));
    expect(r.out).toMatch(/\[gru\] eval step \d+ \| train loss \d+\.\d{4} \| val loss \d+\.\d{4} nats\/token \| val \d+\.\d{3} bits\/char/);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(summary.steps).toBeLessThanOrEqual(horizon);
    // words are several characters each: per character is well below per token
    expect(summary.val_bpc).toBeLessThan((0.5 * summary.val_loss) / Math.LN2);
    const id = String(summary.run_id);
    const shown = JSON.parse(nanolab('show', id, '--json').out.trim());
    expect(shown.config.train.steps).toBe(horizon);
    expect(shown.config.train.schedule.lr_decay_iters).toBeUndefined(); // the GRU's constant schedule has no horizon to set
    expect(shown.bestValBpc).toBeGreaterThan(0);
    expect(nanolab('show', id).out).toContain(`nats/token (${shown.bestValBpc.toFixed(4)} bits/char)`);
    const runs = nanolab('runs').out;
    expect(runs).toMatch(/best val +bits\/char +tok\/s/);
    expect(runs).toMatch(new RegExp(`^${id} .* ${shown.bestValLoss.toFixed(4)} +${shown.bestValBpc.toFixed(4)} `, 'm'));
  });

  it('kill -9 during training: the run reads as interrupted and resumes from its checkpoint to the end', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'sonnet.txt');
    writeFileSync(file, 'From fairest creatures we desire increase, that thereby beauty’s rose might never die. '.repeat(60));
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin/nanolab.js'),
        'train',
        '--model',
        'rnn',
        '--data',
        file,
        '--steps',
        '60',
        '--name',
        'doomed',
        '--set',
        'hidden_size=8',
        '--set',
        'embedding_dim=4',
        '--set',
        'batch_size=2',
        '--set',
        'seq_len=8',
        '--set',
        'eval_interval=5',
        '--set',
        'eval_iters=1',
      ],
      { cwd: root, env: { ...process.env, NANOLAB_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const closed = new Promise((r) => child.on('close', r));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if ((out.match(/eval step/g) ?? []).length >= 3 && /run {5}\d+ in/.test(out)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await closed;
    const id = Number(/run {5}(\d+) in/.exec(out)![1]);
    const runs = JSON.parse(nanolab('runs', '--json').out) as { id: number; status: string; steps: number }[];
    const run = runs.find((r) => r.id === id)!;
    expect(run.status).toBe('interrupted');
    expect(run.steps).toBeGreaterThanOrEqual(5); // metrics up to the last flush (every 250 ms)
    const resumed = nanolab('resume', String(id), '--json');
    expect(resumed.code, resumed.err).toBe(0);
    expect(Number(/resumed from step (\d+)/.exec(resumed.out)![1])).toBeGreaterThanOrEqual(5); // the latest checkpoint on disk
    expect(JSON.parse(resumed.out.trim().split('\n').at(-1)!)).toMatchObject({ run_id: id, status: 'finished', steps: 60 });
  }, 120_000);

  it('nanolab stop RUN stops a training process cleanly, with a checkpoint', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'lines.txt');
    writeFileSync(file, 'Shall I compare thee to a summer’s day?\n'.repeat(100));
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin/nanolab.js'),
        'train',
        '--model',
        'gru',
        '--data',
        file,
        '--steps',
        '100000',
        '--name',
        'long',
        '--set',
        'hidden_size=8',
        '--set',
        'embedding_dim=4',
        '--set',
        'batch_size=2',
        '--set',
        'seq_len=8',
        '--set',
        'eval_interval=1000',
      ],
      { cwd: root, env: { ...process.env, NANOLAB_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const closed = new Promise<number | null>((r) => child.on('close', r));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/step \d+\/100000/.test(out)) resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 500)); // a metrics flush, so the run has a heartbeat
    const id = /run {5}(\d+) in/.exec(out)![1];
    const stop = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), 'stop', id], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NANOLAB_HOME: home },
    });
    expect(stop.stdout + stop.stderr).toContain(`run ${id} stopped`);
    expect(await closed).toBe(0);
    expect(out).toMatch(/\[long\] stopped \(stopped by the user\): run \d+, \d+ steps .*\| checkpoint /);
    expect(nanolab('stop', id).err).toContain(`stop: run ${id} is stopped, not running`);
  }, 60_000);

  it('trains a word-level model and samples words from it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'words.txt');
    writeFileSync(file, 'the king is dead, long live the king. the queen is here, long live the queen.\n'.repeat(60));
    const r = nanolab(
      'train',
      '--model',
      'gru',
      '--data',
      file,
      '--tokenizer',
      'word',
      '--word-vocab',
      '20',
      '--steps',
      '20',
      '--set',
      'hidden_size=16',
      '--set',
      'embedding_dim=8',
      '--set',
      'batch_size=4',
      '--set',
      'seq_len=8',
      '--set',
      'eval_iters=2',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/word vocab 1\d, \d+ train \/ \d+ val tokens/);
    const id = String(JSON.parse(r.out.trim().split('\n').at(-1)!).run_id);
    const s = JSON.parse(nanolab('sample', id, '--prompt', 'the king', '--length', '6', '--json').out.trim());
    expect(s.tokens).toHaveLength(6);
    expect(nanolab('train', '--model', 'gru', '--tokenizer', 'bpe').err).toContain('--tokenizer bpe: choose char or word');
  });

  it('explains bad input in one sentence, with exit code 1', () => {
    const cases: [string[], string][] = [
      [['train'], '--model or --preset is required'],
      [['train', '--preset', 'big-gpt'], 'unknown preset "big-gpt"'],
      [['show', '999'], 'no run with id 999'],
      [['sample', 'x'], 'run id x is not a positive whole number'],
      [['train', '--model', 'lstm', '--data', '/no/such.txt'], '--data /no/such.txt does not exist'],
      [['train', '--model', 'gpt', '--set', 'n_embd=130'], 'n_embd (130) must be divisible by n_head (4)'],
      [['train', '--model', 'gpt', '--set', 'n_layers=2'], 'unknown setting "n_layers"'],
      [['train', '--model', 'gpt', '--steps', 'ten'], '--steps ten: expected a whole number ≥ 1'],
    ];
    for (const [args, message] of cases) {
      const r = nanolab(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toContain(message);
      expect(r.err).not.toMatch(/^\s+at /m);
    }
    const empty = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'empty.txt');
    writeFileSync(empty, '');
    expect(nanolab('train', '--model', 'rnn', '--data', empty).err).toContain('is empty');
  });

  it('lists its commands', () => {
    const r = nanolab('help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('nanolab check-fixture FILE...');
    for (const c of [
      'nanolab train [--preset P] [--model lstm|gru|rnn|gpt]',
      'nanolab resume RUN',
      'nanolab runs',
      'nanolab sample RUN',
      'nanolab export RUN --out DIR',
      'nanolab compare RUN RUN',
      'nanolab kmeans RUN --k K',
    ])
      expect(r.out).toContain(c);
    expect(nanolab('frobnicate').code).toBe(2);
  });
});

describe('nanolab bench', () => {
  it('measures NanoLab on both models and the kernels, and prints the JSON shape the issue names (PyTorch and TF.js skipped here)', () => {
    const r = nanolab('bench', '--steps', '1', '--rounds', '1', '--no-pytorch', '--no-tfjs', '--no-matmul', '--quick', '--json');
    expect(r.code, r.err).toBe(0);
    const last = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(Object.keys(last).sort()).toEqual(['backend', 'kernels', 'machine_load', 'matmul', 'models']);
    expect(Object.keys(last.machine_load).sort()).toEqual(['busy_cores_during_bench', 'cores', 'note', 'other_processes_cores']);
    expect(last.models.map((m: { name: string }) => m.name)).toEqual(['gpt-tiny', 'lstm-small', 'seq2seq-lesson']);
    for (const m of last.models.slice(0, 2)) {
      expect(m.nanolab_tokens_per_s).toBeGreaterThan(0);
      expect(m).toMatchObject({
        pytorch_tokens_per_s: null,
        tfjs_tokens_per_s: null,
        tfjs_backend: 'wasm',
        tfjs_by_backend: { wasm: null },
        ratio_vs_pytorch: null,
        ratio_vs_tfjs: null,
        note: 'TensorFlow.js skipped (--no-tfjs)',
      });
    }
    expect(last.kernels.map((k: { kernel: string; pass: string }) => `${k.kernel} ${k.pass}`)).toEqual([
      'attention forward',
      'attention backward',
      'layer norm forward',
      'layer norm backward',
      'lstm forward',
      'lstm backward',
    ]);
    for (const k of last.kernels) {
      expect(k.nanolab_us).toBeGreaterThan(0);
      expect(k.js_reference_rate).toBeGreaterThan(0);
      expect(k.unit).toBe(k.kernel === 'layer norm' ? 'GB/s' : 'GFLOP/s');
    }
    expect(r.out).toMatch(/lstm backward \(T64 B32 H256\) +[\d,]+ +[\d.]+ +[\d,]+ +[\d.]+ GFLOP\/s/);
    expect(nanolab('bench', '--models', 'gpt-huge').err).toContain('bench: unknown model "gpt-huge"');
    expect(nanolab('bench', '--tfjs-backends', 'webgl').err).toContain('bench: unknown TensorFlow.js backend "webgl"');
  });

  it.skipIf(!existsSync('/usr/bin/chromium'))(
    "--gpu times a model on the page's GPU (Chromium, gpu.js) and on the CPU, and prints both",
    () => {
      const r = nanolab('bench', '--gpu', '--models', 'gpt-micro', '--gpu-steps', '1', '--json');
      expect(r.code, `${r.out}\n${r.err}`).toBe(0);
      const { gpu } = JSON.parse(r.out.trim().split('\n').at(-1)!);
      expect(gpu.adapter).toMatch(/\w/);
      expect(gpu.models).toHaveLength(1);
      expect(gpu.models[0]).toMatchObject({ name: 'gpt-micro', tokens_per_step: 128, error: null });
      expect(gpu.models[0].cpu_tokens_per_s).toBeGreaterThan(0);
      expect(gpu.models[0].gpu_tokens_per_s).toBeGreaterThan(0);
      expect(gpu.models[0].gpu_vs_cpu).toBeCloseTo(gpu.models[0].gpu_tokens_per_s / gpu.models[0].cpu_tokens_per_s, 6);
      expect(r.out).toMatch(/gpt-micro +[\d,]+ +[\d,]+ +[\d,]+ +[\d.]+×/);
      expect(nanolab('bench', '--gpu', '--models', 'gpt-huge').err).toContain('bench --gpu: unknown model "gpt-huge"');
      expect(nanolab('bench', '--gpu', '--models', 'gpt-micro', '--chromium', '/nowhere/chromium').err).toContain(
        'bench --gpu: no Chromium at /nowhere/chromium',
      );
    },
    180_000,
  );
});
