import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeText } from '../engine/data/corpus';
import { MAX_CORPUS_BYTES, type CorpusInfo } from '../../shared/contract';

// The texts the lab can train on: the bundled tinyshakespeare, and every text the user uploaded
// or picked, copied into <home>/corpora/<hash>.txt. A run stores the copy's path, so it can be
// resumed and inspected even after the user's original file moves or changes.

interface CorpusMeta {
  name: string;
  chars: number;
  bytes: number;
  vocabSize: number;
  preview: string;
}

const BUNDLED_ID = 'tinyshakespeare';
const PREVIEW_CHARS = 400;

function describe(text: string, name: string, bytes: number): CorpusMeta {
  let chars = 0;
  const distinct = new Set<string>();
  for (const ch of text) {
    chars++;
    distinct.add(ch);
  }
  return { name, chars, bytes, vocabSize: distinct.size, preview: [...text.slice(0, PREVIEW_CHARS * 2)].slice(0, PREVIEW_CHARS).join('') };
}

export class Corpora {
  private readonly dir: string;
  private bundled: CorpusMeta | null = null;

  constructor(home: string, private readonly bundledPath: string) {
    this.dir = join(home, 'corpora');
  }

  list(): CorpusInfo[] {
    const uploaded = existsSync(this.dir)
      ? readdirSync(this.dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort()
      : [];
    return [this.info(BUNDLED_ID), ...uploaded.map((id) => this.info(id))];
  }

  info(id: string): CorpusInfo {
    if (id === BUNDLED_ID) {
      this.bundled ??= describe(readFileSync(this.bundledPath, 'utf8'), 'tinyshakespeare.txt (bundled)', statSync(this.bundledPath).size);
      return { id, ...this.bundled, bundled: true };
    }
    if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`unknown corpus "${id}": choose one from the list or upload a text`);
    const metaPath = join(this.dir, `${id}.json`);
    if (!existsSync(metaPath)) throw new Error(`unknown corpus "${id}": it may have been removed from ${this.dir}; upload the text again`);
    return { id, ...(JSON.parse(readFileSync(metaPath, 'utf8')) as CorpusMeta), bundled: false };
  }

  /** The file a run reads for this corpus. */
  path(id: string): string {
    if (id === BUNDLED_ID) return this.bundledPath;
    this.info(id);
    return join(this.dir, `${id}.txt`);
  }

  /** Adds a text (the contents of a file the user chose); the same text twice is stored once. */
  add(name: string, bytes: Uint8Array): CorpusInfo {
    if (bytes.length > MAX_CORPUS_BYTES) {
      throw new Error(`${name} is ${(bytes.length / 2 ** 20).toFixed(1)} MB; the lab takes texts up to ${MAX_CORPUS_BYTES / 2 ** 20} MB: use a shorter excerpt`);
    }
    const text = decodeText(bytes, name);
    if ([...text.slice(0, 4)].length < 2) throw new Error(`${name} is empty or has a single character: a corpus needs text to learn from`);
    const id = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    mkdirSync(this.dir, { recursive: true });
    const meta = describe(text, basename(name), bytes.length);
    // text first, then its description: a corpus is listed only once both are whole
    for (const [file, data] of [[`${id}.txt`, bytes], [`${id}.json`, JSON.stringify(meta)]] as const) {
      const target = join(this.dir, file);
      const tmp = `${target}.tmp-${process.pid}`;
      writeFileSync(tmp, data);
      renameSync(tmp, target);
    }
    return { id, ...meta, bundled: false };
  }
}
