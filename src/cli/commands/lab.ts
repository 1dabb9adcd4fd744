import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kmeans } from '../../engine/analysis/kmeans';
import { CHECKPOINT_FILES } from '../../engine/checkpoint/checkpoint';
import { MODEL_FAMILIES, type ModelFamily } from '../../engine/models';
import { LabApi } from '../../main/api/lab-api';
import { labHome } from '../../main/store/paths';
import { RUN_STATUSES, type RunStatus } from '../../main/store/run-store';
import type { Response } from '../../shared/contract';
import { parse, parseInteger, UsageError } from '../args';
import { BUNDLED_CORPUS, parseRunId } from './train';

// The lab's read side from the terminal: list, show, sample, export, compare, cluster, through
// the same LabApi as the app (its contract's calls, or the methods its handlers share where the
// CLI allows more than the app: longer samples, more clusters, larger seeds).

export const usage = `nanolab runs [--family F] [--status S] [--tag T] [--sort created|name|best_val_loss|best_val_bpc|steps|params] [--json]
nanolab show RUN [--json]
nanolab sample RUN [--prompt TEXT] [--length N] [--temperature T] [--top-k K] [--top-p P] [--no-repeat-ngram N] [--seed S] [--checkpoint best|latest] [--json]
nanolab export RUN --out DIR [--checkpoint best|latest] [--force] [--json]
  model.safetensors + config.json + tokenizer.json, loadable in PyTorch (tests/checkpoint/torch_load.py).
  DIR must be new or empty; --force replaces only those three files in a folder that has other
  files (nothing else there is touched). The lab home and folders inside or above it are refused.
  A seq2seq run exports for the attention lesson's PyTorch module (tests/checkpoint/seq2seq_load.py):
  model.safetensors (its state_dict, both pe buffers included), config.json (format
  nanolab-seq2seq), source_tokenizer.json and target_tokenizer.json.
nanolab compare RUN RUN... [--json]
nanolab kmeans RUN --k K [--seed S] [--json]`;

const PACKAGE = fileURLToPath(new URL('../../../package.json', import.meta.url));

/** Runs a command against the lab's API. It starts no run and no GPU host here: closing it closes the database. */
async function withApi<T>(fn: (api: LabApi) => T | Promise<T>): Promise<T> {
  const version = (JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string }).version;
  const api = new LabApi({
    home: labHome(),
    host: 'cli',
    bundledCorpus: BUNDLED_CORPUS,
    versions: { app: version, electron: '', chrome: '', node: process.versions.node },
  });
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

const fmt = (x: number | null, digits = 4) => (x === null ? '-' : x.toFixed(digits));

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function runsCommand(argv: string[]): Promise<number> {
  const { values } = parse('runs', argv, {
    family: { type: 'string' },
    status: { type: 'string' },
    tag: { type: 'string' },
    sort: { type: 'string' },
    json: { type: 'boolean' },
  });
  const family = values.family as ModelFamily | undefined;
  if (family && !MODEL_FAMILIES.includes(family)) throw new UsageError(`runs: --family ${family} is not one of ${MODEL_FAMILIES.join(', ')}`);
  const status = values.status as RunStatus | undefined;
  if (status && !RUN_STATUSES.includes(status)) throw new UsageError(`runs: --status ${status} is not one of ${RUN_STATUSES.join(', ')}`);
  const sort = values.sort as 'created' | undefined;
  if (sort && !['created', 'name', 'best_val_loss', 'best_val_bpc', 'steps', 'params'].includes(sort)) throw new UsageError(`runs: cannot sort by ${sort}`);
  return withApi(async (api) => {
    const runs = await api.call('runs.list', { family, status, tag: values.tag as string | undefined, sort });
    if (values.json) {
      console.log(JSON.stringify(runs));
      return 0;
    }
    if (runs.length === 0) {
      console.log('no runs yet: nanolab train --preset nanogpt-cpu starts one');
      return 0;
    }
    console.log(
      table([
        ['id', 'name', 'family', 'params', 'status', 'steps', 'best val', 'bits/char', 'tok/s', 'created'],
        ...runs.map((r) => [
          String(r.id),
          r.name,
          r.family,
          r.paramCount.toLocaleString('en-US'),
          r.status,
          String(r.steps),
          fmt(r.bestValLoss),
          fmt(r.bestValBpc ?? null),
          r.tokensPerSec === null ? '-' : Math.round(r.tokensPerSec).toLocaleString('en-US'),
          new Date(r.createdAt).toISOString().slice(0, 16).replace('T', ' '),
        ]),
      ]),
    );
    return 0;
  });
}

