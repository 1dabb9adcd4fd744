import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countParameters, MODEL_FAMILIES, type ModelFamily } from '../../engine/models';
import { getPreset, PRESETS, SEQ2SEQ_PRESETS, type Preset } from '../../engine/presets';
import { resolveTrainConfig } from '../../engine/train';
import { resumeRun, startRun, type RunHandle } from '../../main/jobs/job-host';
import { BUNDLED_CORPUS_REF, databasePath, ensureLabHome, labHome } from '../../main/store/paths';
import type { RunEvent } from '../../main/jobs/cpu-run';
import { MAX_CORPUS_ENV, outlineCorpusFile, parseCorpusLimit } from '../../main/jobs/corpus-file';
import { Corpora } from '../../main/api/corpora';
import type { TokenizerSpec } from '../../engine/data/tokenizer';
import { RunStore } from '../../main/store/run-store';
import { checkCorpusFits, preflight } from '../../main/api/run-drafts';
import { parse, parseInteger, parseSetting, UsageError } from '../args';
import { trainSeq2Seq } from './seq2seq';

export const BUNDLED_CORPUS = fileURLToPath(new URL('../../../resources/tinyshakespeare.txt', import.meta.url));

export const usage = `nanolab train [--preset P] [--model lstm|gru|rnn|gpt] [--data FILE] [--steps N | --minutes M]
              [--tokenizer char|word] [--word-vocab N] [--lowercase] [--max-corpus-mb N]
              [--set key=value ...] [--seed S] [--name NAME] [--log-every K] [--json]
  Trains in a worker thread and logs the run to the lab database (NANOLAB_HOME, default the
  desktop app's data folder), with checkpoints (latest and best) and periodic samples. Text: a
  UTF-8 file of at most 256 MB (--max-corpus-mb or NANOLAB_MAX_CORPUS_MB sets the limit), copied
  into the lab (corpora/, by content hash) so the run never depends on the original (default: the
  bundled tinyshakespeare); contiguous 90/10 train/val split; characters as
  tokens, or with --tokenizer word the --word-vocab (default 2000) most frequent words and
  punctuation marks, the rest <unk>. --lowercase lower-cases the text first.
  Presets: ${[...Object.keys(PRESETS), ...Object.keys(SEQ2SEQ_PRESETS)].join(', ')}. --minutes trains for that long (pauses do not count):
  a short calibration before step 1 fixes how many steps fit, and a cosine schedule decays over
  exactly those. Evaluations print the loss in nats per token and the held-out text's bits per
  character, which compare across tokenizers. Ctrl-C (or SIGTERM, SIGHUP) stops the run
  cleanly, with a checkpoint (resumable).
  --set takes model settings (hidden_size, num_layers, n_layer, n_head, n_embd, block_size, dropout,
  norm_position, position_encoding, activation, ...), optimizer settings (optimizer=adamw|adam|sgd|
  rmsprop|adagrad, lr, weight_decay, beta2, momentum, alpha, ...), schedule settings (schedule=
  constant|cosine|step, warmup_iters, lr_decay_iters, min_lr, step_size, gamma) and loop settings
  (batch_size, seq_len, grad_clip, grad_clip_value, eval_interval, eval_iters, batching).

nanolab resume RUN [--json]
  Continues a stopped, failed or interrupted run from its latest checkpoint, bit for bit.

nanolab stop RUN [--json]
  Asks the process training RUN to stop after its current step, with a checkpoint (as Ctrl-C does).`;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function openLab(): { home: string; store: RunStore } {
  const home = labHome();
  ensureLabHome(home);
  const store = new RunStore(databasePath(home));
  store.markOrphansInterrupted();
  return { home, store };
}

export interface Summary {
  run_id: number;
  name: string;
  status: string;
  reason: string | null;
  steps: number;
  train_loss: number | null;
  val_loss: number | null;
  /** The last evaluation's bits per character of the held-out text. */
  val_bpc: number | null;
  tokens_per_s: number | null;
  checkpoint: string | null;
}

