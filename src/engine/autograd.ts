import type { Activation, Backend } from './backend/backend';
import type { Rng } from './rng';
import type { Tensor } from './tensor';

// Reverse-mode autodiff as a tape of closures, one per op (micrograd's idea at tensor size).
// Each op calls its forward kernel now and records the matching backward kernel, which reads the
// output's gradient and accumulates into the inputs' gradients. Every tensor made here comes from
// the backend's current arena, so one `backend.scoped` around a training step frees it all.

export class Graph {
  private readonly tape: Array<() => void> = [];

  constructor(
    readonly backend: Backend,
    readonly rng: Rng,
    /** Dropout is active only in training graphs. */
    readonly training: boolean,
    /** false for inference: no tape, no gradients. */
    readonly recordGrad: boolean = training,
  ) {}

  private output(shape: readonly number[], ...inputs: Tensor[]): Tensor {
    const t = this.backend.alloc(shape);
    t.requiresGrad = this.recordGrad && inputs.some((x) => x.requiresGrad);
    return t;
  }

  /** The gradient buffer of t, allocated (zeros) on first use. */
  private gradOf(t: Tensor): Tensor {
    if (!t.grad) t.grad = this.backend.alloc(t.shape);
    return t.grad;
  }

  private record(out: Tensor, backward: (dy: Tensor) => void): void {
    if (!out.requiresGrad) return;
    this.tape.push(() => {
      if (out.grad) backward(out.grad); // no gradient reached this output: nothing to pass on
    });
  }

  /**
   * Backpropagates from `output`: a scalar loss (seeded with 1), or any tensor with an explicit
   * seed gradient of its shape, as torch's `y.backward(gradient)`.
   */
  backward(output: Tensor, gradient?: Tensor): void {
    if (gradient) {
      if (gradient.size !== output.size) throw new Error(`backward: seed gradient has ${gradient.size} elements, output has ${output.size}`);
      this.backend.accumulate(this.gradOf(output), gradient);
    } else {
      if (output.size !== 1) throw new Error(`backward: a non-scalar output [${output.shape.join(', ')}] needs a seed gradient`);
      this.backend.fill(this.gradOf(output), 1);
    }
    for (let i = this.tape.length - 1; i >= 0; i--) this.tape[i]();
    this.tape.length = 0;
  }

  // ---- ops ---------------------------------------------------------------------------------------

  /** (…ids) -> (…ids, C) */
  embedding(w: Tensor, ids: Int32Array, idsShape: readonly number[]): Tensor {
    const y = this.output([...idsShape, w.shape[1]], w);
    this.backend.embeddingForward(w, ids, y);
    this.record(y, (dy) => this.backend.embeddingBackward(dy, ids, this.gradOf(w)));
    return y;
  }

