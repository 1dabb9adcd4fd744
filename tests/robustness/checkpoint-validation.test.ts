import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCheckpoint, restoreModel, restoreTrainer, validateCheckpoint, type CheckpointUse } from '../../src/engine/checkpoint/checkpoint';
import { encodeSafetensors } from '../../src/engine/checkpoint/safetensors';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { splitCorpus } from '../../src/engine/data/corpus';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';
import { UserError } from '../../src/shared/errors';
import { nanolab as runCli } from './cli';

// Every checkpoint load checks the files against each other before using them: each damaged,
// mismatched or edited checkpoint below is refused with one sentence that names the file, says
// what is wrong with the value found, and says what to do. And a model for inference needs its
// checkpoint only: the training text can be gone.

const corpus = splitCorpus('It was the best of times, it was the worst of times, it was the age of wisdom. '.repeat(30));
const V = corpus.tokenizer.vocabSize;
const ADVICE = "load the run's other checkpoint (best or latest) instead, or resume the run to write a new one";

function checkpointOf(family: 'lstm' | 'gpt', overrides: Record<string, unknown>, steps = 2): Record<string, Uint8Array> {
  const trainer = new Trainer(resolveTrainConfig(family, V, { batch_size: 2, seq_len: 8, steps: 10, ...overrides }), corpus);
  for (let i = 0; i < steps; i++) trainer.trainStep();
  const files = encodeCheckpoint(trainer, corpus.tokenizer);
  trainer.dispose();
  return files;
}
const lstm = checkpointOf('lstm', { hidden_size: 8, embedding_dim: 4, num_layers: 2 });
const gpt = checkpointOf('gpt', { n_layer: 1, n_head: 2, n_embd: 8, block_size: 8 });

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const json = (bytes: Uint8Array) => JSON.parse(text(bytes));
const edit = (files: Record<string, Uint8Array>, name: string, change: (o: any) => void) => {
  const o = json(files[name]);
  change(o);
  return { ...files, [name]: bytesOf(o) };
};
/** model.safetensors with its header rewritten (same data). */
function rewriteHeader(bytes: Uint8Array, change: (h: any) => void): Uint8Array {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(text(bytes.subarray(8, 8 + length)));
  change(header);
  const head = bytesOf(header);
  const out = new Uint8Array(8 + head.length + bytes.length - 8 - length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(bytes.subarray(8 + length), 8 + head.length);
  return out;
}
const without = (files: Record<string, Uint8Array>, name: string) => Object.fromEntries(Object.entries(files).filter(([n]) => n !== name));

/** The error a load throws, checked for shape: an Error of its own class, one line, with the advice. */
function refusal(load: () => unknown): string {
  let caught: unknown = null;
  try {
    load();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'the load was accepted').not.toBeNull();
  expect(caught, String(caught)).toBeInstanceOf(UserError);
  const message = (caught as Error).message;
  expect(message).not.toMatch(/\n/);
  expect(message.endsWith(ADVICE), message).toBe(true);
  return message;
}

const cases: [string, Record<string, Uint8Array>, CheckpointUse, RegExp][] = [
  [
    'a truncated model.safetensors',
    { ...lstm, 'model.safetensors': lstm['model.safetensors'].subarray(0, lstm['model.safetensors'].length - 100) },
    'inference',
    /^model\.safetensors is not a valid safetensors file: tensor "[^"]+" ends at byte \d+ but the data is \d+ bytes \(truncated\?\)/,
  ],
  [
    'a header length of 10^12',
    {
      ...lstm,
      'model.safetensors': (() => {
        const b = lstm['model.safetensors'].slice();
        new DataView(b.buffer).setBigUint64(0, 10n ** 12n, true);
        return b;
      })(),
    },
    'inference',
    /^model\.safetensors is not a valid safetensors file: its header length is 1000000000000 bytes/,
  ],
  [
    'a GPT config.json beside LSTM weights',
    { ...lstm, 'config.json': gpt['config.json'] },
    'inference',
    /^model\.safetensors (holds \d+ values, fewer than the \d+ parameters of config\.json's gpt model|has no "transformer\.wte\.weight".* which config\.json's gpt model needs)/,
  ],
  [
    'LSTM config.json beside GPT weights',
    { ...gpt, 'config.json': lstm['config.json'] },
    'inference',
    /^model\.safetensors (holds \d+ values, fewer than the \d+ parameters of config\.json's lstm model|has no "embedding\.weight".* which config\.json's lstm model needs)/,
  ],
  [
    'a missing tokenizer.json',
    without(lstm, 'tokenizer.json'),
    'inference',
    /^tokenizer\.json is missing from the checkpoint \(it has config\.json, model\.safetensors, optimizer\.safetensors, state\.json\)/,
  ],
  ['a missing optimizer.safetensors, to resume', without(lstm, 'optimizer.safetensors'), 'resume', /^optimizer\.safetensors is missing from the checkpoint/],
  [
    'state.json edited to step 1e7',
    edit(lstm, 'state.json', (s) => {
      s.step = 1e7;
    }),
    'inference',
    /^state\.json has step 10000000, past the run's 10 steps \(config\.json\)/,
  ],
  [
    'state.json with a negative step',
    edit(lstm, 'state.json', (s) => {
      s.step = -1;
    }),
    'inference',
    /^state\.json has step -1, not a whole number ≥ 0/,
  ],
  [
    'state.json whose tokens do not add up',
    edit(lstm, 'state.json', (s) => {
      s.tokens_seen = 5;
    }),
    'inference',
    /^state\.json has tokens_seen 5; 2 steps of 2 × 8 tokens make 32/,
  ],
  [
    'state.json with more optimizer steps than steps',
    edit(lstm, 'state.json', (s) => {
      s.optimizer_step = 3;
    }),
    'inference',
    /^state\.json has optimizer_step 3, more than its step 2/,
  ],
  [
    'state.json with a broken rng',
    edit(lstm, 'state.json', (s) => {
      s.rng = { s: [1, 2, 3] };
    }),
    'inference',
    /^state\.json has rng \{"s":\[1,2,3\]\}/,
  ],
  [
    'state.json with carried_layers past num_layers',
    edit(lstm, 'state.json', (s) => {
      s.carried_layers = 9;
    }),
    'inference',
    /^state\.json has carried_layers 9; this run carries 2/,
  ],
  ['state.json that is not JSON', { ...lstm, 'state.json': bytesOf('{"step": 2,') }, 'inference', /^state\.json is not valid JSON: /],
  [
    'a wrong dtype',
    {
      ...lstm,
      'model.safetensors': rewriteHeader(lstm['model.safetensors'], (h) => {
        h['embedding.weight'].dtype = 'F64';
      }),
    },
    'inference',
    /^model\.safetensors is not a valid safetensors file: tensor "embedding\.weight" has dtype "F64"; only F32 is supported/,
  ],
  [
    'a wrong shape (same size)',
    {
      ...lstm,
      'model.safetensors': rewriteHeader(lstm['model.safetensors'], (h) => {
        h['embedding.weight'].shape = [4, V];
      }),
    },
    'inference',
    new RegExp(`^model\\.safetensors has "embedding\\.weight" of shape \\[4, ${V}\\]; config\\.json's lstm model needs \\[${V}, 4\\]`),
  ],
  [
    'a tensor renamed',
    {
      ...lstm,
      'model.safetensors': rewriteHeader(lstm['model.safetensors'], (h) => {
        h['head.bias2'] = h['head.bias'];
        delete h['head.bias'];
      }),
    },
    'inference',
    /^model\.safetensors has no "head\.bias", which config\.json's lstm model needs/,
  ],
  [
    'NaN weights',
    {
      ...lstm,
      'model.safetensors': (() => {
        const b = lstm['model.safetensors'].slice();
        b.set([0, 0, 0xc0, 0x7f], b.length - 4); // the last value: a quiet NaN
        return b;
      })(),
    },
    'inference',
    /^model\.safetensors has 1 values in "head\.bias" that are NaN or infinite/,
  ],
  [
    'a vocabulary that does not match',
    edit(lstm, 'tokenizer.json', (t) => {
      t.vocab.push('§');
    }),
    'inference',
    new RegExp(`^tokenizer\\.json has ${V + 1} tokens but config\\.json's model has vocab_size ${V}: they come from different runs`),
  ],
  [
    'a char tokenizer with a two-character token',
    edit(lstm, 'tokenizer.json', (t) => {
      t.vocab[1] = 'ab';
    }),
    'inference',
    /^tokenizer\.json has "ab" in the vocabulary of a char tokenizer, which holds single characters/,
  ],
  [
    'a tokenizer of an unknown kind',
    edit(lstm, 'tokenizer.json', (t) => {
      t.kind = 'bpe';
    }),
    'inference',
    /^tokenizer\.json is not a tokenizer: unknown tokenizer kind "bpe"/,
  ],
  [
    'a config.json of another program',
    { ...lstm, 'config.json': bytesOf({ format: 'other' }) },
    'inference',
    /^config\.json is not a NanoLab checkpoint's config \(its format is "other"/,
  ],
  ['a config.json that is an array', { ...lstm, 'config.json': bytesOf([1]) }, 'inference', /^config\.json holds \[1\], not a JSON object/],
  [
    'a model setting out of range',
    edit(lstm, 'config.json', (c) => {
      c.model.hidden_size = -3;
      c.train.model.hidden_size = -3;
    }),
    'inference',
    /^config\.json has a model setting that is not valid: hidden_size \(-3\) must be a positive integer/,
  ],
  [
    'a parameter_count that does not match',
    edit(lstm, 'config.json', (c) => {
      c.parameter_count = 1;
    }),
    'inference',
    /^config\.json says parameter_count 1 but its lstm model has \d+ parameters/,
  ],
  [
    'an optimizer buffer of the wrong shape',
    {
      ...lstm,
      'optimizer.safetensors': rewriteHeader(lstm['optimizer.safetensors'], (h) => {
        h['embedding.weight.exp_avg'].shape = [4, V];
      }),
    },
    'resume',
    new RegExp(
      `^optimizer\\.safetensors has "embedding\\.weight\\.exp_avg" of shape \\[4, ${V}\\]; config\\.json's adamw optimizer and lstm model needs \\[${V}, 4\\]`,
    ),
  ],
  [
    'an optimizer without the carried state',
    { ...lstm, 'optimizer.safetensors': encodeSafetensors([]) },
    'resume',
    /^optimizer\.safetensors has no "embedding\.weight\.exp_avg"/,
  ],
];

