import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabApi } from '../../src/main/api/lab-api';
import { estimateTrainingMemory } from '../../src/engine/memory';
import { countParameters } from '../../src/engine/models';
import { resolveTrainConfig } from '../../src/engine/train';
import { MAX_UPLOAD_BYTES, type EventPayload } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// The host side of the contract with a real database, real worker threads and the real engine.

async function finished(api: LabApi, id: number) {
  for (let i = 0; i < 600; i++) {
    const run = await api.call('runs.get', { id });
    if (!run.live && run.status !== 'running') return run;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${id} did not finish`);
}

describe('the contract rejects malformed payloads before a handler runs', () => {
  it('names the method, the field and the problem', async () => {
    const { api } = openApi();
    await expect(api.dispatch('runs.get', { id: -3 })).rejects.toThrow(/^runs.get request: id: /);
    await expect(api.dispatch('runs.get', { id: '1' })).rejects.toThrow(/runs.get request: id: .*number/);
    await expect(api.dispatch('runs.list', { sort: 'bogus' })).rejects.toThrow(/runs.list request: sort: /);
    await expect(api.dispatch('runs.start', { ...tinyDraft(), family: 'transformer' })).rejects.toThrow(/runs.start request: family: /);
    await expect(api.dispatch('sample.generate', { runId: 1 })).rejects.toThrow(/sample.generate request: /);
    await expect(api.dispatch('fs.read', { path: '/etc/passwd' })).rejects.toThrow('"fs.read" is not a NanoLab method');
    await expect(api.dispatch('runs.rename', { id: 1, name: '   ' })).rejects.toThrow(/name: a name cannot be empty/);
  });
});

describe('New-run previews', () => {
  it('counts parameters and estimates memory live, and points a validation error at its field', async () => {
    const { api } = openApi();
    const ok = await api.call('runs.preview', tinyDraft({ settings: { n_layer: 4, n_head: 4, n_embd: 128 } }));
    expect(ok.ok).toBe(true);
    if (!ok.ok) return;
    expect(ok.vocabSize).toBe(65);
    expect(ok.paramCount).toBe(countParameters(resolveTrainConfig('gpt', 65, { n_layer: 4, n_head: 4, n_embd: 128 }).model));
    expect(ok.paramCount).toBeGreaterThan(800_000);
    expect(ok.resolved).toMatchObject({ n_layer: 4, optimizer: 'adamw', schedule: 'cosine', batch_size: 12 });
    expect(ok.memoryBytes).toBeGreaterThan(4 * ok.paramCount * 4);
    const bad = await api.call('runs.preview', tinyDraft({ settings: { n_embd: 130 } }));
    expect(bad).toEqual({ ok: false, error: 'n_embd (130) must be divisible by n_head (4)', field: 'n_embd' });
    const unknown = await api.call('runs.preview', tinyDraft({ settings: { n_embed: 64 } }));
    expect(unknown).toMatchObject({ ok: false, field: 'n_embed' });
  });

  it('memory estimate grows with batch and width', () => {
    const small = estimateTrainingMemory(resolveTrainConfig('gpt', 65, { batch_size: 4 }));
    const big = estimateTrainingMemory(resolveTrainConfig('gpt', 65, { batch_size: 8 }));
    expect(big).toBeGreaterThan(small);
    expect(estimateTrainingMemory(resolveTrainConfig('lstm', 65, { hidden_size: 512 }))).toBeGreaterThan(
      estimateTrainingMemory(resolveTrainConfig('lstm', 65, {})),
    );
  });
});

describe('corpora', () => {
  it('uploads a text into the lab once, lists it with its vocabulary, and refuses what cannot train', async () => {
    const { api } = openApi();
    const text = 'the cat sat on the mat. '.repeat(400);
    const info = await api.call('corpus.upload', { name: 'cats.txt', text });
    expect(info).toMatchObject({ name: 'cats.txt', chars: text.length, vocabSize: new Set(text).size, bundled: false });
    expect((await api.call('corpus.upload', { name: 'cats.txt', text })).id).toBe(info.id);
    const list = await api.call('corpus.list', {});
    expect(list.map((c) => c.id)).toEqual(['tinyshakespeare', info.id]);
    expect(list[0]).toMatchObject({ chars: 1_115_394, vocabSize: 65, bundled: true });
    await expect(api.call('corpus.upload', { name: 'empty.txt', text: '' })).rejects.toThrow('empty.txt is empty');
    await expect(api.call('corpus.upload', { name: 'big.txt', text: 'x'.repeat(MAX_UPLOAD_BYTES + 1) })).rejects.toThrow(
      'big.txt is 64.0 MB (67,108,865 bytes); uploads over the browser are limited to 64.0 MB (67,108,864 bytes): for larger texts',
    );
    await expect(api.call('corpus.pick', {})).rejects.toThrow(/desktop feature/);
    const short = await api.call(
      'runs.preview',
      tinyDraft({ corpusId: (await api.call('corpus.upload', { name: 'short.txt', text: 'a tiny text, far too short for a batch. '.repeat(2) })).id }),
    );
    expect(short).toMatchObject({ ok: false, error: expect.stringContaining('too short for batch_size 4 × seq_len 16') });
  });
});

describe('a run from start to analysis', () => {
  it('starts, pushes events, logs metrics; then samples, surprise, embeddings, attention, CSV, export, delete', async () => {
    const { api, events } = openApi();
    const { id } = await api.call('runs.start', tinyDraft({ name: 'tiny gpt', tags: ['smoke'] }));
    const run = await finished(api, id);
    expect(run).toMatchObject({ name: 'tiny gpt', status: 'finished', steps: 12, tags: ['smoke'], totalSteps: 12, live: false });
    const mine = events.filter((e) => e.name === 'run.event').map((e) => (e.payload as EventPayload<'run.event'>).event.type);
    expect(mine.filter((t) => t === 'step')).toHaveLength(12);
    expect(mine).toContain('eval');
    expect(mine.at(-1)).toBe('end');
    expect(events.some((e) => e.name === 'runs.changed')).toBe(true);

    const series = await api.call('runs.series', { ids: [id], names: ['train_loss', 'val_loss'] });
    expect(series.map((s) => [s.name, s.points.length])).toEqual([
      ['train_loss', 12],
      ['val_loss', 2],
    ]);

    const csv = await api.call('runs.metricsCsv', { id });
    const lines = csv.csv.trim().split('\n');
    expect(csv.filename).toBe(`nanolab-run-${id}-tiny-gpt-metrics.csv`);
    expect(lines[0]).toBe('step,tokens,wall_ms,active_ms,eval_train_bpc,eval_train_loss,grad_norm,lr,tokens_per_sec,train_loss,val_bpc,val_loss');
    expect(lines).toHaveLength(13);

    const requestId = 'r1';
    const sample = await api.call('sample.generate', {
      requestId,
      runId: id,
      checkpoint: 'best',
      prompt: 'ROMEO:',
      length: 40,
      temperature: 0.8,
      topK: 0,
      topP: 1,
      seed: 3,
    });
    expect(sample.tokens).toHaveLength(40);
    const streamed = events.filter((e) => e.name === 'sample.tokens').flatMap((e) => (e.payload as EventPayload<'sample.tokens'>).tokens);
    expect(streamed.map((t) => t.text).join('')).toBe(sample.text);
    expect(sample.tokens[0].top).toHaveLength(5);
    const again = await api.call('sample.generate', {
      requestId: 'r2',
      runId: id,
      checkpoint: 'best',
      prompt: 'ROMEO:',
      length: 40,
      temperature: 0.8,
      topK: 0,
      topP: 1,
      seed: 3,
    });
    expect(again.text).toBe(sample.text);
    expect(sample.stopped).toBe(false);

    // a long sample stopped from another request keeps what it made so far
    const long = api.call('sample.generate', {
      requestId: 'r3',
      runId: id,
      checkpoint: 'best',
      prompt: 'ROMEO:',
      length: 5000,
      temperature: 1,
      topK: 0,
      topP: 1,
      seed: 4,
    });
    while (!events.some((e) => e.name === 'sample.tokens' && (e.payload as EventPayload<'sample.tokens'>).requestId === 'r3'))
      await new Promise((r) => setTimeout(r, 5));
    await api.call('sample.cancel', { requestId: 'r3' });
    const stopped = await long;
    expect(stopped.stopped).toBe(true);
    expect(stopped.tokens.length).toBeGreaterThan(0);
    expect(stopped.tokens.length).toBeLessThan(5000);
    await expect(api.call('sample.cancel', { requestId: 'finished-long-ago' })).resolves.toEqual({});

    const s = await api.call('sample.surprise', { runId: id, checkpoint: 'latest', text: 'ROMEO: hello' });
    expect(s).toHaveLength(11);
    expect(s.every((p) => p.loss > 0)).toBe(true);

    const emb = await api.call('analysis.embeddings', { runId: id, checkpoint: 'best', k: 4, seed: 0, init: 'kmeans++', maxIterations: 50 });
    expect(emb.labels).toHaveLength(65);
    expect(emb.points).toHaveLength(65);
    expect(emb.iterations.at(-1)!.assignments).toHaveLength(65);
    expect(emb.iterations[0].centroids).toHaveLength(4);
    expect(emb.explained[0]).toBeGreaterThan(emb.explained[1]);
    await expect(api.call('analysis.embeddings', { runId: id, checkpoint: 'best', k: 64, seed: 0, init: 'random', maxIterations: 5 })).resolves.toBeDefined();

    const att = await api.call('analysis.attention', { runId: id, checkpoint: 'best', prompt: 'To be' });
    expect(att.applies).toBe(true);
    if (att.applies) {
      expect(att.tokens).toEqual(['T', 'o', ' ', 'b', 'e']);
      expect(att.maps).toHaveLength(1);
      expect(att.maps[0]).toHaveLength(2);
      const row = att.maps[0][0][2];
      expect(row[3]).toBe(0); // causal: no weight on the future
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(att.positions).toBeNull();
    }
    await expect(api.call('analysis.attention', { runId: id, checkpoint: 'best', prompt: 'é' })).rejects.toThrow(/never saw: "é"/);

    const archive = api.exportArchive(id, 'best');
    expect(archive.filename).toMatch(new RegExp(`^nanolab-run-${id}-best-step\\d+\\.tar$`));
    const names = [0, 1, 2].map(() => '');
    let at = 0;
    for (let i = 0; i < 3; i++) {
      names[i] = new TextDecoder().decode(archive.bytes.subarray(at, at + 100)).replace(/\0.*$/s, '');
      const size = parseInt(new TextDecoder().decode(archive.bytes.subarray(at + 124, at + 135)), 8);
      at += 512 + Math.ceil(size / 512) * 512;
    }
    expect(names.map((n) => n.split('/')[1])).toEqual(['model.safetensors', 'config.json', 'tokenizer.json']);
    await expect(api.call('checkpoint.export', { runId: id, checkpoint: 'best' })).rejects.toThrow(/download/);

    await api.call('runs.rename', { id, name: 'renamed' });
    expect((await api.call('runs.tag', { id, add: ['keep'], remove: ['smoke'] })).tags).toEqual(['keep']);
    expect((await api.call('runs.list', { tag: 'keep' })).map((r) => r.name)).toEqual(['renamed']);
    expect(await api.call('runs.delete', { id })).toEqual({ deletedCheckpoints: 2 });
    await expect(api.call('runs.get', { id })).rejects.toThrow(`no run with id ${id}`);
  });

  it('a desktop export makes a new folder in the chosen one, never replacing one, and refuses the lab home', async () => {
    const chosen: (string | null)[] = [];
    const { api, home } = openApi(undefined, {
      host: 'electron',
      dialogs: { openText: async () => null, chooseFolder: async () => chosen.shift() ?? null },
    });
    const { id } = await api.call('runs.start', tinyDraft({ settings: { ...tinyDraft().settings, steps: 6, eval_interval: 6 } }));
    await finished(api, id);
    const folder = mkdtempSync(join(tmpdir(), 'nanolab-export-'));
    writeFileSync(join(folder, 'thesis.txt'), 'mine');
    chosen.push(folder, folder, home, join(home, 'runs'));
    const first = await api.call('checkpoint.export', { runId: id, checkpoint: 'best' });
    const second = await api.call('checkpoint.export', { runId: id, checkpoint: 'best' });
    expect(first.path).toBe(join(folder, `nanolab-run-${id}-best-step6`));
    expect(second.path).toBe(`${first.path}-2`);
    expect(readdirSync(folder).sort()).toEqual([`nanolab-run-${id}-best-step6`, `nanolab-run-${id}-best-step6-2`, 'thesis.txt']);
    expect(readdirSync(second.path!).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    await expect(api.call('checkpoint.export', { runId: id, checkpoint: 'best' })).rejects.toThrow(/inside the lab home/);
    await expect(api.call('checkpoint.export', { runId: id, checkpoint: 'best' })).rejects.toThrow(/inside the lab home/);
    expect(await api.call('checkpoint.export', { runId: id, checkpoint: 'best' })).toEqual({ path: null, files: [] });
  });

  it('recurrent runs answer that attention does not apply (the view says why); toy k-means runs without a run', async () => {
    const { api } = openApi();
    const { id } = await api.call(
      'runs.start',
      tinyDraft({ family: 'lstm', settings: { hidden_size: 16, embedding_dim: 8, batch_size: 4, seq_len: 16, steps: 4, eval_interval: 4, eval_iters: 1 } }),
    );
    await finished(api, id);
    const att = await api.call('analysis.attention', { runId: id, checkpoint: 'best', prompt: 'To be' });
    expect(att).toEqual({ applies: false, family: 'lstm' });
    const toy = await api.call('analysis.toy', { data: 'gaussian', dataSeed: 0, k: 3, seed: 0, init: 'random', maxIterations: 100 });
    expect(toy.points).toHaveLength(100);
    expect(toy.converged).toBe(true);
    expect(toy.iterations.length).toBeGreaterThan(1);
    const inertias = toy.iterations.map((i) => i.inertia);
    for (let i = 1; i < inertias.length; i++) expect(inertias[i]).toBeLessThanOrEqual(inertias[i - 1] + 1e-9);
  });

  it('pauses, resumes and stops a live run, refuses to delete it while it trains, and continues it later', async () => {
    const { api, events } = openApi();
    const { id } = await api.call('runs.start', tinyDraft({ settings: { ...tinyDraft().settings, steps: 100_000, eval_interval: 50 } }));
    const steps = () => events.filter((e) => e.name === 'run.event' && (e.payload as EventPayload<'run.event'>).event.type === 'step').length;
    while (steps() < 3) await new Promise((r) => setTimeout(r, 20));
    await api.call('runs.control', { id, action: 'pause' });
    expect((await api.call('runs.get', { id })).status).toBe('paused');
    await expect(api.call('runs.delete', { id })).rejects.toThrow(`run ${id} is training: stop it before you delete it`);
    await api.call('runs.control', { id, action: 'resume' });
    await api.call('runs.control', { id, action: 'stop' });
    const stopped = await finished(api, id);
    expect(stopped.status).toBe('stopped');
    expect(stopped.checkpoints.some((c) => c.kind === 'latest' && c.step === stopped.steps)).toBe(true);
    await expect(api.call('runs.control', { id, action: 'pause' })).rejects.toThrow(`run ${id} is not training in this NanoLab (its status: stopped)`);
    await api.call('runs.continue', { id });
    expect((await api.call('runs.get', { id })).live).toBe(true);
    await api.call('runs.control', { id, action: 'stop' });
    expect((await finished(api, id)).status).toBe('stopped');
  });
});
