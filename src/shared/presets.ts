// What the host and the New-run form both do to a preset: shorten it to a "quick look".

/**
 * A preset's settings for a shorter run of `steps` (a "quick look"): the schedule's horizons the
 * preset sets scale with the step count, so a quick look warms up and decays like the full run,
 * only faster; settings the preset leaves to their defaults already follow `steps`.
 */
export function presetSettingsFor(settings: Readonly<Record<string, string | number | boolean>>, steps: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { ...settings, steps };
  const full = Number(settings.steps);
  if (!(full > 0) || full === steps) return out;
  for (const key of ['warmup_iters', 'lr_decay_iters'] as const) {
    const value = settings[key];
    if (typeof value === 'number') out[key] = Math.round((value * steps) / full);
  }
  return out;
}
