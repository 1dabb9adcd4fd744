import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePath } from '../../src/main/store/paths';
import { RunStore } from '../../src/main/store/run-store';
import { canMount, labState, mountTmpfs, nanolab, oneLine, remount, smallCorpus, spawnNanolab, tempDir, TINY, unmount } from './cli';

// The lab's files at its edges, driven through the CLI as a user would: exports never delete
// what NanoLab did not write, the lab home can move, crashes and full or read-only disks lose
// nothing, and a damaged database is reported in one sentence and left as it was.

const EXPORTED = ['config.json', 'model.safetensors', 'tokenizer.json'];

/** A lab with one finished tiny run (id 1), made once and copied by the tests that change it. */
let template: string;
beforeAll(() => {
  template = tempDir('nanolab-home-');
  const r = nanolab(template, ['train', ...TINY, '--data', smallCorpus(), '--steps', '30', '--name', 'tiny']);
  expect(r.code, r.out + r.err).toBe(0);
}, 120_000);

function labCopy(): string {
  const home = join(tempDir(), 'lab');
  cpSync(template, home, { recursive: true });
  return home;
}

describe('export never deletes or overwrites what NanoLab did not write', () => {
  it('refuses a non-empty folder and leaves every file in it as it was', () => {
    const home = labCopy();
    const out = join(tempDir(), 'd');
    mkdirSync(join(out, 'sub'), { recursive: true });
    writeFileSync(join(out, 'thesis.txt'), 'x');
    const r = nanolab(home, ['export', '1', '--out', out]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err), r.err).toBe(true);
    expect(r.err).toContain(`${out} already exists and is not empty`);
    expect(r.err).toContain('--force');
    expect(readdirSync(out).sort()).toEqual(['sub', 'thesis.txt']);
    expect(readFileSync(join(out, 'thesis.txt'), 'utf8')).toBe('x');
  });

  it('with --force replaces only its three files there', () => {
    const home = labCopy();
    const out = join(tempDir(), 'd');
    mkdirSync(join(out, 'sub'), { recursive: true });
    writeFileSync(join(out, 'thesis.txt'), 'x');
    writeFileSync(join(out, 'config.json'), 'old');
    const r = nanolab(home, ['export', '1', '--out', out, '--force']);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(out).sort()).toEqual([...EXPORTED, 'sub', 'thesis.txt'].sort());
    expect(readFileSync(join(out, 'thesis.txt'), 'utf8')).toBe('x');
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).format).toBe('nanolab-checkpoint');
  });

  it('writes into a new or an empty folder', () => {
    const home = labCopy();
    const fresh = join(tempDir(), 'new', 'deeper');
    expect(nanolab(home, ['export', '1', '--out', fresh]).code).toBe(0);
    expect(readdirSync(fresh).sort()).toEqual(EXPORTED);
    const empty = tempDir();
    expect(nanolab(home, ['export', '1', '--out', empty]).code).toBe(0);
    expect(readdirSync(empty).sort()).toEqual(EXPORTED);
  });

  it('refuses the lab home, a folder inside it, a folder above it, a file and a link to the home', () => {
    const home = labCopy();
    const before = labState(databasePath(home));
    const file = join(tempDir(), 'notes.txt');
    writeFileSync(file, 'mine');
    const link = join(tempDir(), 'link');
    symlinkSync(home, link);
    const cases: [string, string][] = [
      [home, 'inside the lab home'],
      [join(home, 'runs', '1'), 'inside the lab home'],
      [join(home, 'runs', '1', 'checkpoints', 'best'), 'inside the lab home'],
      [join(home, '..'), 'contains the lab home'],
      [link, 'inside the lab home'],
      [file, 'is a file'],
    ];
    for (const [out, why] of cases) {
      const r = nanolab(home, ['export', '1', '--out', out, '--force']);
      expect(r.code, out).toBe(1);
      expect(r.err, out).toContain(why);
      expect(oneLine(r.err), r.err).toBe(true);
    }
    expect(readFileSync(file, 'utf8')).toBe('mine');
    expect(labState(databasePath(home))).toEqual(before);
    expect(nanolab(home, ['sample', '1', '--length', '20']).code).toBe(0);
  });
});

