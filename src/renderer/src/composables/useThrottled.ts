import { onBeforeUnmount, ref } from 'vue';

/**
 * A counter that bumps at most `hz` times a second however often `touch()` is called: live
 * training sends many points a second, and a chart only needs to redraw a few times.
 */
export function useThrottledVersion(hz = 4) {
  const version = ref(0);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  const fire = () => {
    timer = null;
    last = Date.now();
    version.value++;
  };
  function touch(): void {
    if (timer !== null) return;
    const wait = Math.max(0, 1000 / hz - (Date.now() - last));
    timer = setTimeout(fire, wait);
  }
  onBeforeUnmount(() => {
    if (timer !== null) clearTimeout(timer);
  });
  return { version, touch };
}
