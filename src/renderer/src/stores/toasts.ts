import { defineStore } from 'pinia';
import { ref } from 'vue';

// Messages for the global toast area: errors the host sent back (already sentences for people)
// and short confirmations ("Saved to …").

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

/** The human message of anything thrown or rejected. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'Something went wrong (no details were given).';
}

export const useToasts = defineStore('toasts', () => {
  const toasts = ref<Toast[]>([]);
  let nextId = 1;

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id);
  }

  function push(kind: Toast['kind'], text: string): void {
    const id = nextId++;
    toasts.value = [...toasts.value.slice(-4), { id, kind, text }];
    // errors stay until dismissed; confirmations fade
    if (kind === 'info') setTimeout(() => dismiss(id), 6000);
  }

  return {
    toasts,
    dismiss,
    error: (error: unknown) => push('error', messageOf(error)),
    info: (text: string) => push('info', text),
  };
});
