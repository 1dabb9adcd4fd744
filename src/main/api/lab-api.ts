import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { attentionMaps, embeddingVectors, positionTable, surprise } from '../../engine/analysis/inspect';
import { kmeans, toyBlobs, toyGaussian, type KMeansResult } from '../../engine/analysis/kmeans';
import { nearestNeighbours } from '../../engine/analysis/neighbours';
import { pca } from '../../engine/analysis/pca';
import { generate, nextTokenLogits } from '../../engine/generate';
import type { GeneratedToken } from '../../engine/sample';
import { countParameters, GPT, MODEL_FAMILIES } from '../../engine/models';
import { PRESETS, SEQ2SEQ_PRESETS } from '../../engine/presets';
import { resolveTrainConfig } from '../../engine/train';
import {
  attachCpu,
  bestValOf,
  calibrateCpu,
  createRunRecord,
  NO_TIME_SPENT,
  prepareResume,
  RunRecorder,
  specOf,
  type RunHandle,
  type StoredRunConfig,
  type TimeSpent,
} from '../jobs/job-host';
import { GpuRun, type GpuLink } from '../jobs/gpu-host';
import { readCorpusText } from '../jobs/corpus-file';
import { databasePath, ensureLabHome } from '../store/paths';
import type { RunEvent } from '../jobs/cpu-run';
import { exportedCheckpointFiles } from './run-model';
import { ModelCache } from './model-cache';
import { runSamplingGrid } from './sampling-grid';
import { seq2seqArithmetic } from './seq2seq-arithmetic';
import { translate } from './seq2seq-translate';
import { exportFolder } from '../store/checkpoint-files';
import { metricsCsv } from '../store/metrics-csv';
import { RunStore } from '../store/run-store';
import {
  ContractError,
  isMethod,
  MAX_UPLOAD_BYTES,
  parseEvent,
  parseRequest,
  parseResponse,
  runDraft,
  type AppVersions,
  type EventName,
  type EventPayload,
  type HostKind,
  type KMeansView,
  type Method,
  type PresetInfo,
  type Request,
  type Response,
  type SamplingSettings,
} from '../../shared/contract';
import { Corpora } from './corpora';
import { DraftResolver } from './run-drafts';
import { pairTaskInfos, Seq2SeqDrafts, seq2seqPresetDraft, seq2seqPresetInfos } from './seq2seq-start';
import { presetSettingsFor } from '../../shared/presets';
import { UserError } from '../../shared/errors';
import { tarFolder } from './tar';

// The host side of the contract: one handler per method, each given a payload the contract has
// already validated. Electron's ipcMain and the browser mode's WebSocket server both call
// `dispatch`; events go to every subscriber (a window, a socket) through `subscribe`.

export interface Dialogs {
  /** An Open dialog for a text file: its path, or null when cancelled. */
  openText(): Promise<string | null>;
  /** A folder chooser for an export; null when cancelled. */
  chooseFolder(title: string): Promise<string | null>;
}

export interface LabApiOptions {
  home: string;
  host: HostKind;
  versions: AppVersions;
  bundledCorpus: string;
  /** Desktop only: native dialogs, so the UI never names a path the user did not pick. */
  dialogs?: Dialogs;
  /** How long a GPU run waits for a page, and how long a page may stay silent (tests shorten them). */
  gpuTimeouts?: { claimTimeoutMs?: number; silenceTimeoutMs?: number };
}

/** `session`: who called (a socket, a window); a GPU run belongs to the page session that claimed it. */
type Handler<M extends Method> = (payload: ReturnType<typeof parseRequest<M>>, session: string) => Promise<Response<M>> | Response<M>;
type Handlers = { [M in Method]: Handler<M> };
type Subscriber = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

/** A checkpoint written outside the lab: where to (as named), from which checkpoint folder, which files. */
export interface ExportedCheckpoint {
  path: string;
  from: string;
  files: string[];
}

