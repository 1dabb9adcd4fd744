import { describe, expect, expectTypeOf, it } from 'vitest';
import { runTraining, type LoopEvent, type RunEvent } from '../../src/engine/run';
import { MODEL_FAMILIES, type ModelFamily } from '../../src/engine/models';
import { OPTIMIZER_DEFAULTS, type OptimizerName as EngineOptimizerName } from '../../src/engine/optim/optimizer';
import type { LrSchedule } from '../../src/engine/optim/schedule';
import { resolveTrainConfig } from '../../src/engine/train';
import { flatten } from '../../src/main/api/run-drafts';
import { parseEvent, parseRequest, type GpuRunEvent, type RunEventView } from '../../src/shared/contract';
import {
  FAMILIES,
  METRICS,
  OPTIMIZERS,
  SCHEDULES,
  SETTINGS,
  settingsFor,
  type Family,
  type OptimizerName,
  type ScheduleKind,
} from '../../src/shared/hyperparameters';
import { metricPointsOf } from '../../src/shared/metrics';

// Each vocabulary has one declaration. Where another must exist beside it (the engine declares
// TypeScript types and cannot import zod; the engine keeps its own optimizer and schedule
// implementations), these checks hold the two together: the type-level ones fail the typecheck
// (`npm run typecheck`), the others fail here.

/** An intersection as one object type, the way zod infers an extended object. */
type Flat<T> = { [K in keyof T]: T[K] };
type End = Extract<LoopEvent, { type: 'end' }>;

describe('one event vocabulary', () => {
  it('the contract describes the engine’s events exactly', () => {
    expectTypeOf<Exclude<RunEventView, { type: 'status' }>>().toEqualTypeOf<RunEvent>();
    expectTypeOf<GpuRunEvent>().toEqualTypeOf<Exclude<LoopEvent, { type: 'checkpoint' | 'end' }> | Flat<End & { gpuFault?: boolean }>>();
  });

  it('every event of a real run crosses the contract unchanged', async () => {
    const text = 'the quick brown fox jumps over the lazy dog. '.repeat(60);
    const config = resolveTrainConfig('rnn', 30, {
      steps: 4,
      eval_interval: 2,
      eval_iters: 1,
      batch_size: 2,
      seq_len: 8,
      embedding_dim: 8,
      hidden_size: 8,
      num_layers: 1,
    });
    const events: LoopEvent[] = [];
    await runTraining(
      {
        runId: 1,
        config,
        checkpointInterval: 2,
        sampleInterval: 2,
        samplePrompt: 't',
        resume: false,
        lowercase: false,
        tokenizer: { kind: 'char' },
        timeBudgetMs: null,
        wallOffsetMs: 0,
        bestValLoss: null,
      },
      {
        text,
        textName: 'test text',
        readLatest: () => ({}),
        saveCheckpoint: (_files, step, valLoss, best) => {
          events.push({ type: 'checkpoint', step, path: 'runs/1/checkpoints/latest', valLoss, kind: 'latest' });
          if (best) events.push({ type: 'checkpoint', step, path: 'runs/1/checkpoints/best', valLoss, kind: 'best' });
        },
      },
      { paused: false, stopRequested: false },
      (e) => events.push(e),
    );
    const host: RunEvent[] = [
      { type: 'log', step: 2, message: 'the page went away. Continuing on the CPU from the checkpoint at step 2.' },
      { type: 'moved', step: 3, to: 'cpu', reason: 'the page went away', fromStep: 2 },
    ];
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['started', 'step', 'eval', 'sample', 'checkpoint', 'end']));
    for (const event of [...events, ...host]) {
      expect(parseEvent('run.event', { runId: 1, event }).event).toEqual(event);
    }
    const reported = events.filter((e) => e.type !== 'checkpoint');
    expect(parseRequest('gpu.report', { runId: 1, events: reported }).events).toEqual(reported);
  });

  it('metrics are read off events under the names METRICS explains', () => {
    const step = metricPointsOf({ type: 'step', step: 5, loss: 2, lr: 1e-3, gradNorm: 0.7, tokens: 500, tokensPerSec: 1000, elapsedMs: 50, activeMs: 40 });
    const evaluation = metricPointsOf({
      type: 'eval',
      step: 5,
      tokens: 500,
      elapsedMs: 60,
      activeMs: 45,
      trainLoss: 1.9,
      valLoss: 3,
      trainBpc: 1.5,
      valBpc: 2,
      decode: { exact_match: 0.5, cer: 0.2, bleu: 0.6, pairs: 10 },
    });
    expect([...step, ...evaluation].map((m) => m.name).sort()).toEqual(Object.keys(METRICS).sort());
    expect(evaluation.find((m) => m.name === 'val_bpc')?.point).toEqual({ step: 5, tokens: 500, wallMs: 60, activeMs: 45, value: 2 });
    expect(evaluation.find((m) => m.name === 'eval_train_bpc')?.point.value).toBe(1.5);
    expect(metricPointsOf({ type: 'moved', step: 3, to: 'cpu', reason: 'r', fromStep: null })).toEqual([]);
  });
});

