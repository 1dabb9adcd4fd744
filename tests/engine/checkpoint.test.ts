import { describe, expect, it } from 'vitest';
import { encodeCheckpoint, restoreModel, restoreTrainer, validateCheckpoint } from '../../src/engine/checkpoint/checkpoint';
import { decodeSafetensors, encodeSafetensors } from '../../src/engine/checkpoint/safetensors';
import { splitCorpus } from '../../src/engine/data/corpus';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';

const corpus = splitCorpus('It was the best of times, it was the worst of times, it was the age of wisdom. '.repeat(60));
const V = corpus.tokenizer.vocabSize;

describe('safetensors', () => {
  const tensors = [
    { name: 'a.weight', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 7]) },
    { name: 'b', shape: [1], data: Float32Array.from([Math.PI]) },
  ];

  it('round-trips tensors and metadata, with the data 8-byte aligned', () => {
    const bytes = encodeSafetensors(tensors, { note: 'x' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt', note: 'x' });
    expect(back.tensors).toEqual(tensors);
  });

  it('rejects truncated and corrupt files, saying why', () => {
    const bytes = encodeSafetensors(tensors);
    expect(() => decodeSafetensors(bytes.subarray(0, 5), 'm.safetensors')).toThrow('m.safetensors is not a valid safetensors file: it is 5 bytes long');
    expect(() => decodeSafetensors(bytes.subarray(0, 40))).toThrow(/header claims \d+ bytes .* \(truncated\?\)/);
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4))).toThrow('tensor "b" ends at byte 28 but the data is 24 bytes (truncated?)');
    const corrupt = bytes.slice();
    corrupt[8] = 0x78; // 'x' where the header's opening brace was
    expect(() => decodeSafetensors(corrupt)).toThrow('its header is not JSON');
    const extra = new Uint8Array(bytes.length + 4);
    extra.set(bytes);
    expect(() => decodeSafetensors(extra)).toThrow('4 bytes follow the last tensor');
  });
});

describe('checkpoints and exact resume', () => {
  const cases: [string, Parameters<typeof resolveTrainConfig>[0], Record<string, unknown>][] = [
    [
      'LSTM, sequential batches with carried state, RMSprop',
      'lstm',
      { hidden_size: 12, embedding_dim: 6, batch_size: 3, seq_len: 10, optimizer: 'rmsprop', alpha: 0.95, grad_clip_value: 5, grad_clip: 0 },
    ],
    ['GRU with dropout between layers', 'gru', { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8, dropout: 0.2 }],
    [
      'GPT with dropout and a cosine schedule',
      'gpt',
      { n_layer: 2, n_head: 2, n_embd: 16, block_size: 16, seq_len: 16, batch_size: 4, dropout: 0.1, warmup_iters: 2, lr_decay_iters: 8 },
    ],
  ];
  for (const [label, family, overrides] of cases) {
    it(`resuming at step k gives bit-identical weights at step n: ${label}`, () => {
      const config = resolveTrainConfig(family, V, overrides, 21);
      const straight = new Trainer(config, corpus);
      for (let i = 0; i < 8; i++) straight.trainStep();

      const first = new Trainer(config, corpus);
      for (let i = 0; i < 4; i++) first.trainStep();
      const files = encodeCheckpoint(first, corpus.tokenizer);
      first.dispose();
      const { trainer: resumed, tokenizer } = restoreTrainer(files, corpus);
      expect(tokenizer.vocab).toEqual(corpus.tokenizer.vocab);
      expect(resumed.step).toBe(4);
      for (let i = 0; i < 4; i++) resumed.trainStep();

      expect(resumed.model.params.read()).toEqual(straight.model.params.read());
      expect(resumed.optimizer.getState()).toEqual(straight.optimizer.getState());
      expect(resumed.tokensSeen).toBe(straight.tokensSeen);
      straight.dispose();
      resumed.dispose();
    });
  }

  it('writes PyTorch names and shapes, the tied head once, and says so in config.json', () => {
    const trainer = new Trainer(resolveTrainConfig('gpt', V, { n_layer: 1, n_head: 2, n_embd: 8, block_size: 8, seq_len: 8 }), corpus);
    const files = encodeCheckpoint(trainer, corpus.tokenizer);
    const { tensors } = decodeSafetensors(files['model.safetensors']);
    const names = tensors.map((t) => t.name);
    expect(names).toContain('transformer.h.0.attn.c_attn.weight');
    expect(names).not.toContain('lm_head.weight');
    expect(tensors.find((t) => t.name === 'transformer.h.0.attn.c_attn.weight')!.shape).toEqual([24, 8]);
    const { config } = validateCheckpoint(files);
    expect(config.tied_params).toEqual({ 'lm_head.weight': 'transformer.wte.weight' });
    expect(config.parameter_count).toBe(trainer.model.params.count());
    trainer.dispose();
  });

  it('refuses a checkpoint with a missing or foreign part', () => {
    const trainer = new Trainer(resolveTrainConfig('rnn', V, { hidden_size: 4, embedding_dim: 2, num_layers: 1, batch_size: 2, seq_len: 4 }), corpus);
    const files = encodeCheckpoint(trainer, corpus.tokenizer);
    trainer.dispose();
    const { 'state.json': _state, ...noState } = files;
    expect(() => validateCheckpoint(noState, 'resume')).toThrow(
      'state.json is missing from the checkpoint (it has config.json, model.safetensors, optimizer.safetensors, tokenizer.json)',
    );
    expect(validateCheckpoint(noState, 'inference').state).toBeNull();
    const foreign = { ...files, 'config.json': new TextEncoder().encode('{"format":"other"}') };
    expect(() => validateCheckpoint(foreign)).toThrow('config.json is not a NanoLab checkpoint\'s config (its format is "other"');
    const truncated = { ...files, 'model.safetensors': files['model.safetensors'].subarray(0, 100) };
    expect(() => validateCheckpoint(truncated)).toThrow('model.safetensors is not a valid safetensors file');
  });

  it('restores a model for inference from the files alone, with the same weights and the step', () => {
    const trainer = new Trainer(resolveTrainConfig('lstm', V, { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8 }), corpus);
    for (let i = 0; i < 3; i++) trainer.trainStep();
    const files = encodeCheckpoint(trainer, corpus.tokenizer);
    const exported = Object.fromEntries(['model.safetensors', 'config.json', 'tokenizer.json'].map((n) => [n, files[n]]));
    for (const [label, folder, step] of [
      ['checkpoint', files, 3],
      ['export', exported, null],
    ] as const) {
      const restored = restoreModel(folder);
      expect(restored.step, label).toBe(step);
      expect(restored.tokenizer.vocab).toEqual(corpus.tokenizer.vocab);
      expect(restored.model.params.read()).toEqual(trainer.model.params.read());
      restored.dispose();
      expect(restored.model.backend.liveTensors(), label).toBe(0);
    }
    trainer.dispose();
  });
});