describe('a lab home that can move', () => {
  it('works after a move, and a copy reads its own files, never the original', () => {
    const home = labCopy();
    const moved = join(tempDir(), 'moved-lab');
    renameSync(home, moved);
    const show = nanolab(moved, ['show', '1', '--json']);
    expect(show.code, show.err).toBe(0);
    for (const c of JSON.parse(show.out.trim().split('\n').at(-1)!).checkpoints) expect(c.path.startsWith(moved)).toBe(true);
    expect(nanolab(moved, ['sample', '1', '--length', '20']).code).toBe(0);
    const copy = join(tempDir(), 'copied-lab');
    cpSync(moved, copy, { recursive: true });
    rmSync(moved, { recursive: true });
    expect(nanolab(copy, ['sample', '1', '--length', '20']).code).toBe(0);
    const out = join(tempDir(), 'export');
    expect(nanolab(copy, ['export', '1', '--out', out]).code).toBe(0);
    expect(nanolab(copy, ['resume', '1']).code).toBe(1); // already at its 30 steps: a clear refusal, not a missing file
  });

  it('migrates a lab whose database holds absolute paths (schema 2) to paths relative to its home', () => {
    const home = labCopy();
    const db = new RunStore(databasePath(home));
    // as an older NanoLab wrote them, under the folder the lab lived in then
    db.db.prepare("UPDATE checkpoints SET path = '/somewhere/else/nanolab/runs/1/checkpoints/' || kind").run();
    const config = JSON.parse((db.db.prepare('SELECT config FROM runs WHERE id = 1').get() as { config: string }).config);
    config.data.path = '/somewhere/else/nanolab/corpora/0123456789abcdef.txt';
    db.db.prepare('UPDATE runs SET config = ? WHERE id = 1').run(JSON.stringify(config));
    db.db.exec('ALTER TABLE run_log DROP COLUMN device'); // schema 2 had no device column
    db.db.exec('ALTER TABLE metrics DROP COLUMN active_ms'); // nor active time
    db.db.pragma('user_version = 2');
    db.close();
    const store = new RunStore(databasePath(home));
    expect(store.version).toBe(5);
    expect(store.db.prepare('SELECT path FROM checkpoints ORDER BY kind').all()).toEqual([
      { path: 'runs/1/checkpoints/best' },
      { path: 'runs/1/checkpoints/latest' },
    ]);
    expect((store.getRun(1).config as { data: { path: string } }).data.path).toBe('corpora/0123456789abcdef.txt');
    expect(store.checkpoints(1).map((c) => c.path)).toEqual([join(home, 'runs/1/checkpoints/best'), join(home, 'runs/1/checkpoints/latest')]);
    store.close();
    expect(nanolab(home, ['sample', '1', '--length', '10']).code).toBe(0);
  });
});

