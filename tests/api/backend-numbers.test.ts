import { describe, expect, it } from 'vitest';
import { learningRate } from '../../src/engine/optim/schedule';
import { budgetHorizon, withHorizon } from '../../src/engine/run';
import { trainConfig, type RunEventView } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// The backend's numbers as the API gives them: bits per character beside the per-token loss, the
// schedule a New-run preview draws, a time budget's horizon, and a paused run's state.

type Api = ReturnType<typeof openApi>['api'];

/** The tiny draft's settings without `steps` (a time budget sets the horizon). */
function budgetSettings(over: Record<string, number> = {}) {
  const { steps: _steps, ...settings } = tinyDraft().settings;
  return { ...settings, ...over };
}

async function settle(api: Api, id: number) {
  let run = await api.call('runs.get', { id });
  for (let i = 0; i < 1200 && (run.live || run.status === 'running' || run.status === 'queued'); i++) {
    await new Promise((r) => setTimeout(r, 25));
    run = await api.call('runs.get', { id });
  }
  return run;
}

const runEvents = (events: ReturnType<typeof openApi>['events'], id: number): RunEventView[] =>
  events.flatMap(({ name, payload }) => {
    const p = payload as { runId?: number; event?: RunEventView };
    return name === 'run.event' && p.runId === id && p.event ? [p.event] : [];
  });

describe('bits per character through the API', () => {
  it('the best checkpoint’s bits/char is its val_bpc point: loss/ln 2 for chars, less than that for words', async () => {
    const { api } = openApi();
    const { id } = await api.call('runs.start', tinyDraft());
    const run = await settle(api, id);
    expect(run.status).toBe('finished');
    const best = run.checkpoints.find((c) => c.kind === 'best')!;
    const [bpc] = await api.call('runs.series', { ids: [id], names: ['val_bpc'] });
    expect(run.bestValBpc).toBe(bpc.points.find((p) => p.step === best.step)?.value);
    expect(Math.abs(run.bestValBpc! - run.bestValLoss! / Math.LN2)).toBeLessThan(1e-12);
    expect((await api.call('runs.list', {})).find((r) => r.id === id)?.bestValBpc).toBe(run.bestValBpc);

    const word = await api.call('runs.start', tinyDraft({ tokenizer: { kind: 'word', vocab_size: 300 } }));
    const w = await settle(api, word.id);
    expect(w.status).toBe('finished');
    // a word token spans several characters: its loss spreads over them
    expect(w.bestValBpc!).toBeLessThan((0.5 * w.bestValLoss!) / Math.LN2);
  });
});