describe('validateCheckpoint refuses damaged, mismatched and edited checkpoints', () => {
  it('accepts the undamaged checkpoints for every use', () => {
    for (const files of [lstm, gpt]) {
      expect(validateCheckpoint(files, 'inference').state?.step).toBe(2);
      expect(validateCheckpoint(files, 'resume').optimizer).not.toBeNull();
    }
  });

  for (const [label, files, use, expected] of cases) {
    it(label, () => {
      expect(refusal(() => validateCheckpoint(files, use))).toMatch(expected);
      // every load goes through the same check; a model for inference needs no optimizer state
      if (use === 'inference') expect(refusal(() => restoreModel(files))).toMatch(expected);
      else restoreModel(files).dispose();
      expect(refusal(() => restoreTrainer(files, corpus))).toMatch(expected);
    });
  }

  it('refuses a data position past the end of the text it resumes on', () => {
    const files = edit(lstm, 'state.json', (s) => {
      s.batcher_position = 8 * 1000;
    });
    expect(refusal(() => restoreTrainer(files, corpus))).toMatch(/^state\.json has batcher_position 8000, past the end of the text's 2 lanes of \d+ tokens/);
  });

  it('leaves nothing allocated when it refuses', () => {
    const bad = {
      ...lstm,
      'model.safetensors': rewriteHeader(lstm['model.safetensors'], (h) => {
        h['embedding.weight'].shape = [4, V];
      }),
    };
    const backend = new CpuBackend();
    refusal(() => restoreModel(bad, backend));
    refusal(() =>
      restoreModel(
        edit(lstm, 'state.json', (s) => {
          s.step = 1e7;
        }),
        backend,
      ),
    );
    expect(backend.liveTensors()).toBe(0);
    restoreModel(lstm, backend).dispose();
    expect(backend.liveTensors()).toBe(0);
  });
});

// ---- the CLI, as a user runs it -------------------------------------------------------------

const home = mkdtempSync(join(tmpdir(), 'nanolab-validate-home-'));
const nanolab = (...args: string[]) => runCli(home, args);

describe('the CLI reads a model from its checkpoint alone and refuses a damaged one', () => {
  it('samples after the training text is deleted, and refuses to export or sample a damaged checkpoint', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nanolab-')), 'once.txt');
    writeFileSync(file, 'Once upon a midnight dreary, while I pondered, weak and weary.\n'.repeat(30));
    const small = [
      '--set',
      'hidden_size=8',
      '--set',
      'embedding_dim=4',
      '--set',
      'batch_size=2',
      '--set',
      'seq_len=8',
      '--set',
      'eval_iters=1',
      '--set',
      'eval_interval=5',
    ];
    const trained = nanolab('train', '--model', 'lstm', '--data', file, '--steps', '10', ...small, '--json');
    expect(trained.code, trained.err).toBe(0);
    const id = String(JSON.parse(trained.out.trim().split('\n').at(-1)!).run_id);

    // the text is gone, wherever the run keeps it (its --data file, or a copy in the lab)
    const stored = JSON.parse(nanolab('show', id, '--json').out).config.data.path as string;
    for (const path of new Set([file, isAbsolute(stored) ? stored : join(home, stored)])) rmSync(path, { force: true });
    expect(existsSync(file)).toBe(false);
    const sample = nanolab('sample', id, '--prompt', 'Once', '--length', '20', '--json');
    expect(sample.code, sample.err).toBe(0);
    expect(JSON.parse(sample.out.trim()).text).toHaveLength(20);
    expect(nanolab('kmeans', id, '--k', '2').code).toBe(0);

    const model = join(home, 'runs', id, 'checkpoints', 'best', 'model.safetensors');
    const bytes = readFileSync(model);
    writeFileSync(model, bytes.subarray(0, bytes.length - 64));
    for (const args of [
      ['export', id, '--out', join(mkdtempSync(join(tmpdir(), 'nanolab-out-')), 'x')],
      ['sample', id, '--length', '5'],
    ]) {
      const r = nanolab(...args);
      expect(r.code, `${args[0]}: ${r.out}${r.err}`).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(
        new RegExp(
          `^nanolab: run ${id}'s best checkpoint \\(step \\d+, .*\\): model\\.safetensors is not a valid safetensors file: .*\\(truncated\\?\\); ${ADVICE.replace(/[()]/g, '\\$&')}`,
        ),
      );
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    // the other checkpoint still loads
    expect(nanolab('sample', id, '--checkpoint', 'latest', '--length', '5').code).toBe(0);
    rmSync(join(home, 'runs', id, 'checkpoints', 'latest', 'tokenizer.json'));
    const missing = nanolab('sample', id, '--checkpoint', 'latest', '--length', '5');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('tokenizer.json is missing from the checkpoint');
    expect(missing.err).not.toContain('TypeError');
    expect(nanolab('sample', '999').err).toBe('nanolab: no run with id 999\n');
  }, 120_000);
});
