import { describe, expect, it } from 'vitest';
import type { LabApi } from '../../src/main/api/lab-api';
import { CpuBackend } from '../../src/engine/backend/cpu';
import type { ReportedEvent } from '../../src/main/jobs/gpu-host';
import { runGpuJob, type GpuJob } from '../../src/renderer/src/gpu/gpu-job';
import type { RunControl } from '../../src/engine/run';
import type { EventPayload } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// The host's side of GPU runs, driven by a real executor: the engine's training loop (gpu-job.ts,
// the code a page's GPU worker runs) here on the float32 JS backend, reporting over the same
// contract calls a page makes. What the page's worker adds (gpu.js, WebGL2) is tested in
// Chromium (tests/gpu, tests/e2e); here: claims, reports, control, and the CPU fallback.

async function until<T>(what: string, get: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ended(api: LabApi, id: number) {
  return until(
    `run ${id} to end`,
    async () => {
      const run = await api.call('runs.get', { id });
      return !run.live && run.status !== 'running' && run.status !== 'paused' && run.status !== 'queued' ? run : null;
    },
    120_000,
  );
}

/** Claims `runId` for `session` and trains it, reporting each event; throws inside step `failAt` (a lost GPU). */
async function execute(api: LabApi, runId: number, session: string, o: { failAt?: number; control?: RunControl } = {}) {
  const claim = await api.call('gpu.claim', { runId, adapter: 'test executor (float32 JS)' }, session);
  if (!claim.granted) throw new Error(claim.reason);
  const job: GpuJob = { runId, settings: claim.settings, text: claim.text, textName: claim.textName, checkpoint: claim.checkpoint };
  const pending: Promise<unknown>[] = [];
  const report = (e: ReportedEvent) => pending.push(api.call('gpu.report', { runId, events: [e] }, session));
  let steps = 0;
  await runGpuJob(job, new CpuBackend('float32', 'js'), 'test-gpu', o.control ?? { paused: false, stopRequested: false }, report, () => {
    steps++;
    if (steps === o.failAt) throw new Error('the WebGL context was lost');
  });
  await Promise.all(pending);
  return job;
}

const draft = tinyDraft({ device: 'gpu', settings: { ...tinyDraft().settings, steps: 12, eval_interval: 4, eval_iters: 1 } });

describe('GPU runs: the host owns them, a page executes them', () => {
  it('announces the job, grants it to the first page only, and records what that page reports', async () => {
    const { api, events } = openApi();
    const { id } = await api.call('runs.start', draft);
    expect(events.some((e) => e.name === 'gpu.job' && (e.payload as EventPayload<'gpu.job'>).runId === id)).toBe(true);
    expect(await api.call('gpu.pending', {})).toEqual([id]);
    const job = execute(api, id, 'page-a');
    const second = await api.call('gpu.claim', { runId: id, adapter: 'other' }, 'page-b');
    expect(second).toEqual({ granted: false, reason: `run ${id} is already training on a GPU page` });
    await expect(api.call('gpu.report', { runId: id, events: [] }, 'page-b')).rejects.toThrow(
      `run ${id} is not training on this page's GPU (it is on another page)`,
    );
    const claimed = await job;
    expect(claimed.settings.config.steps).toBe(12);
    expect(claimed.checkpoint).toBeNull();
    const run = await ended(api, id);
    expect(run.status).toBe('finished');
    expect(run.steps).toBe(12);
    expect(run.checkpoints.map((c) => [c.kind, c.step]).sort()).toEqual([
      ['best', 12],
      ['latest', 12],
    ]);
    expect(run.log.map((l) => l.message)).toEqual([
      'waiting for a NanoLab page to train it on the GPU (gpu.js, WebGL2)',
      'training on the GPU: test executor (float32 JS)',
    ]);
    const loss = (await api.call('runs.series', { ids: [id], names: ['train_loss'] }))[0].points;
    expect(loss.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // the checkpoint the page sent is a real one: the model samples from it
    const sample = await api.call('sample.generate', {
      requestId: 'r1',
      runId: id,
      checkpoint: 'latest',
      prompt: 'T',
      length: 5,
      temperature: 1,
      topK: 0,
      topP: 1,
      seed: 1,
    });
    expect(sample.tokens.length).toBe(5);
  });

  it('continues on the CPU from the last checkpoint when the GPU fails mid-run, and the log says why', async () => {
    const { api } = openApi();
    const { id } = await api.call('runs.start', draft);
    await execute(api, id, 'page-a', { failAt: 7 }); // checkpoints at 4; step 7 loses the context
    const run = await ended(api, id);
    expect(run.status).toBe('finished');
    expect(run.steps).toBe(12);
    const log = run.log.map((l) => l.message);
    expect(log[2]).toMatch(/^the GPU run failed at step 7: the WebGL context was lost\. Continuing on the CPU from the checkpoint at step 4\.$/);
    // where it trained, as data the views read: waiting, then the GPU, then the CPU
    expect(run.log.map((l) => l.device)).toEqual([null, 'gpu', 'cpu']);
    // one train-loss point per step, no gap and no duplicate: the GPU's steps 5-6 were superseded by the CPU's
    const loss = (await api.call('runs.series', { ids: [id], names: ['train_loss'] }))[0].points;
    expect(loss.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(loss.every((p) => Number.isFinite(p.value))).toBe(true);
    // the wall-time axis continues from the checkpoint instead of restarting at zero
    expect(loss[4].wallMs).toBeGreaterThanOrEqual(loss[3].wallMs);
  });

  it('moves to the CPU when the executing page goes away, and when no page claims the run', async () => {
    const { api } = openApi(undefined, { gpuTimeouts: { claimTimeoutMs: 300 } });
    const { id } = await api.call('runs.start', draft);
    await until('the page to claim', async () => (await api.call('gpu.claim', { runId: id, adapter: 'tab' }, 'tab-1')).granted);
    api.sessionClosed('tab-1');
    const run = await ended(api, id);
    expect(run.status).toBe('finished');
    expect(run.log.at(-1)?.message).toBe('the page training it on the GPU went away. Continuing on the CPU from the start (no checkpoint yet).');

    const lonely = (await api.call('runs.start', draft)).id;
    const alone = await ended(api, lonely);
    expect(alone.status).toBe('finished');
    expect(alone.log.at(-1)?.message).toMatch(/^no NanoLab page took the GPU run: .*keep the app or a browser tab open\. Continuing on the CPU from the start/);
  });

  it('keeps a paused GPU run paused when it moves to the CPU, and resumes it there', async () => {
    const { api } = openApi(undefined, { gpuTimeouts: { claimTimeoutMs: 300 } });
    const { id } = await api.call('runs.start', draft);
    await api.call('runs.control', { id, action: 'pause' });
    await until('the move to the CPU', async () => (await api.call('runs.get', { id })).log.some((l) => l.message.includes('Continuing on the CPU')));
    await new Promise((r) => setTimeout(r, 300));
    const paused = await api.call('runs.get', { id });
    expect(paused.status).toBe('paused');
    expect(paused.steps).toBe(0);
    await api.call('runs.control', { id, action: 'resume' });
    const run = await ended(api, id);
    expect(run.status).toBe('finished');
    expect(run.steps).toBe(12);
  });

  it('relays pause, resume and stop to the page, and a stopped GPU run continues on the GPU', async () => {
    const { api, events } = openApi();
    const { id } = await api.call('runs.start', draft);
    const control: RunControl = { paused: false, stopRequested: false };
    const off = api.subscribe((name, payload) => {
      if (name !== 'gpu.control') return;
      const c = payload as EventPayload<'gpu.control'>;
      if (c.runId !== id) return;
      if (c.action === 'stop') control.stopRequested = true;
      else control.paused = c.action === 'pause';
    });
    const running = execute(api, id, 'page-a', { control });
    const stepped = () => events.some((e) => e.name === 'run.event' && (e.payload as EventPayload<'run.event'>).event.type === 'step');
    await until('a step', async () => stepped());
    await api.call('runs.control', { id, action: 'pause' });
    expect(control.paused).toBe(true);
    await api.call('runs.control', { id, action: 'resume' });
    await api.call('runs.control', { id, action: 'stop' });
    await running;
    off();
    const stopped = await ended(api, id);
    expect(stopped.status).toBe('stopped');
    // continue: the run is a GPU run again, and the page gets its checkpoint to resume from
    await api.call('runs.continue', { id });
    expect(await api.call('gpu.pending', {})).toEqual([id]);
    const resumed = await execute(api, id, 'page-b');
    expect(resumed.settings.resume).toBe(true);
    expect(Object.keys(resumed.checkpoint ?? {})).toContain('model.safetensors');
    const done = await ended(api, id);
    expect(done.status).toBe('finished');
    expect(done.steps).toBe(12);
  });

  it('a diverging GPU run ends failed there: it does not move to the CPU to diverge again', async () => {
    const { api } = openApi();
    const { id } = await api.call('runs.start', tinyDraft({ device: 'gpu', settings: { ...draft.settings, lr: 10, warmup_iters: 0, grad_clip: 0 } }));
    await execute(api, id, 'page-a');
    const run = await ended(api, id);
    expect(run.status).toBe('failed');
    expect(run.statusReason).toMatch(/^diverged at step \d+ \(loss /);
    expect(run.log.map((l) => l.message)).not.toContainEqual(expect.stringContaining('Continuing on the CPU'));
  });

  it("Auto calibration measures the CPU in a worker for the draft's model", async () => {
    const { api } = openApi();
    const r = await api.call('runs.calibrate', { draft: tinyDraft(), steps: 2 });
    expect(r.tokensPerSec).toBeGreaterThan(0);
    expect(r.device).toMatch(/^cpu/);
    await expect(api.call('runs.calibrate', { draft: tinyDraft({ settings: { n_head: 3, n_embd: 16 } }), steps: 2 })).rejects.toThrow(/n_head|n_embd/);
  });
});
