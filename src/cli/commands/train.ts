import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeText, splitCorpus } from '../../main/engine/data/corpus';
import { countParameters, MODEL_FAMILIES, type ModelFamily } from '../../main/engine/models';
import { resolveTrainConfig, Trainer } from '../../main/engine/train';
import { parse, parseInteger, parseSetting, UsageError } from '../args';

export const BUNDLED_CORPUS = fileURLToPath(new URL('../../../resources/tinyshakespeare.txt', import.meta.url));

export const usage = `nanolab train --model lstm|gru|rnn|gpt [--data FILE] [--steps N] [--set key=value ...] [--seed S] [--log-every K]
  Trains a model on a UTF-8 text file (default: the bundled tinyshakespeare) with a character
  tokenizer and a contiguous 90/10 train/validation split; prints step, train loss, learning rate,
  gradient norm and tokens/s, the train and validation loss every eval_interval steps and at the end.
  --set takes model settings (hidden_size, num_layers, n_layer, n_head, n_embd, block_size, dropout,
  norm_position, position_encoding, activation, ...), optimizer settings (optimizer=adamw|adam|sgd|
  rmsprop|adagrad, lr, weight_decay, beta2, momentum, alpha, ...), schedule settings (schedule=
  constant|cosine|step, warmup_iters, lr_decay_iters, min_lr, step_size, gamma) and loop settings
  (batch_size, seq_len, grad_clip, grad_clip_value, eval_interval, eval_iters, batching).`;

export function trainCommand(argv: string[]): number {
  const { values } = parse('train', argv, {
    model: { type: 'string' },
    data: { type: 'string' },
    steps: { type: 'string' },
    set: { type: 'string', multiple: true },
    seed: { type: 'string' },
    'log-every': { type: 'string' },
  });
  const str = (key: string) => values[key] as string | undefined;
  const family = str('model') as ModelFamily | undefined;
  if (!family) throw new UsageError(`train: --model is required (one of ${MODEL_FAMILIES.join(', ')})\n\n${usage}`);
  if (!MODEL_FAMILIES.includes(family)) throw new UsageError(`train: --model ${family} is not a model family; choose one of ${MODEL_FAMILIES.join(', ')}`);
  const file = str('data') ?? BUNDLED_CORPUS;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new UsageError(`train: cannot read --data ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const overrides: Record<string, unknown> = Object.fromEntries(((values.set as string[] | undefined) ?? []).map(parseSetting));
  if (str('steps') !== undefined) overrides.steps = parseInteger('steps', str('steps'), 0, 1);
  const seed = parseInteger('seed', str('seed'), 1337);

  const corpus = splitCorpus(decodeText(bytes, file));
  const config = resolveTrainConfig(family, corpus.tokenizer.vocabSize, overrides, seed);
  const logEvery = parseInteger('log-every', str('log-every'), Math.max(1, Math.round(config.steps / 20)), 1);
  const minTokens = config.seq_len + 1;
  if (corpus.val.length < minTokens || corpus.train.length < config.batch_size * minTokens) {
    throw new UsageError(
      `train: ${file} is too short for batch_size ${config.batch_size} × seq_len ${config.seq_len} ` +
        `(${corpus.train.length} training and ${corpus.val.length} validation characters); use a longer text or smaller settings`,
    );
  }

  console.log(`data    ${file}: ${corpus.train.length + corpus.val.length} characters, vocab ${corpus.tokenizer.vocabSize}, ${corpus.train.length} train / ${corpus.val.length} val`);
  console.log(`model   ${JSON.stringify(config.model)}`);
  console.log(`params  ${countParameters(config.model).toLocaleString('en-US')}`);
  console.log(`train   ${JSON.stringify({ ...config, model: undefined })}`);

  const trainer = new Trainer(config, corpus);
  const t0 = performance.now();
  let windowStart = t0;
  let windowTokens = 0;
  let losses = 0, count = 0;
  try {
    for (let i = 0; i < config.steps; i++) {
      const m = trainer.trainStep();
      windowTokens += config.batch_size * config.seq_len;
      losses += m.loss;
      count++;
      if (m.step % logEvery === 0 || m.step === config.steps) {
        const now = performance.now();
        const tps = windowTokens / ((now - windowStart) / 1000);
        console.log(
          `step ${String(m.step).padStart(String(config.steps).length)}/${config.steps} | loss ${(losses / count).toFixed(4)} | ` +
            `lr ${m.lr.toExponential(2)} | grad norm ${m.gradNorm.toFixed(3)} | ${Math.round(tps).toLocaleString('en-US')} tok/s`,
        );
        windowStart = now;
        windowTokens = 0;
        losses = 0;
        count = 0;
      }
      if (m.step % config.eval_interval === 0 && m.step !== config.steps) {
        const e = trainer.evaluateBoth();
        console.log(`eval step ${e.step} | train loss ${e.trainLoss.toFixed(4)} | val loss ${e.valLoss.toFixed(4)}`);
      }
    }
    const e = trainer.evaluateBoth();
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `done: ${config.steps} steps in ${seconds.toFixed(1)} s | train loss ${e.trainLoss.toFixed(4)} | val loss ${e.valLoss.toFixed(4)} ` +
        `(${(e.valLoss / Math.LN2).toFixed(3)} bits/char; uniform over ${corpus.tokenizer.vocabSize} would be ${Math.log(corpus.tokenizer.vocabSize).toFixed(4)})`,
    );
  } finally {
    trainer.dispose();
  }
  return 0;
}
