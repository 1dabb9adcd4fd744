import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encodeSourceText, parseAlignedPairs, pairsToTsv, parsePairsTsv, type LinePair, type PairsTokenization } from '../../engine/data/pairs';
import { generateTaskTsv, PAIR_TASKS, pairTask } from '../../engine/data/tasks';
import { countSeq2SeqParameters } from '../../engine/models/seq2seq';
import { beamSearch, greedyDecodeCached, type DecodedToken } from '../../engine/models/seq2seq-decode';
import { loadSeq2SeqModel, pairsCorpusOf, resolveSeq2SeqTrainConfig, type Seq2SeqTrainConfig } from '../../engine/seq2seq-train';
import { DEFAULT_PAIRS_TOKENIZATION } from '../../engine/data/pairs';
import type { Seq2SeqPreset } from '../../engine/presets';
import { Corpora } from '../../main/api/corpora';
import { evaluateSeq2SeqRun, type Seq2SeqEvalResult, type UnknownPieces } from '../../main/api/seq2seq-eval';
import { startRun } from '../../main/jobs/job-host';
import { readCheckpointFolder } from '../../main/store/checkpoint-files';
import type { TrainConfig } from '../../engine/train';
import { parse, parseInteger, parseSetting, UsageError } from '../args';
import { BUNDLED_CORPUS, follow, openLab, parseRunId, relay } from './train';

// The encoder–decoder from the terminal: `train --model seq2seq` on a bundled task or a TSV of
// pairs (copied into the lab like a corpus), and `translate` with a run's checkpoint.

export const usage = `nanolab train --preset seq2seq-lesson|seq2seq-reverse [--steps N] [--set key=value ...] [--json]
nanolab train --model seq2seq (--task ${PAIR_TASKS.map((t) => t.id).join('|')} | --pairs FILE.tsv | --source FILE --target FILE)
              [--source-tokenizer char|word] [--target-tokenizer char|word] [--shared-vocab]
              [--task-pairs N] [--steps N] [--set key=value ...] [--seed S] [--name NAME] [--json]
  An encoder–decoder Transformer (the attention lesson's) trained on pairs with teacher forcing,
  Adam (betas 0.9, 0.98, eps 1e-9), cross-entropy that ignores padding. --task generates
  --task-pairs (default 5000) pairs; --pairs reads source<TAB>target lines; --source and --target
  read two files with one text per line, line i of one paired with line i of the other. Each side
  is tokenized by characters (the default) or words (--source-tokenizer, --target-tokenizer), with
  one vocabulary per side, or one for both with --shared-vocab; 10 % of the pairs are held out.
  Each evaluation prints the held-out loss per target token and, from greedy decoding of up to 200
  held-out pairs, exact match, character error rate and BLEU. --set: d_model, num_heads,
  num_layers, d_ff, max_seq_length, dropout, layer_norm=torch|seed, norm_position=post|pre, lr,
  beta1, beta2, eps, warmup_iters, min_lr (a cosine decay from lr to it over the steps),
  batch_size, grad_clip, eval_interval, eval_iters, eval_pairs.

nanolab translate RUN "text" [--beam K] [--length-penalty A] [--checkpoint best|latest] [--json]
  Decodes one source with a seq2seq run's checkpoint: greedily, or with --beam K (K > 1) by beam
  search of width K, hypotheses ranked by log-probability / ((5 + length) / 6)^A (A default 0.6;
  0 ranks by log-probability alone). Prints the best output; --json adds its log-probability and
  each token's probability, and with --beam the K best with their log-probability and score.

nanolab eval RUN [--pairs FILE.tsv | --source FILE --target FILE] [--checkpoint best|latest]
             [--beam K] [--length-penalty A] [--examples N] [--json]
  Scores a seq2seq run's outputs (greedy, or beam search of width K) against reference pairs: the
  given file(s), or the run's own held-out pairs. Prints the number of pairs, exact match, character
  error rate and corpus BLEU, which characters or words are outside the run's vocabulary (they
  become <unk>), and the first N (default 5) mistakes with source, expected and got; --json gives
  all of it as one object.`;