/**
 * The signals that stop a run as Ctrl-C does, with a checkpoint: SIGTERM (a service manager,
 * `timeout`, `kill`) and SIGHUP (the terminal closed). The same signal again aborts at once, with
 * the shell's exit code for it.
 */
const STOP_SIGNALS = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** Prints a run's progress and waits for its end; Ctrl-C, SIGTERM or SIGHUP asks it to stop. */
export async function follow(
  store: RunStore,
  handle: RunHandle,
  label: string,
  totalSteps: number,
  logEvery: number,
  budgetMs: number | null,
): Promise<Summary> {
  let last: Extract<RunEvent, { type: 'eval' }> | null = null;
  let losses = 0,
    n = 0,
    tps = 0;
  let startStep: number | null = null;
  // a time-budget run fixes its horizon before step 1: its 'started' event says how many steps
  let horizon = totalSteps;
  let stopping: StopSignal | null = null;
  // after SIGHUP the terminal is gone, and a write to it fails: the run stops silently
  const say = (line: string) => {
    if (stopping !== 'SIGHUP') console.log(line);
  };
  const onSignal = (signal: StopSignal) => {
    if (stopping) {
      // a different signal while stopping (a closing terminal's SIGHUP after Ctrl-C) leaves the stop under way
      if (signal === stopping) process.exit(STOP_SIGNALS[signal]);
      return;
    }
    stopping = signal;
    const again = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    say(`\n[${label}] ${signal === 'SIGINT' ? '' : `${signal}: `}stopping after this step (${again} again to abort without a checkpoint)`);
    handle.stop();
  };
  const signals = Object.keys(STOP_SIGNALS) as StopSignal[];
  for (const signal of signals) process.on(signal, onSignal);
  const listener = (e: RunEvent) => {
    if (e.type === 'step') {
      losses += e.loss;
      n++;
      tps = e.tokensPerSec;
      if (e.step % logEvery === 0) {
        // active time: a pause neither eats a budget nor slows the estimate; a budget run ends at its
        // horizon, or when the budget is spent if the machine is slower than its calibration said
        const bySteps = ((horizon - e.step) * e.activeMs) / Math.max(1, e.step - (startStep ?? 0));
        const remaining = budgetMs !== null ? Math.min(bySteps, Math.max(0, budgetMs - e.activeMs)) : bySteps;
        const of = `/${horizon}`;
        say(
          `[${label}] step ${e.step}${of} | loss ${(losses / n).toFixed(4)} | lr ${e.lr.toExponential(2)} | grad norm ${e.gradNorm.toFixed(3)} | ` +
            `${Math.round(tps).toLocaleString('en-US')} tok/s | ETA ${duration(remaining)}`,
        );
        losses = 0;
        n = 0;
      }
    } else if (e.type === 'eval') {
      last = e;
      const d = e.decode;
      say(
        `[${label}] eval step ${e.step} | train loss ${e.trainLoss.toFixed(4)} | val loss ${e.valLoss.toFixed(4)} nats/token | val ${e.valBpc.toFixed(3)} bits/char` +
          (d
            ? ` | exact match ${(100 * d.exact_match).toFixed(1)}% | CER ${d.cer.toFixed(3)} | BLEU ${d.bleu.toFixed(3)} (${d.pairs} held-out pairs, greedy)`
            : ''),
      );
    } else if (e.type === 'log') {
      say(`[${label}] ${e.message}`);
    } else if (e.type === 'started') {
      startStep = e.step;
      horizon = e.totalSteps;
      if (e.resumedFrom !== null) say(`[${label}] resumed from step ${e.resumedFrom}`);
    }
  };
  listeners.set(handle.runId, listener);
  const end = await handle.done;
  for (const signal of signals) process.removeListener(signal, onSignal);
  listeners.delete(handle.runId);
  const run = store.getRun(handle.runId);
  const latest = store.checkpoints(handle.runId).find((c) => c.kind === 'latest');
  const lastEval = last as Extract<RunEvent, { type: 'eval' }> | null;
  const summary: Summary = {
    run_id: handle.runId,
    name: run.name,
    status: end.status,
    reason: end.reason,
    steps: end.step,
    train_loss: lastEval?.trainLoss ?? null,
    val_loss: lastEval?.valLoss ?? null,
    val_bpc: lastEval?.valBpc ?? null,
    tokens_per_s: run.tokensPerSec,
    checkpoint: latest?.path ?? null,
  };
  say(
    `[${label}] ${end.status}${end.reason ? ` (${end.reason})` : ''}: run ${handle.runId}, ${end.step} steps` +
      (lastEval
        ? ` | train loss ${lastEval.trainLoss.toFixed(4)} | val loss ${lastEval.valLoss.toFixed(4)} nats/token (${lastEval.valBpc.toFixed(3)} bits/char)`
        : '') +
      (latest ? ` | checkpoint ${latest.path}` : ''),
  );
  return summary;
}

