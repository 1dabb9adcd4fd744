import { describe, it, expect } from 'vitest';
import { formatIds, parseIds } from '../../src/renderer/src/lib/ids';
import { nextMenuIndex } from '../../src/renderer/src/lib/menu';
import { allTags, canContinue, filterRuns, isActive, isFiltering, parseTags, sortRuns, textMatcher } from '../../src/renderer/src/lib/runs';
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

  it('filters by family, status, tag and a text over name, tags and family', () => {
    const runs = [
      run(1, { name: 'tiny lstm', family: 'lstm', tags: ['baseline'] }),
      run(2, { name: 'big one', family: 'gpt', status: 'running', tags: ['sweep'] }),
      run(3, { name: 'gpt-small', family: 'gpt', tags: [] }),
    ];
    const none = { family: '', status: '', tag: '', text: '' };
    const ids = (f: Partial<typeof none>) => filterRuns(runs, { ...none, ...f }).runs.map((r) => r.id);
    expect(ids({})).toEqual([1, 2, 3]);
    expect(isFiltering(none)).toBe(false);
    expect(isFiltering({ ...none, text: '  ' })).toBe(false);
    expect(ids({ family: 'gpt' })).toEqual([2, 3]);
    expect(ids({ status: 'running' })).toEqual([2]);
    expect(ids({ tag: 'baseline' })).toEqual([1]);
    expect(ids({ text: 'SWEEP' })).toEqual([2]); // a tag, any case
    expect(ids({ text: 'gpt' })).toEqual([2, 3]); // the family, and a name
    expect(ids({ text: '^(tiny|big)\\b' })).toEqual([1, 2]); // a regular expression
    expect(ids({ text: 'gpt', family: 'gpt', status: 'finished' })).toEqual([3]);
    expect(filterRuns(runs, { ...none, text: 'gpt' }).error).toBeNull();
  });

  it('says why a regex is invalid, and matches it as plain text', () => {
    const m = textMatcher('(gpt');
    expect(m.error).toBe(
      '“(gpt” is not a valid regular expression (Unterminated group); matching it as plain text. Escape special characters with \\ to match them.',
    );
    expect(m.test('a (GPT) run')).toBe(true);
    expect(m.test('gpt')).toBe(false);
    const runs = [run(1, { name: 'x (gpt' }), run(2)];
    expect(filterRuns(runs, { family: '', status: '', tag: '', text: '(gpt' }).runs.map((r) => r.id)).toEqual([1]);
  });
});

describe('menu keys', () => {
  const enabled = [true, false, true, true];
  it('moves with the arrows, wraps, skips disabled items, and jumps with Home/End', () => {
    expect(nextMenuIndex(-1, 'ArrowDown', enabled)).toBe(0);
    expect(nextMenuIndex(-1, 'ArrowUp', enabled)).toBe(3);
    expect(nextMenuIndex(0, 'ArrowDown', enabled)).toBe(2); // 1 is disabled
    expect(nextMenuIndex(3, 'ArrowDown', enabled)).toBe(0); // wraps
    expect(nextMenuIndex(0, 'ArrowUp', enabled)).toBe(3);
    expect(nextMenuIndex(2, 'ArrowUp', enabled)).toBe(0);
    expect(nextMenuIndex(2, 'Home', enabled)).toBe(0);
    expect(nextMenuIndex(0, 'End', enabled)).toBe(3);
    expect(nextMenuIndex(0, 'a', enabled)).toBeNull();
    expect(nextMenuIndex(0, 'ArrowDown', [false, false])).toBeNull();
  });
});
