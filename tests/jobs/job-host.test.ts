import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitCorpus } from '../../src/engine/data/corpus';
import { resolveTrainConfig } from '../../src/engine/train';
import { resumeRun, startRun } from '../../src/main/jobs/job-host';
import { databasePath } from '../../src/main/store/paths';
import type { RunEvent } from '../../src/main/jobs/cpu-run';
import { RunStore } from '../../src/main/store/run-store';

// Real runs in real worker threads, logged to a real SQLite file.

function lab() {
  const home = mkdtempSync(join(tmpdir(), 'nanolab-home-'));
  const text = 'All the world’s a stage, and all the men and women merely players. '.repeat(80);
  const dataPath = join(home, 'play.txt');
  writeFileSync(dataPath, text);
  const V = splitCorpus(text).tokenizer.vocabSize;
  return { home, dataPath, V, store: new RunStore(databasePath(home)) };
}

describe('training runs in a worker', () => {
  it('runs to the end and logs metrics, evals, samples and checkpoints', async () => {
    const { home, dataPath, V, store } = lab();
    const config = resolveTrainConfig('gru', V, { hidden_size: 16, embedding_dim: 8, batch_size: 4, seq_len: 16, steps: 30, eval_interval: 10, eval_iters: 2 });
    const events: RunEvent[] = [];
    const handle = startRun({ home, store, name: 'gru smoke', config, dataPath, samplePrompt: 'All', onEvent: (e) => events.push(e) });
    const end = await handle.done;
    expect(end).toMatchObject({ status: 'finished', step: 30 });
    const run = store.getRun(handle.runId);
    expect(run).toMatchObject({ status: 'finished', steps: 30, family: 'gru' });
    expect(run.bestValLoss).toBeLessThan(Math.log(V));
    expect(store.series(handle.runId, 'train_loss')).toHaveLength(30);
    expect(store.series(handle.runId, 'val_loss').map((p) => p.step)).toEqual([10, 20, 30]);
    expect(store.samples(handle.runId).map((s) => s.step)).toEqual([10, 20, 30]);
    expect(store.samples(handle.runId)[0].text).toHaveLength(200);
    const ckpts = store.checkpoints(handle.runId);
    expect(ckpts.map((c) => c.kind).sort()).toEqual(['best', 'latest']);
    for (const c of ckpts) expect(existsSync(join(c.path, 'model.safetensors'))).toBe(true);
    expect(events[0]).toMatchObject({ type: 'started', totalSteps: 30 });
    store.close();
  });

  it('pauses, resumes and stops; a stopped run resumes from its checkpoint to the end', async () => {
    const { home, dataPath, V, store } = lab();
    const config = resolveTrainConfig('lstm', V, { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8, steps: 400, eval_interval: 50, eval_iters: 1 });
    let steps = 0;
    const handle = startRun({
      home,
      store,
      name: 'stop me',
      config,
      dataPath,
      sampleInterval: 0,
      onEvent: (e) => {
        if (e.type !== 'step') return;
        steps = e.step;
        if (e.step === 5) handle.pause();
      },
    });
    while (steps < 5) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    const pausedAt = steps;
    expect(pausedAt).toBeGreaterThanOrEqual(5);
    // the pause reaches the worker one message round trip after step 5; a step of this tiny model
    // takes well under a millisecond, so a few more may pass, never many
    expect(pausedAt).toBeLessThan(40);
    await new Promise((r) => setTimeout(r, 200));
    expect(steps).toBe(pausedAt); // nothing moves while paused
    handle.resume();
    while (steps < 60) await new Promise((r) => setTimeout(r, 10));
    handle.stop();
    const end = await handle.done;
    expect(end.status).toBe('stopped');
    const stoppedAt = end.step;
    expect(store.getRun(handle.runId).status).toBe('stopped');
    expect(store.checkpoints(handle.runId).find((c) => c.kind === 'latest')!.step).toBe(stoppedAt);

    const again = resumeRun(home, store, handle.runId);
    const end2 = await again.done;
    expect(end2).toMatchObject({ status: 'finished', step: 400 });
    const trainSteps = store.series(handle.runId, 'train_loss', 10_000).map((p) => p.step);
    expect(trainSteps).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    const wall = store.series(handle.runId, 'train_loss', 10_000).map((p) => p.wallMs);
    expect(wall.every((w, i) => i === 0 || w >= wall[i - 1])).toBe(true); // the wall-time axis continues after the resume
    expect(() => resumeRun(home, store, handle.runId)).toThrow(`run ${handle.runId} already reached its 400 steps`);
    store.close();
  });

  it('a run whose data cannot be read fails with the reason logged', async () => {
    const { home, V, store } = lab();
    const config = resolveTrainConfig('rnn', V, { hidden_size: 4, embedding_dim: 2, batch_size: 2, seq_len: 4, steps: 3 });
    const handle = startRun({ home, store, name: 'no data', config, dataPath: join(home, 'missing.txt') });
    const end = await handle.done;
    expect(end.status).toBe('failed');
    expect(store.getRun(handle.runId).statusReason).toContain('missing.txt');
    store.close();
  });
});
