import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { randomBatch, SequentialBatcher } from '../../src/engine/data/batches';
import { decodeText, splitCorpus } from '../../src/engine/data/corpus';
import { CharTokenizer, tokenizerFromJSON, WordTokenizer } from '../../src/engine/data/tokenizer';
import { RecurrentLM } from '../../src/engine/models';
import { Rng } from '../../src/engine/rng';
import { SettingError, UserError } from '../../src/engine/errors';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';

const text = 'the quick brown fox jumps over the lazy dog. '.repeat(200);

describe('char tokenizer and corpus', () => {
  it('builds a sorted vocabulary and round-trips text', () => {
    const tok = CharTokenizer.fromText('banana 🍌!');
    expect(tok.vocab).toEqual([' ', '!', 'a', 'b', 'n', '🍌']);
    expect(tok.decode(tok.encode('banana 🍌'))).toBe('banana 🍌');
    expect(CharTokenizer.fromJSON(tok.toJSON()).vocab).toEqual(tok.vocab);
  });

  it('names the characters it does not know', () => {
    const tok = CharTokenizer.fromText('abc');
    expect(() => tok.encode('abxyx')).toThrow('text has characters the vocabulary does not: "x", "y"');
  });

  it('splits 90/10 contiguously', () => {
    const c = splitCorpus(text);
    expect(c.train.length).toBe(Math.floor(text.length * 0.9));
    expect(c.tokenizer.decode(c.train) + c.tokenizer.decode(c.val)).toBe(text);
  });

  it('refuses empty, binary, non-UTF-8 and too-short input with a reason', () => {
    expect(() => decodeText(new Uint8Array(0), 'a.txt')).toThrow('a.txt is empty');
    expect(() => decodeText(Uint8Array.from([104, 0, 105]), 'b.bin')).toThrow('b.bin looks binary (it contains NUL bytes)');
    expect(() =>
      decodeText(
        Uint8Array.from({ length: 100 }, () => 0xff),
        'c.txt',
      ),
    ).toThrow('c.txt is not UTF-8 text');
    expect(() => splitCorpus('ab')).toThrow('the text is too short');
  });
});

describe('word tokenizer', () => {
  const text = 'The cat sat.\nThe dog sat, and the cat ran!  Don’t run.\n';
  it('splits words, punctuation, newlines and spaces, and decodes exactly', () => {
    expect(WordTokenizer.split('The cat, don’t.\n  x')).toEqual(['The', ' cat', ',', ' don’t', '.', '\n', '  x']);
    const tok = WordTokenizer.fromText(text, 100, false);
    expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.vocab[0]).toBe('<unk>');
  });
  it('keeps the most frequent tokens and maps the rest to <unk>; can lower-case', () => {
    const tok = WordTokenizer.fromText(text, 4, false);
    expect(tok.vocabSize).toBe(4);
    expect(tok.vocab.slice(1)).toEqual(['\n', ' cat', ' sat']); // 2 each, ties in code-point order; '.', 'The' miss out
    expect(tok.decode(tok.encode('The cat sat.'))).toBe('<unk> cat sat<unk>');
    const lower = WordTokenizer.fromText(text, 100, true);
    expect(lower.decode(lower.encode('THE CAT'))).toBe('the cat');
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(lower.toJSON())));
    expect(back.kind).toBe('word');
    expect(Array.from(back.encode('the dog'))).toEqual(Array.from(lower.encode('the dog')));
    expect(() => WordTokenizer.fromText(text, 1, false)).toThrow('word vocabulary size (1) must be a whole number ≥ 2');
    expect(() => tokenizerFromJSON({ kind: 'bpe' } as never)).toThrow('unknown tokenizer kind "bpe"');
  });
  it('trains and checkpoints a word-level model', async () => {
    const { encodeCheckpoint, restoreTrainer } = await import('../../src/engine/checkpoint/checkpoint');
    const words = splitCorpus('the cat sat on the mat and the dog sat on the log. '.repeat(80), 0.1, 2, { kind: 'word', vocab_size: 50, lowercase: false });
    const t = new Trainer(
      resolveTrainConfig('lstm', words.tokenizer.vocabSize, { hidden_size: 16, embedding_dim: 8, batch_size: 4, seq_len: 8, lr: 1e-2, eval_iters: 2 }),
      words,
    );
    for (let i = 0; i < 150; i++) t.trainStep();
    expect(t.evaluate('val')).toBeLessThan(0.5 * Math.log(words.tokenizer.vocabSize));
    const { tokenizer } = restoreTrainer(encodeCheckpoint(t, words.tokenizer), words);
    expect(tokenizer.kind).toBe('word');
    expect(tokenizer.vocab).toEqual(words.tokenizer.vocab);
    t.dispose();
  });
});

