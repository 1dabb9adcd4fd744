import { describe, it, expect } from 'vitest';
import { progressFacts, type ProgressInput } from '../../src/renderer/src/lib/run-progress';
import { uniformLossNats } from '../../src/renderer/src/lib/format';

const running: ProgressInput = {
  step: 100,
  totalSteps: 400,
  activeMs: 10_000,
  wallMs: 10_200,
  timeBudgetMs: null,
  tokensPerSec: 5870,
  live: true,
  paused: false,
};
const texts = (p: ProgressInput) => Object.fromEntries(progressFacts(p).facts.map((f) => [f.key, f.text]));

describe('run progress line', () => {
  it('extrapolates the time left from training time, and shows the speed', () => {
    const { percent } = progressFacts(running);
    expect(percent).toBe(25);
    // 300 steps left at 100 ms each
    expect(texts(running)).toEqual({ step: 'step 100 / 400', percent: '25%', active: 'trained 10 s', eta: '30 s left', rate: '5.87k tok/s' });
  });

  it('says "paused" with no time left and no tokens/s while paused', () => {
    const t = texts({ ...running, paused: true, wallMs: 19_200 });
    expect(t.state).toBe('paused');
    expect(t.eta).toBeUndefined();
    expect(t.rate).toBeUndefined();
    // the pause shows as the gap between training time and the clock
    expect(t.active).toBe('trained 10 s');
    expect(t.wall).toBe('19.2 s since the start');
  });

  it('counts a time budget in training time, so a pause does not spend it', () => {
    const t = progressFacts({ ...running, totalSteps: null, timeBudgetMs: 60_000, activeMs: 15_000, wallMs: 45_000 });
    expect(t.percent).toBe(25);
    expect(t.facts.find((f) => f.key === 'eta')?.text).toBe('45 s left');
  });

  it('shows no time left for a finished run', () => {
    expect(texts({ ...running, live: false }).eta).toBeUndefined();
  });
});

describe('uniform loss', () => {
  it('is ln(vocab) nats per token', () => {
    expect(uniformLossNats(65)).toBeCloseTo(4.1744, 4);
    expect(uniformLossNats(1)).toBe(0);
    expect(uniformLossNats(0)).toBeNull();
  });
});
