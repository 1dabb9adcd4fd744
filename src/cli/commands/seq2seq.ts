import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSourceText, parsePairsTsv } from '../../engine/data/pairs';
import { generateTaskTsv, PAIR_TASKS, pairTask } from '../../engine/data/tasks';
import { countSeq2SeqParameters } from '../../engine/models/seq2seq';
import { beamSearch, greedyDecodeCached, type DecodedToken } from '../../engine/models/seq2seq-decode';
import { loadSeq2SeqModel, pairsCorpusOf, resolveSeq2SeqTrainConfig, type Seq2SeqTrainConfig } from '../../engine/seq2seq-train';
import { DEFAULT_PAIRS_TOKENIZATION } from '../../engine/data/pairs';
import type { Seq2SeqPreset } from '../../engine/presets';
import { Corpora } from '../../main/api/corpora';
import { startRun } from '../../main/jobs/job-host';
import { readCheckpointFolder } from '../../main/store/checkpoint-files';
import type { TrainConfig } from '../../engine/train';
import { parse, parseInteger, parseSetting, UsageError } from '../args';
import { BUNDLED_CORPUS, follow, openLab, parseRunId, relay } from './train';

// The encoder–decoder from the terminal: `train --model seq2seq` on a bundled task or a TSV of
// pairs (copied into the lab like a corpus), and `translate` with a run's checkpoint.

export const usage = `nanolab train --preset seq2seq-reverse [--steps N] [--set key=value ...] [--json]
nanolab train --model seq2seq (--task ${PAIR_TASKS.map((t) => t.id).join('|')} | --pairs FILE.tsv)
              [--task-pairs N] [--steps N] [--set key=value ...] [--seed S] [--name NAME] [--json]
  An encoder–decoder Transformer (the attention lesson's) trained on pairs with teacher forcing,
  Adam (betas 0.9, 0.98, eps 1e-9), cross-entropy that ignores padding. --task generates
  --task-pairs (default 5000) pairs; --pairs reads source<TAB>target lines. Characters are tokens,
  one vocabulary per side; 10 % of the pairs are held out. Each evaluation prints the held-out loss
  per target token and, from greedy decoding of up to 200 held-out pairs, exact match, character
  error rate and BLEU. --set: d_model, num_heads, num_layers, d_ff, max_seq_length, dropout,
  layer_norm=torch|seed, norm_position=post|pre, lr, beta1, beta2, eps, warmup_iters, min_lr (a cosine
  decay from lr to it over the steps), batch_size,
  grad_clip, eval_interval, eval_iters, eval_pairs.

nanolab translate RUN "text" [--beam K] [--length-penalty A] [--checkpoint best|latest] [--json]
  Decodes one source with a seq2seq run's checkpoint: greedily, or with --beam K (K > 1) by beam
  search of width K, hypotheses ranked by log-probability / ((5 + length) / 6)^A (A default 0.6;
  0 ranks by log-probability alone). Prints the best output; --json adds its log-probability and
  each token's probability, and with --beam the K best with their log-probability and score.`;

/** `train --model seq2seq …`: the options trainCommand parsed. */
export async function trainSeq2Seq(values: Record<string, unknown>, preset?: Seq2SeqPreset): Promise<number> {
  const given = (key: string) => values[key] as string | undefined;
  // a preset gives the task, its size and settings; the command line's own win
  const str = (key: string) =>
    given(key) ??
    (preset && key === 'task' && given('pairs') === undefined
      ? preset.task
      : preset && key === 'task-pairs' && given('pairs') === undefined
        ? String(preset.taskPairs)
        : undefined);
  for (const key of ['data', 'minutes', 'tokenizer', 'word-vocab', 'lowercase', 'max-corpus-mb', ...(preset ? [] : ['preset'])]) {
    if (values[key] !== undefined) throw new UsageError(`train: --${key} does not apply to a seq2seq run (give --task or --pairs)`);
  }
  const taskId = str('task');
  const pairsFile = str('pairs');
  if ((taskId === undefined) === (pairsFile === undefined)) {
    throw new UsageError(`train: a seq2seq run needs --task (${PAIR_TASKS.map((t) => t.id).join(', ')}) or --pairs FILE.tsv, one of them`);
  }
  const seed = parseInteger('seed', str('seed'), 1337);
  const user: Record<string, unknown> = { ...preset?.settings, ...Object.fromEntries(((values.set as string[] | undefined) ?? []).map(parseSetting)) };
  if (str('steps') !== undefined) user.steps = parseInteger('steps', str('steps'), 0, 1);
  let name: string;
  let bytes: Uint8Array;
  if (taskId !== undefined) {
    const task = pairTask(taskId);
    const count = parseInteger('task-pairs', str('task-pairs'), 5000, 10, 1_000_000);
    name = `${task.id} (${count} pairs, seed ${seed})`;
    bytes = new TextEncoder().encode(generateTaskTsv(task.id, count, seed));
  } else {
    if (str('task-pairs') !== undefined) throw new UsageError('train: --task-pairs needs --task');
    name = pairsFile!;
    try {
      bytes = readFileSync(pairsFile!);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        code === 'ENOENT' ? `train: --pairs ${pairsFile} does not exist: check the path` : `train: cannot read --pairs ${pairsFile} (${code})`,
      );
    }
  }
  const text = new TextDecoder().decode(bytes);
  const data: Seq2SeqTrainConfig['data'] = {
    task: taskId ?? null,
    tokenization: taskId ? pairTask(taskId).tokenization : DEFAULT_PAIRS_TOKENIZATION,
    val_fraction: 0.1,
    split_seed: 0,
  };
  // the vocabularies (and the pairs' checks) from the text, then the config with their sizes
  const probe = resolveSeq2SeqTrainConfig(4, 4, user, seed, data);
  const corpus = pairsCorpusOf(text, name, probe);
  parsePairsTsv(text, name);
  const config = resolveSeq2SeqTrainConfig(corpus.source.vocabSize, corpus.target.vocabSize, user, seed, data);
  const { home, store } = openLab();
  try {
    if (store.readOnly) throw new UsageError(`train: ${store.readOnly}; a run needs to write there: make the lab writable or point NANOLAB_HOME elsewhere`);
    const stored = new Corpora(home, BUNDLED_CORPUS).add(taskId ? `${taskId}.tsv` : pairsFile!, bytes);
    const dataPath = `corpora/${stored.id}.txt`;
    const label = str('name') ?? (preset ? given('preset')! : `seq2seq ${taskId ?? 'pairs'}`);
    console.log(
      `data    ${name} (in the lab as ${dataPath}): ${corpus.train.length} train / ${corpus.val.length} held-out pairs, vocab ${corpus.source.vocabSize} source / ${corpus.target.vocabSize} target`,
    );
    console.log(`model   ${JSON.stringify(config.model)}`);
    console.log(`params  ${countSeq2SeqParameters(config.model).toLocaleString('en-US')}`);
    let id = 0;
    const handle = startRun({
      home,
      store,
      name: label,
      config: config as unknown as TrainConfig,
      dataPath,
      preset: given('preset'),
      onEvent: relay(() => id),
    });
    id = handle.runId;
    console.log(`run     ${handle.runId} in ${home}`);
    const logEvery = parseInteger('log-every', str('log-every'), Math.max(1, Math.round(config.steps / 20)), 1);
    const summary = await follow(store, handle, label, config.steps, logEvery, null);
    if (values.json) console.log(JSON.stringify(summary));
    return summary.status === 'failed' ? 1 : 0;
  } finally {
    store.close();
  }
}

