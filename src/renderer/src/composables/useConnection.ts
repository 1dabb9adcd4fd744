import { onBeforeUnmount, ref } from 'vue';
import { connection, hostKind, type ConnectionState } from '../api/transport';

/** The browser mode's WebSocket state for the status bar (always "open" in the desktop app). */
export function useConnection() {
  const state = ref<ConnectionState>(hostKind === 'electron' ? 'open' : connection.state);
  const detail = ref(hostKind === 'electron' ? '' : connection.detail);
  const update = () => {
    state.value = connection.state;
    detail.value = connection.detail;
  };
  if (hostKind === 'browser') {
    connection.listeners.add(update);
    onBeforeUnmount(() => connection.listeners.delete(update));
  }
  return { state, detail, hostKind };
}
