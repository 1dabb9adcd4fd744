import { beforeAll, describe, expect, it, vi } from 'vitest';
import { IPC_EVENT, IPC_INVOKE, type PreloadBridge } from '../../src/shared/contract';

// The preload runs inside Electron's sandbox, which cannot start here (no Electron binary): this
// test stands in for the two Electron objects it touches and checks what crosses the bridge.

const exposed: Record<string, unknown> = {};
const ipcListeners: ((event: unknown, ...args: unknown[]) => void)[] = [];
const invoke = vi.fn();

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => (exposed[key] = value) },
  ipcRenderer: {
    invoke: (...args: unknown[]) => invoke(...args),
    on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void) => {
      if (channel === IPC_EVENT) ipcListeners.push(listener);
    },
  },
}));

let bridge: PreloadBridge;
beforeAll(async () => {
  await import('../../src/preload/index');
  bridge = exposed.nanolab as PreloadBridge;
});

describe('the preload bridge', () => {
  it('exposes exactly invoke, on and versions as window.nanolab', () => {
    expect(Object.keys(exposed)).toEqual(['nanolab']);
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'on', 'versions']);
    expect(bridge.versions.node).toBe(process.versions.node);
  });

  it('forwards contract methods over one IPC channel and turns error replies into errors', async () => {
    invoke.mockResolvedValueOnce({ ok: true, result: [] });
    await expect(bridge.invoke('runs.list', {})).resolves.toEqual([]);
    expect(invoke).toHaveBeenLastCalledWith(IPC_INVOKE, 'runs.list', {});
    invoke.mockResolvedValueOnce({ ok: false, error: 'runs.get request: id: Too small: expected number to be >0' });
    await expect(bridge.invoke('runs.get', { id: 0 })).rejects.toThrow('runs.get request: id: Too small');
  });

  it('refuses names the contract does not declare before anything crosses IPC', async () => {
    invoke.mockClear();
    await expect(bridge.invoke('fs.readFile', { path: '/etc/passwd' })).rejects.toThrow('"fs.readFile" is not a NanoLab method');
    expect(() => bridge.on('anything', () => {})).toThrow('"anything" is not a NanoLab event');
    expect(invoke).not.toHaveBeenCalled();
  });

  it('delivers pushed events to the listeners of that event only, until they unsubscribe', () => {
    const got: unknown[] = [];
    const off = bridge.on('runs.changed', (p) => got.push(p));
    bridge.on('sample.tokens', () => got.push('wrong'));
    for (const l of ipcListeners) l({}, 'runs.changed', {});
    off();
    for (const l of ipcListeners) l({}, 'runs.changed', {});
    expect(got).toEqual([{}]);
  });
});
