import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import type { RunSettings } from '../../src/engine/run';
import { runGpuJob } from '../../src/renderer/src/gpu/gpu-job';
import { parseEvent, type EventPayload, type RunEventView } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// A GPU run that moves to the CPU says so twice: a line in its log for people, and a typed 'moved'
// event for the pages (a live chart reloads the series the move cut back), never a sentence to match.

const draft = tinyDraft({ device: 'gpu', settings: { ...tinyDraft().settings, steps: 12, eval_interval: 4, eval_iters: 1 } });

describe('a GPU run that moves to the CPU', () => {
  it('sends a moved event with where it goes on from, after the log line', async () => {
    const { api, events } = openApi();
    const { id } = await api.call('runs.start', draft);
    const claim = await api.call('gpu.claim', { runId: id, adapter: 'test executor (float32 JS)' }, 'page-a');
    if (!claim.granted) throw new Error(claim.reason);
    const job = { runId: id, settings: claim.settings as unknown as RunSettings, text: claim.text, textName: claim.textName, checkpoint: claim.checkpoint };
    const pending: Promise<unknown>[] = [];
    let steps = 0;
    // checkpoints at step 4; step 7 loses the context, so step 6 is the last the GPU trained
    await runGpuJob(
      job,
      new CpuBackend('float32', 'js'),
      'test-gpu',
      { paused: false, stopRequested: false },
      (e) => pending.push(api.call('gpu.report', { runId: id, events: [e] }, 'page-a')),
      () => {
        if (++steps === 7) throw new Error('the WebGL context was lost');
      },
    );
    await Promise.all(pending);

    const mine = events
      .filter((e) => e.name === 'run.event' && (e.payload as EventPayload<'run.event'>).runId === id)
      .map((e) => (e.payload as EventPayload<'run.event'>).event);
    const moved = mine.filter((e): e is Extract<RunEventView, { type: 'moved' }> => e.type === 'moved');
    expect(moved).toEqual([{ type: 'moved', step: 6, to: 'cpu', reason: 'the GPU run failed at step 7: the WebGL context was lost', fromStep: 4 }]);
    const told = mine.findIndex((e) => e.type === 'log' && e.message.includes('Continuing on the CPU'));
    expect(told).toBeGreaterThanOrEqual(0);
    expect(mine.indexOf(moved[0])).toBeGreaterThan(told);
    expect(parseEvent('run.event', { runId: id, event: moved[0] }).event).toEqual(moved[0]);
    await api.call('runs.control', { id, action: 'stop' });
  });
});
