import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `nanolab bench --models seq2seq-lesson` as a user runs it (bin/nanolab.js): one tiny round. With
// PyTorch (Debian's python3-torch) both sides train on the same batches from the same weights, so
// the greedy outputs of the decoding check agree; without it the PyTorch part is skipped.

const root = fileURLToPath(new URL('../../', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'nanolab-bench-seq2seq-'));
const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

function bench(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin/nanolab.js'), 'bench', '--models', 'seq2seq-lesson', '--steps', '1', '--rounds', '1', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, NANOLAB_HOME: home },
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return { out: r.stdout, last: JSON.parse(r.stdout.trim().split('\n').at(-1)!) };
}

describe('nanolab bench --models seq2seq-lesson', () => {
  it('times NanoLab training and greedy decoding of the lesson model without PyTorch', () => {
    const { out, last } = bench('--no-pytorch', '--no-tfjs', '--no-matmul', '--no-kernels', '--json');
    expect(last.models).toHaveLength(1);
    expect(last.models[0]).toMatchObject({ name: 'seq2seq-lesson', pytorch_tokens_per_s: null, ratio_vs_pytorch: null, ratio_vs_pytorch_per_round: [] });
    expect(last.models[0].nanolab_tokens_per_s).toBeGreaterThan(0);
    expect(last.models[0].note).toContain('PyTorch skipped (--no-pytorch)');
    expect(last.models[0].decoding).toMatchObject({ sources: 64, pytorch_tokens_per_s: null, same_outputs: null });
    expect(last.models[0].decoding.nanolab_tokens_per_s).toBeGreaterThan(0);
    expect(out).toMatch(/seq2seq-lesson +[\d,]+ +- +- +- +- +-/);
  });

  it.runIf(torch)('compares with PyTorch on the same batches and weights: a ratio per round and the same greedy outputs', () => {
    const { out, last } = bench('--no-tfjs', '--no-matmul', '--no-kernels', '--json');
    const m = last.models[0];
    expect(m.pytorch_tokens_per_s).toBeGreaterThan(0);
    expect(m.ratio_vs_pytorch).toBeCloseTo(m.nanolab_tokens_per_s / m.pytorch_tokens_per_s, 1);
    expect(m.ratio_vs_pytorch_per_round).toHaveLength(1);
    expect(last.models[0].decoding.pytorch_tokens_per_s).toBeGreaterThan(0);
    // from the same initial weights, greedy decoding agrees (an argmax tie could flip a row or two)
    expect(last.models[0].decoding.same_outputs).toBeGreaterThanOrEqual(60);
    expect(out).toMatch(/seq2seq-lesson +[\d,]+ +[\d,]+ +- +[\d.]+× +[\d.]+/);
  });

  it.skipIf(torch)('skips the PyTorch comparison here: /usr/bin/python3 has no torch (apt-get install python3-torch)', () => {
    console.log('PyTorch part skipped: /usr/bin/python3 cannot import torch');
  });
});