/** A token's row in the vocabulary; a token the model does not have is the user's to fix. */
function tokenIndex(vocab: readonly string[], token: string): number {
  const index = vocab.indexOf(token);
  if (index < 0) throw new UserError(`${JSON.stringify(token)} is not one of this model's ${vocab.length} tokens: type a token it knows, or click a point`);
  return index;
}

export class LabApi {
  readonly store: RunStore;
  readonly corpora: Corpora;
  private readonly drafts: DraftResolver;
  private readonly seq2seqDrafts: Seq2SeqDrafts;
  private readonly live = new Map<number, RunHandle>();
  /** Live GPU runs (also in `live`), for their executor's claims and reports. */
  private readonly gpuRuns = new Map<number, GpuRun>();
  private readonly gpuLink: GpuLink = {
    announce: (runId) => this.emit('gpu.job', { runId }),
    control: (runId, action) => this.emit('gpu.control', { runId, action }),
  };
  private readonly subscribers = new Set<Subscriber>();
  private readonly models: ModelCache;
  private readonly handlers: Handlers;
  /** sample.generate requests still running, and whether each has been asked to stop. */
  private readonly generating = new Map<string, { stop: boolean }>();

  constructor(private readonly options: LabApiOptions) {
    ensureLabHome(options.home);
    this.store = new RunStore(databasePath(options.home));
    this.store.markOrphansInterrupted();
    this.models = new ModelCache(this.store);
    this.corpora = new Corpora(options.home, options.bundledCorpus);
    this.drafts = new DraftResolver((id) => this.corpora.path(id));
    this.seq2seqDrafts = new Seq2SeqDrafts(this.corpora);
    this.handlers = this.createHandlers();
  }

  /** Validates a request, runs its handler, validates the result. Errors carry a sentence for the user. */
  async dispatch(method: unknown, payload: unknown, session = 'local'): Promise<unknown> {
    if (!isMethod(method)) throw new ContractError(`"${String(method)}" is not a NanoLab method`);
    const request = parseRequest(method, payload);
    const result = await (this.handlers[method] as (p: unknown, session: string) => unknown)(request, session);
    return parseResponse(method, result);
  }

  /** Typed call for in-process hosts and tests (same validation as dispatch). */
  async call<M extends Method>(method: M, payload: Request<M>, session = 'local'): Promise<Response<M>> {
    return (await this.dispatch(method, payload, session)) as Response<M>;
  }

  /** A caller went away (a socket closed, a window was destroyed): GPU runs it trained move to the CPU. */
  sessionClosed(session: string): void {
    for (const run of this.gpuRuns.values()) run.sessionClosed(session);
  }

  /**
   * Starts (or continues) training `runId` where its config says: the CPU worker, or the GPU of
   * whichever page claims it.
   */
  private train(runId: number, stored: StoredRunConfig, resume: boolean, spent: TimeSpent, recorder: RunRecorder): RunHandle {
    if (stored.device !== 'gpu') return attachCpu(this.store, specOf(this.options.home, runId, stored, resume, spent, bestValOf(this.store, runId)), recorder);
    const run = new GpuRun({
      home: this.options.home,
      store: this.store,
      runId,
      stored,
      resume,
      spent,
      recorder,
      link: this.gpuLink,
      ...this.options.gpuTimeouts,
    });
    this.gpuRuns.set(runId, run);
    void run.done.then(() => this.gpuRuns.delete(runId));
    return run;
  }

  private gpuRun(runId: number): GpuRun {
    const run = this.gpuRuns.get(runId);
    if (!run) throw new UserError(`run ${runId} is not a live GPU run (its status: ${this.store.getRun(runId).status})`);
    return run;
  }

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private emit<E extends EventName>(name: E, payload: EventPayload<E>): void {
    const checked = parseEvent(name, payload);
    for (const s of this.subscribers) s(name, checked);
  }

