import type { LoopEvent, RunControl, RunIO, RunSettings } from './run';
import { trainLoop, type LoopTrainee } from './run-loop';
import { encodeSeq2SeqCheckpoint, pairsCorpusOf, restoreSeq2SeqTrainer, Seq2SeqTrainer, type Seq2SeqTrainConfig } from './seq2seq-train';
import { UserError } from './errors';

// An encoder–decoder run: its trainer in the loop every family shares (run-loop.ts), so it emits
// the same events (started, step, eval, checkpoint, end; no samples), with each evaluation's
// greedy-decoding scores (exact match, CER, BLEU on held-out pairs) in its `decode` field. The
// host hands it the pairs as TSV text.

/** Whether a run's config is a seq2seq run's. */
export function isSeq2SeqConfig(config: unknown): config is Seq2SeqTrainConfig {
  return (config as { model?: { family?: string } } | null)?.model?.family === 'seq2seq';
}

export async function runSeq2SeqTraining(
  spec: Omit<RunSettings, 'config'> & { config: Seq2SeqTrainConfig },
  io: RunIO,
  control: RunControl,
  emit: (e: LoopEvent) => void,
): Promise<void> {
  if (typeof io.text !== 'string') throw new UserError('a seq2seq run reads its pairs as TSV text');
  const corpus = pairsCorpusOf(io.text, io.textName, spec.config);
  let trainer: Seq2SeqTrainer;
  let resumedFrom: number | null = null;
  if (spec.resume) {
    trainer = restoreSeq2SeqTrainer(io.readLatest(), corpus, io.backend);
    resumedFrom = trainer.step;
  } else {
    trainer = new Seq2SeqTrainer(spec.config, corpus, io.backend);
  }
  const c = trainer.config;
  emit({
    type: 'started',
    step: trainer.step,
    totalSteps: c.steps,
    vocabSize: corpus.target.vocabSize,
    resumedFrom,
    device: io.device ?? trainer.backend.name,
  });
  const trainee: LoopTrainee = {
    get step() {
      return trainer.step;
    },
    get tokensSeen() {
      return trainer.tokensSeen;
    },
    steps: c.steps,
    evalInterval: c.eval_interval,
    trainStep: () => trainer.trainStep(),
    evaluate: (step) => {
      const e = trainer.evaluate();
      trainer.checkConverging(e.valLoss, step, 'validation loss');
      const { exact_match, cer, bleu, pairs } = e.decode;
      return { trainLoss: e.trainLoss, valLoss: e.valLoss, trainBpc: e.trainBpc, valBpc: e.valBpc, decode: { exact_match, cer, bleu, pairs } };
    },
    checkpoint: () => encodeSeq2SeqCheckpoint(trainer),
    dispose: () => trainer.dispose(),
  };
  await trainLoop(trainee, spec, io, control, emit);
}
