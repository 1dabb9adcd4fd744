// The New-run form's settings: what the user typed, turned into typed values, and the draft
// settings that result (the preset's, then only what the user changed).
import type { SettingInfo } from '../../../shared/hyperparameters';

export type SettingValue = string | number | boolean;

export type ParsedSetting = { ok: true; value: SettingValue } | { ok: false; error: string };

/** Parses a field's text (or checkbox state) by the setting's kind and range. */
export function parseSetting(info: SettingInfo, raw: string | boolean): ParsedSetting {
  if (info.kind === 'boolean') {
    if (typeof raw === 'boolean') return { ok: true, value: raw };
    if (raw === 'true' || raw === 'false') return { ok: true, value: raw === 'true' };
    return { ok: false, error: `${info.key} must be true or false` };
  }
  const text = String(raw).trim();
  if (info.kind === 'choice') {
    if (info.choices && !info.choices.includes(text)) return { ok: false, error: `${info.key} must be one of ${info.choices.join(', ')} (got "${text}")` };
    return { ok: true, value: text };
  }
  if (text === '') return { ok: false, error: `${info.key} needs a number` };
  const n = Number(text);
  if (!Number.isFinite(n)) return { ok: false, error: `${info.key} must be a number (got "${text}")` };
  if (info.kind === 'integer' && !Number.isInteger(n)) return { ok: false, error: `${info.key} must be a whole number (got ${text})` };
  if (info.min !== undefined && n < info.min) return { ok: false, error: `${info.key} (${text}) must be at least ${info.min}` };
  if (info.max !== undefined && n > info.max) return { ok: false, error: `${info.key} (${text}) must be at most ${info.max}` };
  return { ok: true, value: n };
}

/**
 * The settings a draft sends: the preset's, overridden by the fields the user edited and that
 * parse. `applies` filters out edits for settings the current family/optimizer/schedule ignores.
 */
export function draftSettings(
  presetSettings: Readonly<Record<string, SettingValue>>,
  edits: Readonly<Record<string, string | boolean>>,
  catalogue: readonly SettingInfo[],
  applies: (key: string) => boolean,
): { settings: Record<string, SettingValue>; errors: Record<string, string> } {
  const settings: Record<string, SettingValue> = { ...presetSettings };
  const errors: Record<string, string> = {};
  for (const [key, raw] of Object.entries(edits)) {
    const info = catalogue.find((s) => s.key === key);
    if (!info || !applies(key)) continue;
    const parsed = parseSetting(info, raw);
    if (parsed.ok) settings[key] = parsed.value;
    else errors[key] = parsed.error;
  }
  return { settings, errors };
}

/** A field's shown text: what the user typed, else the preset's value, else empty (placeholder shows the default). */
export function fieldText(key: string, presetSettings: Readonly<Record<string, SettingValue>>, edits: Readonly<Record<string, string | boolean>>): string {
  if (key in edits) return String(edits[key]);
  if (key in presetSettings) return String(presetSettings[key]);
  return '';
}
