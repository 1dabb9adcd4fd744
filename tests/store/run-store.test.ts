import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MetricWriter, RunStore } from '../../src/main/store/run-store';
import { openDatabase } from '../../src/main/store/native';

const fresh = () => join(mkdtempSync(join(tmpdir(), 'nanolab-db-')), 'lab.sqlite');

describe('the experiment database', () => {
  it('migrates a new file to the current schema, in WAL mode, and refuses a newer one', () => {
    const path = fresh();
    const store = new RunStore(path);
    expect(store.version).toBe(5);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    store.db.pragma('user_version = 99');
    store.close();
    expect(() => new RunStore(path)).toThrow('the lab database is at schema version 99, newer than this NanoLab understands (5)');
  });

  it('upgrades a version-1 lab (no run log) in place, keeping its runs', () => {
    const path = fresh();
    const old = new RunStore(path);
    const id = old.createRun({ name: 'before the log', family: 'gpt', paramCount: 1, config: {} });
    old.db.exec('DROP TABLE run_log');
    old.db.exec('ALTER TABLE metrics DROP COLUMN active_ms');
    old.db.pragma('user_version = 1');
    old.close();
    const store = new RunStore(path);
    expect(store.version).toBe(5);
    expect(store.getRun(id).name).toBe('before the log');
    store.log(id, 0, 'training on the GPU');
    store.log(id, 40, 'continued on the CPU');
    expect(store.logLines(id).map((l) => [l.step, l.message])).toEqual([
      [0, 'training on the GPU'],
      [40, 'continued on the CPU'],
    ]);
    store.deleteRun(id);
    expect(store.logLines(id)).toEqual([]);
    store.close();
  });

  it('upgrades a version-3 log: lines that moved a run say where to, as data', () => {
    const path = fresh();
    const old = new RunStore(path);
    const id = old.createRun({ name: 'moved', family: 'gpt', paramCount: 1, config: {} });
    old.db.exec('ALTER TABLE run_log DROP COLUMN device');
    old.db.exec('ALTER TABLE metrics DROP COLUMN active_ms');
    const line = old.db.prepare('INSERT INTO run_log (run_id, step, message, created_at) VALUES (?, ?, ?, 0)');
    line.run(id, 0, 'waiting for a NanoLab page to train it on the GPU (gpu.js, WebGL2)');
    line.run(id, 0, 'training on the GPU: SwiftShader');
    line.run(id, 40, 'the WebGL context was lost. Continuing on the CPU from the checkpoint at step 40.');
    old.db.pragma('user_version = 3');
    old.close();
    const store = new RunStore(path);
    expect(store.version).toBe(5);
    expect(store.logLines(id).map((l) => l.device)).toEqual([null, 'gpu', 'cpu']);
    store.log(id, 41, 'training on the GPU again', 'gpu');
    expect(store.logLines(id).at(-1)).toMatchObject({ step: 41, device: 'gpu' });
    store.close();
  });

  it('upgrades a version-4 lab: its metrics, logged before pauses were told apart, get active time = wall time', () => {
    const path = fresh();
    const old = new RunStore(path);
    const id = old.createRun({ name: 'before active time', family: 'gpt', paramCount: 1, config: {} });
    old.db.exec('ALTER TABLE metrics DROP COLUMN active_ms');
    const row = old.db.prepare('INSERT INTO metrics (run_id, step, wall_ms, tokens, name, value) VALUES (?, ?, ?, ?, ?, ?)');
    row.run(id, 1, 120, 64, 'train_loss', 4.1);
    row.run(id, 2, 9300, 128, 'train_loss', 3.9);
    old.db.pragma('user_version = 4');
    old.close();
    const store = new RunStore(path);
    expect(store.version).toBe(5);
    expect(store.series(id, 'train_loss')).toEqual([
      { step: 1, tokens: 64, wallMs: 120, activeMs: 120, value: 4.1 },
      { step: 2, tokens: 128, wallMs: 9300, activeMs: 9300, value: 3.9 },
    ]);
    store.appendMetrics(id, [{ step: 3, wallMs: 12_000, activeMs: 9500, tokens: 192, name: 'train_loss', value: 3.8 }]);
    expect(store.metricAt(id, 'train_loss', 3)).toEqual({ step: 3, tokens: 192, wallMs: 12_000, activeMs: 9500, value: 3.8 });
    expect(store.alignedSeries([id], 'train_loss', 'active')[0].points.map((p) => p.x)).toEqual([120, 9300, 9500]);
    expect(store.alignedSeries([id], 'train_loss', 'wall')[0].points.map((p) => p.x)).toEqual([120, 9300, 12_000]);
    store.close();
  });

  it('upgrades a version-4 lab: a word run’s val_bpc (bits per token, its characters never counted) goes; a char run’s stays', () => {
    const path = fresh();
    const old = new RunStore(path);
    const word = old.createRun({
      name: 'words',
      family: 'lstm',
      paramCount: 1,
      config: { data: { path: 'x', lowercase: false, tokenizer: { kind: 'word', vocab_size: 50, lowercase: false } } },
    });
    const char = old.createRun({
      name: 'chars',
      family: 'lstm',
      paramCount: 1,
      config: { data: { path: 'x', lowercase: false, tokenizer: { kind: 'char' } } },
    });
    const older = old.createRun({ name: 'before tokenizers', family: 'lstm', paramCount: 1, config: { data: { path: 'x', lowercase: false } } });
    old.db.exec('ALTER TABLE metrics DROP COLUMN active_ms');
    const row = old.db.prepare('INSERT INTO metrics (run_id, step, wall_ms, tokens, name, value) VALUES (?, ?, ?, ?, ?, ?)');
    for (const id of [word, char, older]) {
      row.run(id, 10, 100, 640, 'val_loss', 2 * Math.LN2);
      row.run(id, 10, 100, 640, 'val_bpc', 2);
      old.addCheckpoint(id, { step: 10, path: `runs/${id}/checkpoints/best`, valLoss: 2 * Math.LN2, kind: 'best' });
    }
    old.db.pragma('user_version = 4');
    old.close();
    const store = new RunStore(path);
    expect(store.series(word, 'val_bpc')).toEqual([]);
    expect(store.series(word, 'val_loss')).toHaveLength(1);
    expect(store.getRun(word).bestValBpc).toBeNull();
    expect(store.getRun(char).bestValBpc).toBe(2);
    expect(store.getRun(older).bestValBpc).toBe(2);
    expect(store.listRuns({ sort: 'best_val_bpc' }).map((r) => r.id)).toEqual([char, older, word]);
    store.close();
  });

  it('lists, filters and sorts runs with their summary metrics', () => {
    const store = new RunStore(fresh());
    const a = store.createRun({ name: 'lstm baseline', family: 'lstm', paramCount: 1000, config: { lr: 3e-3 }, tags: ['baseline'] }, 1);
    const b = store.createRun({ name: 'gpt small', family: 'gpt', paramCount: 5000, config: { lr: 1e-3 } }, 2);
    store.appendMetrics(a, [
      { step: 100, wallMs: 1000, activeMs: 1000, tokens: 100, name: 'val_loss', value: 2.1 },
      { step: 200, wallMs: 2000, activeMs: 2000, tokens: 200, name: 'val_loss', value: 1.9 },
      { step: 200, wallMs: 2000, activeMs: 2000, tokens: 200, name: 'tokens_per_sec', value: 5000 },
    ]);
    store.appendMetrics(b, [{ step: 50, wallMs: 500, activeMs: 500, tokens: 50, name: 'val_loss', value: 1.7 }]);
    // the best val loss shown is the best checkpoint's, never a figure without a file
    store.addCheckpoint(a, { step: 200, path: '/x/runs/1/checkpoints/best', valLoss: 1.9, kind: 'best' });
    store.addCheckpoint(b, { step: 50, path: '/x/runs/2/checkpoints/best', valLoss: 1.7, kind: 'best' });
    store.setStatus(a, 'finished', null, 10);
    expect(store.listRuns().map((r) => r.id)).toEqual([a, b]);
    expect(store.listRuns({ sort: 'best_val_loss' }).map((r) => r.name)).toEqual(['gpt small', 'lstm baseline']);
    expect(store.listRuns({ family: 'lstm' }).map((r) => r.id)).toEqual([a]);
    expect(store.listRuns({ tag: 'baseline' }).map((r) => r.id)).toEqual([a]);
    expect(store.listRuns({ status: 'finished' }).map((r) => r.id)).toEqual([a]);
    const summary = store.getRun(a);
    expect(summary).toMatchObject({
      steps: 200,
      bestValLoss: 1.9,
      tokensPerSec: 5000,
      status: 'finished',
      finishedAt: 10,
      tags: ['baseline'],
      config: { lr: 3e-3 },
    });
    store.rename(b, 'gpt tiny');
    store.addTag(b, 'x');
    store.removeTag(b, 'x');
    expect(store.getRun(b)).toMatchObject({ name: 'gpt tiny', tags: [] });
    expect(() => store.rename(b, '  ')).toThrow('a run needs a name');
    expect(() => store.setStatus(999, 'finished')).toThrow('no run with id 999');
  });

  it('downsamples a series to a point budget and keeps spikes', () => {
    const store = new RunStore(fresh());
    const id = store.createRun({ name: 'r', family: 'gpt', paramCount: 1, config: {} });
    const rows = Array.from({ length: 10_000 }, (_, i) => ({
      step: i + 1,
      wallMs: i,
      activeMs: i,
      tokens: i * 8,
      name: 'train_loss',
      value: i === 4321 ? 50 : 3 - i / 10_000,
    }));
    store.appendMetrics(id, rows);
    const s = store.series(id, 'train_loss', 200);
    expect(s.length).toBeLessThanOrEqual(200);
    expect(s.some((p) => p.step === 4322 && p.value === 50)).toBe(true);
    expect(s.map((p) => p.step)).toEqual([...s.map((p) => p.step)].sort((x, y) => x - y));
    expect(store.series(id, 'train_loss', 20_000).length).toBe(10_000);
    const aligned = store.alignedSeries([id], 'train_loss', 'tokens', 100);
    expect(aligned[0].points[0]).toEqual({ x: 0, value: 3 });
  });

  it('marks metrics past a checkpoint superseded when a run resumes from it', () => {
    const store = new RunStore(fresh());
    const id = store.createRun({ name: 'r', family: 'gru', paramCount: 1, config: {} });
    store.appendMetrics(
      id,
      [1, 2, 3, 4].map((step) => ({ step, wallMs: step, activeMs: step, tokens: step, name: 'train_loss', value: step })),
    );
    expect(store.supersedeAfter(id, 2)).toBe(2);
    expect(store.series(id, 'train_loss').map((p) => p.step)).toEqual([1, 2]);
  });

  it('diffs configs, keeps samples and checkpoints, and deletes a run with everything it logged', () => {
    const store = new RunStore(fresh());
    const a = store.createRun({ name: 'a', family: 'gpt', paramCount: 1, config: { model: { n_layer: 4, n_head: 4 }, lr: 1e-3 } });
    const b = store.createRun({ name: 'b', family: 'gpt', paramCount: 1, config: { model: { n_layer: 2, n_head: 4 }, lr: 1e-3, dropout: 0.1 } });
    expect(store.configDiff([a, b])).toEqual([
      { key: 'dropout', values: [undefined, 0.1] },
      { key: 'model.n_layer', values: [4, 2] },
    ]);
    store.addSample(a, { step: 10, prompt: 'O ', settings: { temperature: 0.8 }, text: 'O Romeo' });
    expect(store.samples(a)).toEqual([{ step: 10, prompt: 'O ', settings: { temperature: 0.8 }, text: 'O Romeo' }]);
    store.addCheckpoint(a, { step: 10, path: '/c/latest', valLoss: 2, kind: 'latest' });
    store.addCheckpoint(a, { step: 20, path: '/c/latest', valLoss: 1.8, kind: 'latest' });
    store.addCheckpoint(a, { step: 20, path: '/c/best', valLoss: 1.8, kind: 'best' });
    expect(store.checkpoints(a)).toEqual([
      { step: 20, path: '/c/best', valLoss: 1.8, kind: 'best' },
      { step: 20, path: '/c/latest', valLoss: 1.8, kind: 'latest' },
    ]);
    store.appendMetrics(a, [{ step: 1, wallMs: 1, activeMs: 1, tokens: 1, name: 'train_loss', value: 1 }]);
    expect(store.deleteRun(a).sort()).toEqual(['/c/best', '/c/latest']);
    for (const table of ['metrics', 'samples', 'checkpoints', 'run_tags']) {
      expect((store.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE run_id = ?`).get(a) as { n: number }).n, table).toBe(0);
    }
  });

  it('MetricWriter batches rows and flushes on close', () => {
    const store = new RunStore(fresh());
    const id = store.createRun({ name: 'r', family: 'rnn', paramCount: 1, config: {} });
    const w = new MetricWriter(store, id, 60_000);
    w.push({ step: 1, wallMs: 1, activeMs: 1, tokens: 1, name: 'train_loss', value: 4 });
    expect(store.series(id, 'train_loss')).toEqual([]);
    w.close();
    expect(store.series(id, 'train_loss')).toHaveLength(1);
  });

  it('survives kill -9 of the training process: integrity ok, metrics up to the last flush, run interrupted', async () => {
    const path = fresh();
    new RunStore(path).close();
    const script = fileURLToPath(new URL('./child/log-metrics.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx/esm', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let flushed = 0;
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString().matchAll(/flushed (\d+)/g)) flushed = Number(m[1]);
        if (flushed >= 40) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited early (${code})`))));
    });
    await new Promise((r) => child.on('close', r));
    const db = openDatabase(path);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const store = new RunStore(path);
    const [run] = store.listRuns();
    expect(run.status).toBe('running');
    expect(store.markOrphansInterrupted()).toEqual([run.id]);
    const after = store.getRun(run.id);
    expect(after.status).toBe('interrupted');
    expect(after.statusReason).toContain('ended without stopping it');
    const steps = store.series(run.id, 'train_loss', 100_000).map((p) => p.step);
    expect(steps.length).toBeGreaterThanOrEqual(flushed);
    expect(steps.slice(0, flushed)).toEqual(Array.from({ length: flushed }, (_, i) => i + 1));
  });
});
