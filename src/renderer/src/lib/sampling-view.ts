// The Sample view's logic: the form's fields and what they mean, streamed tokens, and the
// per-character surprise of a text (its loss under the model) laid out for colouring.
import type { GeneratedToken, Response, SamplingSettings } from '../../../shared/contract';
import { inkOn, rgbCss, surpriseRgb } from './colors';

export type SurprisePoint = Response<'sample.surprise'>[number];

/** The longest text 'sample.surprise' accepts. */
export const SURPRISE_MAX_CHARS = 5000;

const VISIBLE: Record<string, string> = { ' ': '␣', '\n': '⏎', '\t': '⇥', '\r': '␍' };

/** A token's text with its whitespace made visible (space ␣, newline ⏎, tab ⇥). */
export function visibleText(text: string): string {
  if (text === '') return '∅';
  return [...text].map((ch) => VISIBLE[ch] ?? ch).join('');
}

/** How a popover names a token: `"e"`, `space`, `newline`, or the quoted text with marks. */
export function tokenName(text: string): string {
  if (text === ' ') return 'space ␣';
  if (text === '\n') return 'newline ⏎';
  if (text === '\t') return 'tab ⇥';
  return `“${visibleText(text)}”`;
}

/** A probability as a percentage a reader can compare: 42.1%, 3.07%, <0.01%. */
export function formatProb(p: number): string {
  if (!Number.isFinite(p)) return '—';
  if (p >= 0.9995) return '100%';
  if (p >= 0.1) return `${(p * 100).toFixed(1)}%`;
  if (p >= 0.0001) return `${Number((p * 100).toPrecision(3))}%`;
  return p > 0 ? '<0.01%' : '0%';
}

export type SamplingField = 'length' | 'temperature' | 'topK' | 'topP' | 'seed' | 'noRepeatNgram';

/** One line per setting, for the hover help next to each field. */
export const SAMPLING_HELP: Record<SamplingField | 'prompt', string> = {
  prompt: 'The text the model continues. It reads it first, then predicts one character at a time.',
  length: 'How many tokens (characters, for a character model) to generate after the prompt.',
  temperature:
    'Divides the logits before the softmax: below 1 sharpens the distribution (safer, more repetitive), above 1 flattens it (wilder); 0 always takes the most likely token.',
  topK: 'Sample only among the k most likely tokens; 0 keeps them all.',
  topP: 'Nucleus sampling: keep the smallest set of most likely tokens whose probabilities add up to p; 1 keeps them all.',
  seed: 'Seeds the random draws: the same seed and settings give the same text again.',
  noRepeatNgram:
    'Never write the same n-gram twice (Hugging Face’s no_repeat_ngram_size): a token that would complete an n-token sequence already in the text gets probability 0. Set 0 to turn it off; the lesson’s GPT-2 call uses 2.',
};

export type SamplingForm = Record<SamplingField, string>;

export const DEFAULT_SAMPLING_FORM: SamplingForm = { length: '300', temperature: '0.8', topK: '0', topP: '1', seed: '1337', noRepeatNgram: '0' };

/** A stored form (an older shape, a hand edit) made whole: its string fields where it has them, the defaults elsewhere. */
export function completeForm<T extends Record<string, string>>(stored: unknown, defaults: T): T {
  const out = { ...defaults };
  if (stored && typeof stored === 'object')
    for (const key of Object.keys(out) as (keyof T)[]) {
      const value = (stored as Record<string, unknown>)[key as string];
      if (typeof value === 'string') out[key] = value as T[keyof T];
    }
  return out;
}

type Checked = { ok: true; values: Omit<SamplingSettings, 'runId' | 'checkpoint' | 'prompt'> } | { ok: false; errors: Partial<Record<SamplingField, string>> };

/** `range` says what is allowed, e.g. “between 0 and 5000”; every error names it and the value given. */
function integer(text: string, name: string, min: number, max: number, range = `between ${min} and ${max}`): number | string {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return `${name} must be a whole number ${range} (got “${text}”)`;
  const n = Number(t);
  if (n < min || n > max) return `${name} must be ${range} (got ${n})`;
  return n;
}

function decimal(text: string, name: string, check: (n: number) => boolean, range: string): number | string {
  const t = text.trim();
  const n = t === '' ? NaN : Number(t);
  if (!Number.isFinite(n)) return `${name} must be a number ${range} (got “${text}”)`;
  if (!check(n)) return `${name} must be ${range} (got ${n})`;
  return n;
}

/** The form's text fields as sampling settings, or a sentence per field that is wrong. */
export function checkSamplingForm(form: SamplingForm): Checked {
  const parsed = {
    length: integer(form.length, 'length', 0, 5000),
    temperature: decimal(form.temperature, 'temperature', (n) => n >= 0 && n <= 10, 'between 0 and 10'),
    topK: integer(form.topK, 'top-k', 0, 1_000_000, '≥ 0 (0 = off)'),
    topP: decimal(form.topP, 'top-p', (n) => n > 0 && n <= 1, 'above 0 and at most 1'),
    seed: integer(form.seed, 'seed', 0, 2 ** 32 - 1),
    noRepeatNgram: integer(form.noRepeatNgram, 'no-repeat-ngram', 0, 20, 'between 0 and 20 (0 = off)'),
  };
  const errors: Partial<Record<SamplingField, string>> = {};
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') errors[key as SamplingField] = value;
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, values: parsed as Extract<Checked, { ok: true }>['values'] };
}