/** A pairs file's bytes, or a sentence saying why it cannot be read. */
function readPairsFile(command: string, flag: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `${command}: --${flag} ${path} does not exist: check the path`
        : code === 'EISDIR'
          ? `${command}: --${flag} ${path} is a folder: give a file in it`
          : `${command}: cannot read --${flag} ${path} (${code}): check its permissions`,
    );
  }
}

/** The tokenization of a run's two sides: the task's (or char, char), changed by --source-tokenizer, --target-tokenizer, --shared-vocab. */
function tokenizationOf(values: Record<string, unknown>, base: PairsTokenization): PairsTokenization {
  const side = (flag: string) => {
    const kind = values[flag] as string | undefined;
    if (kind !== undefined && kind !== 'char' && kind !== 'word') throw new UsageError(`train: --${flag} ${kind}: choose char (characters are tokens) or word`);
    return kind;
  };
  const source = side('source-tokenizer') ?? base.source;
  const target = side('target-tokenizer') ?? base.target;
  if (values['shared-vocab'] && source !== target) {
    throw new UsageError(
      `train: --shared-vocab needs both sides tokenized alike, but the source is ${source} and the target ${target}: drop --shared-vocab or give both sides the same tokenizer`,
    );
  }
  return { ...base, source, target, shared: values['shared-vocab'] === true || (base.shared && source === target) };
}

