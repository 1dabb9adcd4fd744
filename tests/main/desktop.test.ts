import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dialogParent, hasAppWindow, installQuitSequence, isAppUrl, navigationDecision, rendererSource, startDesktop } from '../../src/main/desktop';

// The main process's decisions, run under Node: Electron's app, dialog and windows are stand-ins
// that behave as Electron documents them (Electron itself cannot start here).

const builtIndex = '/home/ada/My Apps/nanolab/out/renderer/index.html';
// the address Chromium reports for loadFile(builtIndex)
const indexUrl = 'file:///home/ada/My%20Apps/nanolab/out/renderer/index.html';
const built = rendererSource({ isPackaged: true, devServerUrl: undefined, builtIndex });
const dev = rendererSource({ isPackaged: false, devServerUrl: 'http://localhost:5173', builtIndex });

describe('rendererSource', () => {
  it('uses the dev server only for an unpackaged app that electron-vite dev started', () => {
    expect(built).toEqual({ kind: 'file', path: builtIndex });
    expect(rendererSource({ isPackaged: false, devServerUrl: undefined, builtIndex })).toEqual({ kind: 'file', path: builtIndex });
    expect(rendererSource({ isPackaged: true, devServerUrl: 'http://localhost:5173', builtIndex })).toEqual({ kind: 'file', path: builtIndex });
    expect(dev.kind).toBe('dev');
  });

  it('refuses a dev server address that is not an http(s) URL, naming it', () => {
    expect(() => rendererSource({ isPackaged: false, devServerUrl: 'http//localhost:5173', builtIndex })).toThrow(
      /ELECTRON_RENDERER_URL \(http\/\/localhost:5173\) is not a URL/,
    );
    expect(() => rendererSource({ isPackaged: false, devServerUrl: 'file:///tmp/x.html', builtIndex })).toThrow(/must be an http\(s\) address/);
    expect(() => rendererSource({ isPackaged: false, devServerUrl: 'localhost:5173', builtIndex })).toThrow(/must be an http\(s\) address/);
  });
});

describe('isAppUrl with the built page', () => {
  const accepted = [
    indexUrl,
    `${indexUrl}#/runs`,
    `${indexUrl}#/gpu-host`,
    `${indexUrl}#/runs/3`,
    `${indexUrl}#`,
    // spellings of the same file
    'file://localhost/home/ada/My%20Apps/nanolab/out/renderer/index.html#/runs',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/index%2Ehtml',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/../renderer/index.html',
  ];
  const refused = [
    'file:///other/index.html',
    'file:///home/ada/index.html',
    'file:///home/ada/Downloads/page.html',
    'file:///home/ada/notes.txt',
    `${indexUrl}?x`,
    `${indexUrl}?`,
    `${indexUrl}?#/runs`,
    `${indexUrl}/../evil.html`,
    `${indexUrl}/../../evil/index.html`,
    'file:///home/ada/My%20Apps/nanolab/out/renderer/evil.html#/../index.html',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/%2e%2e/evil/index.html',
    'file:///home/ada/My%20Apps/nanolab/out/renderer%2Findex.html',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/index.html%00.txt',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/index.html.bak',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/index.htm',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/',
    'file:///home/ada/My%20Apps/nanolab/out/renderer/assets/index.html',
    'file:///HOME/ada/My%20Apps/nanolab/out/renderer/index.html',
    'file://evil.example/home/ada/My%20Apps/nanolab/out/renderer/index.html',
    'http://localhost:5173/',
    'https://example.com/index.html',
    'javascript:alert(1)',
    'data:text/html,<script>window.nanolab</script>',
    'about:blank',
    '',
    'not a url',
  ];

  it.each(accepted)('accepts %s', (url) => {
    expect(isAppUrl(url, built)).toBe(true);
  });

  it.each(refused)('refuses %s', (url) => {
    expect(isAppUrl(url, built)).toBe(false);
  });
});

describe('isAppUrl with the dev server', () => {
  const accepted = [
    'http://localhost:5173',
    'http://localhost:5173/',
    'http://localhost:5173/#/runs',
    'http://localhost:5173#/gpu-host',
    'HTTP://LOCALHOST:5173/#/new',
  ];
  const refused = [
    'http://localhost:5174/',
    'http://localhost:51730/',
    'http://127.0.0.1:5173/',
    'https://localhost:5173/',
    'http://localhost:5173.evil.example/',
    'http://localhost:5173@evil.example/',
    'http://user@localhost:5173/',
    'http://localhost:5173/?x',
    'http://localhost:5173/other.html',
    'http://localhost:5173/@fs/etc/passwd',
    'http://localhost/',
    // during development the built page is not the app
    indexUrl,
    'file:///tmp/dropped.html',
  ];

  it.each(accepted)('accepts %s', (url) => {
    expect(isAppUrl(url, dev)).toBe(true);
  });

  it.each(refused)('refuses %s', (url) => {
    expect(isAppUrl(url, dev)).toBe(false);
  });
});

