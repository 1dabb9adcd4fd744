import { describe, expect, it } from 'vitest';
import { ATTENTION_KINDS, attentionArithmetic, type AttentionKind } from '../../src/engine/analysis/attention-arithmetic';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { resolveSeq2SeqConfig, Seq2Seq } from '../../src/engine/models/seq2seq';
import { isSeq2SeqFixture, seq2seqFromFixture } from '../../src/engine/parity';
import { Rng } from '../../src/engine/rng';
import { UserError } from '../../src/engine/errors';
import { loadFixtures } from './helpers';

// The arithmetic of one query (Q·Kᵀ, ÷√d_k, + mask·−1e9, softmax, ×V) against PyTorch's attention
// rows (seq2seq.json, seq2seq_seed.json: every layer, head, batch row and query) and against the
// engine's own forward pass (softmax row and the head's slice before W_o), post-LN and pre-LN.

const FIXTURE_FIELD: Record<AttentionKind, 'encoder_self' | 'decoder_self' | 'decoder_cross'> = {
  encoder: 'encoder_self',
  decoder: 'decoder_self',
  cross: 'decoder_cross',
};

describe('attention arithmetic against the PyTorch fixtures', () => {
  for (const { file, fx } of loadFixtures().filter(({ fx }) => isSeq2SeqFixture(fx))) {
    it(`${file}: every softmax row equals the fixture's attention row within 1e-5; masked keys get exactly 0`, () => {
      const model = seq2seqFromFixture(fx, new CpuBackend('float32', 'js'));
      const [B, S] = fx.src_ids!.shape;
      const T = fx.decoder_input_ids!.shape[1];
      const { num_layers: L, num_heads: H } = model.config;
      let worst = 0,
        worstModel = 0,
        rows = 0,
        maskedCells = 0;
      for (let b = 0; b < B; b++) {
        const src = fx.src_ids!.data.slice(b * S, (b + 1) * S);
        const decoderInput = fx.decoder_input_ids!.data.slice(b * T, (b + 1) * T);
        for (const kind of ATTENTION_KINDS) {
          const probs = fx.attention_probs as unknown as Record<string, { data: number[] }>;
          const data = probs[FIXTURE_FIELD[kind]].data;
          const Tq = kind === 'encoder' ? S : T,
            Tk = kind === 'decoder' ? T : S;
          for (let layer = 0; layer < L; layer++) {
            for (let head = 0; head < H; head++) {
              for (let query = 0; query < Tq; query++) {
                const a = attentionArithmetic(model, { src, decoderInput, kind, layer, head, query });
                const at = (((layer * B + b) * H + head) * Tq + query) * Tk;
                const expected = data.slice(at, at + Tk);
                a.weights.forEach((w, p) => (worst = Math.max(worst, Math.abs(w - expected[p]))));
                worstModel = Math.max(worstModel, a.check.weights, a.check.output);
                expect(a.weights.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 12);
                a.mask.forEach((m, p) => {
                  if (m === 1) {
                    maskedCells++;
                    expect(a.weights[p]).toBe(0);
                    expect(a.masked[p]).toBeLessThan(-1e8);
                  }
                });
                rows++;
              }
            }
          }
        }
      }
      console.log(
        `${file}: ${rows} query rows, ${maskedCells} masked cells; max |softmax − fixture| ${worst.toExponential(2)}, max |arithmetic − engine| ${worstModel.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-5);
      expect(worstModel).toBeLessThan(1e-5);
      expect(maskedCells).toBeGreaterThan(0);
      model.dispose();
    });
  }
});

function randomModel(norm: 'pre' | 'post', backend = new CpuBackend('float32', 'js')): Seq2Seq {
  const config = resolveSeq2SeqConfig(11, 9, { d_model: 24, num_heads: 3, num_layers: 2, d_ff: 32, max_seq_length: 12, dropout: 0, norm_position: norm });
  return new Seq2Seq(config, backend, new Rng(7));
}

describe('attention arithmetic against the engine model', () => {
  for (const norm of ['post', 'pre'] as const) {
    it(`${norm}-LN: softmax row and head output equal the model's for all three kinds`, () => {
      const model = randomModel(norm);
      const src = [5, 7, 4, 9, 0, 0]; // two padded source positions
      const decoderInput = [1, 6, 3, 8, 5];
      for (const kind of ATTENTION_KINDS) {
        for (let layer = 0; layer < 2; layer++) {
          for (let head = 0; head < 3; head++) {
            const Tq = kind === 'encoder' ? src.length : decoderInput.length;
            for (let query = 0; query < Tq; query++) {
              const a = attentionArithmetic(model, { src, decoderInput, kind, layer, head, query });
              expect(a.q).toHaveLength(8);
              expect(a.keys).toHaveLength(kind === 'decoder' ? 5 : 6);
              expect(a.output).toHaveLength(8);
              expect(a.check.weights, `${kind} ${layer}/${head}/${query}`).toBeLessThan(1e-5);
              expect(a.check.output, `${kind} ${layer}/${head}/${query}`).toBeLessThan(1e-4);
              // the steps are what they say
              a.scaled.forEach((s, p) => expect(s).toBeCloseTo(a.scores[p] / Math.sqrt(8), 12));
              if (kind === 'decoder') expect(a.mask).toEqual(decoderInput.map((_, p) => (p > query ? 1 : 0)));
              else expect(a.mask).toEqual([0, 0, 0, 0, 1, 1]);
              a.mask.forEach((m, p) => m === 1 && expect(a.weights[p]).toBe(0));
            }
          }
        }
      }
      model.dispose();
    });
  }

  it('pre-LN: x is the layer-normed residual (mean 0), post-LN: the residual stream itself', () => {
    const pre = attentionArithmetic(randomModel('pre'), { src: [5, 7, 4], decoderInput: [1, 6], kind: 'encoder', layer: 0, head: 0, query: 1 });
    const mean = pre.x.reduce((s, v) => s + v, 0) / pre.x.length;
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    const post = attentionArithmetic(randomModel('post'), { src: [5, 7, 4], decoderInput: [1, 6], kind: 'encoder', layer: 0, head: 0, query: 1 });
    // layer 0 of post-LN sees the embedding ×√d_model + the table: far from normalised
    expect(Math.abs(post.x.reduce((s, v) => s + v, 0) / post.x.length)).toBeGreaterThan(1e-3);
    expect(post.normPosition).toBe('post');
  });

  it('labels the query and key positions with the given tokens', () => {
    const a = attentionArithmetic(randomModel('post'), {
      src: [5, 7],
      decoderInput: [1, 6, 3],
      kind: 'cross',
      layer: 1,
      head: 2,
      query: 2,
      sourceLabels: ['a', 'b'],
      targetLabels: ['<bos>', 'x', 'y'],
    });
    expect(a.queryLabels).toEqual(['<bos>', 'x', 'y']);
    expect(a.keyLabels).toEqual(['a', 'b']);
  });

  it('refuses a layer, head or query out of range in one sentence', () => {
    const model = randomModel('post');
    const base = { src: [5, 7], decoderInput: [1, 6, 3], kind: 'encoder' as const, layer: 0, head: 0, query: 0 };
    expect(() => attentionArithmetic(model, { ...base, layer: 2 })).toThrow(/layer 2 is out of range: this model has 2 \(0 … 1\)/);
    expect(() => attentionArithmetic(model, { ...base, head: 3 })).toThrow(/head 3 is out of range: this model has 3/);
    expect(() => attentionArithmetic(model, { ...base, query: 2 })).toThrow(/query position 2 is out of range: the source has 2 tokens/);
    expect(() => attentionArithmetic(model, { ...base, kind: 'cross', query: 3 })).toThrow(UserError);
    expect(() => attentionArithmetic(model, { ...base, src: Array(13).fill(5) })).toThrow(/more than max_seq_length \(12\)/);
    // the model is left as it was: a later forward still works and no patch remains
    expect(Object.keys(model.encoderLayers[0].mha)).not.toContain('forward');
    model.dispose();
  });
});
