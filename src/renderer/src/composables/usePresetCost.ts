import { onMounted, reactive, watch } from 'vue';
import type { PresetInfo, RunDraft } from '../../../shared/contract';
import { api } from '../api/transport';
import { describeDuration, estimatePresetSeconds, stepsForSeconds, type TimedRun } from '../lib/preset-cost';
import { messageOf } from '../stores/toasts';

/** What a preset costs on this computer, once its calibration came back. */
export type PresetCost =
  | { state: 'estimating' }
  | { state: 'failed'; error: string }
  | {
      state: 'ready';
      seconds: number;
      duration: string;
      fullSteps: number;
      quickSteps: number;
      quickSeconds: number;
      quickDuration: string;
      /** Each run of the preset, timed, in the preset's order. */
      runs: TimedRun[];
    };

/** A quick look trains for about this long. */
export const QUICK_LOOK_SECONDS = 60;

/** The draft runs.startPreset starts for one of a preset's runs (on the CPU, as it does). */
export function presetRunDraft(presetId: string, run: PresetInfo['runs'][number]): RunDraft {
  return {
    family: run.family,
    settings: run.settings,
    corpusId: 'tinyshakespeare',
    lowercase: run.lowercase,
    tokenizer: { kind: 'char' },
    seed: 1337,
    minutes: null,
    preset: presetId,
  };
}

// one calibration per preset run per session, one at a time (runs timed together would share the cores)
const costs = reactive(new Map<string, PresetCost>());
let queue: Promise<void> = Promise.resolve();

async function timeRun(presetId: string, run: PresetInfo['runs'][number]): Promise<TimedRun> {
  const cal = await api.invoke('runs.calibrate', { draft: presetRunDraft(presetId, run), steps: 3 });
  const c = cal.config;
  return {
    length: { steps: c.steps, batch_size: c.batch_size, seq_len: c.seq_len, eval_interval: c.eval_interval, eval_iters: c.eval_iters },
    tokensPerSec: cal.tokensPerSec,
  };
}

/** Calibrates each preset not timed yet in this session (in the background, one after the other). */
function estimate(presets: readonly PresetInfo[]): void {
  for (const preset of presets) {
    if (costs.has(preset.id)) continue;
    if (preset.runs.some((r) => r.family === 'seq2seq')) {
      // runs.calibrate times language models only
      costs.set(preset.id, { state: 'failed', error: 'an encoder–decoder preset is not timed in advance yet; its description says how long it took' });
      continue;
    }
    costs.set(preset.id, { state: 'estimating' });
    queue = queue.then(async () => {
      try {
        const runs: TimedRun[] = [];
        for (const r of preset.runs) runs.push(await timeRun(preset.id, r));
        const seconds = estimatePresetSeconds(runs);
        const quickSteps = stepsForSeconds(runs, QUICK_LOOK_SECONDS);
        const quickSeconds = estimatePresetSeconds(runs, quickSteps);
        costs.set(preset.id, {
          state: 'ready',
          seconds,
          duration: describeDuration(seconds),
          fullSteps: Math.max(...runs.map((r) => r.length.steps)),
          quickSteps,
          quickSeconds,
          quickDuration: describeDuration(quickSeconds),
          runs,
        });
      } catch (e) {
        costs.set(preset.id, { state: 'failed', error: `the timing failed (${messageOf(e)})` });
      }
    });
  }
}

/**
 * Each preset's duration on this computer, from a short calibration (a few training steps of each
 * of its runs, 'runs.calibrate'), made lazily the first time a view shows the preset and kept
 * for the session. `costOf` is 'estimating' until then.
 */
export function usePresetCost(presets: () => readonly PresetInfo[]) {
  onMounted(() => watch(presets, estimate, { immediate: true }));
  return { costOf: (id: string): PresetCost => costs.get(id) ?? { state: 'estimating' } };
}
