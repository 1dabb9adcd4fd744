import { describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../src/engine/train';
import { runTraining, type LoopEvent } from '../../src/engine/run';
import { openApi, tinyDraft } from './helpers';

// One figure for the best validation loss everywhere: the evaluation made when a run stops is
// logged like every other, and the best checkpoint's val loss is the best logged one.

describe('every figure from one source', () => {
  it('a run stopped between evaluations logs its stop-time evaluation, and every view agrees on the best val', async () => {
    const { api } = openApi();
    const draft = tinyDraft({
      family: 'lstm',
      settings: { hidden_size: 16, embedding_dim: 8, num_layers: 1, batch_size: 4, seq_len: 16, steps: 100000, eval_interval: 200, eval_iters: 2 },
    });
    // stop right after step 450 is reported: between two evaluations (at 400 and 600), not during one
    let stopSent = false;
    api.subscribe((name, payload) => {
      const { event } = payload as { event?: { type: string; step?: number } };
      if (name === 'run.event' && event?.type === 'step' && (event.step ?? 0) >= 450 && !stopSent) {
        stopSent = true;
        void api.call('runs.control', { id, action: 'stop' });
      }
    });
    const { id } = await api.call('runs.start', draft);
    let run = await api.call('runs.get', { id });
    for (let i = 0; i < 600 && (run.live || run.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      run = await api.call('runs.get', { id });
    }
    expect(run.status).toBe('stopped');
    const latest = run.checkpoints.find((c) => c.kind === 'latest')!;
    expect(latest.step).toBe(run.steps);
    expect(latest.step).toBeGreaterThan(400);
    expect(latest.step).toBeLessThan(600);
    const [val] = await api.call('runs.series', { ids: [id], names: ['val_loss'] });
    // the stop-time evaluation is a point of the series, with the value its checkpoint recorded
    expect(val.points.find((p) => p.step === latest.step)?.value).toBe(latest.valLoss);
    const bestLogged = Math.min(...val.points.map((p) => p.value));
    const best = run.checkpoints.find((c) => c.kind === 'best')!;
    expect(best.valLoss).toBe(bestLogged);
    expect(run.bestValLoss).toBe(bestLogged);
    expect((await api.call('runs.list', {})).find((r) => r.id === id)?.bestValLoss).toBe(bestLogged);
    const { csv } = await api.call('runs.metricsCsv', { id });
    const [header, ...rows] = csv
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const column = header.indexOf('val_loss');
    const csvVals = rows
      .map((r) => r[column])
      .filter((v) => v !== '')
      .map(Number);
    expect(Math.min(...csvVals)).toBe(bestLogged);
    expect(csvVals.length).toBe(val.points.length);
  });

  it('a resumed run replaces its best checkpoint only with a better one', async () => {
    const text = 'It was the best of times, it was the worst of times. '.repeat(80);
    const config = resolveTrainConfig('gru', 20, { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8, steps: 6, eval_interval: 3, eval_iters: 1 });
    const bests: boolean[] = [];
    const events: LoopEvent[] = [];
    const settings = {
      runId: 1,
      config,
      checkpointInterval: 3,
      sampleInterval: 0,
      samplePrompt: 'I',
      resume: false,
      lowercase: false,
      tokenizer: { kind: 'char' as const },
      timeBudgetMs: null,
      wallOffsetMs: 0,
    };
    const io = {
      text,
      textName: 'text',
      readLatest: () => ({}),
      saveCheckpoint: (_files: Record<string, Uint8Array>, _step: number, _val: number | null, best: boolean) => void bests.push(best),
    };
    // a best of 0 nats cannot be beaten: no checkpoint of this run is its best
    await runTraining({ ...settings, bestValLoss: 0 }, io, { paused: false, stopRequested: false }, (e) => events.push(e));
    expect(events.at(-1)).toMatchObject({ type: 'end', status: 'finished' });
    expect(bests).toEqual([false, false]);
    bests.length = 0;
    await runTraining({ ...settings, bestValLoss: null }, io, { paused: false, stopRequested: false }, () => {});
    expect(bests[0]).toBe(true);
  });
});
