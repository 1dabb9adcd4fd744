import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/engine/autograd';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { PairSampler } from '../../src/engine/data/pairs';
import { generateTaskTsv } from '../../src/engine/data/tasks';
import { Seq2Seq } from '../../src/engine/models/seq2seq';
import { Rng } from '../../src/engine/rng';
import { runTraining, type LoopEvent } from '../../src/engine/run';
import {
  encodeSeq2SeqCheckpoint,
  loadSeq2SeqModel,
  pairsCorpusOf,
  resolveSeq2SeqTrainConfig,
  restoreSeq2SeqTrainer,
  Seq2SeqTrainer,
  translateGreedy,
  type Seq2SeqTrainConfig,
} from '../../src/engine/seq2seq-train';
import type { TrainConfig } from '../../src/engine/train';

const data: Seq2SeqTrainConfig['data'] = { task: 'reverse', tokenization: { source: 'char', target: 'char', shared: false }, val_fraction: 0.1, split_seed: 0 };

function setup(pairs: number, overrides: Record<string, unknown>) {
  const tsv = generateTaskTsv('reverse', pairs, 1);
  const corpus = pairsCorpusOf(tsv, 'reverse', resolveSeq2SeqTrainConfig(4, 4, overrides, 1, data));
  const config = resolveSeq2SeqTrainConfig(corpus.source.vocabSize, corpus.target.vocabSize, overrides, 7, data);
  return { tsv, corpus, config };
}

const tiny = { d_model: 32, num_heads: 2, num_layers: 1, d_ff: 64, dropout: 0, batch_size: 8, eval_iters: 16, eval_pairs: 8 };