describe('the schedule preview', () => {
  it('lrCurve is the lr the run then logs, step for step', async () => {
    const { api } = openApi();
    const draft = tinyDraft({ settings: { ...tinyDraft().settings, steps: 30, warmup_iters: 4, lr_decay_iters: 24, min_lr: 2e-4 } });
    const preview = await api.call('runs.preview', draft);
    if (!preview.ok) throw new Error(preview.error);
    expect(preview.horizonSteps).toBe(30);
    expect(preview.lrCurve.map((p) => p.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const { id } = await api.call('runs.start', draft);
    expect((await settle(api, id)).status).toBe('finished');
    const [lr] = await api.call('runs.series', { ids: [id], names: ['lr'] });
    expect(lr.points.map((p) => ({ step: p.step, lr: p.value }))).toEqual(preview.lrCurve);
  });

  it('a time-budget draft is sized by the measured speed it is given, as its run will size itself', async () => {
    const { api } = openApi();
    const draft = tinyDraft({ minutes: 5, settings: budgetSettings() });
    const unknown = await api.call('runs.preview', draft);
    if (!unknown.ok) throw new Error(unknown.error);
    expect(unknown.horizonSteps).toBeNull();
    expect(unknown.lrCurve).toEqual([]);
    const sized = await api.call('runs.preview', { ...draft, tokensPerSec: 2000 });
    if (!sized.ok) throw new Error(sized.error);
    const config = trainConfig.parse((await api.call('runs.calibrate', { draft, steps: 1 })).config);
    const horizon = budgetHorizon(config, 5 * 60_000, 2000);
    expect(sized.horizonSteps).toBe(horizon);
    expect(sized.resolved.steps).toBe(horizon);
    expect(sized.resolved.lr_decay_iters).toBe(horizon);
    expect(sized.lrCurve.length).toBeLessThanOrEqual(200);
    const schedule = withHorizon(config, horizon).schedule;
    for (const p of sized.lrCurve) expect(p.lr).toBe(learningRate(schedule, config.optimizer.lr, p.step - 1));
    expect(sized.lrCurve.at(-1)?.step).toBe(horizon);
  });
});

describe('a time-budget run', () => {
  it('fixes its horizon before step 1: started.totalSteps, the stored config and the log agree, and the lr never bends', async () => {
    const { api, events } = openApi();
    const draft = tinyDraft({ minutes: 0.03, settings: budgetSettings({ warmup_iters: 3 }) });
    const { id } = await api.call('runs.start', draft);
    const run = await settle(api, id);
    expect(run.status).toBe('finished');
    const started = runEvents(events, id).find((e) => e.type === 'started');
    if (started?.type !== 'started' || !started.horizon) throw new Error('no horizon in the started event');
    const horizon = started.horizon.steps;
    expect(started.totalSteps).toBe(horizon);
    expect(run.totalSteps).toBe(horizon);
    const stored = run.config as { train: unknown; time_budget_ms: number };
    const config = trainConfig.parse(stored.train);
    expect(config.steps).toBe(horizon);
    expect(config.schedule).toMatchObject({ kind: 'cosine', warmup_iters: 3, lr_decay_iters: horizon });
    expect(run.log.map((l) => l.message)).toContain(
      `time budget 1.8s: calibrated ${Math.round(started.horizon.tokensPerSec).toLocaleString('en-US')} tok/s → ${horizon.toLocaleString('en-US')} steps, cosine decay over ${horizon.toLocaleString('en-US')}`,
    );
    const [lr] = await api.call('runs.series', { ids: [id], names: ['lr'], maxPoints: 20_000 });
    expect(lr.points.length).toBeGreaterThan(0);
    for (const p of lr.points) expect(p.value).toBe(learningRate(config.schedule, config.optimizer.lr, p.step - 1));
  });
});

describe('a paused run', () => {
  it('says so in runs.get and its events, claims no speed, and its active time does not move', async () => {
    const { api, events } = openApi();
    const draft = tinyDraft({ settings: { ...tinyDraft().settings, steps: 100_000, eval_interval: 100_000 } });
    const { id } = await api.call('runs.start', draft);
    const steps = () => runEvents(events, id).filter((e) => e.type === 'step');
    for (let i = 0; i < 400 && steps().length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    await api.call('runs.control', { id, action: 'pause' });
    await new Promise((r) => setTimeout(r, 200)); // the step under way ends
    const pausedAt = steps().length;
    await new Promise((r) => setTimeout(r, 800));
    const paused = await api.call('runs.get', { id });
    expect(paused.status).toBe('paused');
    expect(paused.live).toBe(true);
    expect(paused.tokensPerSec).toBeNull();
    expect((await api.call('runs.list', {})).find((r) => r.id === id)?.tokensPerSec).toBeNull();
    expect(steps().length).toBe(pausedAt);
    await api.call('runs.control', { id, action: 'resume' });
    for (let i = 0; i < 400 && steps().length < pausedAt + 2; i++) await new Promise((r) => setTimeout(r, 25));
    const resumed = await api.call('runs.get', { id });
    expect(resumed.status).toBe('running');
    await api.call('runs.control', { id, action: 'stop' });
    await settle(api, id);
    const statuses = runEvents(events, id).flatMap((e) => (e.type === 'status' ? [e.status] : []));
    expect(statuses).toEqual(['paused', 'running']);
    const s = steps();
    const gap = (key: 'elapsedMs' | 'activeMs') =>
      s[pausedAt].type === 'step' && s[pausedAt - 1].type === 'step' ? s[pausedAt][key] - s[pausedAt - 1][key] : NaN;
    expect(gap('elapsedMs')).toBeGreaterThan(900);
    expect(gap('activeMs')).toBeLessThan(300);
    const [loss] = await api.call('runs.series', { ids: [id], names: ['train_loss'], maxPoints: 20_000 });
    const at = loss.points.findIndex((p) => p.step === pausedAt + 1);
    expect(loss.points[at].wallMs - loss.points[at - 1].wallMs).toBeGreaterThan(900);
    expect(loss.points[at].activeMs - loss.points[at - 1].activeMs).toBeLessThan(300);
  });
});
