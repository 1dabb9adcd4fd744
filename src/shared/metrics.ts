// The metrics a run logs, read off its events in one place: the host writes them to the database
// (main/jobs/job-host.ts) and the live charts append them (renderer/src/lib/series.ts), under the
// names `runs.series` takes and METRICS (hyperparameters.ts) explains.
import type { RunEventView, SeriesPoint } from './contract';

/** The metric points a run event carries, by metric name (none for events that carry no metric). */
export function metricPointsOf(event: RunEventView): { name: string; point: SeriesPoint }[] {
  if (event.type === 'step') {
    const at = { step: event.step, tokens: event.tokens, wallMs: event.elapsedMs, activeMs: event.activeMs };
    return [
      { name: 'train_loss', point: { ...at, value: event.loss } },
      { name: 'lr', point: { ...at, value: event.lr } },
      { name: 'grad_norm', point: { ...at, value: event.gradNorm } },
      { name: 'tokens_per_sec', point: { ...at, value: event.tokensPerSec } },
    ];
  }
  if (event.type === 'eval') {
    const at = { step: event.step, tokens: event.tokens, wallMs: event.elapsedMs, activeMs: event.activeMs };
    return [
      { name: 'eval_train_loss', point: { ...at, value: event.trainLoss } },
      { name: 'val_loss', point: { ...at, value: event.valLoss } },
      // bits per character of the text, whatever the tokenizer (the engine's evaluation counts them)
      { name: 'val_bpc', point: { ...at, value: event.valBpc } },
      { name: 'eval_train_bpc', point: { ...at, value: event.trainBpc } },
      // seq2seq runs: their held-out pairs decoded greedily
      ...(event.decode
        ? [
            { name: 'exact_match', point: { ...at, value: event.decode.exact_match } },
            { name: 'cer', point: { ...at, value: event.decode.cer } },
            { name: 'bleu', point: { ...at, value: event.decode.bleu } },
          ]
        : []),
    ];
  }
  return [];
}