export function showCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('show', argv, { json: { type: 'boolean' } }, true);
  const id = parseRunId(positionals);
  return withApi(async (api) => {
    const { run, checkpoints, samples } = printable(await api.call('runs.get', { id }));
    if (values.json) {
      console.log(JSON.stringify({ ...run, checkpoints, samples }));
      return 0;
    }
    console.log(`run ${run.id}: ${run.name} (${run.family}, ${run.paramCount.toLocaleString('en-US')} parameters)`);
    console.log(
      `status  ${run.status}${run.statusReason ? ` (${run.statusReason})` : ''}; ${run.steps} steps; ` +
        `best val loss ${fmt(run.bestValLoss)} nats/token${typeof run.bestValBpc === 'number' ? ` (${fmt(run.bestValBpc)} bits/char)` : ''}`,
    );
    console.log(`config  ${JSON.stringify(run.config)}`);
    for (const c of checkpoints) console.log(`${c.kind.padEnd(7)} step ${c.step}, val loss ${fmt(c.valLoss)}: ${c.path}`);
    const last = samples.at(-1);
    if (last) console.log(`sample at step ${last.step}:\n${last.text}`);
    return 0;
  });
}

/** A run as `show` and `compare` have always printed it: its summary and config, checkpoints and samples (not the app's live state and log). */
function printable({ checkpoints, samples, live: _live, totalSteps: _steps, timeBudgetMs: _budget, log: _log, ...run }: Response<'runs.get'>) {
  return { run, checkpoints, samples };
}

/** The longest sample the CLI writes in one call (the app streams at most 5,000 characters). */
const MAX_CLI_SAMPLE_LENGTH = 100_000;

function checkpointKind(which: string | undefined): 'best' | 'latest' {
  const kind = which ?? 'best';
  if (kind !== 'best' && kind !== 'latest') throw new UsageError(`--checkpoint ${kind}: choose best or latest`);
  return kind;
}

