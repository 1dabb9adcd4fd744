import { UserError } from '../errors';

// The safetensors format (what `safetensors.torch.load_file` reads): an 8-byte little-endian header
// length, a JSON header mapping each tensor name to { dtype, shape, data_offsets } (byte offsets
// into the data that follows) plus an optional `__metadata__` of strings, then the raw
// little-endian data. Only F32 is written. Reading trusts nothing: every number in the header is
// checked against the file's size before anything is allocated, so a damaged or hostile file
// gives one Error saying what is wrong, never a crash, a hang or a huge allocation.

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const MAX_HEADER = 100 * 1024 * 1024;
/** More dimensions than any model here has; bounds the work spent on a corrupt shape. */
const MAX_RANK = 16;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, HeaderEntry | Record<string, string>> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    if (t.name in header) throw new Error(`safetensors: tensor name ${t.name} appears twice`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  const json = JSON.stringify(header);
  const unpadded = new TextEncoder().encode(json).length;
  // pad so the data starts 8-byte aligned (counted in bytes: a name may be non-ASCII)
  const headerBytes = new TextEncoder().encode(json + ' '.repeat((8 - ((8 + unpadded) % 8)) % 8));
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    if (LITTLE_ENDIAN)
      new Float32Array(out.buffer, at, t.data.length).set(t.data); // `at` is 4-aligned: the data starts 8-aligned
    else for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i], true);
    at += 4 * t.data.length;
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** A value from the file, quoted and cut short, on one line. */
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** `count` little-endian float32 values at byte `at` of `bytes`, copied. */
function readFloat32(bytes: Uint8Array, at: number, count: number): Float32Array {
  const start = bytes.byteOffset + at;
  if (LITTLE_ENDIAN && start % 4 === 0) return new Float32Array(bytes.buffer, start, count).slice();
  const view = new DataView(bytes.buffer, start, 4 * count);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/**
 * The tensors and metadata of a safetensors file. Throws an Error that names the file and says what
 * is wrong with it, with the value found, for any input that is not a well-formed F32 file.
 */
export function decodeSafetensors(bytes: Uint8Array, name = 'safetensors file'): { tensors: NamedTensor[]; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new UserError(`${name} is not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`it is ${bytes.length} bytes long, shorter than the 8-byte header length`);
  const claimed = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (claimed > BigInt(MAX_HEADER)) fail(`its header length is ${claimed} bytes, more than the ${MAX_HEADER} a header may have`);
  const headerLength = Number(claimed);
  if (8 + headerLength > bytes.length) {
    fail(`its header claims ${headerLength} bytes but the file has ${bytes.length - 8} after the length (truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    fail(`its header is not JSON (${String((error as Error)?.message ?? error).replace(/\s+/g, ' ')})`);
  }
  if (!isObject(header)) return fail(`its header is ${show(header)}, not a JSON object`);
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;

  let metadata: Record<string, string> = {};
  if ('__metadata__' in header) {
    const m = header.__metadata__;
    if (!isObject(m)) fail(`its __metadata__ is ${show(m)}, not an object of strings`);
    for (const [key, value] of Object.entries(m as object)) {
      if (typeof value !== 'string') fail(`its __metadata__ entry ${show(key)} is ${show(value)}, not a string`);
    }
    metadata = m as Record<string, string>;
  }

  // every entry is checked on its own first, so that sorting and sizing only ever see sound numbers
  const entries: { key: string; shape: number[]; begin: number; end: number; count: number }[] = [];
  for (const [key, e] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const what = `tensor ${show(key)}`;
    if (!isObject(e)) return fail(`${what} is described by ${show(e)}, not an object`);
    if (e.dtype !== 'F32') fail(`${what} has dtype ${show(e.dtype)}; only F32 is supported`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isIndex)) {
      return fail(`${what} has shape ${show(shape)}; a shape is a list of at most ${MAX_RANK} whole numbers ≥ 0`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
      return fail(`${what} has data_offsets ${show(offsets)}; expected [begin, end], whole numbers with begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) fail(`${what} ends at byte ${end} but the data is ${dataLength} bytes (truncated?)`);
    // the product stops growing once it is past the data's size, so it never overflows
    let count = shape.includes(0) ? 0 : 1;
    for (let i = 0; i < shape.length && count * 4 <= dataLength; i++) count *= shape[i];
    if (count * 4 > dataLength) fail(`${what} has shape [${shape.join(', ')}], more than the file's ${dataLength} bytes of data hold`);
    if (count * 4 !== end - begin) fail(`${what} spans ${end - begin} bytes but its shape [${shape.join(', ')}] needs ${count * 4}`);
    entries.push({ key, shape: shape as number[], begin, end, count });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) fail(`tensor ${show(e.key)} starts at byte ${e.begin}, expected ${expected} (overlapping or gapped data)`);
    expected = e.end;
  }
  if (expected !== dataLength) fail(`${dataLength - expected} bytes follow the last tensor`);
  const tensors = entries.map((e) => ({ name: e.key, shape: e.shape, data: readFloat32(bytes, dataStart + e.begin, e.count) }));
  return { tensors, metadata };
}