/**
 * The text the runs read: --data copied into the lab (corpora/<hash>.txt, stored relative to the
 * lab home), or the bundled corpus (stored by name).
 */
function copyIntoLab(home: string, data: string | undefined): { stored: string; path: string; copy: string | null } {
  if (data === undefined) return { stored: BUNDLED_CORPUS_REF, path: BUNDLED_CORPUS, copy: null };
  try {
    const { id } = new Corpora(home, BUNDLED_CORPUS).addFile(data);
    const stored = `corpora/${id}.txt`;
    return { stored, path: join(home, stored), copy: stored };
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    // a failure to write the copy is the lab's, not the text's
    if (code && path && resolve(path).startsWith(resolve(home)))
      throw new UsageError(
        `train: cannot copy --data ${data} into the lab at ${home} (${code}): ${code === 'ENOSPC' ? 'the disk is full; free some space' : 'make the lab folder writable'}`,
      );
    if (code === 'ENOENT') throw new UsageError(`train: --data ${data} does not exist: check the path`);
    throw new UsageError(code ? `train: cannot read --data ${data} (${code}): check the path and that you may read it` : `train: ${(error as Error).message}`);
  }
}

const listeners = new Map<number, (e: RunEvent) => void>();
export const relay = (runId: () => number) => (e: RunEvent) => listeners.get(runId())?.(e);

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parse('train', argv, {
    preset: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    steps: { type: 'string' },
    minutes: { type: 'string' },
    set: { type: 'string', multiple: true },
    seed: { type: 'string' },
    name: { type: 'string' },
    'log-every': { type: 'string' },
    json: { type: 'boolean' },
    tokenizer: { type: 'string' },
    'word-vocab': { type: 'string' },
    lowercase: { type: 'boolean' },
    'max-corpus-mb': { type: 'string' },
    task: { type: 'string' },
    pairs: { type: 'string' },
    'task-pairs': { type: 'string' },
    source: { type: 'string' },
    target: { type: 'string' },
    'source-tokenizer': { type: 'string' },
    'target-tokenizer': { type: 'string' },
    'shared-vocab': { type: 'boolean' },
  });
  const str = (key: string) => values[key] as string | undefined;
  if (str('model') === 'seq2seq') return trainSeq2Seq(values);
  const seq2seqPreset = str('preset') !== undefined ? SEQ2SEQ_PRESETS[str('preset')!] : undefined;
  if (seq2seqPreset) {
    if (str('model')) throw new UsageError('train: give --preset or --model, not both');
    return trainSeq2Seq(values, seq2seqPreset);
  }
  for (const key of ['task', 'pairs', 'task-pairs', 'source', 'target', 'source-tokenizer', 'target-tokenizer', 'shared-vocab']) {
    if (values[key] !== undefined) throw new UsageError(`train: --${key} is for a seq2seq run: add --model seq2seq`);
  }
  let runs: Preset[];
  if (str('preset')) {
    runs = getPreset(str('preset')!);
    if (str('model')) throw new UsageError('train: give --preset or --model, not both');
  } else {
    const family = str('model') as ModelFamily | undefined;
    if (!family)
      throw new UsageError(`train: --model or --preset is required (models: ${MODEL_FAMILIES.join(', ')}; presets: ${Object.keys(PRESETS).join(', ')})`);
    if (!MODEL_FAMILIES.includes(family)) throw new UsageError(`train: --model ${family} is not a model family; choose one of ${MODEL_FAMILIES.join(', ')}`);
    runs = [{ name: family, description: '', family, settings: {} }];
  }
  const dataPath = str('data') ?? BUNDLED_CORPUS;
  if (str('max-corpus-mb') !== undefined) {
    try {
      parseCorpusLimit(str('max-corpus-mb')!, '--max-corpus-mb');
    } catch (error) {
      throw new UsageError(`train: ${(error as Error).message}`);
    }
    // the runs' worker threads read the text too, and start with this process's environment
    process.env[MAX_CORPUS_ENV] = str('max-corpus-mb');
  }
  const user: Record<string, unknown> = Object.fromEntries(((values.set as string[] | undefined) ?? []).map(parseSetting));
  if (str('steps') !== undefined) user.steps = parseInteger('steps', str('steps'), 0, 1);
  let budgetMs: number | null = null;
  if (str('minutes') !== undefined) {
    const m = Number(str('minutes'));
    // a year: past that a --minutes budget is a typo, and its milliseconds would lose precision
    if (!(m > 0 && m <= 525_600)) throw new UsageError(`--minutes ${str('minutes')}: expected a positive number of minutes up to 525,600 (a year)`);
    budgetMs = m * 60_000;
    if (user.steps === undefined) user.steps = 1_000_000;
  }
  const seed = parseInteger('seed', str('seed'), 1337);
  const kind = str('tokenizer') ?? 'char';
  if (kind !== 'char' && kind !== 'word') throw new UsageError(`train: --tokenizer ${kind}: choose char or word`);
  if (kind === 'char' && str('word-vocab') !== undefined) throw new UsageError('train: --word-vocab needs --tokenizer word');
  const lowercaseFlag = Boolean(values.lowercase);
  const tokenizerSpec = (lowercase: boolean): TokenizerSpec =>
    kind === 'word' ? { kind: 'word', vocab_size: parseInteger('word-vocab', str('word-vocab'), 2000, 2, 100_000), lowercase } : { kind: 'char' };
  const { home, store } = openLab();
  const summaries: Summary[] = [];
  try {
    if (store.readOnly) throw new UsageError(`train: ${store.readOnly}; a run needs to write there: make the lab writable or point NANOLAB_HOME elsewhere`);
    const data = copyIntoLab(home, str('data'));
    for (const preset of runs) {
      // the tokenizer and the split's sizes only: the worker holds the ids
      const corpus = outlineCorpusFile(data.path, {
        name: dataPath,
        lowercase: lowercaseFlag || (preset.lowercase ?? false),
        tokenizer: tokenizerSpec(lowercaseFlag || (preset.lowercase ?? false)),
      });
      const config = resolveTrainConfig(preset.family, corpus.tokenizer.vocabSize, { ...preset.settings, ...user }, seed);
      try {
        checkCorpusFits(config, corpus, dataPath);
        preflight(config);
      } catch (error) {
        throw new UsageError(`train: ${(error as Error).message}`);
      }
      const label = str('name') ?? (runs.length > 1 ? preset.name : (str('preset') ?? preset.family));
      const logEvery = parseInteger('log-every', str('log-every'), budgetMs !== null ? 50 : Math.max(1, Math.round(config.steps / 20)), 1);
      console.log(
        `data    ${dataPath}${data.copy ? ` (in the lab as ${data.copy})` : ''}: ${corpus.train.length + corpus.val.length} tokens, ${corpus.tokenizer.kind} vocab ${corpus.tokenizer.vocabSize}, ${corpus.train.length} train / ${corpus.val.length} val tokens${lowercaseFlag || preset.lowercase ? ' (lower-cased)' : ''}`,
      );
      console.log(`model   ${JSON.stringify(config.model)}`);
      console.log(`params  ${countParameters(config.model).toLocaleString('en-US')}`);
      console.log(`train   ${JSON.stringify({ ...config, model: undefined })}`);
      let id = 0;
      const handle = startRun({
        home,
        store,
        name: label,
        config,
        dataPath: data.stored,
        preset: str('preset'),
        lowercase: lowercaseFlag || (preset.lowercase ?? false),
        tokenizer: tokenizerSpec(lowercaseFlag || (preset.lowercase ?? false)),
        timeBudgetMs: budgetMs,
        samplePrompt: '\n',
        onEvent: relay(() => id),
      });
      id = handle.runId;
      console.log(`run     ${handle.runId} in ${home}`);
      summaries.push(await follow(store, handle, label, config.steps, logEvery, budgetMs));
      if (summaries.at(-1)!.status === 'stopped') break; // a stop (Ctrl-C, SIGTERM) ends the command, not only this run
    }
  } finally {
    store.close();
  }
  if (values.json) console.log(JSON.stringify(summaries.length === 1 ? summaries[0] : summaries));
  return summaries.every((s) => s.status !== 'failed') ? 0 : 1;
}