  /** Stops live runs (each writes a checkpoint and can be continued) and closes the database. */
  async close(): Promise<void> {
    const ends = [...this.live.values()].map((h) => {
      h.stop();
      return Promise.race([h.done, new Promise((r) => setTimeout(r, 30_000))]);
    });
    await Promise.all(ends);
    this.models.clear();
    this.store.close();
  }

  /** Browser mode's checkpoint download: the folder as a .tar (model, config, tokenizer). */
  exportArchive(runId: number, kind: 'best' | 'latest'): { filename: string; bytes: Uint8Array } {
    this.store.getRun(runId);
    const { files, step } = exportedCheckpointFiles(this.store, runId, kind);
    const folder = `nanolab-run-${runId}-${kind}-step${step}`;
    return { filename: `${folder}.tar`, bytes: tarFolder(folder, files) };
  }

  private watch(handle: RunHandle): RunHandle {
    this.live.set(handle.runId, handle);
    void handle.done.then(() => {
      this.live.delete(handle.runId);
      this.emit('runs.changed', {});
    });
    return handle;
  }

  private relay(runId: () => number) {
    return (event: RunEvent) => {
      this.emit('run.event', { runId: runId(), event });
      if (event.type === 'started') this.emit('runs.changed', {});
    };
  }

  /** Runs a generator, streaming its tokens as 'sample.tokens' events, until it ends or is stopped. */
  private async stream(requestId: string, control: { stop: boolean }, tokensOf: Iterable<GeneratedToken>): Promise<Response<'sample.generate'>> {
    const tokens: Response<'sample.generate'>['tokens'] = [];
    let batch: typeof tokens = [];
    let last = performance.now();
    // the contract's schemas keep only its fields (the engine's token ids among the top guesses go)
    for (const token of tokensOf) {
      tokens.push(token);
      batch.push(token);
      if (performance.now() - last > 50) {
        // stream what is ready and let other requests (a cancel among them) and events through
        this.emit('sample.tokens', { requestId, tokens: batch });
        batch = [];
        await new Promise((r) => setImmediate(r));
        last = performance.now();
        if (control.stop) break;
      }
    }
    if (batch.length > 0) this.emit('sample.tokens', { requestId, tokens: batch });
    return { text: tokens.map((t) => t.text).join(''), tokens, stopped: control.stop };
  }

  /**
   * A sample from a run's checkpoint, token by token: what sample.generate streams, and what
   * `nanolab sample` writes (within the CLI's own limits). The model is loaded before this
   * returns (a missing run or checkpoint throws here) and stays lent to the sample until its
   * tokens end or the caller stops iterating, even if other requests evict it meanwhile.
   */
  sample(settings: SamplingSettings): Generator<GeneratedToken> {
    const { runId, checkpoint, ...options } = settings;
    const lease = this.models.acquire(runId, checkpoint);
    return (function* () {
      try {
        yield* generate(lease.model, lease.tokenizer, options);
      } finally {
        lease.release();
      }
    })();
  }

  /** A run's token embeddings (one vector per vocabulary entry) and its tokens: analysis.embeddings draws them, `nanolab kmeans` lists them. */
  tokenEmbeddings(runId: number, kind: 'best' | 'latest'): { vectors: Float64Array[]; vocab: string[] } {
    return this.models.use(runId, kind, ({ model, tokenizer }) => ({ vectors: embeddingVectors(model), vocab: [...tokenizer.vocab] }));
  }

  /**
   * Writes a run's checkpoint (model.safetensors, config.json, tokenizer.json; a seq2seq run's in
   * the lesson's PyTorch layout with its two tokenizers) for use outside the lab: `nanolab export`
   * names the folder; the desktop's Export asks for it once the checkpoint is read and validated,
   * knowing its step (a folder dialog: null cancels). `force` replaces only those files in a
   * folder that holds others; the lab home is refused.
   */
  async exportTo(runId: number, kind: 'best' | 'latest', out: string, force?: boolean): Promise<ExportedCheckpoint>;
  async exportTo(runId: number, kind: 'best' | 'latest', out: (step: number) => Promise<string | null>): Promise<ExportedCheckpoint | null>;
  async exportTo(
    runId: number,
    kind: 'best' | 'latest',
    destination: string | ((step: number) => Promise<string | null>),
    force = false,
  ): Promise<ExportedCheckpoint | null> {
    const { files, path, step } = exportedCheckpointFiles(this.store, runId, kind);
    const out = typeof destination === 'string' ? destination : await destination(step);
    if (out === null) return null;
    exportFolder(out, files, { force, protectedDirs: [this.options.home] });
    return { path: out, from: path, files: Object.keys(files) };
  }

