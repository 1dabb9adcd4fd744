import { describe, expect, it } from 'vitest';
import { encodeCheckpoint } from '../../src/engine/checkpoint/checkpoint';
import { decodeSafetensors } from '../../src/engine/checkpoint/safetensors';
import { splitCorpus } from '../../src/engine/data/corpus';
import { resolveTrainConfig, Trainer } from '../../src/engine/train';
import { UserError } from '../../src/shared/errors';

// The safetensors reader against damaged and hostile files: a real checkpoint's model.safetensors,
// truncated, with bytes flipped in its header length, its header and its data, and with headers
// rewritten to every malformed shape we could think of. Every case is either a clear Error (its
// own class, one line, naming the file) or a decode whose tensors fill the data exactly: never a
// TypeError or RangeError, a crash, a hang or a huge allocation.

const corpus = splitCorpus('To be, or not to be, that is the question. '.repeat(40));
const trainer = new Trainer(
  resolveTrainConfig('gpt', corpus.tokenizer.vocabSize, { n_layer: 1, n_head: 2, n_embd: 8, block_size: 8, seq_len: 8, batch_size: 2 }),
  corpus,
);
trainer.trainStep();
const original = encodeCheckpoint(trainer, corpus.tokenizer)['model.safetensors'];
trainer.dispose();
const headerLength = Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0, true));
const header = JSON.parse(new TextDecoder().decode(original.subarray(8, 8 + headerLength))) as Record<string, unknown>;
const tensorNames = Object.keys(header).filter((k) => k !== '__metadata__');

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A file with `json` as its header text, the original's data after it, and the header length given (or its own). */
function withHeader(json: string, length?: bigint): Uint8Array {
  const text = new TextEncoder().encode(json);
  const data = original.subarray(8 + headerLength);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** Decodes `bytes` and checks the outcome is one of the two allowed ones; returns which. */
function judge(bytes: Uint8Array, label: string): 'error' | 'decoded' {
  let result: ReturnType<typeof decodeSafetensors>;
  try {
    result = decodeSafetensors(bytes, 'model.safetensors');
  } catch (error) {
    expect(error, `${label}: ${String(error)}`).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message.startsWith('model.safetensors is not a valid safetensors file: '), `${label}: ${message}`).toBe(true);
    expect(message, label).not.toMatch(/\n/);
    expect(message.length, label).toBeLessThan(400);
    return 'error';
  }
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const total = result.tensors.reduce((sum, t) => sum + 4 * t.data.length, 0);
  expect(total, label).toBe(bytes.length - 8 - length);
  for (const t of result.tensors) expect(t.data.length, label).toBe(t.shape.reduce((a, b) => a * b, 1));
  expect(new Set(result.tensors.map((t) => t.name)).size, label).toBe(result.tensors.length);
  for (const value of Object.values(result.metadata)) expect(typeof value, label).toBe('string');
  return 'decoded';
}

const entry = (i: number) => tensorNames[i % tensorNames.length];
/** Rewrites of the parsed header, each a malformed file a reader must refuse or read right. */
const headerMutations: ((h: Record<string, any>, r: () => number) => unknown)[] = [
  (h, r) => {
    h[entry((r() * 99) | 0)].shape = [
      [2 ** 53],
      [1e308],
      [-1],
      [1.5],
      ['3'],
      [],
      [2 ** 26, 2 ** 26, 2 ** 26],
      [0, 2 ** 60],
      [NaN],
      null,
      'x',
      Array(1000).fill(1),
    ][(r() * 12) | 0];
  },
  (h, r) => {
    h[entry((r() * 99) | 0)].data_offsets = [[0], [0, 1, 2], ['0', '4'], [-4, 0], [2 ** 53, 2 ** 53 + 4], [2 ** 60, 8], [8, 0], null, {}, [0, 1e308]][
      (r() * 10) | 0
    ];
  },
  (h, r) => {
    h[entry((r() * 99) | 0)].dtype = ['F16', 'BF16', 'F64', 'I32', 1, null, 'f32', ''][(r() * 8) | 0];
  },
  (h, r) => {
    h[entry((r() * 99) | 0)] = [null, [], 'x', 5, true, { dtype: 'F32' }][(r() * 6) | 0];
  },
  (h, r) => {
    h.__metadata__ = [null, [], { a: 1 }, 'x', { a: { b: 'c' } }, 7][(r() * 6) | 0];
  },
  (h, r) => [[], null, 5, 'str', [h]][(r() * 5) | 0],
  (h, r) => {
    delete h[entry((r() * 99) | 0)];
  },
  (h, r) => {
    // two tensors swap their offsets: same sizes decode, others are refused
    const a = h[entry((r() * 99) | 0)];
    const b = h[entry((r() * 99) | 0)];
    [a.data_offsets, b.data_offsets] = [b.data_offsets, a.data_offsets];
  },
  (h, r) => {
    h[entry((r() * 99) | 0)].data_offsets[r() < 0.5 ? 0 : 1] += [4, -4, 1, 8, 4096][(r() * 5) | 0];
  },
  (h, r) => {
    h[`extra.${r()}`] = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
  },
];