describe('navigationDecision', () => {
  it('keeps app routes, sends web links to the browser and blocks everything else', () => {
    expect(navigationDecision(`${indexUrl}#/compare`, built)).toBe('stay');
    expect(navigationDecision('https://pytorch.org/docs', built)).toBe('browser');
    expect(navigationDecision('http://localhost:5173/', built)).toBe('browser');
    // a file dropped outside the drop zone
    expect(navigationDecision('file:///home/ada/Downloads/shakespeare.txt', built)).toBe('block');
    expect(navigationDecision('file:///home/ada/Downloads/page.html', built)).toBe('block');
    expect(navigationDecision('javascript:alert(1)', built)).toBe('block');
    expect(navigationDecision('http://localhost:5173/#/runs', dev)).toBe('stay');
    expect(navigationDecision('file:///home/ada/Downloads/page.html', dev)).toBe('block');
  });
});

class FakeWindow {
  constructor(
    readonly name: string,
    private readonly visible = true,
    private readonly destroyed = false,
  ) {}
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isVisible(): boolean {
    return this.visible;
  }
}

describe('windows and dialogs', () => {
  const main = new FakeWindow('main');
  const second = new FakeWindow('second');
  const host = new FakeWindow('gpu host', false);
  const gone = new FakeWindow('closed', true, true);

  it('counts the windows a user can see, not the hidden GPU host', () => {
    expect(hasAppWindow([], null)).toBe(false);
    expect(hasAppWindow([host], host)).toBe(false);
    expect(hasAppWindow([gone, host], host)).toBe(false);
    expect(hasAppWindow([host, main], host)).toBe(true);
  });

  it('attaches a dialog to the focused window, else the first visible one, never the GPU host', () => {
    expect(dialogParent(second, [main, second, host], host)).toBe(second);
    expect(dialogParent(null, [host, main], host)).toBe(main);
    expect(dialogParent(host, [host, main], host)).toBe(main);
    expect(dialogParent(null, [gone, host, second], host)).toBe(second);
    expect(dialogParent(null, [host], host)).toBeUndefined();
    expect(dialogParent(null, [], null)).toBeUndefined();
  });
});

/** Electron's app as far as quitting goes: quit() asks 'before-quit', and quits unless prevented. */
class FakeApp extends EventEmitter {
  exits: { code: number | undefined; labClosed: boolean }[] = [];
  /** Times Electron would have gone on to close the windows and end the process itself. */
  unpreventedQuits = 0;

  constructor(private readonly lab: FakeLab) {
    super();
  }

  quit(): void {
    let prevented = false;
    this.emit('before-quit', { preventDefault: () => (prevented = true) });
    if (!prevented) this.unpreventedQuits++;
  }

  exit(code?: number): void {
    this.exits.push({ code, labClosed: this.lab.closed });
  }
}

/** The lab's close(): stops live runs (a checkpoint each) and the database; resolves when told. */
class FakeLab {
  calls = 0;
  closed = false;
  private finish: (() => void) | null = null;
  private fail: ((error: Error) => void) | null = null;

  close(): Promise<void> {
    this.calls++;
    return new Promise((resolve, reject) => {
      this.finish = () => {
        this.closed = true;
        resolve();
      };
      this.fail = reject;
    });
  }

  resolve(): void {
    this.finish?.();
  }

  reject(error: Error): void {
    this.fail?.(error);
  }
}

type Step = 'closed' | 'window-all-closed' | 'before-quit' | 'second quit';

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function setUp(platform: NodeJS.Platform) {
  const lab = new FakeLab();
  const app = new FakeApp(lab);
  const reports: string[] = [];
  const sequence = installQuitSequence({ app, lab, platform, report: (message) => reports.push(message) });
  const take = (step: Step) => {
    // 'closed': the main window's handler (index.ts) when no app window is left
    if (step === 'closed') void sequence.quit();
    else if (step === 'window-all-closed') app.emit('window-all-closed');
    else app.quit();
  };
  return { lab, app, reports, take };
}

