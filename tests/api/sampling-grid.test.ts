import { describe, expect, it } from 'vitest';
import { generate, nextTokenLogits } from '../../src/engine/generate';
import { cellStats } from '../../src/engine/sample';
import type { LabApi } from '../../src/main/api/lab-api';
import { gridCells, MAX_GRID_TOKENS } from '../../src/main/api/sampling-grid';
import { loadRunModel } from '../../src/main/api/run-model';
import type { EventPayload } from '../../src/shared/contract';
import { openApi, tinyDraft } from './helpers';

// The Sample view's server side: the sampling grid (one request, progress, cancel), the next
// token's logits for the live bars, and no-repeat-ngram passed through to the engine.

async function trained(api: LabApi): Promise<number> {
  const { id } = await api.call('runs.start', tinyDraft());
  while ((await api.call('runs.get', { id })).live) await new Promise((r) => setTimeout(r, 50));
  return id;
}

describe('sample.grid', () => {
  it('lists each cell once, temperature-major', () => {
    expect(gridCells({ temperatures: [0.5, 1, 0.5], topKs: [0, 5], topPs: [1] })).toEqual([
      { temperature: 0.5, topK: 0, topP: 1 },
      { temperature: 0.5, topK: 5, topP: 1 },
      { temperature: 1, topK: 0, topP: 1 },
      { temperature: 1, topK: 5, topP: 1 },
    ]);
  });

  it('samples every cell with the same seeds and measures it as the engine does', async () => {
    const { api, events } = openApi();
    const id = await trained(api);
    const request = { runId: id, checkpoint: 'best' as const, prompt: 'ROMEO:', length: 24, temperatures: [0.5, 1.5], topKs: [0, 3], samples: 2, seed: 7 };
    const result = await api.call('sample.grid', { requestId: 'g1', ...request });
    expect(result.stopped).toBe(false);
    expect(result.cells.map((c) => [c.temperature, c.topK, c.topP])).toEqual([
      [0.5, 0, 1],
      [0.5, 3, 1],
      [1.5, 0, 1],
      [1.5, 3, 1],
    ]);
    // each cell is what generate gives for its settings with seeds 7 and 8
    const { model, tokenizer, dispose } = loadRunModel(api.store, id, 'best');
    try {
      for (const cell of result.cells) {
        const samples = [7, 8].map((seed) => [
          ...generate(model, tokenizer, { prompt: 'ROMEO:', length: 24, seed, temperature: cell.temperature, topK: cell.topK, topP: 1 }),
        ]);
        expect(cell.texts).toEqual(samples.map((s) => s.map((t) => t.text).join('')));
        const expected = cellStats(samples.map((s) => ({ ids: s.map((t) => t.id), probs: s.map((t) => t.prob) })));
        for (const [key, value] of Object.entries(expected)) expect(cell[key as keyof typeof expected], key).toBeCloseTo(value, 9);
      }
    } finally {
      dispose();
    }
    // the hotter cells are more surprising to the model than the cooler ones
    expect(result.cells[2].meanSurprise).toBeGreaterThan(result.cells[0].meanSurprise);
    const progress = events.filter((e) => e.name === 'sample.gridProgress').map((e) => e.payload as EventPayload<'sample.gridProgress'>);
    expect(progress.at(-1)).toEqual({ requestId: 'g1', done: 4 * 2 * 24, total: 4 * 2 * 24 });

    // too large: one sentence with the numbers and what to do
    await expect(
      api.call('sample.grid', { requestId: 'g2', ...request, length: 1000, temperatures: [0.2, 0.5, 0.8, 1, 1.2, 1.5, 2, 3], samples: 10 }),
    ).rejects.toThrow(`the grid would generate 160000 tokens (16 cells × 10 samples × 1000): at most ${MAX_GRID_TOKENS}`);

    // a cancel stops it between tokens and keeps the cells finished so far
    const long = api.call('sample.grid', { requestId: 'g3', ...request, length: 1000, temperatures: [1, 2], topKs: [0, 5, 10], samples: 5 });
    while (
      !events.some(
        (e) =>
          e.name === 'sample.gridProgress' &&
          (e.payload as EventPayload<'sample.gridProgress'>).requestId === 'g3' &&
          (e.payload as EventPayload<'sample.gridProgress'>).done > 0,
      )
    )
      await new Promise((r) => setTimeout(r, 5));
    await api.call('sample.cancel', { requestId: 'g3' });
    const stopped = await long;
    expect(stopped.stopped).toBe(true);
    expect(stopped.cells.length).toBeLessThan(6);
  });
});

describe('sample.next and no-repeat-ngram', () => {
  it('returns the next-token logits, the most likely texts and the banned ids; sample.generate honours no-repeat-ngram', async () => {
    const { api } = openApi();
    const id = await trained(api);
    const next = await api.call('sample.next', { runId: id, checkpoint: 'best', prompt: 'to be or no', noRepeatNgram: 2, shown: 5 });
    const { model, tokenizer, dispose } = loadRunModel(api.store, id, 'best');
    try {
      const reference = nextTokenLogits(model, tokenizer, 'to be or no', 2);
      expect(next.logits).toHaveLength(tokenizer.vocabSize);
      next.logits.forEach((v, i) => expect(v).toBeCloseTo(reference.logits[i], 5));
      expect(next.banned.sort()).toEqual(reference.banned.sort());
      // the prompt ends in "o"; earlier "o"s were followed by " " (to be) and "r" (or): those two are banned
      expect(next.banned.map((i) => tokenizer.vocab[i]).sort()).toEqual([' ', 'r'].sort());
      expect(next.top).toHaveLength(5);
      expect(next.top.map((t) => t.text)).toEqual(next.top.map((t) => tokenizer.vocab[t.id]));
      for (let i = 1; i < 5; i++) expect(next.logits[next.top[i - 1].id]).toBeGreaterThanOrEqual(next.logits[next.top[i].id]);
    } finally {
      dispose();
    }
    const settings = { runId: id, checkpoint: 'best' as const, prompt: 'ROMEO:', length: 120, temperature: 1.5, topK: 0, topP: 1, seed: 3 };
    const free = await api.call('sample.generate', { requestId: 'n0', ...settings });
    const pairs = (text: string) => Array.from({ length: text.length - 1 }, (_, i) => text.slice(i, i + 2));
    expect(new Set(pairs('ROMEO:' + free.text)).size).toBeLessThan(pairs('ROMEO:' + free.text).length); // 120 characters repeat a pair
    const banned = await api.call('sample.generate', { requestId: 'n2', ...settings, noRepeatNgram: 2 });
    expect(new Set(pairs('ROMEO:' + banned.text)).size).toBe(pairs('ROMEO:' + banned.text).length);
  });
});
