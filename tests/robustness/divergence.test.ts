import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/engine/presets';
import { DIVERGENCE_FACTOR, divergence, divergenceLimit, resolveTrainConfig, Trainer } from '../../src/engine/train';
import { databasePath } from '../../src/main/store/paths';
import { corpusOf } from '../../src/engine/run';
import { RunStore } from '../../src/main/store/run-store';
import { nanolab, root, tempDir } from './cli';

// Issue 12, item 9: a loss that is not finite, or far above what guessing scores, ends the run as
// failed "diverged at step N", with the last good checkpoint kept. The rule must never stop a
// healthy run of any preset, nor one whose high learning rate makes the loss jump and recover.

const text = readFileSync(join(root, 'resources/tinyshakespeare.txt'), 'utf8');
const corpora = new Map<boolean, ReturnType<typeof corpusOf>>();
const corpus = (lowercase = false) => {
  if (!corpora.has(lowercase)) corpora.set(lowercase, corpusOf(text, lowercase));
  return corpora.get(lowercase)!;
};

/** Step losses of `steps` steps, and the error that stopped them (null when none did). */
function train(family: 'rnn' | 'lstm' | 'gru' | 'gpt', settings: Record<string, unknown>, steps: number, lowercase = false) {
  const c = corpus(lowercase);
  const trainer = new Trainer(resolveTrainConfig(family, c.tokenizer.vocabSize, { ...settings, steps }), c);
  const losses: number[] = [];
  try {
    for (let i = 0; i < steps; i++) losses.push(trainer.trainStep().loss);
    return { losses, error: null, lnV: Math.log(c.tokenizer.vocabSize), limit: trainer.lossLimit };
  } catch (error) {
    return { losses, error: (error as Error).message, lnV: Math.log(c.tokenizer.vocabSize), limit: trainer.lossLimit };
  } finally {
    trainer.dispose();
  }
}

describe('the divergence rule', () => {
  it('is ten times the larger of the uniform loss and the first loss, at least 10 nats', () => {
    expect(DIVERGENCE_FACTOR).toBe(10);
    expect(divergenceLimit(65, 4.2)).toBeCloseTo(42, 10);
    expect(divergenceLimit(65, 3)).toBeCloseTo(10 * Math.log(65), 10); // a resumed run starts below uniform
    expect(divergenceLimit(2000, 9)).toBeCloseTo(90, 10); // a fine-tune that starts worse than uniform
    expect(divergenceLimit(2, 0.7)).toBe(10); // ln 2 = 0.69: the floor
  });

  it('names the step and the loss of a non-finite or too-high loss, and nothing else', () => {
    expect(divergence(41.9, 42, 7)).toBeNull();
    expect(divergence(42, 42, 7)).toBeNull();
    expect(divergence(0, 42, 7)).toBeNull();
    expect(divergence(42.5, 42, 7)).toBe('diverged at step 7 (loss 42.50, above the limit 42.0)');
    expect(divergence(6.7e21, 42, 12)).toBe('diverged at step 12 (loss 6.70e+21, above the limit 42.0)');
    expect(divergence(Number.NaN, 42, 3)).toBe('diverged at step 3 (loss NaN)');
    expect(divergence(Number.POSITIVE_INFINITY, 42, 3, 'validation loss')).toBe('diverged at step 3 (validation loss Infinity)');
  });
});

