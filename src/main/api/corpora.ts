import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkTextSample } from '../../engine/data/corpus';
import { CharTokenizer } from '../../engine/data/tokenizer';
import { describeSize, maxCorpusBytes, openCorpusFile, readBlocks, tooLarge } from '../jobs/corpus-file';
import { BUNDLED_CORPUS_REF } from '../store/paths';
import { MAX_UPLOAD_BYTES, type CorpusInfo } from '../../shared/contract';
import { UserError } from '../../shared/errors';

// The texts the lab can train on: the bundled tinyshakespeare, and every text the user uploaded,
// picked or gave `nanolab train --data`, copied into <home>/corpora/<hash>.txt. A run stores the
// copy's path relative to the lab home, so it can be resumed after the user's original file moves
// or changes, and after the lab home itself moves.

interface CorpusMeta {
  name: string;
  chars: number;
  bytes: number;
  vocabSize: number;
  preview: string;
}

const BUNDLED_ID = 'tinyshakespeare';
const PREVIEW_CHARS = 400;

/** Reads a text block by block: its content hash, size, characters, distinct characters and first lines. */
class TextDescriber {
  private readonly hash = createHash('sha256');
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private readonly chars = CharTokenizer.builder();
  private bytes = 0;
  private head = '';

  constructor(private readonly name: string) {}

  add(block: Uint8Array): void {
    if (this.bytes === 0) checkTextSample(block, this.name);
    this.bytes += block.length;
    this.hash.update(block);
    this.text(this.decoder.decode(block, { stream: true }));
  }

  private text(text: string): void {
    this.chars.add(text);
    if (this.head.length < PREVIEW_CHARS * 2) this.head += text.slice(0, PREVIEW_CHARS * 2 - this.head.length);
  }

  finish(): { id: string; meta: CorpusMeta } {
    if (this.bytes === 0) checkTextSample(new Uint8Array(0), this.name);
    this.text(this.decoder.decode());
    if (this.chars.tokens < 2) throw new UserError(`${this.name} has a single character: a corpus needs text to learn from`);
    return {
      id: this.hash.digest('hex').slice(0, 16),
      meta: {
        name: basename(this.name),
        chars: this.chars.tokens,
        bytes: this.bytes,
        vocabSize: this.chars.build().vocabSize,
        preview: [...this.head].slice(0, PREVIEW_CHARS).join(''),
      },
    };
  }
}

/** Writes a file whole or not at all: to a temporary name first, then renamed. */
function writeAtomically(target: string, data: string | Uint8Array): void {
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, target);
}

export class Corpora {
  private readonly dir: string;
  private bundled: CorpusMeta | null = null;

  /** `limit`: the largest text accepted (NANOLAB_MAX_CORPUS_MB, or 256 MB). */
  constructor(
    home: string,
    private readonly bundledPath: string,
    readonly limit = maxCorpusBytes(),
  ) {
    this.dir = join(home, 'corpora');
  }

  list(): CorpusInfo[] {
    const uploaded = existsSync(this.dir)
      ? readdirSync(this.dir)
          .filter((f) => /^[0-9a-f]{16}\.json$/.test(f))
          .map((f) => f.slice(0, -5))
          .sort()
      : [];
    return [this.info(BUNDLED_ID), ...uploaded.map((id) => this.info(id))];
  }

  info(id: string): CorpusInfo {
    if (id === BUNDLED_ID) {
      if (!this.bundled) {
        const describer = new TextDescriber('tinyshakespeare.txt (bundled)');
        describer.add(readFileSync(this.bundledPath));
        this.bundled = { ...describer.finish().meta, name: 'tinyshakespeare.txt (bundled)' };
      }
      return { id, ...this.bundled, bundled: true };
    }
    if (!/^[0-9a-f]{16}$/.test(id)) throw new UserError(`unknown corpus "${id}": choose one from the list or upload a text`);
    const metaPath = join(this.dir, `${id}.json`);
    if (!existsSync(metaPath)) throw new UserError(`unknown corpus "${id}": it may have been removed from ${this.dir}; upload the text again`);
    return { id, ...(JSON.parse(readFileSync(metaPath, 'utf8')) as CorpusMeta), bundled: false };
  }

  /** The file a run reads for this corpus, on this machine. */
  path(id: string): string {
    if (id === BUNDLED_ID) return this.bundledPath;
    this.info(id);
    return join(this.dir, `${id}.txt`);
  }

  /** The corpus as a run stores it: relative to the lab home, or the bundled text by name (store/paths.ts's corpusFile reads both). */
  storedPath(id: string): string {
    if (id === BUNDLED_ID) return BUNDLED_CORPUS_REF;
    this.info(id);
    return `corpora/${id}.txt`;
  }

  /** Adds a text (the contents of a file the user chose); the same text twice is stored once. */
  add(name: string, bytes: Uint8Array): CorpusInfo {
    if (bytes.length > this.limit) throw tooLarge(name, bytes.length, this.limit);
    const describer = new TextDescriber(name);
    describer.add(bytes);
    const { id, meta } = describer.finish();
    mkdirSync(this.dir, { recursive: true });
    // text first, then its description: a corpus is listed only once both are whole
    writeAtomically(join(this.dir, `${id}.txt`), bytes);
    writeAtomically(join(this.dir, `${id}.json`), JSON.stringify(meta));
    return { id, ...meta, bundled: false };
  }

  /** A text uploaded from the browser: one WebSocket frame carries it, so it has the upload limit too. */
  upload(name: string, bytes: Uint8Array): CorpusInfo {
    if (bytes.length > Math.min(MAX_UPLOAD_BYTES, this.limit)) {
      if (this.limit <= MAX_UPLOAD_BYTES) throw tooLarge(name, bytes.length, this.limit);
      throw new UserError(
        `${name} is ${describeSize(bytes.length)}; uploads over the browser are limited to ${describeSize(MAX_UPLOAD_BYTES)}: ` +
          `for larger texts (up to ${describeSize(this.limit)}) use nanolab train --data`,
      );
    }
    return this.add(name, bytes);
  }

  /**
   * Copies a file into the lab, checked by type and size before it is read, then read block by
   * block (hashed, described and written at once). Errors from the file system keep their code.
   */
  addFile(path: string): CorpusInfo {
    const { fd, size } = openCorpusFile(path, this.limit);
    mkdirSync(this.dir, { recursive: true });
    const incoming = join(this.dir, `.incoming-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    let described: ReturnType<TextDescriber['finish']>;
    try {
      const out = openSync(incoming, 'wx');
      try {
        const describer = new TextDescriber(path);
        for (const block of readBlocks(fd, size)) {
          describer.add(block);
          for (let written = 0; written < block.length;) written += writeSync(out, block, written);
        }
        described = describer.finish();
      } finally {
        closeSync(out);
      }
    } catch (error) {
      rmSync(incoming, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
    const { id, meta } = described;
    const target = join(this.dir, `${id}.txt`);
    // the same text is already here (its name is its hash): keep the copy a run may be reading
    if (existsSync(target) && statSync(target).size === meta.bytes) rmSync(incoming);
    else renameSync(incoming, target);
    writeAtomically(join(this.dir, `${id}.json`), JSON.stringify(meta));
    return { id, ...meta, bundled: false };
  }
}
