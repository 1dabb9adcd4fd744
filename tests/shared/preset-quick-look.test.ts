import { describe, expect, it } from 'vitest';
import { presetSettingsFor } from '../../src/shared/presets';
import { PRESETS } from '../../src/engine/presets';

describe("a preset's quick look", () => {
  it("scales the schedule's horizons the preset sets with the step count", () => {
    const nano = PRESETS['nanogpt-cpu'][0].settings;
    const quick = presetSettingsFor(nano, 200);
    expect(quick).toMatchObject({ steps: 200, warmup_iters: 10, lr_decay_iters: 200, lr: 1e-3, min_lr: 1e-4 });
    // the preset itself is left alone
    expect(nano.steps).toBe(2000);
  });

  it('changes only the steps of a preset without explicit horizons', () => {
    const lstm = PRESETS['char-rnn-lstm'][0].settings;
    expect(presetSettingsFor(lstm, 120)).toEqual({ ...lstm, steps: 120 });
  });
});
