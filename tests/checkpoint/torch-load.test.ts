import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { encodeCheckpoint } from '../../src/engine/checkpoint/checkpoint';
import { splitCorpus } from '../../src/engine/data/corpus';
import { compare } from '../../src/engine/parity';
import { Rng } from '../../src/engine/rng';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';
import { readCheckpointFolder, writeCheckpointFolder } from '../../src/main/store/checkpoint-files';

// Exported checkpoints load in PyTorch: a trained tiny model of each family goes to a folder,
// PyTorch builds the same architecture from config.json, loads model.safetensors with
// strict=True, and its logits must equal the engine's (rtol 1e-4).

const PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('./torch_load.py', import.meta.url));
const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchVersion = probe.status === 0 ? probe.stdout.trim() : null;
if (!torchVersion) {
  console.log(`torch load test skipped: ${PYTHON} cannot import torch (apt-get install python3-torch; .ci/run does)`);
}

const corpus = splitCorpus('Now is the winter of our discontent made glorious summer by this sun of York. '.repeat(50));
const V = corpus.tokenizer.vocabSize;

const cases: [string, Parameters<typeof resolveTrainConfig>[0], Record<string, unknown>][] = [
  ['rnn', 'rnn', { hidden_size: 12, embedding_dim: 5 }],
  ['lstm', 'lstm', { hidden_size: 12, embedding_dim: 5 }],
  ['gru', 'gru', { hidden_size: 12, embedding_dim: 5, num_layers: 3 }],
  ['gpt (nanoGPT: pre-LN, learned positions, GELU, tied head)', 'gpt', { n_layer: 2, n_head: 2, n_embd: 16, block_size: 16 }],
  [
    'gpt (post-LN, sinusoidal, ReLU, separate head with bias, no ln_f)',
    'gpt',
    {
      n_layer: 2,
      n_head: 4,
      n_embd: 16,
      block_size: 16,
      norm_position: 'post',
      position_encoding: 'sinusoidal',
      activation: 'relu',
      final_layer_norm: false,
      tie_word_embeddings: false,
      lm_head_bias: true,
    },
  ],
];

describe.skipIf(!torchVersion)(`checkpoints load in PyTorch ${torchVersion ?? ''}`, () => {
  for (const [label, family, overrides] of cases) {
    it(label, () => {
      const trainer = new Trainer(resolveTrainConfig(family, V, { ...overrides, batch_size: 4, seq_len: 16 }, 5), corpus);
      for (let i = 0; i < 5; i++) trainer.trainStep(); // trained weights, not the init
      const dir = join(mkdtempSync(join(tmpdir(), 'nanolab-export-')), 'checkpoint');
      writeCheckpointFolder(dir, encodeCheckpoint(trainer, corpus.tokenizer));
      expect(Object.keys(readCheckpointFolder(dir)).sort()).toEqual([
        'config.json',
        'model.safetensors',
        'optimizer.safetensors',
        'state.json',
        'tokenizer.json',
      ]);

      const B = 2,
        T = 12;
      const ids = Int32Array.from({ length: B * T }, (_, i) => corpus.train[i * 3]);
      const ours = trainer.backend.scoped(() =>
        Array.from(trainer.backend.read(trainer.model.forward(new Graph(trainer.backend, new Rng(0), false), ids, B, T).logits)),
      );
      trainer.dispose();

      const rows = [Array.from(ids.subarray(0, T)), Array.from(ids.subarray(T))];
      const run = spawnSync(PYTHON, [script, dir, JSON.stringify(rows)], {
        encoding: 'utf8',
        env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
      });
      expect(run.status, run.stderr).toBe(0);
      const theirs = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { shape: number[]; logits: number[] };
      expect(theirs.shape).toEqual([B, T, V]);
      const check = compare('logits', ours, theirs.logits, { rtol: 1e-4, atol: 1e-5 });
      expect(check.pass, `max abs ${check.maxAbs}, max rel ${check.maxRel}`).toBe(true);
    });
  }
});