describe('installQuitSequence', () => {
  const steps: Step[] = ['closed', 'window-all-closed', 'before-quit', 'second quit'];
  const orders = permutations(steps);

  it('closes the lab once and exits only after, whatever the order of the quit requests', async () => {
    expect(orders).toHaveLength(24);
    for (const order of orders) {
      // the lab finishes closing after the first, second, third or last request
      for (let resolveAfter = 1; resolveAfter <= order.length; resolveAfter++) {
        const { lab, app, take } = setUp('linux');
        for (const [i, step] of order.entries()) {
          take(step);
          await flush();
          if (i + 1 === resolveAfter) lab.resolve();
          await flush();
          if (i + 1 < resolveAfter) {
            expect(app.unpreventedQuits, `${order.join(' > ')}: quit before lab.close() resolved`).toBe(0);
            expect(app.exits, `${order.join(' > ')}: exited before lab.close() resolved`).toEqual([]);
          }
        }
        await flush();
        const where = `${order.join(' > ')}, lab closed after request ${resolveAfter}`;
        expect(lab.calls, where).toBe(1);
        expect(app.exits, where).toEqual([{ code: 0, labClosed: true }]);
        expect(app.unpreventedQuits, where).toBe(0);
      }
    }
  });

  it('holds a quit that arrives after the exit was decided (no second close, no second exit)', async () => {
    const { lab, app, take } = setUp('linux');
    take('closed');
    await flush();
    lab.resolve();
    await flush();
    take('second quit');
    take('window-all-closed');
    await flush();
    expect(lab.calls).toBe(1);
    expect(app.exits).toEqual([{ code: 0, labClosed: true }]);
    expect(app.unpreventedQuits).toBe(0);
  });

  it('keeps a macOS app open without windows, and quits it the same way on Cmd+Q', async () => {
    const { lab, app, take } = setUp('darwin');
    take('window-all-closed');
    await flush();
    expect(lab.calls).toBe(0);
    take('before-quit');
    await flush();
    expect(app.exits).toEqual([]);
    lab.resolve();
    await flush();
    expect(lab.calls).toBe(1);
    expect(app.exits).toEqual([{ code: 0, labClosed: true }]);
  });

  it('says so and exits with status 1 when the lab cannot close', async () => {
    const { lab, app, reports, take } = setUp('linux');
    take('before-quit');
    await flush();
    lab.reject(new Error('database is locked'));
    await flush();
    expect(app.exits).toEqual([{ code: 1, labClosed: false }]);
    expect(reports).toEqual([
      'NanoLab could not stop its runs cleanly: database is locked. Runs that were training continue from their last saved checkpoint.',
    ]);
  });
});

describe('startDesktop', () => {
  function fakes(ready: Promise<unknown> = Promise.resolve()) {
    const events: string[] = [];
    return {
      events,
      app: { whenReady: () => ready, exit: (code?: number) => void events.push(`exit ${code}`) },
      dialog: { showErrorBox: (title: string, content: string) => void events.push(`${title}: ${content}`) },
      report: (message: string) => void events.push(`stderr ${message}`),
    };
  }

  it('starts the lab once Electron is ready', async () => {
    const { events, app, dialog, report } = fakes();
    await startDesktop({ app, dialog, report, start: () => void events.push('started') });
    expect(events).toEqual(['started']);
  });

  it('shows why the app cannot start, then exits with status 1', async () => {
    const { events, app, dialog, report } = fakes();
    const reason =
      'No better-sqlite3 build for Electron 41.7.1 (NODE_MODULE_VERSION 145) at /lab/build/native/electron-145/better_sqlite3.node. Run `node scripts/native.mjs --runtime electron` (npm start does this) to build it.';
    await startDesktop({
      app,
      dialog,
      report,
      start: () => {
        throw new Error(reason);
      },
    });
    expect(events).toEqual([`stderr NanoLab could not start: ${reason}`, `NanoLab could not start: ${reason}`, 'exit 1']);
  });

  it('reports a failure of an asynchronous start the same way', async () => {
    const { events, app, dialog, report } = fakes();
    await startDesktop({ app, dialog, report, start: () => Promise.reject(new Error('cannot open /lab/nanolab.db: disk full')) });
    expect(events.at(-2)).toBe('NanoLab could not start: cannot open /lab/nanolab.db: disk full');
    expect(events.at(-1)).toBe('exit 1');
  });
});
