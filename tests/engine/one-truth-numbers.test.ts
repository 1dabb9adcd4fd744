import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { splitCorpus } from '../../src/engine/data/corpus';
import { Rng } from '../../src/engine/rng';
import { learningRate } from '../../src/engine/optim/schedule';
import { budgetHorizon, lrCurve, runTraining, withHorizon, type LoopEvent, type RunSettings } from '../../src/engine/run';
import { bitsPerChar, charsPerToken, resolveTrainConfig, Trainer, type TrainConfig } from '../../src/engine/train';

// The numbers a learner compares across views and runs: bits per character of the text, active
// time that a pause does not move, and a time budget's learning-rate schedule fixed before step 1.

const codePoints = (s: string) => [...s].length;

type StepEvent = Extract<LoopEvent, { type: 'step' }>;

function settings(config: TrainConfig, over: Partial<RunSettings> = {}): RunSettings {
  return {
    runId: 1,
    config,
    checkpointInterval: 1_000_000,
    sampleInterval: 0,
    samplePrompt: 't',
    resume: false,
    lowercase: false,
    tokenizer: { kind: 'char' },
    timeBudgetMs: null,
    wallOffsetMs: 0,
    bestValLoss: null,
    ...over,
  };
}

const io = (text: string) => ({ text, textName: 'test text', readLatest: () => ({}), saveCheckpoint: () => {} });

describe('bits per character of the original text', () => {
  it('for a char tokenizer equals the loss per token / ln 2 (characters are code points: 🍌 is one)', () => {
    const corpus = splitCorpus('banana 🍌 and bandana! '.repeat(80));
    const trainer = new Trainer(
      resolveTrainConfig('gru', corpus.tokenizer.vocabSize, { hidden_size: 8, embedding_dim: 4, batch_size: 3, seq_len: 12, eval_iters: 3 }),
      corpus,
    );
    for (let i = 0; i < 3; i++) trainer.trainStep();
    const e = trainer.evaluateBoth();
    expect(e.val.chars).toBe(e.val.tokens);
    expect(Math.abs(e.valBpc - e.valLoss / Math.LN2)).toBeLessThan(1e-12);
    expect(Math.abs(e.trainBpc - e.trainLoss / Math.LN2)).toBeLessThan(1e-12);
    trainer.dispose();
  });

  it('for a word tokenizer is the total nats over the characters the targets decode to, / ln 2 (by hand)', () => {
    const text = 'The cat sat on the mat. The dog sat on the log, and the cat ran! Zebras 🦓 yawn.\n'.repeat(30);
    const corpus = splitCorpus(text, 0.1, 2, { kind: 'word', vocab_size: 12, lowercase: false });
    const V = corpus.tokenizer.vocabSize;
    // one window that is the whole validation split: its targets are val[1..], known by hand
    const T = corpus.val.length - 1;
    const config = resolveTrainConfig('lstm', V, { hidden_size: 8, embedding_dim: 4, batch_size: 1, seq_len: T, eval_iters: 1 });
    const trainer = new Trainer(config, corpus);
    for (let i = 0; i < 2; i++) trainer.trainStep();
    const e = trainer.evaluateBoth();

    const targets = corpus.val.subarray(1);
    const decoded = corpus.tokenizer.decode(targets);
    expect(decoded).toContain('<unk>'); // words outside the 12 kept count as the characters they decode to
    expect(e.val.chars).toBe(codePoints(decoded));
    expect(e.val.tokens).toBe(T);
    // the nats, by hand: −log softmax of each target under the model's logits, in float64
    const g = new Graph(trainer.backend, new Rng(0), false);
    const logits = trainer.backend.read(trainer.model.forward(g, corpus.val.subarray(0, T), 1, T).logits);
    let nats = 0;
    for (let t = 0; t < T; t++) {
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      nats += logSum - row[targets[t]];
    }
    expect(e.val.nats / nats).toBeCloseTo(1, 5);
    const byHand = nats / codePoints(decoded) / Math.LN2;
    expect(e.valBpc / byHand).toBeCloseTo(1, 5);
    expect(e.valBpc).toBe(bitsPerChar(e.val));
    // a word carries several characters: per character is well below per token
    expect(e.valBpc).toBeLessThan((0.5 * e.valLoss) / Math.LN2);
    trainer.dispose();
  });

  it('counts each token id’s characters as code points', () => {
    expect(Array.from(charsPerToken(['<unk>', ' cat', '\n', '🦓', 'é']))).toEqual([5, 4, 1, 1, 1]);
  });
});