  private requireIdle(runId: number, doing: string): void {
    if (this.live.has(runId)) throw new UserError(`run ${runId} is training: stop it before you ${doing}`);
    const owner = this.store.owner(runId);
    if (owner.status === 'running' || owner.status === 'paused') {
      throw new UserError(`run ${runId} is ${owner.status} in another NanoLab process (pid ${owner.pid}): stop it there before you ${doing}`);
    }
  }

  private kmeansView(
    points: Float64Array[],
    labels: string[],
    result: KMeansResult,
    explained: number[],
    project: (v: Float64Array) => [number, number],
  ): KMeansView {
    return {
      labels,
      points: points.map(project),
      explained,
      iterations: result.iterations.map((it) => ({ centroids: it.centroids.map(project), assignments: Array.from(it.assignments), inertia: it.inertia })),
      converged: result.converged,
    };
  }

  private createHandlers(): Handlers {
    const { store, options } = this;
    return {
      'app.info': () => ({
        host: options.host,
        versions: options.versions,
        home: options.home,
        // the browser uploads a text in one WebSocket frame: there the upload limit holds too
        maxCorpusBytes: options.host === 'browser' ? Math.min(MAX_UPLOAD_BYTES, this.corpora.limit) : this.corpora.limit,
        presets: Object.entries(PRESETS)
          .map(([id, runs]): PresetInfo => ({
            id,
            runs: runs.map((p) => ({
              name: p.name,
              description: p.description,
              family: p.family,
              settings: p.settings,
              lowercase: p.lowercase ?? false,
              paramCount: countParameters(resolveTrainConfig(p.family, 65, p.settings).model),
            })),
          }))
          .concat(seq2seqPresetInfos(this.seq2seqDrafts)),
        families: [...MODEL_FAMILIES, 'seq2seq' as const],
        pairTasks: pairTaskInfos(),
      }),
      'runs.list': (filter) => store.listRuns(filter),
      'runs.get': ({ id }) => {
        const run = store.getRun(id);
        const config = run.config as Partial<Pick<StoredRunConfig, 'train' | 'time_budget_ms' | 'horizon'>>;
        const timeBudgetMs = config.time_budget_ms ?? null;
        return {
          ...run,
          checkpoints: store.checkpoints(id),
          samples: store.samples(id),
          live: this.live.has(id),
          totalSteps: timeBudgetMs === null ? (config.train?.steps ?? null) : (config.horizon?.steps ?? null),
          timeBudgetMs,
          log: store.logLines(id),
        };
      },
      'runs.rename': ({ id, name }) => {
        store.rename(id, name);
        this.emit('runs.changed', {});
        return {};
      },
      'runs.tag': ({ id, add, remove }) => {
        for (const t of add) store.addTag(id, t);
        for (const t of remove) store.removeTag(id, t);
        this.emit('runs.changed', {});
        return { tags: store.getRun(id).tags };
      },
      'runs.delete': ({ id }) => {
        this.requireIdle(id, 'delete it');
        this.models.forget(id);
        const paths = store.deleteRun(id);
        rmSync(join(options.home, 'runs', String(id)), { recursive: true, force: true });
        this.emit('runs.changed', {});
        return { deletedCheckpoints: paths.length };
      },
      'runs.series': ({ ids, names, maxPoints }) => {
        for (const id of ids) store.getRun(id);
        return ids.flatMap((runId) => names.map((name) => ({ runId, name, points: store.series(runId, name, maxPoints) })));
      },
      'runs.configDiff': ({ ids }) => store.configDiff(ids),
      'runs.metricsCsv': ({ id }) => metricsCsv(store, id),
      'runs.preview': ({ tokensPerSec, ...draft }) =>
        draft.family === 'seq2seq' ? this.seq2seqDrafts.preview(draft) : this.drafts.preview(draft, tokensPerSec),
      'runs.start': (draft) => {
        if (draft.family === 'seq2seq') {
          const { runId, stored } = this.seq2seqDrafts.create(options.home, store, draft);
          this.watch(
            this.train(
              runId,
              stored,
              false,
              NO_TIME_SPENT,
              new RunRecorder(
                store,
                runId,
                this.relay(() => runId),
              ),
            ),
          );
          this.emit('runs.changed', {});
          return { id: runId };
        }
        const { config, tokenizer, timeBudgetMs } = this.drafts.resolve(draft);
        const name =
          draft.name ||
          (draft.preset ? PRESETS[draft.preset]?.[0]?.name : undefined) ||
          `${draft.family} ${(countParameters(config.model) / 1000).toFixed(0)}k`;
        const { runId, stored } = createRunRecord({
          home: options.home,
          store,
          name,
          config,
          dataPath: this.corpora.storedPath(draft.corpusId),
          preset: draft.preset ?? undefined,
          lowercase: draft.lowercase,
          tokenizer,
          timeBudgetMs,
          tags: draft.tags,
          device: draft.device,
          calibration: draft.calibration ?? null,
        });
        const recorder = new RunRecorder(
          store,
          runId,
          this.relay(() => runId),
        );
        const c = draft.calibration;
        if (c) {
          recorder.log(
            0,
            `Auto chose the ${draft.device.toUpperCase()}: CPU ${c.cpuTokensPerSec.toFixed(0)} tokens/s, GPU ${c.gpuTokensPerSec === null ? 'unavailable' : `${c.gpuTokensPerSec.toFixed(0)} tokens/s`}${c.adapter ? ` (${c.adapter})` : ''}`,
          );
        }
        this.watch(this.train(runId, stored, false, NO_TIME_SPENT, recorder));
        this.emit('runs.changed', {});
        return { id: runId };
      },
      'runs.startPreset': ({ preset, steps }, session) => {
        const pairsPreset = SEQ2SEQ_PRESETS[preset];
        if (pairsPreset)
          return { ids: [(this.handlers['runs.start'](runDraft.parse(seq2seqPresetDraft(preset, pairsPreset, steps)), session) as { id: number }).id] };
        const runs = PRESETS[preset];
        if (!runs) throw new UserError(`unknown preset "${preset}": choose one of ${[...Object.keys(PRESETS), ...Object.keys(SEQ2SEQ_PRESETS)].join(', ')}`);
        const ids: number[] = [];
        for (const p of runs) {
          const settings = steps === undefined ? p.settings : presetSettingsFor(p.settings, steps);
          const { id } = this.handlers['runs.start'](
            {
              name: p.name,
              family: p.family,
              settings,
              corpusId: 'tinyshakespeare',
              lowercase: p.lowercase ?? false,
              tokenizer: { kind: 'char' },
              seed: 1337,
              minutes: null,
              preset,
              tags: runs.length > 1 ? [preset] : [],
              device: 'cpu',
            },
            session,
          ) as { id: number };
          ids.push(id);
        }
        return { ids };
      },
      'runs.control': ({ id, action }) => {
        const handle = this.live.get(id);
        if (!handle) throw new UserError(`run ${id} is not training in this NanoLab (its status: ${store.getRun(id).status})`);
        if (action === 'stop') handle.stop();
        else {
          if (action === 'pause') handle.pause();
          else handle.resume();
          const status = action === 'pause' ? 'paused' : 'running';
          store.setStatus(id, status);
          this.emit('run.event', { runId: id, event: { type: 'status', status } });
          this.emit('runs.changed', {});
        }
        return {};
      },
      'runs.continue': ({ id }) => {
        this.requireIdle(id, 'continue it');
        const { stored, spent } = prepareResume(store, id);
        const recorder = new RunRecorder(
          store,
          id,
          this.relay(() => id),
        );
        this.watch(this.train(id, stored, true, spent, recorder));
        this.emit('runs.changed', {});
        return {};
      },
      'runs.calibrate': async ({ draft, steps }) => {
        if (draft.family === 'seq2seq') throw new UserError('timing a seq2seq run is not available yet: it trains on the CPU, and its preview gives its size');
        const { config, tokenizer } = this.drafts.resolve(draft);
        const path = this.corpora.path(draft.corpusId);
        const cpu = await calibrateCpu(config, path, draft.lowercase, tokenizer, steps);
        // enough text for a few batches and the same characters, without shipping a large corpus
        const text = readCorpusText(path, { headBytes: 4 * 400_000 });
        return { ...cpu, config, tokenizer, text: text.length > 400_000 ? text.slice(0, 400_000) : text };
      },
      'gpu.pending': () => [...this.gpuRuns.values()].filter((r) => r.device === 'waiting').map((r) => r.runId),
      'gpu.claim': ({ runId, adapter }, session) => this.gpuRun(runId).claim(session, adapter),
      'gpu.report': ({ runId, events }, session) => {
        this.gpuRun(runId).report(session, events);
        return {};
      },
      'corpus.list': () => this.corpora.list(),
      'corpus.upload': ({ name, text }) => {
        const bytes = new TextEncoder().encode(text);
        return options.host === 'browser' ? this.corpora.upload(name, bytes) : this.corpora.add(name, bytes);
      },
      'corpus.pick': async () => {
        if (!options.dialogs) throw new UserError('choosing a file from disk is a desktop feature: in the browser, upload the file instead');
        const picked = await options.dialogs.openText();
        return picked === null ? null : this.corpora.addFile(picked);
      },
      'sample.generate': async ({ requestId, ...settings }) => {
        if (this.generating.has(requestId)) throw new UserError(`a sample with request id "${requestId}" is already running`);
        const tokens = this.sample(settings);
        const control = { stop: false };
        this.generating.set(requestId, control);
        try {
          return await this.stream(requestId, control, tokens);
        } finally {
          this.generating.delete(requestId);
        }
      },
      'sample.cancel': ({ requestId }) => {
        const control = this.generating.get(requestId);
        if (control) control.stop = true;
        return {};
      },
      'sample.next': ({ runId, checkpoint, prompt, noRepeatNgram, shown }) =>
        this.models.use(runId, checkpoint, ({ model, tokenizer }) => {
          const { logits, banned } = nextTokenLogits(model, tokenizer, prompt, noRepeatNgram);
          const top = Array.from(logits.keys())
            .sort((a, b) => logits[b] - logits[a] || a - b)
            .slice(0, shown);
          return { logits: Array.from(logits), top: top.map((id) => ({ id, text: tokenizer.vocab[id] })), banned };
        }),
      'sample.grid': async ({ requestId, ...request }) => {
        if (this.generating.has(requestId)) throw new UserError(`a sample with request id "${requestId}" is already running`);
        const control = { stop: false };
        this.generating.set(requestId, control);
        try {
          const progress = (done: number, total: number) => this.emit('sample.gridProgress', { requestId, done, total });
          return await runSamplingGrid(request, (settings) => this.sample(settings), control, progress);
        } finally {
          this.generating.delete(requestId);
        }
      },
      'sample.surprise': ({ runId, checkpoint, text }) => this.models.use(runId, checkpoint, ({ model, tokenizer }) => surprise(model, tokenizer, text)),
      'analysis.embeddings': ({ runId, checkpoint, k, seed, init, maxIterations }) => {
        const { vectors, vocab } = this.tokenEmbeddings(runId, checkpoint);
        if (k > vectors.length) throw new UserError(`k (${k}) is larger than the vocabulary (${vectors.length} tokens): choose k ≤ ${vectors.length}`);
        // cluster in the embedding's own space; PCA only draws it
        const result = kmeans(vectors, { k, seed, init, maxIterations });
        const p = pca(vectors, 2);
        return this.kmeansView(vectors, vocab, result, p.explained, (v) => {
          const [x, y] = p.project(v);
          return [x, y];
        });
      },
      'analysis.neighbours': ({ runId, checkpoint, token, count }) => {
        const { vectors, vocab } = this.tokenEmbeddings(runId, checkpoint);
        const index = tokenIndex(vocab, token);
        const neighbours = nearestNeighbours(vectors, index, count).map((n) => ({ token: vocab[n.index], index: n.index, similarity: n.similarity }));
        return { token, index, dimension: vectors[index].length, neighbours };
      },
      'analysis.embeddingRows': ({ runId, checkpoint, tokens, dims }) => {
        const { vectors, vocab } = this.tokenEmbeddings(runId, checkpoint);
        const rows = tokens.map((token) => {
          const index = tokenIndex(vocab, token);
          return { token, index, values: Array.from(vectors[index].subarray(0, dims)) };
        });
        return { dimension: vectors[0]?.length ?? 0, rows };
      },
      'analysis.toy': ({ data, dataSeed, k, seed, init, maxIterations }) => {
        const points = data === 'gaussian' ? toyGaussian(100, dataSeed) : toyBlobs(undefined, 40, 0.8, dataSeed);
        if (k > points.length) throw new UserError(`k (${k}) is larger than the number of points (${points.length})`);
        const result = kmeans(points, { k, seed, init, maxIterations });
        return this.kmeansView(
          points,
          points.map(() => ''),
          result,
          [],
          (v) => [v[0], v[1]],
        );
      },
      'seq2seq.translate': (request) => translate(store, request),
      'seq2seq.arithmetic': (request) => seq2seqArithmetic(store, request),
      'analysis.attention': ({ runId, checkpoint, prompt }) => {
        const run = store.getRun(runId);
        // a recurrent network has no attention: the view says why
        if (run.family !== 'gpt') return { applies: false as const, family: run.family };
        return this.models.use(runId, checkpoint, ({ model, tokenizer }) => {
          if (!(model instanceof GPT)) throw new UserError(`run ${runId}'s checkpoint is not a Transformer`);
          const unknown = tokenizer.kind === 'char' ? [...new Set([...prompt].filter((ch) => !tokenizer.vocab.includes(ch)))] : [];
          if (unknown.length > 0)
            throw new UserError(`the prompt has characters this model never saw: ${unknown.map((c) => JSON.stringify(c)).join(' ')}; remove them`);
          const { tokens, maps } = attentionMaps(model, tokenizer, prompt);
          const c = model.config;
          return {
            applies: true as const,
            tokens,
            maps,
            positionEncoding: c.position_encoding,
            positions: c.position_encoding === 'sinusoidal' ? positionTable(Math.min(c.block_size, 128), c.n_embd) : null,
          };
        });
      },
      'checkpoint.export': async ({ runId, checkpoint }) => {
        const { dialogs } = options;
        if (!dialogs) throw new UserError('in the browser a checkpoint export is a download (the Export button); there is no folder dialog');
        const exported = await this.exportTo(runId, checkpoint, async (step) => {
          const folder = await dialogs.chooseFolder(`Export run ${runId}'s ${checkpoint} checkpoint`);
          if (folder === null) return null;
          // a new folder inside the chosen one, never one that is there already
          const base = join(folder, `nanolab-run-${runId}-${checkpoint}-step${step}`);
          let out = base;
          for (let n = 2; existsSync(out); n++) out = `${base}-${n}`;
          return out;
        });
        return exported === null ? { path: null, files: [] } : { path: exported.path, files: exported.files };
      },
    };
  }
}