  /** (…, K) -> (…, N) with w (N, K), as torch.nn.Linear. */
  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const inputs = b ? [x, w, b] : [x, w];
    const y = this.output([...x.shape.slice(0, -1), w.shape[0]], ...inputs);
    this.backend.linearForward(x, w, b, y);
    this.record(y, (dy) =>
      this.backend.linearBackward(
        dy,
        x,
        w,
        x.requiresGrad ? this.gradOf(x) : null,
        w.requiresGrad ? this.gradOf(w) : null,
        b && b.requiresGrad ? this.gradOf(b) : null,
      ),
    );
    return y;
  }

  add(a: Tensor, b: Tensor): Tensor {
    if (a.size !== b.size) throw new Error(`add: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
    const y = this.output(a.shape, a, b);
    this.backend.addForward(a, b, y);
    this.record(y, (dy) => {
      if (a.requiresGrad) this.backend.accumulate(this.gradOf(a), dy);
      if (b.requiresGrad) this.backend.accumulate(this.gradOf(b), dy);
    });
    return y;
  }

  /** a + b with b repeated over a's leading dimensions: (B, T, C) + (T, C). */
  addRepeat(a: Tensor, b: Tensor): Tensor {
    const y = this.output(a.shape, a, b);
    this.backend.addRepeatForward(a, b, y);
    this.record(y, (dy) => {
      if (a.requiresGrad) this.backend.accumulate(this.gradOf(a), dy);
      if (b.requiresGrad) this.backend.addRepeatBackward(dy, this.gradOf(b));
    });
    return y;
  }

  mul(a: Tensor, b: Tensor): Tensor {
    if (a.size !== b.size) throw new Error(`mul: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
    const y = this.output(a.shape, a, b);
    this.backend.mulForward(a, b, y);
    this.record(y, (dy) => this.backend.mulBackward(dy, a, b, a.requiresGrad ? this.gradOf(a) : null, b.requiresGrad ? this.gradOf(b) : null));
    return y;
  }

  activation(kind: Activation, x: Tensor): Tensor {
    const y = this.output(x.shape, x);
    this.backend.activationForward(kind, x, y);
    this.record(y, (dy) => this.backend.activationBackward(kind, x, y, dy, this.gradOf(x)));
    return y;
  }

  /** (d0, d1, …) -> (d1, d0, …) */
  transpose01(x: Tensor): Tensor {
    const [d0, d1, ...rest] = x.shape;
    const y = this.output([d1, d0, ...rest], x);
    this.backend.transpose01Forward(x, d0, d1, y);
    this.record(y, (dy) => this.backend.transpose01Backward(dy, d0, d1, this.gradOf(x)));
    return y;
  }

  layerNorm(x: Tensor, gain: Tensor, bias: Tensor, eps = 1e-5): Tensor {
    const y = this.output(x.shape, x, gain, bias);
    const rows = x.rows;
    // saved for backward: the row means and reciprocal standard deviations
    const mean = this.backend.alloc([rows]);
    const rstd = this.backend.alloc([rows]);
    this.backend.layerNormForward(x, gain, bias, eps, y, mean, rstd);
    this.record(y, (dy) =>
      this.backend.layerNormBackward(
        dy,
        x,
        gain,
        mean,
        rstd,
        x.requiresGrad ? this.gradOf(x) : null,
        gain.requiresGrad ? this.gradOf(gain) : null,
        bias.requiresGrad ? this.gradOf(bias) : null,
      ),
    );
    return y;
  }

  softmax(x: Tensor): Tensor {
    const y = this.output(x.shape, x);
    this.backend.softmaxForward(x, y);
    this.record(y, (dy) => this.backend.softmaxBackward(y, dy, this.gradOf(x)));
    return y;
  }

  /** Causal self-attention on qkv (B, T, 3C) -> y (B, T, C); probs (B, nh, T, T) for the views. */
  attention(qkv: Tensor, nHead: number, dropout: number): { y: Tensor; probs: Tensor } {
    const [B, T, C3] = qkv.shape;
    const y = this.output([B, T, C3 / 3], qkv);
    const probs = this.backend.alloc([B, nHead, T, T]);
    let mask: Tensor | null = null;
    if (this.training && dropout > 0) {
      mask = this.backend.alloc(probs.shape);
      this.backend.dropoutMask(mask, dropout, this.rng);
    }
    this.backend.attentionForward(qkv, nHead, y, probs, mask);
    this.record(y, (dy) => this.backend.attentionBackward(dy, qkv, probs, mask, nHead, this.gradOf(qkv)));
    return { y, probs };
  }

  /** y = s · x for a constant s (the embeddings' √d_model). */
  scale(x: Tensor, s: number): Tensor {
    const y = this.output(x.shape, x);
    this.backend.copy(x, y);
    this.backend.scale(y, s);
    this.record(y, (dy) => {
      const d = this.backend.alloc(dy.shape);
      this.backend.copy(dy, d);
      this.backend.scale(d, s);
      this.backend.accumulate(this.gradOf(x), d);
    });
    return y;
  }

  /**
   * Attention with separate q (B, Tq, C), k, v (B, Tk, C) and an additive 0/1 mask (B, 1, Tk) or
   * (B, Tq, Tk), 1 = masked (a constant): y (B, Tq, C); probs (B, nh, Tq, Tk) for the views.
   */
  maskedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, nHead: number): { y: Tensor; probs: Tensor } {
    const [B, Tq, C] = q.shape;
    const Tk = k.shape[1];
    const y = this.output([B, Tq, C], q, k, v);
    const probs = this.backend.alloc([B, nHead, Tq, Tk]);
    this.backend.maskedAttentionForward(q, k, v, mask, nHead, y, probs);
    this.record(y, (dy) => {
      // self-attention passes one tensor as q, k and v: each role's gradient lands in its buffer
      this.backend.maskedAttentionBackward(
        dy,
        q,
        k,
        v,
        probs,
        nHead,
        q.requiresGrad ? this.gradOf(q) : null,
        k.requiresGrad ? this.gradOf(k) : null,
        v.requiresGrad ? this.gradOf(v) : null,
      );
    });
    return { y, probs };
  }

  /** The attention lesson's layer norm: gain · (x − mean) / (std + eps) + bias, unbiased std. */
  seedLayerNorm(x: Tensor, gain: Tensor, bias: Tensor, eps = 1e-6): Tensor {
    const y = this.output(x.shape, x, gain, bias);
    const mean = this.backend.alloc([x.rows]);
    const std = this.backend.alloc([x.rows]);
    this.backend.seedLayerNormForward(x, gain, bias, eps, y, mean, std);
    this.record(y, (dy) =>
      this.backend.seedLayerNormBackward(
        dy,
        x,
        gain,
        mean,
        std,
        eps,
        x.requiresGrad ? this.gradOf(x) : null,
        gain.requiresGrad ? this.gradOf(gain) : null,
        bias.requiresGrad ? this.gradOf(bias) : null,
      ),
    );
    return y;
  }

  /** Inverted dropout: zero with probability p, scale the rest by 1/(1−p); identity in eval. */
  dropout(x: Tensor, p: number): Tensor {
    if (!this.training || p === 0) return x;
    const mask = this.backend.alloc(x.shape);
    this.backend.dropoutMask(mask, p, this.rng);
    return this.mul(x, mask);
  }

  /** Mean cross-entropy over rows of logits (N, V); rows whose target is ignoreIndex do not count. */
  crossEntropy(logits: Tensor, targets: Int32Array, ignoreIndex = -100): { loss: Tensor; value: number } {
    const probs = this.backend.alloc(logits.shape);
    const { loss, count } = this.backend.crossEntropyForward(logits, targets, ignoreIndex, probs);
    const out = this.output([1], logits);
    this.backend.write(out, [loss]);
    this.record(out, (dy) => {
      const dloss = this.backend.read(dy)[0];
      this.backend.crossEntropyBackward(probs, targets, ignoreIndex, dloss, count, this.gradOf(logits));
    });
    return { loss: out, value: loss };
  }

  /** h_t = tanh(gi_t + h_{t−1}·W_hhᵀ + b_hh) over time-major gi (T, B, H). */
  rnnTanh(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor): Tensor {
    const [T, B] = gi.shape;
    const H = whh.shape[1];
    const hs = this.output([T, B, H], gi, whh, bhh);
    this.backend.rnnTanhForward(gi, whh, bhh, h0, hs);
    this.record(hs, (dhs) =>
      this.backend.rnnTanhBackward(dhs, hs, h0, whh, this.gradOf(gi), whh.requiresGrad ? this.gradOf(whh) : null, bhh.requiresGrad ? this.gradOf(bhh) : null),
    );
    return hs;
  }

  /** LSTM over time-major gi (T, B, 4H); returns every h_t and c_t. */
  lstm(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor, c0: Tensor): { hs: Tensor; cs: Tensor } {
    const [T, B] = gi.shape;
    const H = whh.shape[1];
    const hs = this.output([T, B, H], gi, whh, bhh);
    const cs = this.backend.alloc([T, B, H]);
    const acts = this.backend.alloc([T, B, 4 * H]); // saved for backward: activated gates i,f,g,o
    this.backend.lstmForward(gi, whh, bhh, h0, c0, hs, cs, acts);
    this.record(hs, (dhs) =>
      this.backend.lstmBackward(
        dhs,
        hs,
        cs,
        acts,
        h0,
        c0,
        whh,
        this.gradOf(gi),
        whh.requiresGrad ? this.gradOf(whh) : null,
        bhh.requiresGrad ? this.gradOf(bhh) : null,
      ),
    );
    return { hs, cs };
  }

  /** GRU over time-major gi (T, B, 3H). */
  gru(gi: Tensor, whh: Tensor, bhh: Tensor, h0: Tensor): Tensor {
    const [T, B] = gi.shape;
    const H = whh.shape[1];
    const hs = this.output([T, B, H], gi, whh, bhh);
    const acts = this.backend.alloc([T, B, 3 * H]); // saved: r, z, n
    const ghn = this.backend.alloc([T, B, H]); // saved: W_hn·h_{t−1} + b_hn
    this.backend.gruForward(gi, whh, bhh, h0, hs, acts, ghn);
    this.record(hs, (dhs) =>
      this.backend.gruBackward(
        dhs,
        hs,
        acts,
        ghn,
        h0,
        whh,
        this.gradOf(gi),
        whh.requiresGrad ? this.gradOf(whh) : null,
        bhh.requiresGrad ? this.gradOf(bhh) : null,
      ),
    );
    return hs;
  }
}