export async function resumeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('resume', argv, { json: { type: 'boolean' } }, true);
  const runId = parseRunId(positionals);
  const { home, store } = openLab();
  try {
    const run = store.getRun(runId);
    const steps = (run.config as { train: { steps: number } }).train.steps;
    let id = 0;
    const handle = resumeRun(
      home,
      store,
      runId,
      relay(() => id),
    );
    id = handle.runId;
    const summary = await follow(store, handle, run.name, steps, Math.max(1, Math.round(steps / 20)), null);
    if (values.json) console.log(JSON.stringify(summary));
    return summary.status === 'failed' ? 1 : 0;
  } finally {
    store.close();
  }
}

export function parseRunId(positionals: string[]): number {
  if (positionals.length !== 1) throw new UsageError('name one run by its id (nanolab runs lists them)');
  const id = Number(positionals[0]);
  if (!Number.isInteger(id) || id < 1) throw new UsageError(`run id ${positionals[0]} is not a positive whole number (nanolab runs lists them)`);
  return id;
}

export async function stopCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('stop', argv, { json: { type: 'boolean' } }, true);
  const runId = parseRunId(positionals);
  const { store } = openLab();
  try {
    const owner = store.owner(runId);
    if (owner.status !== 'running' && owner.status !== 'paused') throw new UsageError(`stop: run ${runId} is ${owner.status}, not running`);
    // the owner writes metrics several times a second; an old heartbeat means a reused pid is not ours
    if (owner.pid === null || owner.heartbeatAt === null || Date.now() - owner.heartbeatAt > 60_000) {
      throw new UsageError(`stop: run ${runId} has not logged anything for a minute; its process seems gone (nanolab runs marks such runs interrupted)`);
    }
    process.kill(owner.pid, 'SIGINT');
    for (let i = 0; i < 600; i++) {
      const status = store.owner(runId).status;
      if (status !== 'running' && status !== 'paused') {
        console.log(`run ${runId} ${status}`);
        if (values.json) console.log(JSON.stringify({ run_id: runId, status }));
        return 0;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`asked run ${runId} to stop; it is finishing its current step`);
    if (values.json) console.log(JSON.stringify({ run_id: runId, status: 'stopping' }));
    return 0;
  } finally {
    store.close();
  }
}