export async function translateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'translate',
    argv,
    { checkpoint: { type: 'string' }, beam: { type: 'string' }, 'length-penalty': { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  if (positionals.length !== 2) throw new UsageError('translate: give a run and a text, e.g. nanolab translate 3 "hello"');
  const runId = parseRunId(positionals.slice(0, 1));
  const source = positionals[1];
  const which = (values.checkpoint as string | undefined) ?? 'best';
  if (which !== 'best' && which !== 'latest') throw new UsageError(`translate: --checkpoint ${which}: choose best or latest`);
  const beamWidth = parseInteger('beam', values.beam as string | undefined, 1, 1, 64);
  const penaltyText = values['length-penalty'] as string | undefined;
  if (penaltyText !== undefined && values.beam === undefined) {
    throw new UsageError('translate: --length-penalty ranks beam search hypotheses: give --beam K too');
  }
  const lengthPenalty = penaltyText === undefined ? 0.6 : Number(penaltyText);
  if (penaltyText !== undefined && (penaltyText.trim() === '' || !Number.isFinite(lengthPenalty))) {
    throw new UsageError(`translate: --length-penalty ${penaltyText} is not a number (e.g. 0.6; 0 ranks by log-probability alone)`);
  }
  const { store } = openLab();
  let folder: string;
  try {
    const run = store.getRun(runId);
    if (run.family !== 'seq2seq')
      throw new UsageError(`translate: run ${runId} is a ${run.family} run; translate needs a seq2seq run (nanolab train --model seq2seq)`);
    const checkpoints = store.checkpoints(runId);
    const ck = checkpoints.find((c) => c.kind === which) ?? checkpoints.find((c) => c.kind === 'latest');
    if (!ck) throw new UsageError(`translate: run ${runId} has no checkpoint yet`);
    folder = ck.path;
  } finally {
    store.close();
  }
  const { model, source: srcVocab, target } = loadSeq2SeqModel(readCheckpointFolder(folder));
  try {
    const ids = encodeSourceText(source, srcVocab, model.config.max_seq_length);
    const maxNew = model.config.max_seq_length - 1;
    const tokensOf = (tokens: readonly DecodedToken[]) => tokens.map((t) => ({ id: t.id, token: target.vocab[t.id], prob: t.prob, log_prob: t.logProb }));
    if (beamWidth === 1) {
      // greedy: the argmax at every step, with the KV cache (beam width 1 with α = 0 gives the same)
      const decoded = greedyDecodeCached(model, ids, { maxNew });
      const output = target.decode(decoded.ids);
      if (values.json) {
        const logProb = decoded.tokens.reduce((sum, t) => sum + t.logProb, 0);
        const result = { run_id: runId, source, output, decoding: 'greedy', log_prob: logProb, finished: decoded.finished, tokens: tokensOf(decoded.tokens) };
        console.log(JSON.stringify({ ...result, checkpoint: join(folder) }));
      } else console.log(output);
      return 0;
    }
    const hyps = beamSearch(model, ids, { beamWidth, lengthPenalty, nBest: beamWidth, maxNew });
    const output = target.decode(hyps[0].ids);
    if (values.json) {
      const nBest = hyps.map((h) => ({ output: target.decode(h.ids), log_prob: h.logProb, score: h.score, finished: h.finished, tokens: tokensOf(h.tokens) }));
      const result = { run_id: runId, source, output, decoding: 'beam', beam: beamWidth, length_penalty: lengthPenalty, n_best: nBest };
      console.log(JSON.stringify({ ...result, checkpoint: join(folder) }));
    } else console.log(output);
    return 0;
  } finally {
    model.dispose();
  }
}