export function sampleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'sample',
    argv,
    {
      prompt: { type: 'string' },
      length: { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'no-repeat-ngram': { type: 'string' },
      seed: { type: 'string' },
      checkpoint: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  const id = parseRunId(positionals);
  const num = (key: string, fallback: number) => {
    const v = values[key] as string | undefined;
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${key} ${v}: expected a number`);
    return n;
  };
  return withApi(async (api) => {
    const checkpoint = checkpointKind(values.checkpoint as string | undefined);
    if ((await api.call('runs.get', { id })).family === 'seq2seq') {
      throw new UsageError(`sample: run ${id} is a seq2seq run, which maps a source to a target: use nanolab translate ${id} "text"`);
    }
    const prompt = (values.prompt as string | undefined) ?? '\n';
    const length = parseInteger('length', values.length as string | undefined, 500, 0, MAX_CLI_SAMPLE_LENGTH);
    const seed = parseInteger('seed', values.seed as string | undefined, 1);
    const stream = api.sample({
      runId: id,
      checkpoint,
      prompt,
      length,
      seed,
      temperature: num('temperature', 0.8),
      topK: num('top-k', 0),
      topP: num('top-p', 1),
      noRepeatNgram: parseInteger('no-repeat-ngram', values['no-repeat-ngram'] as string | undefined, 0, 0, 20),
    });
    if (values.json) {
      const tokens = [...stream];
      console.log(JSON.stringify({ run_id: id, prompt, text: tokens.map((t) => t.text).join(''), tokens }));
    } else {
      // each token as it is made
      process.stdout.write(prompt);
      for (const t of stream) process.stdout.write(t.text);
      process.stdout.write('\n');
    }
    return 0;
  });
}

export function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'export',
    argv,
    {
      out: { type: 'string' },
      checkpoint: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    true,
  );
  const id = parseRunId(positionals);
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('export: --out DIR is required');
  return withApi(async (api) => {
    const { from, files } = await api.exportTo(id, checkpointKind(values.checkpoint as string | undefined), out, Boolean(values.force));
    const params = JSON.parse(readFileSync(join(out, CHECKPOINT_FILES.config), 'utf8')).parameter_count as number;
    console.log(`exported ${from} to ${out}: ${files.join(', ')} (${params.toLocaleString('en-US')} parameters)`);
    if (values.json) console.log(JSON.stringify({ run_id: id, from, out, files, parameter_count: params }));
    return 0;
  });
}

/** The most runs `compare` lines up (the app's config diff takes as many). */
const MAX_COMPARED = 20;

export function compareCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('compare', argv, { json: { type: 'boolean' } }, true);
  if (positionals.length < 2) throw new UsageError('compare: name two or more run ids');
  if (positionals.length > MAX_COMPARED) throw new UsageError(`compare: name at most ${MAX_COMPARED} run ids (you named ${positionals.length})`);
  const ids = positionals.map((p) => parseRunId([p]));
  return withApi(async (api) => {
    const runs = [];
    for (const id of ids) runs.push(printable(await api.call('runs.get', { id })).run);
    const diff = await api.call('runs.configDiff', { ids });
    if (values.json) {
      console.log(JSON.stringify({ runs, config_diff: diff }));
      return 0;
    }
    console.log(
      table([
        ['', ...runs.map((r) => `${r.id}: ${r.name}`)],
        ['family', ...runs.map((r) => r.family)],
        ['params', ...runs.map((r) => r.paramCount.toLocaleString('en-US'))],
        ['status', ...runs.map((r) => r.status)],
        ['steps', ...runs.map((r) => String(r.steps))],
        ['best val loss', ...runs.map((r) => fmt(r.bestValLoss))],
        ['tokens/s', ...runs.map((r) => (r.tokensPerSec === null ? '-' : Math.round(r.tokensPerSec).toLocaleString('en-US')))],
      ]),
    );
    console.log('\nconfig differences:');
    console.log(
      diff.length === 0
        ? '(none)'
        : table([
            ['setting', ...runs.map((r) => String(r.id))],
            ...diff.map((d) => [d.key, ...d.values.map((v) => (v === undefined ? '-' : JSON.stringify(v)))]),
          ]),
    );
    return 0;
  });
}

export function kmeansCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('kmeans', argv, { k: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } }, true);
  const id = parseRunId(positionals);
  const k = parseInteger('k', values.k as string | undefined, 0, 1);
  if (k === 0) throw new UsageError('kmeans: --k K is required');
  return withApi((api) => {
    const { vectors, vocab } = api.tokenEmbeddings(id, 'best');
    const r = kmeans(vectors, { k, seed: parseInteger('seed', values.seed as string | undefined, 0), init: 'kmeans++' });
    const clusters = Array.from({ length: k }, (_, c) => vocab.filter((_, t) => r.assignments[t] === c));
    if (values.json) console.log(JSON.stringify({ run_id: id, k, iterations: r.iterations.length, converged: r.converged, clusters }));
    else clusters.forEach((members, c) => console.log(`cluster ${c}: ${members.map((m) => JSON.stringify(m)).join(' ')}`));
    return 0;
  });
}
