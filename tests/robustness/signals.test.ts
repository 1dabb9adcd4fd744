import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { databasePath } from '../../src/main/store/paths';
import { RunStore } from '../../src/main/store/run-store';
import { nanolab, root, smallCorpus, spawnNanolab, tempDir } from './cli';

// Issue 12, item 11: SIGTERM (a service manager, `timeout`) and SIGHUP (a closed terminal) stop a
// run as Ctrl-C does: a checkpoint at the last step, status `stopped`, resumable.

const STEPS = 3000;
const SETTINGS = [
  '--set',
  'hidden_size=16',
  '--set',
  'embedding_dim=8',
  '--set',
  'num_layers=1',
  '--set',
  'batch_size=4',
  '--set',
  'seq_len=16',
  '--set',
  'eval_iters=1',
  '--set',
  'eval_interval=20',
  '--log-every',
  '1',
];

/** Output so far, and a wait for a pattern in it. */
function watch(child: ChildProcess) {
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters.splice(0)) {
      if (w.re.test(out)) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  return {
    get out() {
      return out;
    },
    exited,
    until: (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(out)) return resolve();
        waiters.push({ re, resolve });
        void exited.then(() => reject(new Error(`the process ended before printing ${re}:\n${out}`)));
      }),
  };
}

function runState(home: string, id: number) {
  const store = new RunStore(databasePath(home));
  try {
    const run = store.getRun(id);
    const latest = store.checkpoints(id).find((c) => c.kind === 'latest') ?? null;
    return { status: run.status, reason: run.statusReason, steps: run.steps, latest };
  } finally {
    store.close();
  }
}

describe('stop signals', () => {
  it('SIGTERM stops nanolab train with a checkpoint at its last step; SIGHUP stops nanolab resume; resume then finishes', async () => {
    const home = tempDir();
    const data = smallCorpus();
    const train = spawnNanolab(home, ['train', '--model', 'lstm', '--data', data, '--steps', String(STEPS), '--name', 'service', ...SETTINGS]);
    const t = watch(train);
    // past the first checkpoint (step 20) and a few steps more
    await t.until(/eval step 20 \|[\s\S]*step 2[3-9]\//);
    train.kill('SIGTERM');
    expect(await t.exited).toEqual({ code: 0, signal: null });
    expect(t.out).toContain('SIGTERM: stopping after this step (SIGTERM again to abort without a checkpoint)');
    const end = /\[service\] stopped \(stopped by the user\): run (\d+), (\d+) steps/.exec(t.out);
    expect(end, t.out).not.toBeNull();
    const id = Number(end![1]);
    const stoppedAt = Number(end![2]);
    expect(stoppedAt).toBeGreaterThan(20);
    expect(stoppedAt).toBeLessThan(STEPS);
    let state = runState(home, id);
    expect(state).toMatchObject({ status: 'stopped', reason: 'stopped by the user', steps: stoppedAt });
    expect(state.latest?.step).toBe(stoppedAt); // not the step-20 checkpoint: nothing since it was dropped
    expect(existsSync(join(state.latest!.path, 'model.safetensors'))).toBe(true);

    // the resumed run starts where the stop left it, and SIGHUP stops it the same way, silently
    const resume = spawnNanolab(home, ['resume', String(id)]);
    const r = watch(resume);
    await r.until(new RegExp(`resumed from step ${stoppedAt}\\n[\\s\\S]*eval step \\d+ `));
    resume.kill('SIGHUP');
    expect(await r.exited).toEqual({ code: 0, signal: null });
    state = runState(home, id);
    expect(state.status).toBe('stopped');
    expect(state.steps).toBeGreaterThan(stoppedAt);
    expect(state.latest?.step).toBe(state.steps);

    // and a last resume trains to the end
    const last = nanolab(home, ['resume', String(id), '--json'], {}, 240_000);
    expect(last.code, last.err).toBe(0);
    expect(last.out).toContain(`resumed from step ${state.steps}`);
    expect(JSON.parse(last.out.trim().split('\n').at(-1)!)).toMatchObject({ run_id: id, status: 'finished', steps: STEPS });
  }, 300_000);

  it('nanolab serve closes cleanly on SIGTERM and on SIGHUP', async () => {
    if (!existsSync(join(root, 'out/renderer/index.html'))) return; // the global setup builds it
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const serve = spawnNanolab(tempDir(), ['serve', '--port', '0']);
      const s = watch(serve);
      await s.until(/open http:\/\/127\.0\.0\.1:\d+\//);
      serve.kill(signal);
      expect(await s.exited, signal).toEqual({ code: 0, signal: null });
    }
  }, 60_000);
});
