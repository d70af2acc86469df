/**
 * A Llama-shaped forward + backward graph built directly on the engine's ops (SmolLM2-135M's
 * shapes by default), with LoRA-style A/B adapters on q_proj and v_proj as the only trainable
 * tensors. The frozen base weights are realised leaves, i.e. graph inputs fed without copying.
 */
import { Tensor, grad, ops } from '../src/engine/index.ts';
import { randomFloats, randomInts } from './util.ts';

export interface LlamaShape {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  batch: number;
  seq: number;
  loraR: number;
}

export const SMOLLM2_135M: LlamaShape = {
  layers: 30, hidden: 576, intermediate: 1536, heads: 9, kvHeads: 3, headDim: 64, vocab: 49152,
  batch: 4, seq: 256, loraR: 32,
};

interface Layer {
  ln1: Tensor; ln2: Tensor;
  wq: Tensor; wk: Tensor; wv: Tensor; wo: Tensor;
  wGate: Tensor; wUp: Tensor; wDown: Tensor;
  aq: Tensor; bq: Tensor; av: Tensor; bv: Tensor;
}

export interface LlamaWeights {
  shape: LlamaShape;
  embed: Tensor;
  norm: Tensor;
  layers: Layer[];
  ids: Tensor;
  labels: Tensor;
  cos: Tensor;
  sin: Tensor;
  /** The trainable tensors, in a fixed order. */
  trainable: Tensor[];
  frozenParams: number;
}

export function makeWeights(s: LlamaShape): LlamaWeights {
  let seed = 1;
  const rnd = (shape: number[], scale = 0.02): Tensor => {
    const n = shape.reduce((p, d) => p * d, 1);
    return Tensor.fromData(randomFloats(n, scale * Math.sqrt(3), seed++), shape);
  };
  const ones = (n: number): Tensor => Tensor.ones([n]);
  const { hidden: h, intermediate: m, heads, kvHeads, headDim: d, loraR: r } = s;
  const layers: Layer[] = [];
  for (let l = 0; l < s.layers; l++) {
    layers.push({
      ln1: ones(h), ln2: ones(h),
      wq: rnd([heads * d, h]), wk: rnd([kvHeads * d, h]), wv: rnd([kvHeads * d, h]), wo: rnd([h, heads * d]),
      wGate: rnd([m, h]), wUp: rnd([m, h]), wDown: rnd([h, m]),
      aq: rnd([r, h]), bq: rnd([heads * d, r], 0.01), av: rnd([r, h]), bv: rnd([kvHeads * d, r], 0.01),
    });
  }
  // Rotary tables [seq, headDim] as HF builds them (the halves repeat).
  const cos = new Float32Array(s.seq * d);
  const sin = new Float32Array(s.seq * d);
  for (let t = 0; t < s.seq; t++) {
    for (let i = 0; i < d; i++) {
      const theta = t / 10000 ** ((2 * (i % (d / 2))) / d);
      cos[t * d + i] = Math.cos(theta);
      sin[t * d + i] = Math.sin(theta);
    }
  }
  const trainable = layers.flatMap((L) => [L.aq, L.bq, L.av, L.bv]);
  const frozenParams = s.vocab * h + h + s.layers * (2 * h + (heads * d) * h * 2 + (kvHeads * d) * h * 2 + 3 * m * h);
  return {
    shape: s,
    embed: rnd([s.vocab, h]),
    norm: ones(h),
    layers,
    ids: Tensor.fromData(randomInts(s.batch * s.seq, s.vocab, 777), [s.batch, s.seq], 'int64'),
    labels: Tensor.fromData(randomInts(s.batch * s.seq, s.vocab, 778), [s.batch, s.seq], 'int64'),
    cos: Tensor.fromData(cos, [s.seq, d]),
    sin: Tensor.fromData(sin, [s.seq, d]),
    trainable,
    frozenParams,
  };
}

/** x @ wᵀ for a torch-layout weight [out, in]. */
const linear = (x: Tensor, w: Tensor): Tensor => ops.matmul(x, ops.transpose(w));

function rotateHalf(x: Tensor): Tensor {
  const half = x.shape[x.ndim - 1]! / 2;
  return ops.concat([ops.neg(ops.slice(x, -1, half)), ops.slice(x, -1, 0, half)], -1);
}

