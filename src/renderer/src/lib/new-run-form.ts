// The New-run form's own fields (text, run and device; the model settings are lib/settings.ts)
// and the checks on them: which fields are wrong, what is enabled, whether Start can be pressed,
// and the draft the form describes. Pure, so the view only wires them to inputs.
import type { Family, RunDraft } from '../../../shared/contract';
import { TASK_PAIRS_DEFAULT, TASK_PAIRS_MAX, TASK_PAIRS_MIN } from '../../../shared/seq2seq-settings';
import { parseTags } from './runs';
import type { SettingValue } from './settings';

/** Where a run trains: Auto times a few steps on both and picks the faster. */
export type DeviceChoice = 'auto' | 'cpu' | 'gpu';

/** The form's fields as typed (text inputs stay strings until checked). */
export interface RunForm {
  family: Family;
  corpusId: string;
  tokenizerKind: 'char' | 'word';
  wordVocab: string;
  lowercase: boolean;
  seed: string;
  budget: 'steps' | 'minutes';
  minutes: string;
  name: string;
  tagsText: string;
  /** A seq2seq run's pairs: a bundled task (its id, how many pairs) or a TSV in the lab (a corpus id). */
  pairsKind: 'task' | 'tsv';
  task: string;
  taskPairs: string;
  pairsCorpusId: string;
}

export function defaultRunForm(): RunForm {
  return {
    family: 'gpt',
    corpusId: 'tinyshakespeare',
    tokenizerKind: 'char',
    wordVocab: '2000',
    lowercase: false,
    seed: '1337',
    budget: 'steps',
    minutes: '5',
    name: '',
    tagsText: '',
    pairsKind: 'task',
    task: 'reverse',
    taskPairs: String(TASK_PAIRS_DEFAULT),
    pairsCorpusId: '',
  };
}

export type RunFormField = 'seed' | 'minutes' | 'wordVocab' | 'tags' | 'taskPairs';

/** The form's own fields that are wrong, each with a sentence for the user. */
export function runFormErrors(f: RunForm): Partial<Record<RunFormField, string>> {
  const e: Partial<Record<RunFormField, string>> = {};
  if (!/^\d+$/.test(f.seed.trim()) || Number(f.seed) > 2 ** 32 - 1) e.seed = `The seed must be a whole number from 0 to ${2 ** 32 - 1} (got "${f.seed}")`;
  const m = Number(f.minutes);
  if (f.budget === 'minutes' && !(m > 0 && m <= 1440)) e.minutes = `The time budget must be more than 0 and at most 1440 minutes (got "${f.minutes}")`;
  const v = Number(f.wordVocab);
  if (f.tokenizerKind === 'word' && !(Number.isInteger(v) && v >= 2 && v <= 100_000))
    e.wordVocab = `The word vocabulary must be a whole number from 2 to 100000 (got "${f.wordVocab}")`;
  const tags = parseTags(f.tagsText);
  if (tags.length > 20 || tags.some((t) => t.length > 40)) e.tags = 'At most 20 tags, each at most 40 characters';
  const n = Number(f.taskPairs);
  if (f.family === 'seq2seq' && f.pairsKind === 'task' && !(/^\d+$/.test(f.taskPairs.trim()) && n >= TASK_PAIRS_MIN && n <= TASK_PAIRS_MAX))
    e.taskPairs = `The number of pairs must be a whole number from ${TASK_PAIRS_MIN} to ${TASK_PAIRS_MAX} (got "${f.taskPairs}")`;
  return e;
}

/**
 * The draft the form describes, or null while one of its fields or model settings is wrong.
 * A time budget replaces the step count.
 */
