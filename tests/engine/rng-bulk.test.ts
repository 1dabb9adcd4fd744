import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { Rng } from '../../src/engine/rng';

// Rng.randomInto (the dropout mask's bulk draws) gives exactly what random() gives, call by call,
// and leaves the same state; so a seeded run's dropout masks did not change with it.

describe('Rng.randomInto', () => {
  it('equals n calls of random(), and the state after', () => {
    for (const seed of [0, 1, 1337, 2 ** 40 + 7]) {
      const a = new Rng(seed),
        b = new Rng(seed);
      a.normal(); // a spare normal is kept: randomInto leaves it alone
      b.normal();
      const out = new Float64Array(1000);
      a.randomInto(out, 777);
      for (let i = 0; i < 777; i++) expect(out[i]).toBe(b.random());
      expect(out[777]).toBe(0);
      expect(a.getState()).toEqual(b.getState());
      expect(a.random()).toBe(b.random());
      expect(a.normal()).toBe(b.normal());
    }
  });

  it("a dropout mask is the per-element draw's, across the chunk boundary", () => {
    const backend = new CpuBackend('float32', 'js');
    const mask = backend.alloc([3, 3001]);
    const rng = new Rng(5);
    backend.dropoutMask(mask, 0.3, rng);
    const ref = new Rng(5);
    const got = backend.read(mask);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBe(ref.random() < 0.3 ? 0 : Math.fround(1 / 0.7));
    expect(rng.getState()).toEqual(ref.getState());
  });
});
