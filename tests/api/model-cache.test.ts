import { describe, expect, it, vi } from 'vitest';
import type { LabApi } from '../../src/main/api/lab-api';
import { ModelCache } from '../../src/main/api/model-cache';
import { loadRunModel } from '../../src/main/api/run-model';
import { generate } from '../../src/engine/generate';
import type { EventPayload } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// The read-side models: a few kept loaded, and one in use (a sample streaming over many turns of
// the event loop) never disposed under it when other requests evict it.

async function trainTwo(api: LabApi): Promise<[number, number]> {
  const ids = await Promise.all([1, 2].map(async (seed) => (await api.call('runs.start', tinyDraft({ seed }))).id));
  for (const id of ids) {
    while ((await api.call('runs.get', { id })).live) await new Promise((r) => setTimeout(r, 50));
    expect((await api.call('runs.get', { id })).checkpoints.map((c) => c.kind).sort()).toEqual(['best', 'latest']);
  }
  return [ids[0], ids[1]];
}

const settings = { prompt: 'ROMEO:', temperature: 1, topK: 0, topP: 1, seed: 5 };

/** What the checkpoint samples when nothing else touches its model. */
function reference(api: LabApi, runId: number, length: number): string {
  const { model, tokenizer, dispose } = loadRunModel(api.store, runId, 'best');
  try {
    return [...generate(model, tokenizer, { ...settings, length })].map((t) => t.text).join('');
  } finally {
    dispose();
  }
}

describe('the model cache', () => {
  it('disposes an evicted model only when its last use ends', async () => {
    const { api } = openApi();
    const [a, b] = await trainTwo(api);
    const cache = new ModelCache(api.store, 3);
    const lease = cache.acquire(a, 'best');
    const dispose = vi.spyOn(lease.model, 'dispose');
    const text: string[] = [];
    for (const t of generate(lease.model, lease.tokenizer, { ...settings, length: 200 })) {
      text.push(t.text);
      if (text.length === 50) {
        // three other models fill the cache: run a's best is the least recently used, and goes
        for (const [id, kind] of [
          [a, 'latest'],
          [b, 'best'],
          [b, 'latest'],
        ] as const)
          cache.use(id, kind, () => undefined);
        expect(dispose).not.toHaveBeenCalled();
        expect(lease.model.backend.liveTensors()).toBeGreaterThan(0);
      }
    }
    expect(text.join('')).toBe(reference(api, a, 200));
    expect(dispose).not.toHaveBeenCalled();
    lease.release();
    expect(dispose).toHaveBeenCalledTimes(1);
    expect(lease.model.backend.liveTensors()).toBe(0);
    lease.release(); // twice is harmless
    expect(dispose).toHaveBeenCalledTimes(1);

    // the next use loads it again; a model not in use is disposed when evicted or cleared
    const again = cache.acquire(a, 'best');
    expect(again.model).not.toBe(lease.model);
    again.release();
    const cached = vi.spyOn(again.model, 'dispose');
    cache.forget(a);
    expect(cached).toHaveBeenCalledTimes(1);
    cache.clear();
  });

  it('lets a long sample.generate finish while other requests evict its model', async () => {
    const { api, events } = openApi();
    const [a, b] = await trainTwo(api);
    const length = 5000;
    const batches = () => events.filter((e) => e.name === 'sample.tokens' && (e.payload as EventPayload<'sample.tokens'>).requestId === 'long').length;
    const long = api.call('sample.generate', { requestId: 'long', runId: a, checkpoint: 'best', length, ...settings });
    while (batches() === 0) await new Promise((r) => setTimeout(r, 5));
    for (const [runId, checkpoint] of [
      [a, 'latest'],
      [b, 'best'],
      [b, 'latest'],
    ] as const) {
      await api.call('sample.surprise', { runId, checkpoint, text: 'ROMEO: hello' });
    }
    const evictedAt = batches();
    const sample = await long;
    expect(batches()).toBeGreaterThan(evictedAt); // it went on streaming after its model was evicted
    expect(sample.stopped).toBe(false);
    expect(sample.tokens).toHaveLength(length);
    expect(sample.text).toBe(reference(api, a, length));
  });
});
