import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The CLI as a user runs it: a separate process through bin/nanolab.js (tsx, no build step).

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'tests/fixtures/torch');

function nanolab(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
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
  });

  it('says what is wrong with a file that is not a fixture', () => {
    const r = nanolab('check-fixture', join(fixtures, 'index.json'));
    expect(r.code).toBe(1);
    expect(r.out).toContain('not a PyTorch parity fixture');
    expect(nanolab('check-fixture', '/no/such/file.json').err).toContain('cannot read /no/such/file.json');
  });
});

describe('nanolab train', () => {
  it('trains on a text file and reports losses and speed', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'poem.txt');
    writeFileSync(file, 'Shall I compare thee to a summer’s day?\nThou art more lovely and more temperate.\n'.repeat(40));
    const r = nanolab('train', '--model', 'gru', '--data', file, '--steps', '20', '--seed', '3',
      '--set', 'hidden_size=32', '--set', 'embedding_dim=8', '--set', 'batch_size=4', '--set', 'seq_len=16', '--set', 'eval_iters=2');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/step 20\/20 \| loss \d\.\d{4} \| lr 3\.00e-3 \| grad norm \d+\.\d{3} \| [\d,]+ tok\/s/);
    const m = r.out.match(/done: 20 steps in [\d.]+ s \| train loss (\d\.\d+) \| val loss (\d\.\d+)/);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeLessThan(Math.log(30));
  });

  it('explains bad input in one sentence, with exit code 1', () => {
    const cases: [string[], string][] = [
      [['train'], '--model is required'],
      [['train', '--model', 'lstm', '--data', '/no/such.txt'], 'cannot read --data /no/such.txt (ENOENT)'],
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
    expect(r.out).toContain('nanolab train --model lstm|gru|rnn|gpt');
    expect(nanolab('frobnicate').code).toBe(2);
  });
});