/** One training step's lazy graph: the loss and the gradient of every trainable tensor. */
export function buildStep(w: LlamaWeights): { loss: Tensor; grads: Tensor[] } {
  const s = w.shape;
  const { batch: B, seq: T, heads: H, kvHeads: Hkv, headDim: D } = s;
  const loraScale = 2; // alpha 64 / r 32
  const lora = (x: Tensor, a: Tensor, b: Tensor): Tensor => ops.mul(linear(linear(x, a), b), loraScale);
  const rope = (x: Tensor): Tensor => ops.add(ops.mul(x, w.cos), ops.mul(rotateHalf(x), w.sin));
  const heads = (x: Tensor, n: number): Tensor => ops.transpose(ops.reshape(x, [B, T, n, D]), 1, 2);

  let h = ops.embedding(w.embed, w.ids); // [B, T, hidden]
  for (const L of w.layers) {
    const x = ops.rmsNorm(h, L.ln1);
    const q = ops.add(linear(x, L.wq), lora(x, L.aq, L.bq));
    const k = linear(x, L.wk);
    const v = ops.add(linear(x, L.wv), lora(x, L.av, L.bv));
    const attn = ops.scaledDotProductAttention(rope(heads(q, H)), rope(heads(k, Hkv)), heads(v, Hkv), { causal: true });
    h = ops.add(h, linear(ops.reshape(ops.transpose(attn, 1, 2), [B, T, H * D]), L.wo));
    const y = ops.rmsNorm(h, L.ln2);
    h = ops.add(h, linear(ops.mul(ops.silu(linear(y, L.wGate)), linear(y, L.wUp)), L.wDown));
  }
  const logits = linear(ops.rmsNorm(h, w.norm), w.embed); // tied embeddings: [B, T, vocab]
  const loss = ops.crossEntropy(logits, w.labels);
  return { loss, grads: grad(loss, w.trainable) };
}

export interface FlopCount {
  forward: number;
  backward: number;
  total: number;
  parts: Record<string, number>;
}

/**
 * Matmul FLOPs (2·M·N·K) of one step, counted analytically. Backward counts only the products the
 * gradients need: frozen weights get no weight gradient, and nothing upstream of the first layer's
 * q/k/v projections needs an input gradient (the embedding is frozen). Adapters on q_proj and
 * v_proj: LoRA (A [r, in], B [out, r]; shape.loraR is r) or MiSS/Bone (B [r, out] on the summed
 * shards of the input; r = shape.loraR). Attention counts every score (`causal: false`, what a
 * full T × T product computes) or the causal half (`causal: true`, the work a causal kernel must do).
 */
export function analyticFlops(s: LlamaShape, opts: { adapter?: 'lora' | 'miss'; causal?: boolean } = {}): FlopCount {
  const { adapter = 'lora', causal = false } = opts;
  const M = s.batch * s.seq;
  const { hidden: h, intermediate: m, heads: H, kvHeads: Hkv, headDim: D, loraR: r, layers: n } = s;
  const mm = (rows: number, k: number, cols: number): number => 2 * rows * k * cols;
  const qkvFwd = mm(M, h, H * D) + 2 * mm(M, h, Hkv * D);
  const restFwd = mm(M, H * D, h) + 2 * mm(M, h, m) + mm(M, m, h);
  // One [T, D]·[D, T] product over B·H heads (or its causal half).
  const attnOne = (2 * s.batch * H * s.seq * s.seq * D) * (causal ? (s.seq + 1) / (2 * s.seq) : 1);
  const adapterFwd = (out: number): number => (adapter === 'lora' ? mm(M, h, r) + mm(M, r, out) : mm(M, r, out));
  const lmHead = mm(M, h, s.vocab);
  const forward = n * (qkvFwd + restFwd + 2 * attnOne + adapterFwd(H * D) + adapterFwd(Hkv * D)) + lmHead;
  // Backward, per layer: input grads of o/gate/up/down always; of q/k/v except in layer 0.
  // Attention: dP = dO·Vᵀ, dV = Pᵀ·dO, dQ = dS·K always; dK = dSᵀ·Q except in layer 0.
  // LoRA: dB = dYᵀ·U, dU = dY·B, dA = dUᵀ·x; dx through A except in layer 0.
  // MiSS: dB = sᵀ·dY; ds = dY·Bᵀ (the input's gradient, spread over the shards) except in layer 0.
  const adapterBwd = (out: number): number => (adapter === 'lora' ? mm(M, out, r) + mm(M, out, r) + mm(M, r, h) : mm(M, r, out));
  const adapterDx = (out: number): number => (adapter === 'lora' ? mm(M, r, h) : mm(M, out, r));
  const bwdLayer = (first: boolean): number =>
    restFwd + (first ? 0 : qkvFwd) + (first ? 3 : 4) * attnOne + adapterBwd(H * D) + adapterBwd(Hkv * D) + (first ? 0 : adapterDx(H * D) + adapterDx(Hkv * D));
  const backward = bwdLayer(true) + (n - 1) * bwdLayer(false) + lmHead;
  return {
    forward, backward, total: forward + backward,
    parts: {
      linearFwd: n * (qkvFwd + restFwd), attentionFwd: n * 2 * attnOne, adapterFwd: n * (adapterFwd(H * D) + adapterFwd(Hkv * D)), lmHeadFwd: lmHead,
    },
  };
}

/** The matmul FLOPs actually present in a traced graph (every MatMul node, batch dims included). */
export function tracedMatmulFlops(nodes: readonly Tensor[]): number {
  let f = 0;
  for (const t of nodes) {
    if (t.op?.name !== 'matmul') continue;
    const a = t.inputs[0]!;
    const k = a.shape[a.ndim - 1]!;
    f += 2 * t.size * k;
  }
  return f;
}
