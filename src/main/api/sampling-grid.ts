import { cellStats, type GeneratedToken } from '../../engine/sample';
import type { parseRequest, Response, SamplingSettings } from '../../shared/contract';
import { UserError } from '../../shared/errors';

// The lesson's sampling experiment as one request: every temperature × top-k × top-p cell gets
// the same N seeds, so cells differ only in their settings, and each cell is summed up by how
// varied its samples are (distinct tokens and n-grams, repetition) and how surprising they are to
// the model. Generation yields to the event loop every ~50 ms so progress and a cancel get through.

/** The most tokens one grid may generate (cells × samples × length): a few minutes on a CPU at worst. */
export const MAX_GRID_TOKENS = 60_000;

/** What the grid needs of a 'sample.grid' request (defaults applied; the request id is the caller's). */
type GridRequest = Omit<ReturnType<typeof parseRequest<'sample.grid'>>, 'requestId'>;

/** The grid's cells, temperature-major, each value once (in the order given). */
export function gridCells(request: Pick<GridRequest, 'temperatures' | 'topKs' | 'topPs'>): { temperature: number; topK: number; topP: number }[] {
  const unique = (values: number[]) => [...new Set(values)];
  const cells = [];
  for (const temperature of unique(request.temperatures))
    for (const topK of unique(request.topKs)) for (const topP of unique(request.topPs)) cells.push({ temperature, topK, topP });
  return cells;
}

export async function runSamplingGrid(
  request: GridRequest,
  sample: (settings: SamplingSettings) => Iterable<GeneratedToken>,
  control: { stop: boolean },
  progress: (done: number, total: number) => void,
): Promise<Response<'sample.grid'>> {
  const cells = gridCells(request);
  const total = cells.length * request.samples * request.length;
  if (total > MAX_GRID_TOKENS)
    throw new UserError(
      `the grid would generate ${total} tokens (${cells.length} cells × ${request.samples} samples × ${request.length}): at most ${MAX_GRID_TOKENS}; use fewer values, samples or a shorter length`,
    );
  const out: Response<'sample.grid'>['cells'] = [];
  let done = 0;
  let last = performance.now();
  progress(0, total);
  for (const cell of cells) {
    const samples: { ids: number[]; probs: number[]; text: string }[] = [];
    for (let s = 0; s < request.samples; s++) {
      const ids: number[] = [];
      const probs: number[] = [];
      let text = '';
      const settings = { ...cell, runId: request.runId, checkpoint: request.checkpoint, prompt: request.prompt, length: request.length };
      for (const token of sample({ ...settings, seed: (request.seed + s) % 2 ** 32, noRepeatNgram: request.noRepeatNgram })) {
        ids.push(token.id);
        probs.push(token.prob);
        text += token.text;
        done++;
        if (performance.now() - last > 50) {
          progress(done, total);
          await new Promise((r) => setImmediate(r));
          last = performance.now();
          if (control.stop) return { cells: out, stopped: true };
        }
      }
      samples.push({ ids, probs, text });
    }
    out.push({ ...cell, ...cellStats(samples), texts: samples.map((s) => s.text) });
  }
  progress(done, total);
  return { cells: out, stopped: false };
}
