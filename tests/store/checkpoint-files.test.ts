import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpointFolder, writeCheckpointFolder } from '../../src/main/store/checkpoint-files';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('checkpoint folders', () => {
  it('write, read back, and replace a folder whole', () => {
    const parent = mkdtempSync(join(tmpdir(), 'nanolab-ckpt-'));
    const dir = join(parent, 'step-100');
    writeCheckpointFolder(dir, { 'a.json': bytes('1'), 'b.bin': bytes('xyz') });
    expect(readCheckpointFolder(dir)).toEqual({ 'a.json': bytes('1'), 'b.bin': bytes('xyz') });
    writeCheckpointFolder(dir, { 'a.json': bytes('2') });
    expect(readCheckpointFolder(dir)).toEqual({ 'a.json': bytes('2') });
    expect(readdirSync(parent)).toEqual(['step-100']);
  });

  it('a failed write leaves the previous checkpoint untouched and no temporary folder', () => {
    const parent = mkdtempSync(join(tmpdir(), 'nanolab-ckpt-'));
    const dir = join(parent, 'latest');
    writeCheckpointFolder(dir, { 'a.json': bytes('good') });
    expect(() => writeCheckpointFolder(dir, { 'a.json': bytes('new'), '../escape': bytes('x') })).toThrow('is not a plain file name');
    expect(readCheckpointFolder(dir)).toEqual({ 'a.json': bytes('good') });
    expect(readdirSync(parent)).toEqual(['latest']);
    expect(existsSync(join(parent, 'escape'))).toBe(false);
  });

  it('says where it looked when a folder is missing', () => {
    expect(() => readCheckpointFolder('/no/such/checkpoint')).toThrow('no checkpoint folder at /no/such/checkpoint');
  });
});
