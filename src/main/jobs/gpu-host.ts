import { base64ToBytes, bytesToBase64 } from '../../shared/base64';
import type { ReportedEvent } from '../../shared/contract';
import { readCheckpointFolder, writeCheckpointFolder } from '../store/checkpoint-files';
import type { RunStore } from '../store/run-store';
import { attachCpu, bestValOf, specOf, timeSpentAt, type RunEnd, type RunHandle, type RunRecorder, type StoredRunConfig, type TimeSpent } from './job-host';
import { readCorpusText } from './corpus-file';
import { checkpointDir, corpusFile } from '../store/paths';
import type { RunSettings } from '../../engine/run';
import type { RunSpec } from './cpu-run';

// The host side of a GPU run. The run trains in a page: a Web Worker there runs the engine on
// gpu.js (WebGL2), because in Node gpu.js reaches no GPU (see ARCHITECTURE.md). The host still
// owns the run: it announces the job, hands the claiming page the settings, the text and the
// checkpoint to resume from, writes the events and checkpoint files the page reports into the
// database and the run's folder, and relays pause / resume / stop. When the GPU fails (its
// self-check, a lost context, a kernel error), the page goes away, or it stops reporting, the run
// continues from its last checkpoint on the CPU worker, and the run's log says why: nothing is lost.

export type { ReportedEvent } from '../../shared/contract';

/** How the host reaches the pages: events to every subscriber (a window, a socket). */
export interface GpuLink {
  /** 'gpu.job': a GPU run waits for an executor. */
  announce(runId: number): void;
  /** 'gpu.control': pause / resume / stop for the executing page. */
  control(runId: number, action: 'pause' | 'resume' | 'stop'): void;
}

export interface GpuRunOptions {
  home: string;
  store: RunStore;
  runId: number;
  stored: StoredRunConfig;
  resume: boolean;
  /** Time already spent when it resumes. */
  spent: TimeSpent;
  recorder: RunRecorder;
  link: GpuLink;
  /** How long a job waits for a page to claim it before it trains on the CPU (default 20 s). */
  claimTimeoutMs?: number;
  /** How long an unpaused executing page may stay silent before the host gives up on it (default 120 s). */
  silenceTimeoutMs?: number;
}

type State = { kind: 'waiting' } | { kind: 'gpu'; session: string; adapter: string } | { kind: 'cpu'; handle: RunHandle } | { kind: 'ended' };

