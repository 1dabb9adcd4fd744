// A POSIX ustar archive of a few regular files in one folder: how browser mode hands a checkpoint
// folder to the user as one download (`tar -xf` and Python's tarfile read it).

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (text: string, at: number, width: number) => {
    const bytes = new TextEncoder().encode(text);
    if (bytes.length > width) throw new Error(`tar: "${text}" does not fit a ${width}-byte field`);
    h.set(bytes, at);
  };
  // numeric fields: zero-padded octal, NUL-terminated (the field is zero-filled)
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0');
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(size, 12), 124, 12);
  put(octal(mtime, 12), 136, 12);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h[156] = 0x30; // '0': regular file
  put('ustar\u000000', 257, 8);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
  return h;
}

/** The archive of `files` (name → bytes) inside a folder named `folder`. */
export function tarFolder(folder: string, files: Record<string, Uint8Array>, mtime = Math.floor(Date.now() / 1000)): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, data] of Object.entries(files)) {
    parts.push(header(`${folder}/${name}`, data.length, mtime), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024)); // two zero blocks end the archive
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
