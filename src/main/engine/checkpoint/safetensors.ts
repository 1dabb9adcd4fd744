// The safetensors format (what `safetensors.torch.load_file` reads): an 8-byte little-endian header
// length, a JSON header mapping each tensor name to { dtype, shape, data_offsets } (byte offsets
// into the data that follows) plus an optional `__metadata__` of strings, then the raw
// little-endian data. Only F32 is written; reading refuses anything malformed, with the reason.

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
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // pad so the data starts 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i], true);
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, name = 'safetensors file'): { tensors: NamedTensor[]; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new Error(`${name} is not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) fail(`it is ${bytes.length} bytes long, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) {
    fail(`its header claims ${headerLength} bytes but the file has ${bytes.length - 8} after the length (truncated?)`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    return fail(`its header is not JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('its header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const entries = Object.entries(header).filter(([key]) => key !== '__metadata__') as [string, HeaderEntry][];
  entries.sort((a, b) => a[1]?.data_offsets?.[0] - b[1]?.data_offsets?.[0]);
  let expected = 0;
  const tensors: NamedTensor[] = [];
  for (const [key, e] of entries) {
    if (!e || e.dtype !== 'F32') fail(`tensor ${key} has dtype ${String(e?.dtype)}; only F32 is supported`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${key} has a bad shape`);
    const [begin, end] = Array.isArray(e.data_offsets) ? e.data_offsets : [NaN, NaN];
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (begin !== expected) fail(`tensor ${key} starts at byte ${begin}, expected ${expected} (overlapping or gapped data)`);
    if (end - begin !== 4 * n) fail(`tensor ${key} spans ${end - begin} bytes, its shape [${e.shape.join(', ')}] needs ${4 * n}`);
    if (end > dataLength) fail(`tensor ${key} ends at byte ${end} but the data is ${dataLength} bytes (truncated?)`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = view.getFloat32(dataStart + begin + 4 * i, true);
    tensors.push({ name: key, shape: e.shape, data });
    expected = end;
  }
  if (expected !== dataLength) fail(`${dataLength - expected} bytes follow the last tensor`);
  return { tensors, metadata };
}