describe('batches', () => {
  const data = Int32Array.from({ length: 101 }, (_, i) => i);
  it('random windows have targets shifted by one', () => {
    const b = randomBatch(data, 4, 8, new Rng(1));
    for (let i = 0; i < 4 * 8; i++) expect(b.y[i]).toBe(b.x[i] + 1);
  });
  it('sequential lanes continue where they stopped, and wrap', () => {
    const s = new SequentialBatcher(data, 2, 10); // lanes of 50: [0, 50) and [50, 100)
    const first = s.next();
    expect(Array.from(first.x.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(first.x[10]).toBe(50);
    const second = s.next();
    expect(second.x[0]).toBe(10);
    expect(second.x[10]).toBe(60);
    s.next();
    s.next(); // offsets 20, 30; offset 40 is the last window that fits
    expect(s.next().x[0]).toBe(40);
    expect(s.atEpochStart).toBe(true);
    expect(s.next().x[0]).toBe(0);
  });
});

describe('trainer', () => {
  const corpus = splitCorpus(text);
  const V = corpus.tokenizer.vocabSize;

  it('carries the recurrent state from batch to batch (truncated BPTT)', () => {
    const config = resolveTrainConfig('lstm', V, { hidden_size: 8, embedding_dim: 4, num_layers: 1, batch_size: 2, seq_len: 5 }, 3);
    const trainer = new Trainer(config, corpus);
    trainer.trainStep();
    const carried = (trainer as unknown as { state: { h: { data: Float32Array }[] } }).state.h[0].data;
    expect(carried.some((x) => x !== 0)).toBe(true);
    trainer.dispose();
  });

  it('one batch of two halves with the carried state gives the same logits as the whole', () => {
    const backend = new CpuBackend('float64');
    const config = resolveTrainConfig('gru', V, { hidden_size: 6, embedding_dim: 3, num_layers: 2 });
    const model = new RecurrentLM(config.model as never, backend, new Rng(4));
    const ids = corpus.train.subarray(0, 8);
    const whole = backend.scoped(() => Array.from(backend.read(model.forward(new Graph(backend, new Rng(0), false), ids, 1, 8).logits)));
    const state = model.zeroState(1);
    const halves = [ids.subarray(0, 4), ids.subarray(4)].flatMap((part) =>
      backend.scoped(() => {
        const out = model.forward(new Graph(backend, new Rng(0), false), part, 1, 4, state);
        model.carryState(out.state!, state);
        return Array.from(backend.read(out.logits));
      }),
    );
    halves.forEach((x, i) => expect(x).toBeCloseTo(whole[i], 12));
  });

  it('learns: loss falls well below uniform on a repetitive text, for each family', () => {
    for (const family of ['rnn', 'lstm', 'gru', 'gpt'] as const) {
      const small =
        family === 'gpt'
          ? { n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, seq_len: 16, batch_size: 8, lr: 1e-2 }
          : { hidden_size: 32, embedding_dim: 8, num_layers: 1, seq_len: 16, batch_size: 8, lr: 1e-2 };
      const trainer = new Trainer(resolveTrainConfig(family, V, { ...small, eval_iters: 4, steps: 60 }, 1), corpus);
      for (let i = 0; i < 60; i++) trainer.trainStep();
      const { valLoss } = trainer.evaluateBoth();
      expect(valLoss, family).toBeLessThan(0.5 * Math.log(V));
      trainer.dispose();
    }
  });

  it('is reproducible from its seed', () => {
    const config = resolveTrainConfig('gpt', V, { n_layer: 1, n_head: 2, n_embd: 8, block_size: 8, seq_len: 8, batch_size: 2, dropout: 0.1 }, 9);
    const run = () => {
      const t = new Trainer(config, corpus);
      const losses = [t.trainStep().loss, t.trainStep().loss, t.trainStep().loss];
      t.dispose();
      return losses;
    };
    expect(run()).toEqual(run());
  });

  it('stops on a non-finite loss before updating the weights', () => {
    const config = resolveTrainConfig('rnn', V, { hidden_size: 4, embedding_dim: 2, num_layers: 1, batch_size: 2, seq_len: 4 });
    const trainer = new Trainer(config, corpus);
    const head = trainer.model.params.get('head.weight');
    const values = trainer.backend.read(head);
    values[0] = Number.POSITIVE_INFINITY; // an overflowed weight, as a too-high learning rate leaves it
    trainer.backend.write(head, values);
    const before = trainer.model.params.read();
    expect(() => trainer.trainStep()).toThrow(/^diverged at step 1 \(loss (NaN|Infinity)\): lower the learning rate \(lr 0.003\)/);
    expect(trainer.model.params.read()).toEqual(before);
    trainer.dispose();
  });

  it('refuses settings that do not fit together', () => {
    expect(() => resolveTrainConfig('gpt', V, { seq_len: 128 })).toThrow('seq_len (128) must be ≤ block_size (64)');
    expect(() => resolveTrainConfig('gpt', V, { batching: 'sequential' })).toThrow('batching (sequential) needs a recurrent model');
    expect(() => resolveTrainConfig('lstm', V, { gamma: 0.5, schedule: 'cosine' })).toThrow('gamma does not apply to the cosine schedule');
    expect(() => resolveTrainConfig('lstm', V, { optimizer: 'lion' })).toThrow('unknown optimizer "lion"');
    expect(() => resolveTrainConfig('lstm', V, { batch_size: 0 })).toThrow('batch_size (0) must be a positive integer');
  });

  it('names the setting it refuses as data (SettingError.field), for the form to point at', () => {
    const fieldOf = (overrides: Record<string, unknown>, family: 'gpt' | 'lstm' = 'gpt') => {
      try {
        resolveTrainConfig(family, V, overrides);
      } catch (error) {
        return error instanceof SettingError ? error.field : `not a SettingError: ${String(error)}`;
      }
      return 'accepted';
    };
    expect(fieldOf({ n_embd: 130 })).toBe('n_embd');
    expect(fieldOf({ seq_len: 128 })).toBe('seq_len');
    expect(fieldOf({ lr: -1 })).toBe('lr');
    expect(fieldOf({ lr: 'abc' })).toBe('lr');
    expect(fieldOf({ dropout: 1.5 })).toBe('dropout');
    expect(fieldOf({ warmup_iters: 50, lr_decay_iters: 10 })).toBe('lr_decay_iters');
    expect(fieldOf({ hidden_size: 1e308 }, 'lstm')).toBe('hidden_size');
    expect(fieldOf({ learning_rate: 0.1 })).toBe('learning_rate');
    expect(() => resolveTrainConfig('lstm', V, { optimizer: 'lion' })).toThrow(UserError);
  });
});

describe('presets', () => {
  it('every preset resolves to a valid config; the matched pair has matched parameter counts', async () => {
    const { PRESETS } = await import('../../src/engine/presets');
    const { countParameters } = await import('../../src/engine/models');
    for (const [name, runs] of Object.entries(PRESETS)) {
      for (const p of runs) expect(() => resolveTrainConfig(p.family, 65, p.settings), name).not.toThrow();
    }
    const [lstm, gpt] = PRESETS['rnn-vs-gpt'].map((p) => countParameters(resolveTrainConfig(p.family, 65, p.settings).model));
    expect(Math.abs(lstm - gpt) / gpt).toBeLessThan(0.01);
    const nano = resolveTrainConfig('gpt', 65, PRESETS['nanogpt-cpu'][0].settings);
    expect(nano.optimizer).toMatchObject({ name: 'adamw', lr: 1e-3, beta2: 0.99, weight_decay: 0.1 });
    expect(nano.schedule).toEqual({ kind: 'cosine', warmup_iters: 100, lr_decay_iters: 2000, min_lr: 1e-4 });
  });
});