describe('decodeSafetensors on damaged and hostile files', () => {
  it('decodes the undamaged file', () => {
    expect(judge(original, 'original')).toBe('decoded');
  });

  it('refuses header lengths that do not fit, however large, before reading anything', () => {
    for (const length of [0n, 1n, 7n, BigInt(headerLength - 1), BigInt(headerLength + 1), 10n ** 12n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
      const bytes = original.slice();
      new DataView(bytes.buffer).setBigUint64(0, length, true);
      expect(judge(bytes, `header length ${length}`)).toBe('error');
    }
    expect(() => decodeSafetensors(withHeader('{}', 10n ** 12n), 'model.safetensors')).toThrow('its header length is 1000000000000 bytes');
  });

  it('refuses duplicate tensor names that would leave data unclaimed', () => {
    const json = JSON.stringify(header);
    const [first] = tensorNames;
    const duplicated = json.replace(/}$/, `,${JSON.stringify(first)}:{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`);
    expect(judge(withHeader(duplicated), 'duplicate')).toBe('error');
  });

  it('gives a clear error or a correct decode for 2,000 seeded truncations, byte flips and header rewrites', () => {
    const t0 = performance.now();
    const outcomes = { error: 0, decoded: 0 };
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      const kind = seed % 5;
      let bytes: Uint8Array;
      let label: string;
      if (kind === 0) {
        const cut = Math.floor(r() * original.length);
        bytes = original.subarray(0, cut);
        label = `seed ${seed}: truncated to ${cut} bytes`;
      } else if (kind === 1 || kind === 2) {
        // flips in the header length, the header text or the data (weighted towards the header)
        bytes = original.slice();
        const region = kind === 1 ? (r() < 0.3 ? 8 : 8 + headerLength) : original.length;
        const flips = 1 + Math.floor(r() * 4);
        const at: number[] = [];
        for (let f = 0; f < flips; f++) {
          const i = Math.floor(r() * region);
          bytes[i] ^= 1 << Math.floor(r() * 8);
          at.push(i);
        }
        label = `seed ${seed}: bits flipped at bytes ${at.join(', ')}`;
      } else if (kind === 3) {
        // a random byte value anywhere in the header text, e.g. a digit turned into a quote
        bytes = original.slice();
        const i = 8 + Math.floor(r() * headerLength);
        bytes[i] = Math.floor(r() * 256);
        label = `seed ${seed}: header byte ${i} set to ${bytes[i]}`;
      } else {
        const h = structuredClone(header) as Record<string, any>;
        const m = Math.floor(r() * headerMutations.length);
        const replaced = headerMutations[m](h, r);
        const json = JSON.stringify(replaced === undefined ? h : replaced) ?? 'null';
        bytes = withHeader(json, r() < 0.1 ? BigInt(json.length + Math.floor(r() * 64)) : undefined);
        label = `seed ${seed}: header rewrite ${m}: ${json.slice(0, 200)}`;
      }
      outcomes[judge(bytes, label)]++;
    }
    // both outcomes occur: flips inside the data decode (to other numbers); most damage is refused
    expect(outcomes.error).toBeGreaterThan(1000);
    expect(outcomes.decoded).toBeGreaterThan(50);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