export class GpuRun implements RunHandle {
  readonly runId: number;
  readonly done: Promise<RunEnd>;
  private resolveDone!: (end: RunEnd) => void;
  private state: State = { kind: 'waiting' };
  private paused = false;
  private lastStep = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly o: GpuRunOptions) {
    this.runId = o.runId;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    o.store.claim(o.runId);
    o.store.setStatus(o.runId, 'running');
    o.recorder.onFailureStop(() => this.stop());
    o.recorder.log(this.checkpointStep() ?? 0, 'waiting for a NanoLab page to train it on the GPU (gpu.js, WebGL2)');
    this.arm(
      o.claimTimeoutMs ?? 20_000,
      () => 'no NanoLab page took the GPU run: GPU runs train in the page (a Web Worker on WebGL2), so keep the app or a browser tab open',
    );
    o.link.announce(o.runId);
  }

  get device(): 'waiting' | 'gpu' | 'cpu' | 'ended' {
    return this.state.kind;
  }

  /** A page's executor asks for the run: the first one gets its settings, text and checkpoint. */
  claim(
    session: string,
    adapter: string,
  ): { granted: true; settings: RunSettings; text: string; textName: string; checkpoint: Record<string, string> | null } | { granted: false; reason: string } {
    if (this.state.kind !== 'waiting') {
      return {
        granted: false,
        reason: `run ${this.runId} is already ${this.state.kind === 'gpu' ? 'training on a GPU page' : this.state.kind === 'cpu' ? 'training on the CPU' : 'over'}`,
      };
    }
    const { stored, home, runId } = this.o;
    const latest = this.o.resume ? checkpointDir(home, runId, 'latest') : null;
    // the page needs the run's settings, not where the host keeps its files
    const { home: _home, dataPath: _dataPath, ...settings }: RunSpec = specOf(home, runId, stored, this.o.resume, this.o.spent, bestValOf(this.o.store, runId));
    const reply = {
      granted: true as const,
      settings,
      text: readCorpusText(corpusFile(home, stored.data.path)),
      textName: corpusFile(home, stored.data.path),
      checkpoint: latest ? Object.fromEntries(Object.entries(readCheckpointFolder(latest)).map(([n, b]) => [n, bytesToBase64(b)])) : null,
    };
    this.state = { kind: 'gpu', session, adapter };
    this.o.recorder.log(this.checkpointStep() ?? 0, `training on the GPU: ${adapter}`, 'gpu');
    this.armSilence();
    if (this.paused) this.o.link.control(runId, 'pause');
    return reply;
  }

  /** Events from the executing page, in order. */
  report(session: string, events: ReportedEvent[]): void {
    if (this.state.kind !== 'gpu' || this.state.session !== session) {
      throw new Error(`run ${this.runId} is not training on this page's GPU (it is ${this.state.kind === 'gpu' ? 'on another page' : this.state.kind})`);
    }
    this.armSilence();
    const { recorder, home, runId } = this.o;
    for (const e of events) {
      if (e.type === 'checkpoint-files') {
        const files = Object.fromEntries(Object.entries(e.files).map(([n, b]) => [n, base64ToBytes(b)]));
        const latest = checkpointDir(home, runId, 'latest');
        writeCheckpointFolder(latest, files);
        recorder.record({ type: 'checkpoint', step: e.step, path: latest, valLoss: e.valLoss, kind: 'latest' });
        if (e.best) {
          const best = checkpointDir(home, runId, 'best');
          writeCheckpointFolder(best, files);
          recorder.record({ type: 'checkpoint', step: e.step, path: best, valLoss: e.valLoss, kind: 'best' });
        }
      } else if (e.type === 'end') {
        // a diverged run would diverge on the CPU too: it ends here
        if (e.status === 'failed' && !e.diverged) {
          this.fallBack(`the GPU run failed at step ${e.step}: ${e.reason ?? 'no reason given'}`);
          return;
        }
        this.finish({ type: 'end', status: e.status, reason: e.reason, step: e.step, ...(e.diverged ? { diverged: true } : {}) });
        return;
      } else {
        if (e.type === 'step') this.lastStep = e.step;
        recorder.record(e.type === 'sample' ? { ...e } : e);
      }
    }
  }

  /** The page's connection closed (a tab closed, the hidden window crashed). */
  sessionClosed(session: string): void {
    if (this.state.kind === 'gpu' && this.state.session === session) this.fallBack('the page training it on the GPU went away');
  }

  pause(): void {
    this.paused = true;
    if (this.state.kind === 'gpu') {
      this.o.link.control(this.runId, 'pause');
      this.clearTimer(); // a paused page is silent
    } else if (this.state.kind === 'cpu') this.state.handle.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.state.kind === 'gpu') {
      this.o.link.control(this.runId, 'resume');
      this.armSilence();
    } else if (this.state.kind === 'cpu') this.state.handle.resume();
  }

  stop(): void {
    if (this.state.kind === 'gpu') this.o.link.control(this.runId, 'stop');
    else if (this.state.kind === 'cpu') this.state.handle.stop();
    else if (this.state.kind === 'waiting')
      this.finish({ type: 'end', status: 'stopped', reason: 'stopped by the user before a page took it', step: this.checkpointStep() ?? 0 });
  }

  private checkpointStep(): number | null {
    return this.o.store.checkpoints(this.runId).find((c) => c.kind === 'latest')?.step ?? null;
  }

  private finish(end: RunEnd): void {
    if (this.state.kind === 'ended') return;
    this.clearTimer();
    this.state = { kind: 'ended' };
    this.o.recorder.end(end);
    this.resolveDone(end);
  }

  /** Continues on the CPU worker from the last checkpoint (or from the start when there is none). */
  private fallBack(reason: string): void {
    if (this.state.kind === 'ended' || this.state.kind === 'cpu') return;
    this.clearTimer();
    const { store, home, runId, stored, recorder } = this.o;
    if (this.state.kind === 'gpu') this.o.link.control(runId, 'stop');
    recorder.flush();
    const from = this.checkpointStep();
    const resume = from !== null;
    recorder.log(this.lastStep, `${reason}. Continuing on the CPU from ${resume ? `the checkpoint at step ${from}` : 'the start (no checkpoint yet)'}.`, 'cpu');
    store.supersedeAfter(runId, from ?? 0);
    // the log line is for people; pages reload the series the move cut back on this
    recorder.record({ type: 'moved', step: this.lastStep, to: 'cpu', reason, fromStep: from });
    try {
      const handle = attachCpu(store, specOf(home, runId, stored, resume, timeSpentAt(store, runId, from), bestValOf(store, runId)), recorder, true);
      this.state = { kind: 'cpu', handle };
      if (this.paused) {
        handle.pause();
        store.setStatus(runId, 'paused');
      }
      void handle.done.then((end) => this.finish(end));
    } catch (error) {
      this.finish({ type: 'end', status: 'failed', reason: `${reason}, and the CPU could not take over: ${(error as Error).message}`, step: from ?? 0 });
    }
  }

  private arm(ms: number, why: () => string): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.fallBack(why()), ms);
    this.timer.unref?.();
  }

  private armSilence(): void {
    if (this.paused) return;
    const ms = this.o.silenceTimeoutMs ?? 120_000;
    this.arm(ms, () => `the page training it on the GPU sent nothing for ${Math.round(ms / 1000)} s`);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
