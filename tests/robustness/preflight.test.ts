import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { preflight } from '../../src/main/api/run-drafts';
import { wasmHeap } from '../../src/engine/backend/cpu/wasm/heap';
import { trainingMemory, WASM_HEAP_BYTES } from '../../src/engine/memory';
import { PRESETS } from '../../src/engine/presets';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';
import { createRunRecord, prepareResume } from '../../src/main/jobs/job-host';
import { databasePath } from '../../src/main/store/paths';
import { corpusOf } from '../../src/engine/run';
import { RunStore } from '../../src/main/store/run-store';
import { SETTINGS, settingBoundError } from '../../src/shared/hyperparameters';
import { openApi, tinyDraft } from '../api/helpers';
import { nanolab, oneLine, root, tempDir } from './cli';

// Issue 12, item 8: a run that cannot fit is refused before it starts, with both numbers, and
// every setting has finite bounds.

const BIG_GPT = { n_embd: 8192, n_layer: 4 }; // 3.2 B parameters: about 51 GB before activations
const HEAP_REFUSAL =
  /^this model needs about [\d.]+ (GB|TB) to train \(weights [\d.]+ GB, gradients [\d.]+ GB, optimizer state [\d.]+ GB, activations [\d.]+ [kMGT]?B\) but this process can use 4\.0 GB \(the CPU backend's 4 GiB WebAssembly heap\): lower n_embd or n_layer, or batch_size$/;

describe('the memory estimate', () => {
  it("is what the CPU backend's heap holds after training steps and an evaluation, erring high by at most a quarter", () => {
    const heap = wasmHeap();
    if (!heap) return; // no WebAssembly SIMD here: the backend keeps its tensors in JS arrays
    const corpus = corpusOf(readFileSync(join(root, 'resources/tinyshakespeare.txt'), 'utf8').slice(0, 200_000));
    // shapes unlike each other's, so the heap's free lists (kept by length) cannot serve one from another
    const cases = [
      resolveTrainConfig('gpt', corpus.tokenizer.vocabSize, {
        n_layer: 3,
        n_head: 6,
        n_embd: 96,
        block_size: 128,
        seq_len: 128,
        batch_size: 8,
        dropout: 0.1,
        eval_iters: 1,
      }),
      resolveTrainConfig('lstm', corpus.tokenizer.vocabSize, { hidden_size: 200, embedding_dim: 40, batch_size: 24, seq_len: 40, eval_iters: 1 }),
    ];
    for (const config of cases) {
      const before = heap.bytesReserved;
      const trainer = new Trainer(config, corpus);
      for (let i = 0; i < 2; i++) trainer.trainStep();
      trainer.evaluateBoth();
      const used = heap.bytesReserved - before;
      trainer.dispose();
      const estimate = trainingMemory(config);
      expect(estimate.total, config.model.family).toBeGreaterThanOrEqual(used);
      expect(estimate.total - estimate.overhead, config.model.family).toBeLessThanOrEqual(1.25 * used);
    }
  });

  it('adds up weights, gradients, optimizer state and activations, and grows with batch, context and width', () => {
    const m = trainingMemory(resolveTrainConfig('gpt', 65, { batch_size: 4 }));
    expect(m.total).toBe(m.weights + m.gradients + m.optimizer + m.activations + m.overhead);
    expect(m.gradients).toBe(m.weights);
    expect(m.optimizer).toBe(2 * m.weights); // AdamW's two moments
    const sgd = trainingMemory(resolveTrainConfig('gpt', 65, { batch_size: 4, optimizer: 'sgd' }));
    expect(sgd.optimizer).toBe(0);
    expect(trainingMemory(resolveTrainConfig('gpt', 65, { batch_size: 8 })).activations).toBeCloseTo(2 * m.activations, 0);
    // attention probabilities grow with the square of the context
    const long = trainingMemory(resolveTrainConfig('gpt', 65, { batch_size: 4, block_size: 1024, seq_len: 1024 }));
    expect(long.activations).toBeGreaterThan(16 * m.activations * 1.5);
    expect(trainingMemory(resolveTrainConfig('lstm', 65, { hidden_size: 512 })).total).toBeGreaterThan(
      trainingMemory(resolveTrainConfig('lstm', 65, {})).total,
    );
  });
});

describe('preflight', () => {
  it('refuses a model beyond the 4 GiB WebAssembly heap, with both numbers and what to lower', () => {
    expect(() => preflight(resolveTrainConfig('gpt', 65, BIG_GPT))).toThrow(HEAP_REFUSAL);
    // activations dominate: the advice is the batch
    expect(() => preflight(resolveTrainConfig('lstm', 65, { hidden_size: 1024, batch_size: 4096, seq_len: 512 }))).toThrow(
      /activations [\d.]+ GB\) but this process can use 4\.0 GB .*: lower batch_size or seq_len, or hidden_size or num_layers$/,
    );
  });

  it("refuses a model beyond the machine's available memory, naming it", () => {
    const config = resolveTrainConfig('gpt', 65, { n_layer: 6, n_embd: 384, n_head: 6, batch_size: 8, block_size: 256, seq_len: 256 });
    const need = trainingMemory(config);
    expect(need.total).toBeLessThan(WASM_HEAP_BYTES);
    expect(() => preflight(config, 100 * 2 ** 20)).toThrow(
      /^this model needs about [\d.]+ GB to train \(weights .*, checkpoint copies [\d.]+ MB\) but this machine has 100\.0 MB available: lower .*, or close other programs$/,
    );
    expect(() => preflight(config, 64 * 2 ** 30)).not.toThrow();
  });

  it('lets every preset through', () => {
    for (const preset of Object.values(PRESETS).flat()) {
      expect(() => preflight(resolveTrainConfig(preset.family, 65, preset.settings), 8 * 2 ** 30), preset.name).not.toThrow();
    }
  });

  it('runs before nanolab train starts a run: the 3.2 B model is refused in one line, and no run is created', () => {
    const home = tempDir();
    const r = nanolab(home, ['train', '--model', 'gpt', '--set', 'n_embd=8192', '--set', 'n_layer=4', '--steps', '10'], {}, 60_000);
    expect(r.code).toBe(1);
    expect(oneLine(r.err), r.err).toBe(true);
    expect(r.err.trim().replace(/^nanolab train: /, '')).toMatch(HEAP_REFUSAL);
    expect(r.out).not.toMatch(/^run {5}\d+/m);
    expect(JSON.parse(nanolab(home, ['runs', '--json']).out)).toEqual([]);
  }, 90_000);

  it('runs before the app starts a run: runs.start refuses, runs.preview reports it without a field', async () => {
    const { api } = openApi();
    const draft = tinyDraft({ settings: { ...BIG_GPT, n_head: 8, block_size: 16, seq_len: 16, batch_size: 4, steps: 10 } });
    const preview = await api.call('runs.preview', draft);
    expect(preview.ok).toBe(false);
    if (preview.ok) return;
    expect(preview.error).toMatch(HEAP_REFUSAL);
    expect(preview.field).toBeNull();
    await expect(api.call('runs.start', draft)).rejects.toThrow(HEAP_REFUSAL);
    expect(await api.call('runs.list', {})).toEqual([]);
  });

  it('runs before a resume, leaving the run as it was', () => {
    const home = tempDir();
    const store = new RunStore(databasePath(home));
    try {
      const config = resolveTrainConfig('gpt', 65, { ...BIG_GPT, steps: 100 });
      const { runId } = createRunRecord({ home, store, name: 'too big', config, dataPath: join(root, 'resources/tinyshakespeare.txt') });
      store.addCheckpoint(runId, { step: 10, path: join(home, 'runs', String(runId), 'latest'), valLoss: 4, kind: 'latest' });
      store.setStatus(runId, 'stopped', 'stopped by the user');
      expect(() => prepareResume(store, runId)).toThrow(HEAP_REFUSAL);
      expect(store.getRun(runId).status).toBe('stopped');
    } finally {
      store.close();
    }
  });
});