describe('active time', () => {
  it('a run paused for ~1 s between steps has a wall-time gap but no active-time gap', async () => {
    const config = resolveTrainConfig('rnn', 30, { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8, steps: 6, eval_interval: 100, eval_iters: 1 });
    const control = { paused: false, stopRequested: false };
    const steps: StepEvent[] = [];
    await runTraining(settings(config), io('the quick brown fox jumps over the lazy dog. '.repeat(40)), control, (e) => {
      if (e.type !== 'step') return;
      steps.push(e);
      if (e.step === 3) {
        control.paused = true;
        setTimeout(() => (control.paused = false), 1000);
      }
    });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const gap = (key: 'elapsedMs' | 'activeMs', step: number) => steps[step][key] - steps[step - 1][key];
    expect(gap('elapsedMs', 3)).toBeGreaterThan(950); // step 3 → 4 spans the pause
    expect(gap('activeMs', 3)).toBeLessThan(Math.max(200, 5 * gap('activeMs', 4)));
    for (const s of steps.slice(0, 3)) expect(s.activeMs).toBeCloseTo(s.elapsedMs, 0);
    expect(steps[5].elapsedMs - steps[5].activeMs).toBeGreaterThan(950);
  });

  it('a resumed run continues both clocks from its checkpoint', async () => {
    const config = resolveTrainConfig('rnn', 30, { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8, steps: 2, eval_interval: 100, eval_iters: 1 });
    const steps: StepEvent[] = [];
    await runTraining(
      settings(config, { wallOffsetMs: 9000, activeOffsetMs: 4000 }),
      io('abc def ghi '.repeat(40)),
      { paused: false, stopRequested: false },
      (e) => {
        if (e.type === 'step') steps.push(e);
      },
    );
    expect(steps[0].elapsedMs).toBeGreaterThan(9000);
    expect(steps[0].activeMs).toBeGreaterThan(4000);
    expect(steps[0].activeMs).toBeLessThan(9000);
  });
});

