// TensorFlow.js reference for `nanolab bench`: trains one of the benchmark models on tinyshakespeare
// for a fixed number of steps (after one warm-up step) and prints its tokens/s as one JSON line.
// The models are written with tf ops, the same architecture as NanoLab's and bench/torch_train.py's:
//
//   gpt-tiny    4 pre-norm blocks, 4 heads, n_embd 128, context 64, batch 12, learned positions,
//               GELU (tanh), tied embeddings, final layer norm
//   lstm-small  embedding 64, 2×256 LSTM, linear head, sequences of 64, batch 32
//
// Both train with Adam plus decoupled weight decay 0.01 (AdamW) and clip the gradient norm at 1.
//
//   node --import tsx bench/tfjs_train.ts MODEL STEPS [wasm|cpu]
//
// `nanolab bench` runs it in a child process, so TF.js's memory and threads stay out of NanoLab's
// measurement.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const [name, stepsArg, backendArg = 'wasm'] = process.argv.slice(2);
const steps = Number(stepsArg);
if (!(name === 'gpt-tiny' || name === 'lstm-small') || !(steps >= 1) || !(backendArg === 'wasm' || backendArg === 'cpu')) {
  console.error('usage: tfjs_train.ts gpt-tiny|lstm-small STEPS [wasm|cpu]');
  process.exit(2);
}

const LR = 1e-3,
  WEIGHT_DECAY = 0.01,
  GRAD_CLIP = 1;

// the .wasm files sit beside the package's Node entry point; in Node the path is a directory prefix
const require = createRequire(import.meta.url);
setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
if (!(await tf.setBackend(backendArg))) throw new Error(`TensorFlow.js backend "${backendArg}" did not initialise`);
await tf.ready();

const text = readFileSync(new URL('../resources/tinyshakespeare.txt', import.meta.url), 'utf8');
const chars = [...new Set(text)].sort();
const index = new Map(chars.map((c, i) => [c, i]));
const data = Int32Array.from(text, (c) => index.get(c)!);
const V = chars.length;

let seed = 1337;
/** mulberry32: a small seeded generator, so every run draws the same batches */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** B random windows of T tokens and the next-token targets, both [B,T]. */
function batch(B: number, T: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const x = new Int32Array(B * T),
    y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = Math.floor(random() * (data.length - T - 1));
    x.set(data.subarray(start, start + T), b * T);
    y.set(data.subarray(start + 1, start + T + 1), b * T);
  }
  return { x: tf.tensor2d(x, [B, T], 'int32'), y: tf.tensor2d(y, [B, T], 'int32') };
}

const params: tf.Variable[] = [];
function param(shape: number[], std: number | 'ones' | 'zeros'): tf.Variable {
  const init = std === 'ones' ? tf.ones(shape) : std === 'zeros' ? tf.zeros(shape) : tf.randomNormal(shape, 0, std, 'float32', seed++);
  const v = tf.variable(init);
  params.push(v);
  return v;
}

// functional ops, so each line reads like the math
const { add, sub, mul, matMul } = tf;

/** y = x·w + b, x (N, in), w (in, out) */
function linear(x: tf.Tensor, w: tf.Variable, b: tf.Variable): tf.Tensor2D {
  return add(matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
}

/**
 * Embedding lookup as one-hot (N, V) · w (V, C): the wasm backend has no UnsortedSegmentSum, the
 * kernel tf.gather's gradient needs, and with V = 65 the product is small.
 */
function embed(w: tf.Variable, ids: tf.Tensor): tf.Tensor2D {
  return matMul(tf.oneHot(tf.reshape(ids, [-1]) as tf.Tensor1D, V), w as tf.Tensor2D);
}

function layerNorm(x: tf.Tensor, g: tf.Variable, b: tf.Variable): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return add(mul(mul(sub(x, mean), tf.rsqrt(add(variance, 1e-5))), g), b);
}