describe('seq2seq trainer', () => {
  it('uses Adam with the lesson betas (0.9, 0.98) and eps 1e-9, and refuses unknown settings', () => {
    const { config } = setup(50, {});
    expect(config.optimizer).toMatchObject({ name: 'adam', beta1: 0.9, beta2: 0.98, eps: 1e-9 });
    expect(() => resolveSeq2SeqTrainConfig(10, 10, { n_layer: 2 })).toThrow(/unknown setting "n_layer" for a seq2seq run/);
    // constant by default; min_lr decays it along a cosine over the steps, after the warm-up
    expect(config.schedule).toEqual({ kind: 'constant' });
    const decayed = resolveSeq2SeqTrainConfig(10, 10, { lr: 2e-3, min_lr: 1e-4, warmup_iters: 50, steps: 1500 });
    expect(decayed.schedule).toEqual({ kind: 'cosine', warmup_iters: 50, lr_decay_iters: 1500, min_lr: 1e-4 });
    expect(() => resolveSeq2SeqTrainConfig(10, 10, { lr: 1e-3, min_lr: 1e-2 })).toThrow(/min_lr \(0.01\) must be between 0 and lr/);
  });

  it("its first step's loss is the model's teacher-forced loss on the same batch (ignore_index 0)", () => {
    const { corpus, config } = setup(100, tiny);
    const backend = new CpuBackend();
    const trainer = new Seq2SeqTrainer(config, corpus, backend);
    // the same init and the same batch draw: the run's rng builds the model, then draws batches
    const rng = new Rng(config.seed);
    const model = new Seq2Seq(config.model, backend, rng);
    const batch = new PairSampler(corpus.train, { batchSize: config.batch_size }).nextBatch(rng);
    expect(batch.padding).toBeGreaterThanOrEqual(0);
    const expected = backend.scoped(() => {
      const g = new Graph(backend, rng, false);
      const { logits } = model.forward(g, { src: batch.src, S: batch.S, decoderInput: batch.decoderInput, T: batch.T - 1, B: batch.B });
      const V = config.model.tgt_vocab_size;
      const all = backend.read(logits);
      // cross-entropy by hand over the non-padding targets
      let sum = 0,
        n = 0;
      for (let i = 0; i < batch.target.length; i++) {
        if (batch.target[i] === 0) continue;
        const row = all.subarray(i * V, (i + 1) * V);
        const max = Math.max(...row);
        let z = 0;
        for (const x of row) z += Math.exp(x - max);
        const lse = max + Math.log(z);
        sum += lse - row[batch.target[i]];
        n++;
      }
      return sum / n;
    });
    const m = trainer.trainStep();
    expect(m.loss).toBeCloseTo(expected, 5);
    expect(m.step).toBe(1);
    model.dispose();
    trainer.dispose();
  });

  it('a checkpoint restores the model, the optimizer and the rng: the next steps are the same', () => {
    const { corpus, config } = setup(100, tiny);
    const a = new Seq2SeqTrainer(config, corpus);
    for (let i = 0; i < 3; i++) a.trainStep();
    const files = encodeSeq2SeqCheckpoint(a);
    expect(Object.keys(files).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'optimizer.safetensors',
      'source_vocab.json',
      'state.json',
      'target_vocab.json',
    ]);
    const b = restoreSeq2SeqTrainer(files, corpus);
    expect(b.step).toBe(3);
    for (let i = 0; i < 3; i++) expect(b.trainStep().loss).toBe(a.trainStep().loss);
    // inference from the checkpoint alone: parameter names are the lesson's module tree
    const loaded = loadSeq2SeqModel(files);
    expect(loaded.model.params.names()).toContain('decoder.decoder_layers.0.mha2.W_q.weight');
    const src = corpus.val.slice(0, 3).map((p) => p.src);
    const fromFiles = translateGreedy(loaded.model, loaded, src);
    expect(fromFiles).toEqual(translateGreedy(restoreSeq2SeqTrainer(files, corpus).model, corpus, src));
    loaded.model.dispose();
    a.dispose();
    b.dispose();
  });

  it('the run loop trains, evaluates with exact match / CER / BLEU, checkpoints, and resume continues the loss curve', async () => {
    const { tsv, config } = setup(200, { ...tiny, steps: 6, eval_interval: 3 });
    const saved: Record<string, Uint8Array>[] = [];
    const io = () => ({
      text: tsv,
      textName: 'reverse.tsv',
      readLatest: () => saved.at(-1)!,
      saveCheckpoint: (files: Record<string, Uint8Array>) => void saved.push(files),
    });
    const spec = {
      runId: 1,
      config: config as unknown as TrainConfig,
      checkpointInterval: 3,
      sampleInterval: 3,
      samplePrompt: '',
      resume: false,
      lowercase: false,
      tokenizer: { kind: 'char' as const },
      timeBudgetMs: null,
      wallOffsetMs: 0,
      bestValLoss: null,
    };
    const full: LoopEvent[] = [];
    await runTraining(spec, io(), { paused: false, stopRequested: false }, (e) => full.push(e));
    expect(full.at(-1)).toMatchObject({ type: 'end', status: 'finished', step: 6 });
    const evals = full.filter((e) => e.type === 'eval');
    expect(evals.map((e) => e.step)).toEqual([3, 6]);
    for (const e of evals) {
      expect(e.decode!.pairs).toBe(8);
      for (const k of ['exact_match', 'cer', 'bleu'] as const) expect(Number.isFinite(e.decode![k])).toBe(true);
    }
    expect(full.some((e) => e.type === 'sample')).toBe(false);
    // resume from step 3: the steps 4..6 lose exactly what the uninterrupted run lost
    saved.splice(1);
    const resumed: LoopEvent[] = [];
    await runTraining({ ...spec, resume: true }, io(), { paused: false, stopRequested: false }, (e) => resumed.push(e));
    expect(resumed[0]).toMatchObject({ type: 'started', resumedFrom: 3 });
    const losses = (es: LoopEvent[]) => es.flatMap((e) => (e.type === 'step' && e.step > 3 ? [e.loss] : []));
    expect(losses(resumed)).toEqual(losses(full));
    expect(losses(resumed)).toHaveLength(3);
  });

  it('learns the reverse task on the CPU: 400 steps bring the held-out loss far below uniform', () => {
    const { corpus, config } = setup(3000, { d_model: 64, d_ff: 256, dropout: 0, lr: 2e-3, steps: 400 });
    const trainer = new Seq2SeqTrainer(config, corpus);
    const t0 = performance.now();
    const first = trainer.evaluate();
    for (let i = 0; i < config.steps; i++) trainer.trainStep();
    const e = trainer.evaluate();
    const uniform = Math.log(config.model.tgt_vocab_size);
    console.log(
      `reverse, ${config.steps} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s: val loss ${first.valLoss.toFixed(3)} -> ${e.valLoss.toFixed(3)} (uniform ${uniform.toFixed(3)}), ` +
        `exact match ${e.decode.exact_match}, CER ${e.decode.cer.toFixed(3)}, BLEU ${e.decode.bleu.toFixed(3)}`,
    );
    expect(e.valLoss).toBeLessThan(0.45 * uniform);
    expect(e.decode.cer).toBeLessThan(0.7);
    trainer.dispose();
  }, 120_000);
});
