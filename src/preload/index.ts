// Exposes exactly the contract as window.nanolab: one invoke for the contract's methods and one
// subscription for its events. The renderer is sandboxed; this file is its only door to the main
// process, and it refuses names the contract does not declare before anything crosses IPC (the
// main process validates every payload again on arrival).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_EVENT, IPC_INVOKE, isEventName, isMethod, type PreloadBridge } from '../shared/contract';

type Listener = (payload: unknown) => void;
const listeners = new Map<string, Set<Listener>>();

ipcRenderer.on(IPC_EVENT, (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
  if (typeof name !== 'string') return;
  for (const listener of listeners.get(name) ?? []) listener(payload);
});

const bridge: PreloadBridge = {
  versions: {
    app: __APP_VERSION__,
    electron: process.versions.electron ?? '',
    chrome: process.versions.chrome ?? '',
    node: process.versions.node,
  },
  async invoke(method: string, payload: unknown): Promise<unknown> {
    if (!isMethod(method)) throw new Error(`"${method}" is not a NanoLab method`);
    const reply = (await ipcRenderer.invoke(IPC_INVOKE, method, payload)) as { ok: true; result: unknown } | { ok: false; error: string };
    // errors travel as data: Electron would otherwise prefix them with its own IPC wording
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  },
  on(name: string, listener: Listener): () => void {
    if (!isEventName(name)) throw new Error(`"${name}" is not a NanoLab event`);
    let set = listeners.get(name);
    if (!set) listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  },
};

contextBridge.exposeInMainWorld('nanolab', bridge);
