import { describe, it, expect } from 'vitest';
import { formatIds, parseIds } from '../../src/renderer/src/lib/ids';
import { allTags, canContinue, isActive, parseTags, sortRuns } from '../../src/renderer/src/lib/runs';
import type { RunSummary } from '../../src/shared/contract';

const run = (id: number, over: Partial<RunSummary> = {}): RunSummary => ({
  id,
  name: `run ${id}`,
  status: 'finished',
  statusReason: null,
  family: 'gpt',
  paramCount: 1000 * id,
  createdAt: id,
  finishedAt: null,
  notes: '',
  tags: [],
  steps: 10 * id,
  bestValLoss: 2 - id / 10,
  tokensPerSec: null,
  ...over,
});

describe('run ids in URLs', () => {
  it('parses comma-separated ids, skipping junk and duplicates', () => {
    expect(parseIds('1,2, 3,x,2,0,-4,5.5')).toEqual([1, 2, 3]);
    expect(parseIds(['4', '5'])).toEqual([4, 5]);
    expect(parseIds(undefined)).toEqual([]);
    expect(formatIds([3, 1])).toBe('3,1');
  });
});

describe('runs table', () => {
  it('sorts by any column, nulls last both ways', () => {
    const runs = [run(1, { bestValLoss: null }), run(2), run(3)];
    expect(sortRuns(runs, { column: 'bestValLoss', descending: false }).map((r) => r.id)).toEqual([3, 2, 1]);
    expect(sortRuns(runs, { column: 'bestValLoss', descending: true }).map((r) => r.id)).toEqual([2, 3, 1]);
    expect(sortRuns(runs, { column: 'name', descending: true }).map((r) => r.id)).toEqual([3, 2, 1]);
    expect(sortRuns([run(10), run(9)], { column: 'name', descending: false }).map((r) => r.id)).toEqual([9, 10]);
  });

  it('knows which runs are active and which can continue', () => {
    expect(isActive('running')).toBe(true);
    expect(isActive('finished')).toBe(false);
    expect(canContinue('stopped', 1, false)).toBe(true);
    expect(canContinue('stopped', 0, false)).toBe(false);
    expect(canContinue('finished', 2, false)).toBe(false);
    expect(canContinue('interrupted', 2, true)).toBe(false);
  });

  it('collects and parses tags', () => {
    expect(allTags([run(1, { tags: ['b', 'a'] }), run(2, { tags: ['a'] })])).toEqual(['a', 'b']);
    expect(parseTags(' a, b  c,,a ')).toEqual(['a', 'b', 'c']);
  });
});