describe('a time budget fixes its horizon before step 1', () => {
  it('sizes the horizon from the speed, counting evaluations, within the configured steps', () => {
    const config = resolveTrainConfig('gpt', 65, { steps: 1_000_000, batch_size: 4, seq_len: 16, eval_interval: 100, eval_iters: 15 });
    // 1000 tok/s, 64 tokens a step: 64 ms a step, and an evaluation every 100 steps costs 10 % more
    expect(budgetHorizon(config, 60_000, 1000)).toBe(Math.floor(60 / (0.064 * 1.1)));
    expect(budgetHorizon({ ...config, steps: 50 }, 60_000, 1000)).toBe(50);
    expect(budgetHorizon(config, 1, 1)).toBe(1);
    const fixed = withHorizon(config, 852);
    expect(fixed.steps).toBe(852);
    expect(fixed.schedule).toEqual({ ...config.schedule, lr_decay_iters: 852 });
  });

  it('the lr of every step is learningRate(schedule, lr, it) for one schedule, fixed before step 1', async () => {
    const config = resolveTrainConfig('gpt', 30, {
      n_layer: 1,
      n_head: 2,
      n_embd: 8,
      block_size: 8,
      seq_len: 8,
      batch_size: 2,
      steps: 1_000_000,
      eval_interval: 40,
      eval_iters: 1,
      warmup_iters: 5,
      lr_decay_iters: 2000,
    });
    const events: LoopEvent[] = [];
    await runTraining(
      settings(config, { timeBudgetMs: 1500 }),
      io('the quick brown fox jumps over the lazy dog. '.repeat(40)),
      { paused: false, stopRequested: false },
      (e) => events.push(e),
    );
    const started = events.find((e) => e.type === 'started')!;
    expect(started.type === 'started' && started.horizon).toBeTruthy();
    if (started.type !== 'started' || !started.horizon) return;
    const horizon = started.horizon.steps;
    expect(started.totalSteps).toBe(horizon);
    expect(horizon).toBeGreaterThan(5);
    expect(horizon).toBeLessThan(1_000_000);
    const schedule = withHorizon(config, horizon).schedule;
    expect(schedule).toEqual({
      kind: 'cosine',
      warmup_iters: 5,
      lr_decay_iters: horizon,
      min_lr: config.schedule.kind === 'cosine' ? config.schedule.min_lr : NaN,
    });
    const steps = events.filter((e): e is StepEvent => e.type === 'step');
    expect(steps.length).toBeGreaterThan(5);
    expect(steps.at(-1)!.step).toBeLessThanOrEqual(horizon);
    for (const s of steps) expect(s.lr).toBe(learningRate(schedule, config.optimizer.lr, s.step - 1));
    expect(events.at(-1)).toMatchObject({ type: 'end', status: 'finished' });
  });
});

describe('a time budget whose calibration diverges', () => {
  it('ends failed, marked diverged, before step 1', async () => {
    const config = resolveTrainConfig('lstm', 30, { hidden_size: 16, embedding_dim: 8, batch_size: 4, seq_len: 16, lr: 1e3, grad_clip: 0 });
    const events: LoopEvent[] = [];
    await runTraining(
      settings(config, { timeBudgetMs: 60_000 }),
      io('the quick brown fox jumps over the lazy dog. '.repeat(40)),
      { paused: false, stopRequested: false },
      (e) => events.push(e),
    );
    expect(events).toEqual([{ type: 'end', status: 'failed', reason: expect.stringContaining('diverged at step'), step: 0, diverged: true }]);
  });
});

describe('the schedule preview', () => {
  it('lrCurve is the trainer’s own lr at each of its steps, with the warm-up’s end, the decay’s end and the last step', () => {
    const corpus = splitCorpus('the quick brown fox jumps over the lazy dog. '.repeat(40));
    const config = resolveTrainConfig('gpt', corpus.tokenizer.vocabSize, {
      n_layer: 1,
      n_head: 2,
      n_embd: 8,
      block_size: 8,
      seq_len: 8,
      batch_size: 2,
      steps: 300,
      warmup_iters: 17,
      lr_decay_iters: 233,
      min_lr: 1e-4,
    });
    const curve = lrCurve(config);
    expect(curve.length).toBeLessThanOrEqual(200);
    const at = curve.map((p) => p.step);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    for (const step of [1, 17, 18, 234, 300]) expect(at).toContain(step);
    const trainer = new Trainer(config, corpus);
    const lrs = [0];
    for (let i = 0; i < config.steps; i++) lrs.push(trainer.trainStep().lr);
    trainer.dispose();
    for (const p of curve) expect(p.lr).toBe(lrs[p.step]);
    expect(curve.at(-1)).toEqual({ step: 300, lr: 1e-4 });
  });

  it('keeps both sides of a step schedule’s drops and covers a short run step by step', () => {
    const config = resolveTrainConfig('lstm', 30, { steps: 1000, schedule: 'step', step_size: 250, gamma: 0.5 });
    const at = lrCurve(config).map((p) => p.step);
    for (const step of [250, 251, 500, 501, 750, 751, 1000]) expect(at).toContain(step);
    expect(lrCurve({ ...config, steps: 40 }).map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });
});
