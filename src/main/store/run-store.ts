import type Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { openDatabase } from './native';
import { RUN_STATUSES, type Axis, type Request, type RunStatusName, type RunSummary, type SeriesPoint } from '../../shared/contract';
import { UserError } from '../../shared/errors';

// The lab notebook: one SQLite file (WAL) holding every run, its resolved config, every logged
// metric, every sample and every checkpoint path. Schema changes are numbered migrations applied
// in a transaction; a database newer than this code is refused rather than misread.

// A run's status and its summary are the contract's: the store returns what the API sends.
export type RunStatus = RunStatusName;
export { RUN_STATUSES };
export type { RunSummary, SeriesPoint };

type Migration = string | ((db: Database.Database) => void);

const MIGRATIONS: Migration[] = [
  `CREATE TABLE runs (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('queued','running','paused','finished','stopped','failed','interrupted')),
     status_reason TEXT,
     family TEXT NOT NULL,
     param_count INTEGER NOT NULL,
     config TEXT NOT NULL,
     notes TEXT NOT NULL DEFAULT '',
     created_at INTEGER NOT NULL,
     finished_at INTEGER,
     owner_pid INTEGER,
     heartbeat_at INTEGER
   );
   CREATE TABLE run_tags (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     tag TEXT NOT NULL,
     PRIMARY KEY (run_id, tag)
   );
   CREATE TABLE metrics (
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     step INTEGER NOT NULL,
     wall_ms REAL NOT NULL,
     tokens INTEGER NOT NULL,
     name TEXT NOT NULL,
     value REAL NOT NULL,
     superseded INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX metrics_by_run_name_step ON metrics (run_id, name, step);
   CREATE TABLE samples (
     id INTEGER PRIMARY KEY,
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     step INTEGER NOT NULL,
     prompt TEXT NOT NULL,
     settings TEXT NOT NULL,
     text TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE checkpoints (
     id INTEGER PRIMARY KEY,
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     step INTEGER NOT NULL,
     path TEXT NOT NULL,
     val_loss REAL,
     kind TEXT NOT NULL CHECK (kind IN ('latest','best')),
     created_at INTEGER NOT NULL
   );`,
  // the run's log: where it trained and why it moved (a GPU fault, a lost page)
  `CREATE TABLE run_log (
     id INTEGER PRIMARY KEY,
     run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     step INTEGER NOT NULL,
     message TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
  // paths relative to the lab home, so a moved or copied home reads its own files: checkpoint
  // folders (runs/<id>/checkpoints/<kind>) and copied corpora (corpora/<hash>.txt), whatever
  // folder they were written under
  (db) => {
    const rows = db.prepare('SELECT id, path FROM checkpoints').all() as { id: number; path: string }[];
    const setPath = db.prepare('UPDATE checkpoints SET path = ? WHERE id = ?');
    for (const r of rows) {
      const m = /(?:^|[/\\])(runs[/\\]\d+[/\\]checkpoints[/\\](?:latest|best))[/\\]?$/.exec(r.path);
      if (m) setPath.run(m[1].replace(/\\/g, '/'), r.id);
    }
    const runs = db.prepare('SELECT id, config FROM runs').all() as { id: number; config: string }[];
    const setConfig = db.prepare('UPDATE runs SET config = ? WHERE id = ?');
    for (const r of runs) {
      const config = JSON.parse(r.config) as { data?: { path?: unknown } };
      const path = config.data?.path;
      const m = typeof path === 'string' ? /(?:^|[/\\])(corpora[/\\][0-9a-f]{16}\.txt)$/.exec(path) : null;
      if (m && config.data) {
        config.data.path = m[1].replace(/\\/g, '/');
        setConfig.run(JSON.stringify(config), r.id);
      }
    }
  },
  // where the run trains from a log line on (null: the line says nothing about it), so views read
  // data, not the lines' wording; older rows are classified once, by the wording they were written with
  `ALTER TABLE run_log ADD COLUMN device TEXT CHECK (device IN ('cpu','gpu'));
   UPDATE run_log SET device = 'gpu' WHERE message LIKE 'training on the GPU%';
   UPDATE run_log SET device = 'cpu' WHERE message LIKE '%Continuing on the CPU%';`,
  // active training time (pauses excluded) beside wall time; older rows did not tell them apart.
  // val_bpc was the val loss / ln 2, bits per token: per character for char runs, but not for word
  // runs, whose characters were never counted: those values go rather than stand as a wrong figure
  (db) => {
    db.exec('ALTER TABLE metrics ADD COLUMN active_ms REAL; UPDATE metrics SET active_ms = wall_ms;');
    const runs = db.prepare('SELECT id, config FROM runs').all() as { id: number; config: string }[];
    const drop = db.prepare("DELETE FROM metrics WHERE run_id = ? AND name = 'val_bpc'");
    for (const r of runs) {
      const config = JSON.parse(r.config) as { data?: { tokenizer?: { kind?: unknown } } };
      if (config.data?.tokenizer?.kind === 'word') drop.run(r.id);
    }
  },
];

/**
 * An error about the lab's database itself (damaged, read-only, disk full), as one sentence that
 * says what to do. `code` is SQLite's.
 */
export class LabStoreError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

const sqliteCode = (error: unknown): string | null => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
};

/** A sentence for a SQLite or file-system failure of the lab database at `path`; null when it is none of those. */
export function explainStoreError(error: unknown, path: string): LabStoreError | null {
  if (error instanceof LabStoreError) return error;
  const code = sqliteCode(error);
  if (!code) return null;
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new LabStoreError(
      `the lab database ${path} is damaged (${(error as Error).message}); NanoLab has not changed it: ` +
        `move it aside (e.g. mv lab.sqlite lab.sqlite.damaged) to start a new lab there, or restore it from a backup`,
      code,
    );
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'SQLITE_IOERR_SHMSIZE' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_FSYNC') {
    return new LabStoreError(`the disk holding the lab (${dirname(path)}) is full (${code}): free some space there and try again`, code);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new LabStoreError(
      `the lab at ${dirname(path)} is read-only (${code}): this needs to write to it; make the folder writable or point NANOLAB_HOME elsewhere`,
      code,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new LabStoreError(`the lab database ${path} cannot be opened (${code}): check that the folder exists and is readable`, code);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return new LabStoreError(
      `the lab database ${path} could not be read or written (${code}: ${(error as Error).message}); check the disk and try again`,
      code,
    );
  }
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY')) {
    return new LabStoreError(`the lab database ${path} is locked by another NanoLab process (${code}); try again in a moment`, code);
  }
  return null;
}

/** Whether opening the database failed because it cannot be written (read-only folder or disk, or a full disk). */
const cannotWrite = (code: string | null) =>
  code !== null &&
  (code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_FULL' ||
    code === 'SQLITE_IOERR_SHMSIZE' ||
    code === 'SQLITE_IOERR_WRITE' ||
    code === 'EROFS' ||
    code === 'EACCES');

export interface NewRun {
  name: string;
  family: string;
  paramCount: number;
  config: unknown;
  tags?: string[];
  notes?: string;
}

export interface MetricRow {
  step: number;
  /** Time since the run started, pauses included. */
  wallMs: number;
  /** Training time since the run started, pauses excluded. */
  activeMs: number;
  tokens: number;
  name: string;
  value: number;
}

export interface RunFilter {
  id?: number;
  family?: string;
  status?: RunStatus;
  tag?: string;
  sort?: Request<'runs.list'>['sort'];
  descending?: boolean;
}

export class RunStore {
  readonly db: Database.Database;
  /** The lab home: the folder of the database file; relative paths in the database are relative to it. */
  readonly home: string;
  /** Set when the lab could only be opened for reading (a read-only folder or disk, a full disk): why. */
  readonly readOnly: string | null = null;
  private snapshotDir: string | null = null;

  constructor(readonly path: string) {
    this.home = dirname(path);
    try {
      this.db = this.openWritable();
    } catch (error) {
      const code = sqliteCode(error);
      if (!cannotWrite(code) || !existsSync(path)) throw explainStoreError(error, path) ?? error;
      // Nothing can be written here: read a snapshot of the database instead (a WAL database needs
      // a writable folder even to be read), so list, show, sample and export still work.
      this.readOnly = `the lab at ${this.home} cannot be written (${code}), so it is open read-only`;
      this.db = this.openSnapshot();
    }
  }

  private openWritable(): Database.Database {
    const db = openDatabase(this.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('synchronous = NORMAL');
      this.migrate(db);
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private openSnapshot(): Database.Database {
    this.snapshotDir = mkdtempSync(join(tmpdir(), 'nanolab-readonly-'));
    const copy = join(this.snapshotDir, 'lab.sqlite');
    try {
      copyFileSync(this.path, copy);
      if (existsSync(`${this.path}-wal`)) copyFileSync(`${this.path}-wal`, `${copy}-wal`);
      // the copy is opened read-only too: a change would otherwise vanish with it
      const db = openDatabase(copy, { readonly: true, fileMustExist: true });
      try {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version !== MIGRATIONS.length) {
          throw new LabStoreError(
            `${this.readOnly}; its database is at schema version ${version} and this NanoLab needs ${MIGRATIONS.length}, which means writing to it`,
            'SQLITE_READONLY',
          );
        }
        db.prepare('SELECT count(*) FROM runs').get();
        return db;
      } catch (error) {
        db.close();
        throw error;
      }
    } catch (error) {
      rmSync(this.snapshotDir, { recursive: true, force: true });
      throw explainStoreError(error, this.path) ?? error;
    }
  }

  /** The schema version this database is at. */
  get version(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(db: Database.Database): void {
    const from = db.pragma('user_version', { simple: true }) as number;
    if (from > MIGRATIONS.length) {
      throw new LabStoreError(
        `the lab database is at schema version ${from}, newer than this NanoLab understands (${MIGRATIONS.length}); update NanoLab`,
        null,
      );
    }
    if (from === MIGRATIONS.length) {
      // a damaged file is often only found by reading it: say so now, not in the middle of a command
      db.prepare('SELECT count(*) FROM runs').get();
      return;
    }
    db.transaction(() => {
      for (let v = from; v < MIGRATIONS.length; v++) {
        const m = MIGRATIONS[v];
        if (typeof m === 'string') db.exec(m);
        else m(db);
      }
      db.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
  }

  /** Refuses a change to a lab that was opened read-only, saying why. */
  private requireWritable(doing: string): void {
    if (this.readOnly) throw new LabStoreError(`cannot ${doing}: ${this.readOnly}`, 'SQLITE_READONLY');
  }

  /** A path as the database keeps it: relative to the lab home when it is inside it. */
  storedPath(path: string): string {
    const r = relative(this.home, path);
    return r !== '' && !r.startsWith('..') && !isAbsolute(r) ? r.split('\\').join('/') : path;
  }

  /** A path from the database, made absolute against this lab's home. */
  resolvePath(path: string): string {
    return isAbsolute(path) ? path : join(this.home, path);
  }

  close(): void {
    this.db.close();
    if (this.snapshotDir) rmSync(this.snapshotDir, { recursive: true, force: true });
  }

  /**
   * Runs left 'running' or 'paused' by a process that no longer exists (killed, crashed, machine
   * restarted) become 'interrupted': everything logged up to the last flush stays, and they can be
   * resumed from their latest checkpoint. Returns the ids it marked.
   */
  markOrphansInterrupted(isAlive: (pid: number) => boolean = pidAlive, now = Date.now()): number[] {
    if (this.readOnly) return [];
    const open = this.db.prepare("SELECT id, owner_pid FROM runs WHERE status IN ('running','paused')").all() as { id: number; owner_pid: number | null }[];
    const orphans = open.filter((r) => r.owner_pid === null || !isAlive(r.owner_pid)).map((r) => r.id);
    for (const id of orphans) this.setStatus(id, 'interrupted', 'the process running it ended without stopping it', now);
    return orphans;
  }

  /** The process that owns a run and when it last wrote (for stopping it from another process). */
  owner(id: number): { pid: number | null; heartbeatAt: number | null; status: RunStatus } {
    const row = this.db.prepare('SELECT owner_pid AS pid, heartbeat_at AS heartbeatAt, status FROM runs WHERE id = ?').get(id) as
      { pid: number | null; heartbeatAt: number | null; status: RunStatus } | undefined;
    if (!row) throw new UserError(`no run with id ${id}`);
    return row;
  }

  /** Claims a run for this process (it is now the owner whose liveness counts). */
  claim(id: number, now = Date.now()): void {
    this.requireWritable(`train run ${id}`);
    this.requireRun(id);
    this.db.prepare('UPDATE runs SET owner_pid = ?, heartbeat_at = ? WHERE id = ?').run(process.pid, now, id);
  }

  createRun(run: NewRun, now = Date.now()): number {
    this.requireWritable('start a run');
    const name = run.name.trim();
    if (name === '') throw new UserError('a run needs a name');
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO runs (name, status, family, param_count, config, notes, created_at, owner_pid, heartbeat_at)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(name, run.family, run.paramCount, JSON.stringify(run.config), run.notes ?? '', now, process.pid, now).lastInsertRowid,
      );
      for (const tag of run.tags ?? []) this.addTag(id, tag);
      return id;
    })();
  }

  private requireRun(id: number): void {
    if (!this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(id)) throw new UserError(`no run with id ${id}`);
  }

  setStatus(id: number, status: RunStatus, reason: string | null = null, now = Date.now()): void {
    if (!RUN_STATUSES.includes(status)) throw new UserError(`unknown run status "${status}"`);
    this.requireRun(id);
    const ended = status === 'finished' || status === 'stopped' || status === 'failed' || status === 'interrupted';
    this.db.prepare('UPDATE runs SET status = ?, status_reason = ?, finished_at = ? WHERE id = ?').run(status, reason, ended ? now : null, id);
  }

  /** Replaces a run's stored config (a time-budget run records the horizon it chose before step 1). */
  setConfig(id: number, config: unknown): void {
    this.requireRun(id);
    this.db.prepare('UPDATE runs SET config = ? WHERE id = ?').run(JSON.stringify(config), id);
  }

  rename(id: number, name: string): void {
    if (name.trim() === '') throw new UserError('a run needs a name');
    this.requireRun(id);
    this.db.prepare('UPDATE runs SET name = ? WHERE id = ?').run(name.trim(), id);
  }

  addTag(id: number, tag: string): void {
    const t = tag.trim();
    if (t === '') throw new UserError('a tag cannot be empty');
    this.db.prepare('INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)').run(id, t);
  }

  removeTag(id: number, tag: string): void {
    this.db.prepare('DELETE FROM run_tags WHERE run_id = ? AND tag = ?').run(id, tag.trim());
  }

  /** Deletes a run and everything logged for it; returns its checkpoint paths for the host to remove. */
  deleteRun(id: number): string[] {
    this.requireRun(id);
    return this.db.transaction(() => {
      const paths = (this.db.prepare('SELECT path FROM checkpoints WHERE run_id = ?').all(id) as { path: string }[]).map((r) => r.path);
      this.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
      return paths;
    })();
  }

  /** Appends metric rows in one transaction. */
  appendMetrics(runId: number, rows: readonly MetricRow[]): void {
    if (rows.length === 0) return;
    const insert = this.db.prepare('INSERT INTO metrics (run_id, step, wall_ms, active_ms, tokens, name, value) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const r of rows) insert.run(runId, r.step, r.wallMs, r.activeMs, r.tokens, r.name, r.value);
      this.db.prepare('UPDATE runs SET heartbeat_at = ? WHERE id = ?').run(Date.now(), runId);
    })();
  }

  /** Every live (not superseded) metric row of a run, in step order: the CSV export. */
  metricRows(runId: number): MetricRow[] {
    return this.db
      .prepare(
        'SELECT step, tokens, wall_ms AS wallMs, active_ms AS activeMs, name, value FROM metrics WHERE run_id = ? AND superseded = 0 ORDER BY step, name',
      )
      .all(runId) as MetricRow[];
  }

  /** Marks metrics logged after `step` as superseded (a run resumed from an earlier checkpoint). */
  supersedeAfter(runId: number, step: number): number {
    return this.db.prepare('UPDATE metrics SET superseded = 1 WHERE run_id = ? AND step > ? AND superseded = 0').run(runId, step).changes;
  }

  addSample(runId: number, s: { step: number; prompt: string; settings: unknown; text: string }, now = Date.now()): number {
    return Number(
      this.db
        .prepare('INSERT INTO samples (run_id, step, prompt, settings, text, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(runId, s.step, s.prompt, JSON.stringify(s.settings), s.text, now).lastInsertRowid,
    );
  }

  samples(runId: number): { step: number; prompt: string; settings: unknown; text: string }[] {
    return (
      this.db.prepare('SELECT step, prompt, settings, text FROM samples WHERE run_id = ? ORDER BY step, id').all(runId) as {
        step: number;
        prompt: string;
        settings: string;
        text: string;
      }[]
    ).map((r) => ({ ...r, settings: JSON.parse(r.settings) }));
  }

  /** Records a checkpoint; a new 'latest' or 'best' replaces the previous row of that kind. */
  addCheckpoint(runId: number, c: { step: number; path: string; valLoss: number | null; kind: 'latest' | 'best' }, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND kind = ?').run(runId, c.kind);
      this.db
        .prepare('INSERT INTO checkpoints (run_id, step, path, val_loss, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(runId, c.step, this.storedPath(c.path), c.valLoss, c.kind, now);
    })();
  }

  /** A line of the run's log; `device`: where the run trains from this line on, when the line is about that. */
  log(runId: number, step: number, message: string, device: 'cpu' | 'gpu' | null = null, now = Date.now()): void {
    this.db.prepare('INSERT INTO run_log (run_id, step, message, device, created_at) VALUES (?, ?, ?, ?, ?)').run(runId, step, message, device, now);
  }

  logLines(runId: number): { at: number; step: number; message: string; device: 'cpu' | 'gpu' | null }[] {
    return this.db.prepare('SELECT created_at AS at, step, message, device FROM run_log WHERE run_id = ? ORDER BY id').all(runId) as {
      at: number;
      step: number;
      message: string;
      device: 'cpu' | 'gpu' | null;
    }[];
  }

  /** A run's checkpoints, their paths absolute (resolved against this lab's home). */
  checkpoints(runId: number): { step: number; path: string; valLoss: number | null; kind: 'latest' | 'best' }[] {
    const rows = this.db.prepare('SELECT step, path, val_loss AS valLoss, kind FROM checkpoints WHERE run_id = ? ORDER BY kind').all(runId) as {
      step: number;
      path: string;
      valLoss: number | null;
      kind: 'latest' | 'best';
    }[];
    return rows.map((r) => ({ ...r, path: this.resolvePath(r.path) }));
  }

  getRun(id: number): RunSummary & { config: unknown } {
    const [run] = this.listRuns({ id });
    if (!run) throw new UserError(`no run with id ${id}`);
    const { config } = this.db.prepare('SELECT config FROM runs WHERE id = ?').get(id) as { config: string };
    return { ...run, config: JSON.parse(config) };
  }

  listRuns(filter: RunFilter = {}): RunSummary[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.id !== undefined) {
      where.push('r.id = ?');
      args.push(filter.id);
    }
    if (filter.family) {
      where.push('r.family = ?');
      args.push(filter.family);
    }
    if (filter.status) {
      where.push('r.status = ?');
      args.push(filter.status);
    }
    if (filter.tag) {
      where.push('EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ?)');
      args.push(filter.tag);
    }
    const order = {
      created: 'r.created_at',
      name: 'r.name COLLATE NOCASE',
      best_val_loss: 'best_val_loss',
      best_val_bpc: 'best_val_bpc',
      steps: 'steps',
      params: 'r.param_count',
    }[filter.sort ?? 'created'];
    if (!order) throw new UserError(`cannot sort runs by "${filter.sort}"`);
    const rows = this.db
      .prepare(
        `SELECT r.id, r.name, r.status, r.status_reason, r.family, r.param_count, r.created_at, r.finished_at, r.notes,
         (SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM run_tags WHERE run_id = r.id ORDER BY tag)) AS tags,
         (SELECT max(step) FROM metrics WHERE run_id = r.id AND superseded = 0) AS steps,
         (SELECT val_loss FROM checkpoints WHERE run_id = r.id AND kind = 'best') AS best_val_loss,
         (SELECT m.value FROM checkpoints c JOIN metrics m ON m.run_id = c.run_id AND m.step = c.step AND m.name = 'val_bpc'
           WHERE c.run_id = r.id AND c.kind = 'best' ORDER BY m.superseded LIMIT 1) AS best_val_bpc,
         (SELECT value FROM metrics WHERE run_id = r.id AND name = 'tokens_per_sec' AND superseded = 0 ORDER BY step DESC LIMIT 1) AS tokens_per_sec
       FROM runs r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY ${order} IS NULL, ${order} ${filter.descending ? 'DESC' : 'ASC'}, r.id`,
      )
      .all(...args) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as number,
      name: r.name as string,
      status: r.status as RunStatus,
      statusReason: r.status_reason as string | null,
      family: r.family as string,
      paramCount: r.param_count as number,
      createdAt: r.created_at as number,
      finishedAt: r.finished_at as number | null,
      notes: r.notes as string,
      tags: r.tags ? String(r.tags).split('\u001f') : [],
      steps: (r.steps as number | null) ?? 0,
      bestValLoss: r.best_val_loss as number | null,
      bestValBpc: r.best_val_bpc as number | null,
      // a paused run trains at no speed: its last speed would read as a claim about now
      tokensPerSec: r.status === 'paused' ? null : (r.tokens_per_sec as number | null),
    }));
  }

  /**
   * One metric of one run, at most `maxPoints` points: the steps are cut into buckets and each
   * bucket keeps its minimum and its maximum (in step order), so a spike survives downsampling.
   */
  series(runId: number, name: string, maxPoints = 1000): SeriesPoint[] {
    const all = this.db
      .prepare(
        'SELECT step, tokens, wall_ms AS wallMs, active_ms AS activeMs, value FROM metrics WHERE run_id = ? AND name = ? AND superseded = 0 ORDER BY step',
      )
      .all(runId, name) as SeriesPoint[];
    if (all.length <= maxPoints) return all;
    const buckets = Math.max(1, Math.floor(maxPoints / 2));
    const out: SeriesPoint[] = [];
    for (let b = 0; b < buckets; b++) {
      const lo = Math.floor((b * all.length) / buckets);
      const hi = Math.floor(((b + 1) * all.length) / buckets);
      let min = lo,
        max = lo;
      for (let i = lo; i < hi; i++) {
        if (all[i].value < all[min].value) min = i;
        if (all[i].value > all[max].value) max = i;
      }
      if (min === max) out.push(all[min]);
      else out.push(all[Math.min(min, max)], all[Math.max(min, max)]);
    }
    return out;
  }

  /** One metric row of a run at a step (not superseded), or null. */
  metricAt(runId: number, name: string, step: number): SeriesPoint | null {
    return (
      (this.db
        .prepare(
          'SELECT step, tokens, wall_ms AS wallMs, active_ms AS activeMs, value FROM metrics WHERE run_id = ? AND name = ? AND step = ? AND superseded = 0 LIMIT 1',
        )
        .get(runId, name, step) as SeriesPoint | undefined) ?? null
    );
  }

  /** Several runs' series of one metric on one x axis (step, tokens seen, wall time or active time). */
  alignedSeries(runIds: number[], name: string, axis: Axis, maxPoints = 1000): { runId: number; points: { x: number; value: number }[] }[] {
    const xOf = {
      step: (p: SeriesPoint) => p.step,
      tokens: (p: SeriesPoint) => p.tokens,
      wall: (p: SeriesPoint) => p.wallMs,
      active: (p: SeriesPoint) => p.activeMs,
    }[axis];
    return runIds.map((runId) => ({
      runId,
      points: this.series(runId, name, maxPoints).map((p) => ({ x: xOf(p), value: p.value })),
    }));
  }

  /** The config keys (flattened, dotted) whose values differ between the runs, with each run's value. */
  configDiff(runIds: number[]): { key: string; values: unknown[] }[] {
    const flat = runIds.map((id) => flatten(this.getRun(id).config));
    const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
    return keys
      .map((key) => ({ key, values: flat.map((f) => f[key]) }))
      .filter(({ values }) => values.some((v) => JSON.stringify(v) !== JSON.stringify(values[0])));
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = value;
  }
  return out;
}

/**
 * Buffers metric rows and writes them in one transaction every `intervalMs`: a killed process
 * loses at most that interval, and training never waits on the disk per step. A write that fails
 * (a full disk, a read-only folder) keeps its rows and is reported once to `onError`: the host
 * stops the run rather than train on without a record.
 */
export class MetricWriter {
  private buffer: MetricRow[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private failed = false;

  constructor(
    private readonly store: RunStore,
    private readonly runId: number,
    intervalMs = 250,
    private readonly onError?: (error: Error) => void,
  ) {
    this.timer = setInterval(() => this.tryFlush(), intervalMs);
    this.timer.unref?.();
  }

  push(row: MetricRow): void {
    this.buffer.push(row);
  }

  /** Writes the buffered rows; on failure they stay buffered and the error is thrown. */
  flush(): void {
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      this.store.appendMetrics(this.runId, rows);
    } catch (error) {
      this.buffer = rows.concat(this.buffer);
      throw explainStoreError(error, this.store.path) ?? error;
    }
  }

  /** flush(), with a failure passed to onError (once) instead of thrown: the timer's and close()'s way. */
  tryFlush(): boolean {
    try {
      this.flush();
      return true;
    } catch (error) {
      if (!this.failed) {
        this.failed = true;
        if (this.onError) this.onError(error as Error);
        else throw error;
      }
      return false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tryFlush();
  }
}