describe('finite bounds on settings', () => {
  it('gives every integer and number setting finite bounds', () => {
    for (const s of SETTINGS.filter((x) => x.kind === 'integer' || x.kind === 'number')) {
      expect(Number.isFinite(s.min) && Number.isFinite(s.max) && s.min! < s.max!, s.key).toBe(true);
    }
  });

  it('refuses non-finite and absurd values with the setting, the value and the range', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['lstm', { hidden_size: 1e308 }, 'hidden_size (1e+308) must be a whole number from 1 to 65536'],
      ['lstm', { embedding_dim: 1e9 }, 'embedding_dim (1000000000) must be a whole number from 1 to 65536'],
      ['lstm', { num_layers: 100_000 }, 'num_layers (100000) must be a whole number from 1 to 256'],
      ['gru', { dropout: 0.995 }, 'dropout (0.995) must be a number from 0 to 0.99'],
      ['gpt', { n_embd: 2 ** 20, n_head: 1 }, 'n_embd (1048576) must be a whole number from 1 to 65536'],
      ['gpt', { n_layer: 1e6 }, 'n_layer (1000000) must be a whole number from 1 to 256'],
      ['gpt', { n_head: 4096, n_embd: 4096 }, 'n_head (4096) must be a whole number from 1 to 1024'],
      ['gpt', { block_size: 1e7 }, 'block_size (10000000) must be a whole number from 1 to 65536'],
      ['gpt', { dropout: 0.995 }, 'dropout (0.995) must be a number from 0 to 0.99'],
      ['lstm', { lr: 1e308 }, 'lr (1e+308) must be a number from 0 to 1000'],
      ['lstm', { lr: Infinity }, 'lr (Infinity) must be a number from 0 to 1000'],
      ['lstm', { weight_decay: 1e6 }, 'weight_decay (1000000) must be a number from 0 to 10'],
      ['lstm', { steps: 1e12 }, 'steps (1000000000000) must be a whole number from 1 to 100000000'],
      ['lstm', { batch_size: 1e9 }, 'batch_size (1000000000) must be a whole number from 1 to 65536'],
      ['lstm', { seq_len: 1e9 }, 'seq_len (1000000000) must be a whole number from 1 to 65536'],
      ['lstm', { eval_interval: 1e15 }, 'eval_interval (1000000000000000) must be a whole number from 1 to 100000000'],
      ['lstm', { eval_iters: 1e9 }, 'eval_iters (1000000000) must be a whole number from 1 to 10000'],
      ['lstm', { grad_clip: Infinity }, 'grad_clip (Infinity) must be a number from 0 to 1000000'],
      ['lstm', { warmup_iters: 1e10, lr_decay_iters: 1e10 }, 'warmup_iters (10000000000) must be a whole number from 0 to 100000000'],
      ['lstm', { schedule: 'step', step_size: 1e10 }, 'step_size (10000000000) must be a whole number from 1 to 100000000'],
    ];
    for (const [family, settings, message] of cases) {
      expect(() => resolveTrainConfig(family as 'lstm', 65, settings), message).toThrow(message);
    }
    expect(settingBoundError('lr', 3e-4)).toBeNull();
    expect(settingBoundError('hidden_size', 2.5)).toBe('hidden_size (2.5) must be a whole number from 1 to 65536');
    expect(settingBoundError('activation', 'tanh')).toBeNull(); // choices are checked by their own rule
  });

  it('keeps the messages of the rules that come first', () => {
    expect(() => resolveTrainConfig('lstm', 65, { hidden_size: 0 })).toThrow('hidden_size (0) must be a positive integer');
    expect(() => resolveTrainConfig('lstm', 65, { batch_size: 0 })).toThrow('batch_size (0) must be a positive integer');
    expect(() => resolveTrainConfig('lstm', 65, { lr: -1 })).toThrow('lr (-1) must be a positive number');
  });

  it('accepts the bounds themselves and the learning rates that diverge on purpose', () => {
    expect(() => resolveTrainConfig('lstm', 65, { lr: 1000 })).not.toThrow();
    expect(() => resolveTrainConfig('gpt', 65, { lr: 10, dropout: 0.99, steps: 100_000_000 })).not.toThrow();
  });

  it('refuses them in the CLI in one line, naming the setting', () => {
    const r = nanolab(tempDir(), ['train', '--model', 'lstm', '--set', 'hidden_size=1e308', '--steps', '10'], {}, 60_000);
    expect(r.code).toBe(1);
    expect(oneLine(r.err), r.err).toBe(true);
    expect(r.err).toContain('hidden_size (1e+308) must be a whole number from 1 to 65536');
  }, 90_000);

  it('points the New-run preview at the field', async () => {
    const { api } = openApi();
    const preview = await api.call('runs.preview', tinyDraft({ family: 'lstm', settings: { hidden_size: 1e308 } }));
    expect(preview).toEqual({ ok: false, error: 'hidden_size (1e+308) must be a whole number from 1 to 65536', field: 'hidden_size' });
  });
});