export function runDraftOf(
  f: RunForm,
  built: { settings: Record<string, SettingValue>; errors: Record<string, string> },
  preset: string | null,
): RunDraft | null {
  if (Object.keys(runFormErrors(f)).length > 0 || Object.keys(built.errors).length > 0) return null;
  const settings = { ...built.settings };
  const seq2seq = f.family === 'seq2seq';
  // a seq2seq run trains for its steps (no time budget)
  if (f.budget === 'minutes' && !seq2seq) delete settings.steps;
  return {
    name: f.name.trim() || undefined,
    family: f.family,
    settings,
    corpusId: f.corpusId,
    lowercase: f.lowercase,
    tokenizer: f.tokenizerKind === 'word' ? { kind: 'word', vocab_size: Number(f.wordVocab) } : { kind: 'char' },
    seed: Number(f.seed),
    minutes: f.budget === 'minutes' && !seq2seq ? Number(f.minutes) : null,
    preset,
    tags: parseTags(f.tagsText),
    ...(seq2seq
      ? {
          pairs:
            f.pairsKind === 'task' ? { kind: 'task' as const, task: f.task, count: Number(f.taskPairs) } : { kind: 'tsv' as const, corpusId: f.pairsCorpusId },
        }
      : {}),
  };
}

/** The step count is the budget's unless the run trains for a time. */
export function settingDisabled(key: string, budget: RunForm['budget']): boolean {
  return key === 'steps' && budget === 'minutes';
}

/**
 * Start is pressable once the draft is valid, the host's preview of this very draft said yes,
 * nothing is starting already, and a chosen GPU is there.
 */
export function canStartRun(s: {
  draft: RunDraft | null;
  previewOk: boolean;
  previewPending: boolean;
  starting: boolean;
  device: DeviceChoice;
  gpuReady: boolean;
}): boolean {
  return s.draft !== null && s.previewOk && !s.previewPending && !s.starting && !(s.device === 'gpu' && !s.gpuReady);
}

/** SwiftShader, llvmpipe and the like: WebGL on the CPU, slower than the CPU backend. */
export function isSoftwareRenderer(adapter: string): boolean {
  return /swiftshader|llvmpipe|software|softpipe/i.test(adapter);
}

/** Auto's choice from the timed tokens/s: the GPU only when it was timed and is faster. */
export function fasterDevice(cpuTokensPerSec: number, gpuTokensPerSec: number | null): 'cpu' | 'gpu' {
  return gpuTokensPerSec !== null && gpuTokensPerSec > cpuTokensPerSec ? 'gpu' : 'cpu';
}

export function startLabel(calibrating: boolean, starting: boolean): string {
  return calibrating ? 'Timing CPU and GPU…' : starting ? 'Starting…' : 'Start training';
}

/**
 * The draft the host is asked about while the form has errors: every wrong field of the form
 * falls back to its default and every setting that does not parse is left to the host's default,
 * so the host still resolves the defaults of the chosen family and checks the rest of the settings
 * together (n_embd against n_head, memory, the text's length). Equal to runDraftOf's draft when
 * nothing is wrong.
 */
export function probeDraftOf(f: RunForm, built: { settings: Record<string, SettingValue> }, preset: string | null): RunDraft {
  const errors = runFormErrors(f);
  const d = defaultRunForm();
  return runDraftOf(
    {
      ...f,
      seed: errors.seed ? d.seed : f.seed,
      minutes: errors.minutes ? d.minutes : f.minutes,
      wordVocab: errors.wordVocab ? d.wordVocab : f.wordVocab,
      taskPairs: errors.taskPairs ? d.taskPairs : f.taskPairs,
      tagsText: errors.tags ? '' : f.tagsText,
    },
    { settings: built.settings, errors: {} },
    preset,
  ) as RunDraft;
}

/** A refusal from the host's preview: its sentence and the setting it names (null: the draft as a whole). */
export interface HostError {
  error: string;
  field: string | null;
}

/**
 * Where each error of the form is shown: the local parse errors and the host's refusal at the
 * field they name when the chosen family has that field, else above the form. A host error
 * about a setting the family does not have cannot happen for the current draft (the host was
 * asked about this family), so it is never left without a field to fix it.
 */
export function placeErrors(
  local: Readonly<Record<string, string>>,
  host: HostError | null,
  visible: readonly string[],
): { byField: Record<string, string>; general: string | null } {
  const byField: Record<string, string> = {};
  for (const [key, error] of Object.entries(local)) if (visible.includes(key)) byField[key] = error;
  let general: string | null = null;
  if (host) {
    if (host.field !== null && visible.includes(host.field)) byField[host.field] ??= host.error;
    else general = host.error;
  }
  return { byField, general };
}