/** GELU, tanh approximation (nanoGPT's new_gelu) */
function gelu(x: tf.Tensor): tf.Tensor {
  const inner = mul(add(x, mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return mul(mul(x, 0.5), add(tf.tanh(inner), 1));
}

interface Model {
  B: number;
  T: number;
  logits: (x: tf.Tensor2D) => tf.Tensor2D;
}

function gptTiny(): Model {
  const B = 12,
    T = 64,
    C = 128,
    nh = 4,
    hs = C / nh,
    nLayer = 4;
  const std = 0.02,
    projStd = 0.02 / Math.sqrt(2 * nLayer);
  const wte = param([V, C], std),
    wpe = param([T, C], std);
  const blocks = Array.from({ length: nLayer }, () => ({
    ln1g: param([C], 'ones'),
    ln1b: param([C], 'zeros'),
    wqkv: param([C, 3 * C], std),
    bqkv: param([3 * C], 'zeros'),
    wo: param([C, C], projStd),
    bo: param([C], 'zeros'),
    ln2g: param([C], 'ones'),
    ln2b: param([C], 'zeros'),
    wfc: param([C, 4 * C], std),
    bfc: param([4 * C], 'zeros'),
    wproj: param([4 * C, C], projStd),
    bproj: param([C], 'zeros'),
  }));
  const lnfg = param([C], 'ones'),
    lnfb = param([C], 'zeros');
  // additive causal mask [T,T]: 0 on and below the diagonal, −1e9 above
  const causal = tf.keep(mul(sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));

  function attention(x: tf.Tensor2D, blk: (typeof blocks)[number]): tf.Tensor2D {
    const qkv = linear(x, blk.wqkv, blk.bqkv); // (B·T, C) -> (B·T, 3C)
    const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [B, T, nh, hs]), [0, 2, 1, 3])); // (B, nh, T, hs)
    // scaled by 1/sqrt(hs): keeps the softmax out of saturation
    const att = tf.softmax(add(mul(matMul(q, k, false, true), 1 / Math.sqrt(hs)), causal)); // (B, nh, T, T)
    const y = tf.reshape(tf.transpose(matMul(att, v), [0, 2, 1, 3]), [B * T, C]); // (B, nh, T, hs) -> (B·T, C)
    return linear(y, blk.wo, blk.bo);
  }

  return {
    B,
    T,
    logits(ids) {
      let x: tf.Tensor2D = add(embed(wte, ids), tf.tile(wpe, [B, 1])); // (B·T, C)
      for (const blk of blocks) {
        x = add(x, attention(layerNorm(x, blk.ln1g, blk.ln1b), blk));
        const h = gelu(linear(layerNorm(x, blk.ln2g, blk.ln2b), blk.wfc, blk.bfc)); // (B·T, 4C)
        x = add(x, linear(h, blk.wproj, blk.bproj));
      }
      return matMul(layerNorm(x, lnfg, lnfb), wte as tf.Tensor2D, false, true); // tied head: (B·T, C) -> (B·T, V)
    },
  };
}

function lstmSmall(): Model {
  const B = 32,
    T = 64,
    E = 64,
    H = 256;
  const k = 1 / Math.sqrt(H);
  const embedding = param([V, E], 1);
  const layers = [E, H].map((inSize) => ({
    wih: param([inSize, 4 * H], k),
    whh: param([H, 4 * H], k),
    b: param([4 * H], 'zeros'),
  }));
  const wout = param([H, V], k),
    bout = param([V], 'zeros');

  return {
    B,
    T,
    logits(ids) {
      let x: tf.Tensor = embed(embedding, tf.transpose(ids)); // time-major (T·B, E)
      for (const layer of layers) {
        const gi = tf.unstack(tf.reshape(linear(x, layer.wih, layer.b), [T, B, 4 * H])); // all steps at once: T × (B, 4H)
        let h: tf.Tensor2D = tf.zeros([B, H]),
          c: tf.Tensor = tf.zeros([B, H]);
        const hs: tf.Tensor[] = [];
        for (let t = 0; t < T; t++) {
          const [i, f, g, o] = tf.split(add(gi[t], matMul(h, layer.whh as tf.Tensor2D)), 4, 1); // gate blocks i, f, g, o: (B, H) each
          c = add(mul(tf.sigmoid(f), c), mul(tf.sigmoid(i), tf.tanh(g)));
          h = mul(tf.sigmoid(o), tf.tanh(c));
          hs.push(h);
        }
        x = tf.reshape(tf.stack(hs), [T * B, H]);
      }
      // back to batch-major so the rows line up with the targets: (T·B, H) -> (B·T, H) -> (B·T, V)
      return linear(tf.reshape(tf.transpose(tf.reshape(x, [T, B, H]), [1, 0, 2]), [B * T, H]), wout, bout);
    },
  };
}

const model = name === 'gpt-tiny' ? gptTiny() : lstmSmall();
const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8);

function trainStep(): number {
  const { x, y } = batch(model.B, model.T);
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.logits(x);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.reshape(y, [-1]) as tf.Tensor1D, V), logits) as tf.Scalar;
    });
    const norm = Math.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
    const clip = norm > GRAD_CLIP ? GRAD_CLIP / (norm + 1e-6) : 1;
    // decoupled weight decay, as AdamW: p ← p − lr·wd·p, then the Adam step
    for (const p of params) p.assign(mul(p, 1 - LR * WEIGHT_DECAY));
    optimizer.applyGradients(Object.entries(grads).map(([name, g]) => ({ name, tensor: clip === 1 ? g : mul(g, clip) })));
    return value;
  });
  const value = loss.dataSync()[0];
  tf.dispose([x, y, loss]);
  return value;
}

trainStep(); // warm-up: kernel compilation, buffer pools, optimizer slots
const t0 = performance.now();
let loss = 0;
for (let s = 0; s < steps; s++) loss = trainStep();
const seconds = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    model: name,
    backend: tf.getBackend(),
    threads: tf.getBackend() === 'wasm' ? getThreadsCount() : 1,
    steps,
    seconds: Number(seconds.toFixed(3)),
    tokens_per_s: Number(((steps * model.B * model.T) / seconds).toFixed(1)),
    loss: Number(loss.toFixed(4)),
    tfjs: tf.version_core,
  }),
);