describe('one list of families, optimizers and schedules', () => {
  it('the engine builds the families the settings catalogue lists', () => {
    expectTypeOf<ModelFamily>().toEqualTypeOf<Family>();
    expect(MODEL_FAMILIES).toEqual(FAMILIES);
  });

  it('the engine implements the optimizers the catalogue lists, with the settings it says they take', () => {
    expectTypeOf<EngineOptimizerName>().toEqualTypeOf<OptimizerName>();
    expect(Object.keys(OPTIMIZER_DEFAULTS)).toEqual([...OPTIMIZERS]);
    for (const setting of SETTINGS.filter((s) => s.group === 'optimizer' && s.key !== 'optimizer')) {
      const takenBy = OPTIMIZERS.filter((o) => settingsFor('gpt', o, 'constant').includes(setting));
      expect(takenBy, setting.key).toEqual(OPTIMIZERS.filter((o) => setting.key in OPTIMIZER_DEFAULTS[o]));
    }
  });

  it('the engine implements the schedules the catalogue lists, with the settings it says they take', () => {
    expectTypeOf<LrSchedule['kind']>().toEqualTypeOf<ScheduleKind>();
    const scheduleSettings = SETTINGS.filter((s) => s.group === 'schedule' && s.key !== 'schedule');
    for (const kind of SCHEDULES) {
      const { kind: resolved, ...values } = resolveTrainConfig('gpt', 30, { schedule: kind }).schedule;
      expect(resolved).toBe(kind);
      const applies = settingsFor('gpt', 'adamw', kind)
        .filter((s) => s.group === 'schedule' && s.key !== 'schedule')
        .map((s) => s.key);
      expect(Object.keys(values).sort(), kind).toEqual([...applies].sort());
      for (const s of scheduleSettings) {
        const value = applies.includes(s.key) ? (values as Record<string, unknown>)[s.key] : s.min;
        const given = () => resolveTrainConfig('gpt', 30, { schedule: kind, [s.key]: value });
        if (applies.includes(s.key)) expect(given, `${s.key} with ${kind}`).not.toThrow();
        else expect(given, `${s.key} with ${kind}`).toThrow(/does not apply/);
      }
    }
  });
});

describe('one flat settings namespace', () => {
  it('a resolved config, flattened, resolves to itself and fills every field the form shows', () => {
    for (const family of FAMILIES) {
      for (const optimizer of OPTIMIZERS) {
        for (const schedule of SCHEDULES) {
          const config = resolveTrainConfig(family, 30, { optimizer, schedule }, 7);
          const flat = flatten(config);
          expect(resolveTrainConfig(family, 30, flat, 7), `${family} ${optimizer} ${schedule}`).toEqual(config);
          for (const s of settingsFor(family, optimizer, schedule)) expect(flat, `${family} ${optimizer} ${schedule}`).toHaveProperty(s.key);
        }
      }
    }
  });
});
