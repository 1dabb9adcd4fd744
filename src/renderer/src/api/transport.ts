// The renderer's one door to the host. In the desktop app the preload exposes an IPC bridge on
// window.nanolab; in browser mode (`nanolab serve`) the same contract travels over a WebSocket to
// the page's own origin, authenticated by the token the server printed in its URL. Views call
// `api.invoke(...)` and `api.on(...)` and never know which one they got. Results and events are
// validated against the contract on arrival, as the host validates requests.
import {
  isEventName,
  parseEvent,
  parseResponse,
  wireFrame,
  type EventName,
  type EventPayload,
  type HostKind,
  type Method,
  type NanoLabApi,
  type PreloadBridge,
  type Request,
  type Response,
} from '../../../shared/contract';

type Listener = (payload: unknown) => void;

class Listeners {
  private readonly byName = new Map<string, Set<Listener>>();
  add(name: string, listener: Listener): () => void {
    let set = this.byName.get(name);
    if (!set) this.byName.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
  emit(name: string, payload: unknown): void {
    if (!isEventName(name)) throw new Error(`the host sent an unknown event "${name}"`);
    const parsed = parseEvent(name, payload);
    for (const listener of this.byName.get(name) ?? []) listener(parsed);
  }
}

function electronApi(bridge: PreloadBridge): NanoLabApi {
  const listeners = new Listeners();
  const subscribed = new Set<string>();
  return {
    host: 'electron',
    async invoke<M extends Method>(method: M, payload: Request<M>): Promise<Response<M>> {
      return parseResponse(method, await bridge.invoke(method, payload));
    },
    on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void {
      if (!subscribed.has(name)) {
        subscribed.add(name);
        bridge.on(name, (payload) => listeners.emit(name, payload));
      }
      return listeners.add(name, listener as Listener);
    },
  };
}

/** The token from `?token=` (kept for this tab, then removed from the address bar). */
export function sessionToken(): string {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem('nanolab-token', fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem('nanolab-token') ?? '';
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

function browserApi(onState: (state: ConnectionState, detail: string) => void): NanoLabApi {
  const listeners = new Listeners();
  const pending = new Map<number, { method: Method; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const token = sessionToken();
  let nextId = 1;
  let socket: WebSocket;
  let opened: Promise<void>;
  let retryMs = 500;

  const connect = () => {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${window.location.host}/ws?token=${encodeURIComponent(token)}`);
    onState('connecting', '');
    opened = new Promise((resolve) => socket.addEventListener('open', () => resolve(), { once: true }));
    socket.addEventListener('open', () => {
      retryMs = 500;
      onState('open', '');
    });
    socket.addEventListener('message', (message) => {
      const frame = wireFrame.parse(JSON.parse(String(message.data)));
      if (frame.kind === 'event') listeners.emit(frame.name, frame.payload);
      else if (frame.kind === 'response') {
        const p = pending.get(frame.id);
        if (!p) return;
        pending.delete(frame.id);
        if (frame.ok) {
          try {
            p.resolve(parseResponse(p.method, frame.result));
          } catch (error) {
            p.reject(error as Error);
          }
        } else p.reject(new Error(frame.error));
      }
    });
    socket.addEventListener('close', (event) => {
      for (const p of pending.values()) p.reject(new Error('the connection to the NanoLab server closed; the request may not have finished'));
      pending.clear();
      // 4401: the server refused the token; retrying cannot help
      if (event.code === 4401) {
        onState('closed', 'The server refused this page: open the URL that `nanolab serve` printed (it carries the access token).');
        return;
      }
      onState('closed', 'Lost the connection to `nanolab serve`; reconnecting…');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    });
  };
  connect();

  return {
    host: 'browser',
    async invoke<M extends Method>(method: M, payload: Request<M>): Promise<Response<M>> {
      await opened;
      const id = nextId++;
      return new Promise<Response<M>>((resolve, reject) => {
        pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
        socket.send(JSON.stringify({ kind: 'request', id, method, payload }));
      });
    },
    on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void {
      return listeners.add(name, listener as Listener);
    },
  };
}

/** Reactive-friendly connection state for the status bar (browser mode only). */
export const connection = { state: 'connecting' as ConnectionState, detail: '', listeners: new Set<() => void>() };

export const hostKind: HostKind = window.nanolab ? 'electron' : 'browser';

export const api: NanoLabApi = window.nanolab
  ? electronApi(window.nanolab)
  : browserApi((state, detail) => {
      connection.state = state;
      connection.detail = detail;
      for (const l of connection.listeners) l();
    });

/** Where a checkpoint export downloads from in browser mode (a .tar of the checkpoint folder). */
export function exportDownloadUrl(runId: number, checkpoint: 'best' | 'latest'): string {
  return `/api/export?run=${runId}&checkpoint=${checkpoint}`;
}
