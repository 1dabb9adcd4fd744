import { describe, expect, it } from 'vitest';
import { checkFixture, isSeq2SeqFixture, modelConfigFromFixture, modelFromFixture, type FieldCheck, type TorchFixture } from '../../src/engine/parity';
import { countParameters } from '../../src/engine/models';
import { CpuBackend } from '../../src/engine/backend/cpu';
import { loadFixtures } from './helpers';

// The engine against PyTorch 1.13's own numbers for every model family (tests/fixtures/torch).

const all = loadFixtures();
// the encoder–decoder's fields differ: tests/engine/seq2seq-parity.test.ts checks those two
const fixtures = all.filter(({ fx }) => !isSeq2SeqFixture(fx));

function byField(checks: FieldCheck[]): Map<string, FieldCheck> {
  return new Map(checks.map((c) => [c.field, c]));
}

describe('PyTorch parity', () => {
  it('has every model family', () => {
    expect(all.map((f) => f.fx.case).sort()).toEqual(['gpt', 'gpt_sinusoidal', 'gru', 'lstm', 'rnn', 'seq2seq', 'seq2seq_seed']);
  });

  for (const { file, fx } of fixtures) {
    describe(file, () => {
      const checks = byField(checkFixture(fx));

      it('checks logits, loss and every gradient', () => {
        expect(checks.has('logits')).toBe(true);
        expect(checks.has('loss')).toBe(true);
        for (const name of Object.keys(fx.params)) expect(checks.has(`grads.${name}`), name).toBe(true);
      });

      it('matches logits and loss (rtol 1e-4, atol 1e-5)', () => {
        for (const field of ['logits', 'loss']) {
          const c = checks.get(field)!;
          expect(c.rtol).toBe(1e-4);
          expect(c.atol).toBe(1e-5);
          expect(c.pass, `${field}: max abs ${c.maxAbs}, max rel ${c.maxRel}`).toBe(true);
        }
      });

      it('matches every gradient (rtol 1e-3, atol 1e-5)', () => {
        for (const name of Object.keys(fx.grads)) {
          const c = checks.get(`grads.${name}`)!;
          expect(c.rtol).toBe(1e-3);
          expect(c.pass, `${name}: max abs ${c.maxAbs}, max rel ${c.maxRel}`).toBe(true);
        }
      });

      if (fx.final_state) {
        it('matches the final recurrent states and the top layer output', () => {
          const fields = ['final_state.h_n', 'last_layer_output', ...(fx.final_state!.c_n ? ['final_state.c_n'] : [])];
          for (const field of fields) expect(checks.get(field)?.pass, field).toBe(true);
        });
      }

      if (fx.attention_probs) {
        it('matches the attention probabilities of every layer and head', () => {
          expect(checks.get('attention_probs')?.pass).toBe(true);
        });
      }

      if (fx.buffers?.pe) {
        it('matches the sinusoidal position table', () => {
          expect(checks.get('buffers.pe')?.pass).toBe(true);
        });
      }

      if (fx.adamw) {
        it('matches both AdamW runs, clipped and unclipped (atol 1e-6 per parameter)', () => {
          expect(fx.adamw!.length).toBe(2);
          for (let r = 0; r < fx.adamw!.length; r++) {
            for (const step of fx.adamw![r].steps) {
              for (const what of ['loss_before_step', 'grad_norm_before_clip', 'clip_coef', 'params_after']) {
                const c = checks.get(`adamw[${r}].step${step.step}.${what}`);
                expect(c, `adamw[${r}] step ${step.step} ${what}`).toBeDefined();
                expect(c!.pass, `adamw[${r}] step ${step.step} ${what}: max abs ${c!.maxAbs}`).toBe(true);
              }
            }
          }
          // run 1 clips (coef < 1): the clipped path is exercised, not just the identity
          expect(fx.adamw![1].steps[0].clip_coef).toBeLessThan(1);
          expect(checks.get('adamw[0].step1.params_after')!.atol).toBe(1e-6);
        });
      }

      if (fx.sampling) {
        it('matches the three sampling distributions', () => {
          for (const field of ['sampling.logits', 'sampling.probs_temperature', 'sampling.probs_top_k', 'sampling.probs_top_p', 'sampling.top_p_kept_ids']) {
            expect(checks.get(field)?.pass, field).toBe(true);
          }
        });
      }

      it('counts parameters from the config as the built model does, and its dispose leaves nothing live', () => {
        const config = modelConfigFromFixture(fx);
        const backend = new CpuBackend('float32', 'js');
        const model = modelFromFixture(fx, backend);
        const stored = Object.values(fx.params).reduce((n, t) => n + t.data.length, 0);
        expect(model.params.count()).toBe(stored);
        expect(countParameters(config)).toBe(stored);
        model.dispose();
        expect(backend.liveTensors()).toBe(0); // parameters, gradients and buffers (the sinusoidal table)
      });
    });
  }

  it('fails when the engine disagrees (a perturbed fixture is caught)', () => {
    const { fx } = fixtures.find((f) => f.fx.case === 'gpt')!;
    const broken: TorchFixture = structuredClone(fx);
    broken.params['transformer.h.1.mlp.c_fc.weight'].data[5] += 1e-2;
    const checks = byField(checkFixture(broken));
    expect(checks.get('logits')!.pass).toBe(false);
    expect(checks.get('grads.transformer.h.0.ln_1.weight')!.pass).toBe(false);
  });
});

describe('PyTorch parity on both CPU kernel sets', () => {
  const wasm = new CpuBackend('float32', 'wasm');
  const js = new CpuBackend('float32', 'js');

  it('the default float32 backend runs its matrix products in WebAssembly', () => {
    expect(new CpuBackend().name).toMatch(/^cpu-wasm-(relaxed|simd)$/);
    expect(js.name).toBe('cpu');
  });

  for (const { file, fx } of fixtures) {
    it(`${file}: every field passes with the wasm kernels and with the plain JS reference`, () => {
      for (const backend of [wasm, js]) {
        const failed = checkFixture(fx, backend)
          .filter((c) => !c.pass)
          .map((c) => `${c.field} (max rel ${c.maxRel})`);
        expect(failed, backend.name).toEqual([]);
      }
    });
  }
});
