import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { countSeq2SeqParameters, sourcePaddingMask, targetMask } from '../../src/engine/models';
import { checkFixture, isSeq2SeqFixture, seq2seqConfigFromFixture, seq2seqFromFixture, type FieldCheck, type TorchFixture } from '../../src/engine/parity';
import { loadFixtures } from './helpers';

// The attention lesson's encoder–decoder against PyTorch 1.13's numbers (seq2seq.json with
// nn.LayerNorm, seq2seq_seed.json with the lesson's own layer norm): masks, the sinusoidal tables,
// logits, loss, the attention of every layer, every gradient, one Adam step and greedy decoding.

const fixtures = loadFixtures().filter(({ fx }) => isSeq2SeqFixture(fx));

function byField(checks: FieldCheck[]): Map<string, FieldCheck> {
  return new Map(checks.map((c) => [c.field, c]));
}

/** One line per field group: the largest errors over its fields. */
function report(file: string, backend: string, checks: FieldCheck[]): void {
  const groups = new Map<string, { abs: number; rel: number; n: number }>();
  for (const c of checks) {
    const key = c.field.startsWith('grads.') ? 'grads.* (every parameter)' : c.field;
    const g = groups.get(key) ?? { abs: 0, rel: 0, n: 0 };
    groups.set(key, { abs: Math.max(g.abs, c.maxAbs), rel: Math.max(g.rel, c.maxRel), n: g.n + 1 });
  }
  const lines = [...groups].map(
    ([k, g]) => `  ${k.padEnd(40)} max abs ${g.abs.toExponential(2)}  max rel ${g.rel.toExponential(2)}${g.n > 1 ? `  (${g.n} fields)` : ''}`,
  );
  console.log(`${file} on ${backend}:\n${lines.join('\n')}`);
}

describe('seq2seq PyTorch parity', () => {
  it('has both encoder–decoder fixtures, one per layer norm', () => {
    expect(fixtures.map((f) => f.fx.case).sort()).toEqual(['seq2seq', 'seq2seq_seed']);
    expect(fixtures.map((f) => f.fx.config.layer_norm).sort()).toEqual(['seed', 'torch']);
  });

  for (const { file, fx } of fixtures) {
    describe(file, () => {
      const wasm = new CpuBackend('float32', 'wasm');
      const js = new CpuBackend('float32', 'js');
      const checks = byField(checkFixture(fx, wasm));
      report(file, wasm.name, [...checks.values()]);

      it('builds the masks as the lesson does: source padding (B,1,1,S), target max(padding, look-ahead)', () => {
        expect(checks.get('masks.src')!.pass).toBe(true);
        expect(checks.get('masks.tgt')!.pass).toBe(true);
        // a padded decoder input masks its column in every row, on top of the triangle
        const m = targetMask([1, 5, 0], 1, 3, 0);
        expect(Array.from(m)).toEqual([0, 1, 1, 0, 0, 1, 0, 0, 1]);
        expect(Array.from(sourcePaddingMask([4, 0, 3, 0], 2, 2))).toEqual([0, 1, 0, 1]);
      });

      it('holds the lesson state_dict: every parameter by name and both pe buffers', () => {
        const model = seq2seqFromFixture(fx, js);
        const names = [...model.params.names(), ...Object.keys(model.buffers())].sort();
        expect(names).toEqual(Object.keys(fx.params).sort());
        for (const [name, t] of Object.entries(model.buffers())) expect(t.shape).toEqual(fx.params[name].shape);
        for (const name of model.params.names()) expect(model.params.get(name).shape).toEqual(fx.params[name].shape);
        const stored = model.params.names().reduce((n, name) => n + fx.params[name].data.length, 0);
        expect(model.params.count()).toBe(stored);
        expect(countSeq2SeqParameters(seq2seqConfigFromFixture(fx))).toBe(stored);
        model.dispose();
        expect(js.liveTensors()).toBe(0);
        expect(checks.get('buffers.encoder.pos_encoding.pe')!.pass).toBe(true);
        expect(checks.get('buffers.decoder.pos_encoding.pe')!.pass).toBe(true);
      });

      it('matches logits and loss (rtol 1e-4, atol 1e-5)', () => {
        for (const field of ['logits', 'loss']) {
          const c = checks.get(field)!;
          expect([c.rtol, c.atol]).toEqual([1e-4, 1e-5]);
          expect(c.pass, `${field}: max abs ${c.maxAbs}, max rel ${c.maxRel}`).toBe(true);
        }
      });

      it('matches the attention probabilities of every layer: encoder self, decoder self, cross', () => {
        for (const kind of ['encoder_self', 'decoder_self', 'decoder_cross']) {
          const c = checks.get(`attention_probs.${kind}`)!;
          expect(c.pass, `${kind}: max abs ${c.maxAbs}`).toBe(true);
        }
      });

      it('matches every gradient (rtol 1e-3, atol 1e-5)', () => {
        const names = Object.keys(fx.grads);
        expect(names.length).toBe(Object.keys(fx.params).length - 2); // not the pe buffers
        for (const name of names) {
          const c = checks.get(`grads.${name}`)!;
          expect(c.rtol).toBe(1e-3);
          expect(c.pass, `${name}: max abs ${c.maxAbs}, max rel ${c.maxRel}`).toBe(true);
        }
      });

      it('matches one Adam step (lr 1e-2, betas 0.9/0.98, eps 1e-9), atol 1e-6 per parameter', () => {
        expect(fx.adam!.betas).toEqual([0.9, 0.98]);
        for (const field of ['adam.params_after', 'adam.params_after (engine grads)']) {
          const c = checks.get(field)!;
          expect(c.atol).toBe(1e-6);
          expect(c.pass, `${field}: max abs ${c.maxAbs} ${c.note ?? ''}`).toBe(true);
        }
      });

      it('decodes greedily as PyTorch does: the same tokens and the same logits at every step', () => {
        for (let b = 0; b < fx.greedy!.outputs.length; b++) {
          const out = checks.get(`greedy[${b}].outputs`)!;
          expect(out.pass, out.note).toBe(true);
          const logits = checks.get(`greedy[${b}].step_logits`)!;
          expect(logits.pass, `row ${b}: max abs ${logits.maxAbs}`).toBe(true);
        }
      });

      it('passes every field with the plain JS kernels too', () => {
        const jsChecks = checkFixture(fx, js);
        report(file, js.name, jsChecks);
        expect(jsChecks.filter((c) => !c.pass).map((c) => c.field)).toEqual([]);
        expect(jsChecks.length).toBe(checks.size);
      });
    });
  }

  it('fails when the engine disagrees: a perturbed weight, or the other layer norm', () => {
    const { fx } = fixtures.find((f) => f.fx.case === 'seq2seq')!;
    const broken: TorchFixture = structuredClone(fx);
    broken.params['decoder.decoder_layers.0.mha2.W_v.weight'].data[3] += 1e-2;
    const checks = byField(checkFixture(broken));
    expect(checks.get('logits')!.pass).toBe(false);
    expect(checks.get('attention_probs.encoder_self')!.pass).toBe(true); // the encoder is untouched
    const other: TorchFixture = structuredClone(fx);
    other.config.layer_norm = 'seed';
    expect(byField(checkFixture(other)).get('logits')!.pass).toBe(false);
  });
});