/** `train --model seq2seq …`: the options trainCommand parsed. */
export async function trainSeq2Seq(values: Record<string, unknown>, preset?: Seq2SeqPreset): Promise<number> {
  const given = (key: string) => values[key] as string | undefined;
  const aligned = given('source') !== undefined || given('target') !== undefined;
  // a preset gives the task, its size and settings; the command line's own win
  const ownData = given('pairs') !== undefined || aligned;
  const str = (key: string) =>
    given(key) ?? (preset && key === 'task' && !ownData ? preset.task : preset && key === 'task-pairs' && !ownData ? String(preset.taskPairs) : undefined);
  for (const key of ['data', 'minutes', 'tokenizer', 'word-vocab', 'lowercase', 'max-corpus-mb', ...(preset ? [] : ['preset'])]) {
    if (values[key] !== undefined) throw new UsageError(`train: --${key} does not apply to a seq2seq run (give --task, --pairs, or --source and --target)`);
  }
  const taskId = str('task');
  const pairsFile = str('pairs');
  if (aligned && (given('source') === undefined || given('target') === undefined)) {
    throw new UsageError(
      `train: --source and --target go together (got only --${given('source') === undefined ? 'target' : 'source'}): give both files, one text per line, line i of one the translation of line i of the other`,
    );
  }
  if ([taskId, pairsFile, aligned || undefined].filter((x) => x !== undefined).length !== 1) {
    throw new UsageError(
      `train: a seq2seq run needs --task (${PAIR_TASKS.map((t) => t.id).join(', ')}) or --pairs FILE.tsv or --source FILE --target FILE, one of them`,
    );
  }
  const seed = parseInteger('seed', str('seed'), 1337);
  const user: Record<string, unknown> = { ...preset?.settings, ...Object.fromEntries(((values.set as string[] | undefined) ?? []).map(parseSetting)) };
  if (str('steps') !== undefined) user.steps = parseInteger('steps', str('steps'), 0, 1);
  let name: string;
  let bytes: Uint8Array;
  let storedName: string;
  if (taskId !== undefined) {
    const task = pairTask(taskId);
    const count = parseInteger('task-pairs', str('task-pairs'), 5000, 10, 1_000_000);
    name = `${task.id} (${count} pairs, seed ${seed})`;
    bytes = new TextEncoder().encode(generateTaskTsv(task.id, count, seed));
    storedName = `${taskId}.tsv`;
  } else {
    if (str('task-pairs') !== undefined) throw new UsageError('train: --task-pairs needs --task');
    if (pairsFile !== undefined) {
      name = pairsFile;
      bytes = readPairsFile('train', 'pairs', pairsFile);
      storedName = pairsFile;
    } else {
      // two aligned files: stored in the lab as one TSV, as a run's pairs always are
      const [src, tgt] = [given('source')!, given('target')!];
      name = `${src} + ${tgt}`;
      const decode = (flag: string, path: string) => new TextDecoder().decode(readPairsFile('train', flag, path));
      const pairs = parseAlignedPairs(decode('source', src), decode('target', tgt), { source: src, target: tgt });
      bytes = new TextEncoder().encode(pairsToTsv(pairs));
      storedName = `${basename(src)}+${basename(tgt)}.tsv`;
    }
  }
  const text = new TextDecoder().decode(bytes);
  const data: Seq2SeqTrainConfig['data'] = {
    task: taskId ?? null,
    tokenization: tokenizationOf(values, taskId ? pairTask(taskId).tokenization : DEFAULT_PAIRS_TOKENIZATION),
    val_fraction: 0.1,
    split_seed: 0,
  };
  // the vocabularies (and the pairs' checks) from the text, then the config with their sizes
  const probe = resolveSeq2SeqTrainConfig(4, 4, user, seed, data);
  const corpus = pairsCorpusOf(text, name, probe);
  const config = resolveSeq2SeqTrainConfig(corpus.source.vocabSize, corpus.target.vocabSize, user, seed, data);
  const { home, store } = openLab();
  try {
    if (store.readOnly) throw new UsageError(`train: ${store.readOnly}; a run needs to write there: make the lab writable or point NANOLAB_HOME elsewhere`);
    const stored = new Corpora(home, BUNDLED_CORPUS).add(storedName, bytes);
    const dataPath = `corpora/${stored.id}.txt`;
    const label = str('name') ?? (preset ? given('preset')! : `seq2seq ${taskId ?? 'pairs'}`);
    console.log(
      `data    ${name} (in the lab as ${dataPath}): ${corpus.train.length} train / ${corpus.val.length} held-out pairs, vocab ${corpus.source.vocabSize} ${corpus.source.kind} source / ${corpus.target.vocabSize} ${corpus.target.kind} target${data.tokenization.shared ? ' (shared)' : ''}`,
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

/** "7 source characters (in 3 pairs) are not in the run's vocabulary and became <unk>: "é", "ß"". */
function unknownNote(side: 'source' | 'target', u: UnknownPieces): string {
  const what = u.kind === 'char' ? 'character' : 'word';
  const shown = u.pieces.map((p) => JSON.stringify(p)).join(', ') + (u.distinct > u.pieces.length ? `, … (${u.distinct} distinct)` : '');
  const fate =
    side === 'source' ? 'became <unk> when encoded' : 'cannot be produced by the model (its target vocabulary lacks them), so those pairs cannot match';
  return `${u.count} ${side} ${what}${u.count === 1 ? '' : 's'} in ${u.pairs} pair${u.pairs === 1 ? '' : 's'} ${u.count === 1 ? 'is' : 'are'} outside the run's vocabulary and ${fate}: ${shown}`;
}

/** The table `eval` prints. */
function printEvaluation(r: Seq2SeqEvalResult): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const decoding = r.decoding === 'greedy' ? 'greedy decoding' : `beam search (width ${r.beam}, length penalty ${r.length_penalty})`;
  console.log(`run ${r.run_id}, ${r.checkpoint.kind} checkpoint (step ${r.checkpoint.step}), ${decoding}, on ${r.data}`);
  const rows: [string, string, string][] = [
    ['pairs', r.pairs.toLocaleString('en-US'), 'scored'],
    ['exact match', pct(r.exact_match), `${(r.pairs - r.wrong).toLocaleString('en-US')} of ${r.pairs.toLocaleString('en-US')} outputs equal their reference`],
    ['CER', r.cer.toFixed(4), 'character edits per reference character (0 is perfect)'],
    ['BLEU', r.bleu.toFixed(4), `corpus BLEU-4 over ${r.bleu_tokens === 'char' ? 'characters' : 'words'} (1 is perfect)`],
  ];
  console.log(`${'metric'.padEnd(12)} ${'value'.padStart(9)}`);
  for (const [k, v, note] of rows) console.log(`${k.padEnd(12)} ${v.padStart(9)}   ${note}`);
  for (const side of ['source', 'target'] as const) if (r.unknown[side].count > 0) console.log(`note: ${unknownNote(side, r.unknown[side])}`);
  if (r.mistakes.length > 0) {
    console.log(`\nmistakes (${r.mistakes.length} of ${r.wrong.toLocaleString('en-US')}):`);
    for (const m of r.mistakes) {
      console.log(`  line ${m.line}  source   ${JSON.stringify(m.source)}`);
      console.log(`  ${' '.repeat(String(m.line).length + 5)}  expected ${JSON.stringify(m.expected)}`);
      console.log(`  ${' '.repeat(String(m.line).length + 5)}  got      ${JSON.stringify(m.got)}`);
    }
  }
}

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'eval',
    argv,
    {
      pairs: { type: 'string' },
      source: { type: 'string' },
      target: { type: 'string' },
      checkpoint: { type: 'string' },
      beam: { type: 'string' },
      'length-penalty': { type: 'string' },
      examples: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length !== 1) throw new UsageError('eval: give one run, e.g. nanolab eval 3 --pairs test.tsv');
  const runId = parseRunId(positionals);
  const which = (values.checkpoint as string | undefined) ?? 'best';
  if (which !== 'best' && which !== 'latest') throw new UsageError(`eval: --checkpoint ${which}: choose best or latest`);
  const beam = parseInteger('beam', values.beam as string | undefined, 1, 1, 64);
  const examples = parseInteger('examples', values.examples as string | undefined, 5, 0, 1000);
  const penaltyText = values['length-penalty'] as string | undefined;
  if (penaltyText !== undefined && values.beam === undefined) throw new UsageError('eval: --length-penalty ranks beam search hypotheses: give --beam K too');
  const lengthPenalty = penaltyText === undefined ? 0.6 : Number(penaltyText);
  if (penaltyText !== undefined && (penaltyText.trim() === '' || !Number.isFinite(lengthPenalty))) {
    throw new UsageError(`eval: --length-penalty ${penaltyText} is not a number (e.g. 0.6; 0 ranks by log-probability alone)`);
  }
  const [pairsFile, sourceFile, targetFile] = [values.pairs, values.source, values.target] as (string | undefined)[];
  if (pairsFile !== undefined && (sourceFile !== undefined || targetFile !== undefined)) {
    throw new UsageError('eval: give --pairs FILE.tsv or --source FILE --target FILE, not both');
  }
  if ((sourceFile === undefined) !== (targetFile === undefined)) {
    throw new UsageError(`eval: --source and --target go together (got only --${sourceFile === undefined ? 'target' : 'source'}): give both files`);
  }
  let pairs: { pairs: LinePair[]; name: string } | undefined;
  const text = (flag: string, path: string) => new TextDecoder().decode(readPairsFile('eval', flag, path));
  if (pairsFile !== undefined) pairs = { pairs: parsePairsTsv(text('pairs', pairsFile), pairsFile), name: pairsFile };
  else if (sourceFile !== undefined) {
    pairs = {
      pairs: parseAlignedPairs(text('source', sourceFile), text('target', targetFile!), { source: sourceFile, target: targetFile! }),
      name: `${sourceFile} + ${targetFile}`,
    };
  }
  const { home, store } = openLab();
  let result: Seq2SeqEvalResult;
  try {
    // progress on stderr for a large set: about every tenth of it
    let shown = 0;
    const onProgress = (done: number, total: number) => {
      if (total < 500 || done === total || done - shown < total / 10) return;
      shown = done;
      process.stderr.write(`eval    decoded ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} pairs\n`);
    };
    result = evaluateSeq2SeqRun(store, home, runId, { checkpoint: which, pairs, beam, lengthPenalty, examples, onProgress });
  } finally {
    store.close();
  }
  if (values.json) console.log(JSON.stringify(result));
  else printEvaluation(result);
  return 0;
}