let requestCounter = 0;

/** An id that tells this view's streamed tokens from any other request's. */
export function newRequestId(now = Date.now()): string {
  requestCounter = (requestCounter + 1) % 1_000_000;
  return `sample-${now.toString(36)}-${requestCounter}`;
}

/** The text the surprise view scores: prompt and generated text, cut to what the host accepts. */
export function surpriseInput(prompt: string, generated: string): { text: string; truncated: boolean } {
  const whole = prompt + generated;
  return { text: whole.slice(0, SURPRISE_MAX_CHARS), truncated: whole.length > SURPRISE_MAX_CHARS };
}

/**
 * The scored text split for drawing: the leading part the model had no context to score (the
 * first token), then one segment per scored token. If the points do not spell the end of the
 * text (an <unk> in a word model), the points are drawn as the model saw them.
 */
export function surpriseSegments(text: string, points: readonly SurprisePoint[]): { lead: string; points: readonly SurprisePoint[] } {
  const spelled = points.map((p) => p.char).join('');
  if (text.endsWith(spelled)) return { lead: text.slice(0, text.length - spelled.length), points };
  return { lead: '', points };
}

/** The top of the colour scale: a round number of nats at or above most losses (≥ 1). */
export function lossScaleMax(losses: readonly number[]): number {
  const finite = losses.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return 1;
  // the 98th percentile: one wild character should not wash out the rest
  const high = finite[Math.min(finite.length - 1, Math.floor(finite.length * 0.98))];
  return Math.max(1, Math.ceil(high));
}

/** Mean loss in nats and the same in bits per character. */
export function meanLoss(points: readonly SurprisePoint[]): { nats: number; bits: number } | null {
  if (points.length === 0) return null;
  const nats = points.reduce((s, p) => s + p.loss, 0) / points.length;
  return { nats, bits: nats / Math.LN2 };
}

/** What a hovered token's popover shows. */
export interface TokenInfo {
  title: string;
  /** Label and value lines: “probability 42.1%”. */
  facts: { label: string; value: string }[];
  /** The model's top guesses at this position, most likely first. */
  alternatives: { text: string; prob: number }[];
  altTitle: string;
  /** The text actually there, highlighted among the alternatives. */
  actual: string;
}

/** A generated token: how likely the model found it, and what else it weighed. */
export function generatedTokenInfo(token: GeneratedToken): TokenInfo {
  return {
    title: tokenName(token.text),
    facts: [
      { label: 'model probability', value: formatProb(token.prob) },
      { label: 'drawn with (after filters)', value: formatProb(token.sampledProb) },
      { label: 'surprise', value: `${(-Math.log(Math.max(token.prob, 1e-12))).toFixed(2)} nats` },
    ],
    alternatives: token.top,
    altTitle: 'The model’s top guesses here',
    actual: token.text,
  };
}

/** A scored character of the surprise view: its loss, and what the model expected instead. */
export function surprisePointInfo(point: SurprisePoint): TokenInfo {
  return {
    title: tokenName(point.char),
    facts: [
      { label: 'loss −ln p', value: `${point.loss.toFixed(3)} nats` },
      { label: 'in bits', value: `${(point.loss / Math.LN2).toFixed(2)} bits` },
      { label: 'model probability', value: formatProb(Math.exp(-point.loss)) },
    ],
    alternatives: point.top,
    altTitle: 'What the model expected',
    actual: point.char,
  };
}

/** A run of text as the output draws it; context (no info) is muted and has no popover. */
export interface TokenSegment {
  text: string;
  info: TokenInfo | null;
  background: string | null;
  color: string | null;
}

/** The prompt (muted) and then every generated token with its popover. */
export function generatedSegments(prompt: string, tokens: readonly GeneratedToken[]): TokenSegment[] {
  const segments: TokenSegment[] = prompt === '' ? [] : [{ text: prompt, info: null, background: null, color: null }];
  for (const t of tokens) segments.push({ text: t.text, info: generatedTokenInfo(t), background: null, color: null });
  return segments;
}

/** The scored text, each token on its surprise colour (white at 0 nats, red at `scaleMax`). */
export function surpriseTextSegments(text: string, points: readonly SurprisePoint[], scaleMax: number): TokenSegment[] {
  const { lead, points: scored } = surpriseSegments(text, points);
  const segments: TokenSegment[] = lead === '' ? [] : [{ text: lead, info: null, background: null, color: null }];
  for (const p of scored) {
    const rgb = surpriseRgb(p.loss, scaleMax);
    segments.push({ text: p.char, info: surprisePointInfo(p), background: rgbCss(rgb), color: inkOn(rgb) });
  }
  return segments;
}
