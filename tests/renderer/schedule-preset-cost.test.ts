import { describe, expect, it } from 'vitest';
import { describeDuration, estimatePresetSeconds, estimateRunSeconds, stepsForSeconds, type RunLength } from '../../src/renderer/src/lib/preset-cost';
import { describeHorizon, describeSchedule, formatLr } from '../../src/renderer/src/lib/schedule';

describe('the schedule in words', () => {
  it('writes learning rates as people do', () => {
    expect(formatLr(1e-3)).toBe('1e-3');
    expect(formatLr(2.5e-4)).toBe('2.5e-4');
    expect(formatLr(0.1)).toBe('0.1');
    expect(formatLr(0)).toBe('0');
  });

  it('says warm-up, cosine and floor for the nanoGPT preset', () => {
    const cosine = { lr: 1e-3, schedule: 'cosine', warmup_iters: 100, lr_decay_iters: 2000, min_lr: 1e-4 };
    expect(describeSchedule(cosine, 2000)).toBe('warm-up 100 steps to 1e-3, cosine to 1e-4 at step 2,000');
    expect(describeSchedule({ ...cosine, lr_decay_iters: 1500 }, 2000)).toBe(
      'warm-up 100 steps to 1e-3, cosine to 1e-4 at step 1,500, then 1e-4 until step 2,000',
    );
    expect(describeSchedule({ ...cosine, warmup_iters: 0 }, 2000)).toBe('cosine from 1e-3 to 1e-4 at step 2,000');
    expect(describeSchedule({ ...cosine, lr_decay_iters: 5000 }, 2000)).toContain('the run stops at 2,000');
  });

  it('says constant and step schedules with their numbers', () => {
    expect(describeSchedule({ lr: 2e-3, schedule: 'constant' }, 300)).toBe('constant 2e-3 for 300 steps');
    // steps 0..299 with a drop every 100: drops before steps 100 and 200
    expect(describeSchedule({ lr: 1e-2, schedule: 'step', step_size: 100, gamma: 0.5 }, 300)).toBe(
      '0.01, multiplied by 0.5 every 100 steps (2 drops in 300 steps, ending at 2.5e-3)',
    );
  });

  it("says a time budget's horizon", () => {
    expect(describeHorizon(2400, 5)).toBe('≈ 2,400 steps in 5 min on this computer');
  });
});

describe("a preset's cost from a calibration", () => {
  const nano: RunLength = { steps: 2000, batch_size: 12, seq_len: 64, eval_interval: 250, eval_iters: 20 };

  it('adds the evaluations to the training steps', () => {
    // 768 tokens a step at 768 tokens/s: one second a step; 9 evaluations of 2 × 20 forward-only batches
    expect(estimateRunSeconds(nano, 768)).toBeCloseTo(2000 + (9 * 40) / 3, 6);
    expect(
      estimatePresetSeconds([
        { length: nano, tokensPerSec: 768 },
        { length: nano, tokensPerSec: 768 * 2 },
      ]),
    ).toBeCloseTo(((2000 + 120) * 3) / 2, 6);
  });

  it('finds the longest quick look that fits in a minute', () => {
    const runs = [{ length: nano, tokensPerSec: 768 * 2 }];
    const steps = stepsForSeconds(runs, 60);
    expect(estimatePresetSeconds(runs, steps)).toBeLessThanOrEqual(60);
    expect(estimatePresetSeconds(runs, steps + 1)).toBeGreaterThan(60);
    // never fewer than 10 steps, never more than the preset's own
    expect(stepsForSeconds([{ length: nano, tokensPerSec: 1 }], 60)).toBe(10);
    expect(stepsForSeconds([{ length: nano, tokensPerSec: 1e9 }], 60)).toBe(2000);
  });

  it('says a duration as the estimate it is', () => {
    expect(describeDuration(20)).toBe('under a minute');
    expect(describeDuration(61)).toBe('about 1 minute');
    expect(describeDuration(9.4 * 60)).toBe('about 9 minutes');
    expect(describeDuration(80 * 60)).toBe('about 1 h 20 min');
  });
});
