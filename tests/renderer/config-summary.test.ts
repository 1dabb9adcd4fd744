import { describe, expect, it } from 'vitest';
import { SETTING_GROUPS, SETTINGS } from '../../src/shared/hyperparameters';
import { configGroups } from '../../src/renderer/src/lib/config';

const gptConfig = {
  model: {
    family: 'gpt',
    vocab_size: 65,
    block_size: 64,
    n_layer: 4,
    n_head: 4,
    n_embd: 128,
    mlp_ratio: 4,
    activation: 'gelu',
    norm_position: 'pre',
    position_encoding: 'learned',
    final_layer_norm: true,
    tie_word_embeddings: true,
    lm_head_bias: false,
    bias: true,
    embd_dropout: 0.1,
    attn_dropout: 0.1,
    resid_dropout: 0.1,
  },
  optimizer: { name: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decay: 'matrices' },
  schedule: { kind: 'cosine', warmup_iters: 100, lr_decay_iters: 2000, min_lr: 1e-4 },
  batch_size: 12,
  seq_len: 64,
  steps: 2000,
  grad_clip: 1,
  grad_clip_value: 0,
  eval_interval: 250,
  eval_iters: 20,
  batching: 'random',
  seed: 1337,
};

describe("a run's Configuration panel", () => {
  it('groups and labels the stored config as the New-run form does', () => {
    const groups = configGroups(gptConfig, SETTINGS, SETTING_GROUPS);
    expect(groups.map((g) => g.label)).toEqual(['Model', 'Optimizer', 'Learning-rate schedule', 'Training loop', 'Run']);
    const model = groups[0].rows;
    expect(model.find((r) => r.key === 'norm_position')).toEqual({ key: 'norm_position', label: 'Layer norm', value: 'pre' });
    // the three equal dropouts are the form's one dropout
    expect(model.find((r) => r.key === 'dropout')?.value).toBe(0.1);
    expect(model.some((r) => r.key.endsWith('_dropout'))).toBe(false);
    expect(groups[1].rows[0]).toEqual({ key: 'optimizer', label: 'Optimizer', value: 'adamw' });
    expect(groups[2].rows.map((r) => r.key)).toEqual(['schedule', 'warmup_iters', 'lr_decay_iters', 'min_lr']);
    // what the form does not offer is still shown, under its own key
    expect(groups[4].rows.map((r) => r.key).sort()).toEqual(['family', 'seed', 'vocab_size']);
    // every stored leaf is on one row
    const rows = groups.flatMap((g) => g.rows).length;
    expect(rows).toBe(17 - 3 + 1 + 7 + 4 + 9);
  });

  it("reads a run's stored config: the train config beside the text, budget and intervals", () => {
    const stored = {
      train: gptConfig,
      data: { path: '/lab/corpora/tiny.txt', lowercase: false },
      time_budget_ms: null,
      preset: 'nanogpt-cpu',
      sample_interval: 100,
    };
    const groups = configGroups(stored, SETTINGS, SETTING_GROUPS);
    expect(groups.map((g) => g.key)).toEqual(['model', 'optimizer', 'schedule', 'training', 'run']);
    expect(groups[0].rows.find((r) => r.key === 'n_layer')?.value).toBe(4);
    expect(groups[4].rows.map((r) => r.key)).toEqual(
      expect.arrayContaining(['family', 'vocab_size', 'seed', 'data.path', 'data.lowercase', 'time_budget_ms', 'preset', 'sample_interval']),
    );
  });

  it('keeps unequal dropouts apart, and shows nothing for no config', () => {
    const uneven = { ...gptConfig, model: { ...gptConfig.model, attn_dropout: 0 } };
    const keys = configGroups(uneven, SETTINGS, SETTING_GROUPS).flatMap((g) => g.rows.map((r) => r.key));
    expect(keys).toEqual(expect.arrayContaining(['embd_dropout', 'attn_dropout', 'resid_dropout']));
    expect(keys).not.toContain('dropout');
    expect(configGroups(null, SETTINGS, SETTING_GROUPS)).toEqual([]);
  });
});
