import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { LabApi, type LabApiOptions } from '../../src/main/api/lab-api';
import type { EventName, EventPayload, RunDraft } from '../../src/shared/contract';

export const BUNDLED = new URL('../../resources/tinyshakespeare.txt', import.meta.url).pathname;
const opened: LabApi[] = [];

export function openApi(home = mkdtempSync(join(tmpdir(), 'nanolab-api-')), extra: Partial<LabApiOptions> = {}) {
  const api = new LabApi({
    home,
    host: 'browser',
    bundledCorpus: BUNDLED,
    versions: { app: 'test', electron: '', chrome: '', node: process.versions.node },
    ...extra,
  });
  opened.push(api);
  const events: { name: EventName; payload: EventPayload<EventName> }[] = [];
  api.subscribe((name, payload) => events.push({ name, payload }));
  return { api, home, events };
}

afterEach(async () => {
  for (const api of opened.splice(0)) await api.close();
});

export const tinyDraft = (over: Partial<RunDraft> = {}): RunDraft => ({
  family: 'gpt',
  settings: { n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, seq_len: 16, batch_size: 4, steps: 12, eval_interval: 6, eval_iters: 2, warmup_iters: 2 },
  corpusId: 'tinyshakespeare',
  lowercase: false,
  tokenizer: { kind: 'char' },
  seed: 1,
  minutes: null,
  preset: null,
  ...over,
});