describe('crash-proof checkpoint swaps', () => {
  it('a crash between the two renames leaves the checkpoint findable: read and resume put it back', async () => {
    const home = labCopy();
    // the state a crash leaves: the old folder moved aside, the new one not yet in place
    const dir = join(home, 'runs', '1', 'checkpoints');
    renameSync(join(dir, 'latest'), join(dir, '.latest.old-424242'));
    mkdirSync(join(dir, '.latest.tmp-424242'));
    writeFileSync(join(dir, '.latest.tmp-424242', 'model.safetensors'), 'half-written');
    const r = nanolab(home, ['sample', '1', '--checkpoint', 'latest', '--length', '10']);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(dir, 'latest', 'model.safetensors'))).toBe(true);
    // and a run stopped part-way resumes from a checkpoint a crash left aside
    const fresh = tempDir('nanolab-home-');
    const child = spawnNanolab(fresh, ['train', ...TINY, '--data', smallCorpus(), '--steps', '400', '--log-every', '1']);
    await new Promise<void>((resolve) => {
      let out = '';
      let sent = false;
      child.stdout.on('data', (d) => {
        out += d;
        // once: a second Ctrl-C aborts without a checkpoint
        if (!sent && /eval step 10 /.test(out)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('close', () => resolve());
    });
    const stopped = nanolab(fresh, ['show', '1', '--json']);
    const run = JSON.parse(stopped.out.trim().split('\n').at(-1)!);
    expect(run.status).toBe('stopped');
    const ckpts = join(fresh, 'runs', '1', 'checkpoints');
    renameSync(join(ckpts, 'latest'), join(ckpts, '.latest.old-424243'));
    const resumed = nanolab(fresh, ['resume', '1', '--json']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(JSON.parse(resumed.out.trim().split('\n').at(-1)!)).toMatchObject({ status: 'finished', steps: 400 });
    expect(readdirSync(ckpts).sort()).toEqual(['best', 'latest']);
  }, 120_000);
});

describe('a damaged lab database', () => {
  it('is reported in one sentence by every command and never overwritten', () => {
    const home = tempDir();
    const garbage = Buffer.from('this is not a SQLite database, it is a shopping list\n'.repeat(100));
    writeFileSync(databasePath(home), garbage);
    for (const args of [['runs'], ['show', '1'], ['sample', '1'], ['export', '1', '--out', join(tempDir(), 'x')], ['train', ...TINY, '--steps', '5']]) {
      const r = nanolab(home, args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(oneLine(r.err), r.err).toBe(true);
      expect(r.err).toContain('is damaged');
      expect(r.err).toContain('move it aside');
    }
    expect(readFileSync(databasePath(home))).toEqual(garbage);
    expect(readdirSync(home)).toEqual(['lab.sqlite']);
  });

  it('a truncated database is reported the same way', () => {
    const home = labCopy();
    const path = databasePath(home);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, 1500));
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    const r = nanolab(home, ['runs']);
    expect(r.code).toBe(1);
    expect(oneLine(r.err), r.err).toBe(true);
    expect(r.err).toMatch(/is damaged|cannot be opened/);
    expect(statSync(path).size).toBe(1500);
  });
});

const noMount = canMount();

describe.skipIf(noMount !== null)(`read-only and full disks (tmpfs)${noMount ? `: skipped, ${noMount}` : ''}`, () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts) unmount(m);
  });

  it('a read-only lab home opens read-only: runs, show, sample and export work; training is refused in one sentence', () => {
    const mount = tempDir();
    mountTmpfs(mount, '16m');
    mounts.push(mount);
    const home = join(mount, 'lab');
    cpSync(template, home, { recursive: true });
    remount(mount, 'ro');
    for (const args of [['runs'], ['show', '1'], ['sample', '1', '--length', '20'], ['export', '1', '--out', join(tempDir(), 'e')], ['compare', '1', '1']]) {
      const r = nanolab(home, args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
    }
    const train = nanolab(home, ['train', ...TINY, '--data', smallCorpus(), '--steps', '5']);
    expect(train.code).toBe(1);
    expect(oneLine(train.err), train.err).toBe(true);
    expect(train.err).toMatch(/read-only|cannot be written/);
    const rename = nanolab(home, ['resume', '1']);
    expect(rename.code).toBe(1);
    expect(oneLine(rename.err), rename.err).toBe(true);
  });

  it('a disk that fills up mid-run stops the run as failed with the reason, keeping what was written', () => {
    const mount = tempDir();
    mountTmpfs(mount, '3m');
    mounts.push(mount);
    const home = join(mount, 'lab');
    mkdirSync(home);
    expect(nanolab(home, ['runs']).code).toBe(0);
    // leave about 160 KB: the corpus copy and the first checkpoints fit, the metrics soon do not
    const filler = join(mount, 'filler');
    writeFileSync(filler, Buffer.alloc(0));
    const free = () => Number(/\d+/.exec(readFileSync('/proc/self/mountinfo', 'utf8'))?.[0] ?? 0);
    void free;
    let size = 0;
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (;;) {
        writeFileSync(filler, chunk, { flag: 'a' });
        size += chunk.length;
      }
    } catch {
      // ENOSPC: the disk is full; give back a little
    }
    writeFileSync(filler, Buffer.alloc(Math.max(0, size - 160 * 1024)));
    const r = nanolab(home, ['train', ...TINY, '--data', smallCorpus(), '--steps', '100000', '--log-every', '1000', '--json']);
    expect(r.code).toBe(1);
    expect(r.err + r.out).not.toMatch(/^\s+at /m);
    rmSync(filler);
    const state = labState(databasePath(home));
    expect(state.integrity).toBe('ok');
    const runs = nanolab(home, ['show', '1', '--json']);
    expect(runs.code, runs.err).toBe(0);
    const run = JSON.parse(runs.out.trim().split('\n').at(-1)!);
    expect(run.status).toBe('failed');
    expect(run.statusReason).toMatch(/full|ENOSPC|no space/i);
    // the best val loss shown is that of a best checkpoint that exists
    const best = run.checkpoints.find((c: { kind: string }) => c.kind === 'best');
    if (run.bestValLoss !== null) {
      expect(best.valLoss).toBe(run.bestValLoss);
      expect(existsSync(join(best.path, 'model.safetensors'))).toBe(true);
    }
    if (run.checkpoints.length > 0) expect(nanolab(home, ['sample', '1', '--checkpoint', 'latest', '--length', '10']).code).toBe(0);
  });
});
