// Keyboard movement in a menu (the WAI-ARIA menu pattern): arrows move and wrap, Home/End jump,
// disabled items are skipped.

/** The item a key moves focus to from `current` (−1: none yet), or null for a key that does not move. */
export function nextMenuIndex(current: number, key: string, enabled: readonly boolean[]): number | null {
  const n = enabled.length;
  const usable = enabled.map((e, i) => (e ? i : -1)).filter((i) => i >= 0);
  if (usable.length === 0) return null;
  const step = (from: number, dir: 1 | -1): number => {
    for (let k = 1; k <= n; k++) {
      const i = (((from + dir * k) % n) + n) % n;
      if (enabled[i]) return i;
    }
    return from;
  };
  switch (key) {
    case 'ArrowDown':
      return current < 0 ? usable[0] : step(current, 1);
    case 'ArrowUp':
      return current < 0 ? usable[usable.length - 1] : step(current, -1);
    case 'Home':
      return usable[0];
    case 'End':
      return usable[usable.length - 1];
    default:
      return null;
  }
}