describe('healthy runs are never stopped', () => {
  // each preset as it trains, its steps shrunk and its schedule shrunk with them (warm-up and
  // decay keep their share of the run, so the peak learning rate is reached)
  const STEPS = 30;
  for (const preset of Object.values(PRESETS).flat()) {
    it(`${preset.name} (${STEPS} steps at its learning rate and schedule)`, () => {
      const s: Record<string, unknown> = { ...preset.settings, eval_iters: 1 };
      const scale = STEPS / Number(preset.settings.steps);
      for (const key of ['warmup_iters', 'lr_decay_iters'] as const) if (key in s) s[key] = Math.max(1, Math.round(Number(s[key]) * scale));
      const { losses, error, lnV, limit } = train(preset.family, s, STEPS, preset.lowercase);
      expect(error).toBeNull();
      expect(losses).toHaveLength(STEPS);
      expect(Math.max(...losses)).toBeLessThan(1.1 * lnV); // far from the limit, ten times that
      expect(limit).toBeGreaterThan(9 * lnV);
    }, 120_000);
  }

  it('a learning rate high enough to make the loss jump, that recovers (GPT AdamW lr 0.3; char-rnn SGD lr 5)', () => {
    const gpt = train('gpt', { lr: 0.3, schedule: 'constant', n_layer: 2, n_embd: 64, batch_size: 8, eval_iters: 1 }, 100);
    expect(gpt.error).toBeNull();
    expect(Math.max(...gpt.losses)).toBeGreaterThan(3 * gpt.lnV); // a rule at 3 × uniform would have stopped it
    expect(gpt.losses.slice(-10).reduce((a, b) => a + b) / 10).toBeLessThan(gpt.lnV);
    const rnn = train('rnn', { optimizer: 'sgd', lr: 5, batch_size: 16, seq_len: 32, eval_iters: 1 }, 100);
    expect(rnn.error).toBeNull();
    expect(Math.max(...rnn.losses)).toBeGreaterThan(3 * rnn.lnV);
    expect(rnn.losses.slice(-10).reduce((a, b) => a + b) / 10).toBeLessThan(1.2 * rnn.lnV);
  }, 120_000);
});

describe('exploding runs are stopped within a few steps, before the update', () => {
  it('an LSTM at lr 1e3 (it used to reach loss 6.7e21 and end "finished")', () => {
    const { losses, error } = train('lstm', { lr: 1000, batch_size: 8, seq_len: 16, eval_iters: 1 }, 30);
    expect(error).toMatch(
      /^diverged at step [2-4] \(loss [\d.]+(e\+\d+)?, above the limit 4\d\.\d\): lower the learning rate \(lr 1000\) or clip gradients \(grad_clip 1\)$/,
    );
    expect(losses.length).toBeLessThanOrEqual(3);
  });

  it('a GPT at lr 10', () => {
    const { losses, error } = train('gpt', { lr: 10, schedule: 'constant', n_layer: 2, n_embd: 64, batch_size: 8, eval_iters: 1 }, 30);
    expect(error).toMatch(/^diverged at step [2-4] \(loss .*\): lower the learning rate \(lr 10\)/);
    expect(losses.length).toBeLessThanOrEqual(3);
  });

  it('a real run ends failed "diverged at step N" and keeps its last good checkpoint', () => {
    // the learning rate warms up towards 1e3 (0.1 × step): healthy for a few checkpoints, then it explodes
    const home = tempDir();
    const r = nanolab(
      home,
      [
        'train',
        '--model',
        'lstm',
        '--steps',
        '300',
        '--name',
        'exploding',
        '--json',
        '--set',
        'lr=1000',
        '--set',
        'schedule=cosine',
        '--set',
        'warmup_iters=10000',
        '--set',
        'lr_decay_iters=10000',
        '--set',
        'batch_size=8',
        '--set',
        'seq_len=16',
        '--set',
        'eval_interval=3',
        '--set',
        'eval_iters=1',
      ],
      {},
      120_000,
    );
    expect(r.code, r.err).toBe(1);
    const summary = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ status: 'failed', name: 'exploding' });
    const m =
      /^diverged at step (\d+) \((loss|validation loss|loss on the training text) ([\d.e+]+|NaN|Infinity)(, above the limit [\d.]+)?\): lower the learning rate \(lr 1000\)/.exec(
        summary.reason,
      );
    expect(m, summary.reason).not.toBeNull();
    const at = Number(m![1]);
    expect(at).toBeGreaterThan(3);
    expect(at).toBeLessThan(300);
    const store = new RunStore(databasePath(home));
    try {
      const run = store.getRun(summary.run_id);
      expect(run.status).toBe('failed');
      expect(run.statusReason).toBe(summary.reason);
      const latest = store.checkpoints(summary.run_id).find((c) => c.kind === 'latest')!;
      // the last checkpoint before the divergence, with a loss under the limit
      expect(latest.step).toBeLessThan(at);
      expect(latest.step % 3).toBe(0);
      expect(latest.valLoss).toBeLessThan(10 * Math.log(65));
    } finally {
      store.close();
    }
    // and the model it kept samples
    const sample = nanolab(home, ['sample', String(summary.run_id), '--length', '20']);
    expect(sample.code, sample.err).toBe(0);
  }, 150_000);
});
