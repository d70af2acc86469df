/**
 * Neural-network ops: softmax and log-softmax (fused ONNX kernels with their own gradients),
 * cross-entropy, layer/RMS norm, dropout, causal masks and scaled-dot-product attention (composites).
 */
import { ShapeError } from '../errors.ts';
import { apply, defineOp } from '../op.ts';
import { getDefaultGenerator } from '../random.ts';
import { Tensor } from '../tensor.ts';
import { add, cast, div, eq, exp, mul, neg, rsqrt, sigmoid, sub, where } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { hashUniform } from './random.ts';
import { mean, sum, sumToShape } from './reduce.ts';
import { concat, expand, flatten, full, gatherElements, oneHot, reshape, slice, squeeze, transpose, tril, unsqueeze } from './shape.ts';
import { normAxis, requireFloat } from './util.ts';

const SOFTMAX = defineOp<{ axis: number }>({
  name: 'softmax',
  infer([x]) { requireFloat(x!); return { shape: [...x!.shape], dtype: x!.dtype }; },
  lower: (g, [x], a) => g.node('Softmax', [x!], { axis: a.axis }),
  // dx = y * (g - sum(g * y))
  vjp: (g, n) => [mul(n, sub(g, sum(mul(g, n), n.attrs.axis as number, true)))],
});

const LOG_SOFTMAX = defineOp<{ axis: number }>({
  name: 'log_softmax',
  infer([x]) { requireFloat(x!); return { shape: [...x!.shape], dtype: x!.dtype }; },
  lower: (g, [x], a) => g.node('LogSoftmax', [x!], { axis: a.axis }),
  // dx = g - softmax(x) * sum(g)
  vjp: (g, n) => [sub(g, mul(exp(n), sum(g, n.attrs.axis as number, true)))],
});

export const softmax = (x: Tensor, dim = -1): Tensor => apply(SOFTMAX, [x], { axis: normAxis(dim, x.ndim) });
export const logSoftmax = (x: Tensor, dim = -1): Tensor => apply(LOG_SOFTMAX, [x], { axis: normAxis(dim, x.ndim) });

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * torch.nn.functional.cross_entropy for logits [..., C] and int targets [...]. With 'mean' the
 * sum is divided by the number of targets that are not ignoreIndex (NaN if there are none, as in torch).
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, reduction = 'mean' } = opts;
  const C = logits.shape[logits.ndim - 1]!;
  if (targets.dtype !== 'int64' && targets.dtype !== 'int32') throw new ShapeError(`cross_entropy: targets must be int64 or int32, found ${targets.dtype}`);
  if (logits.shape.slice(0, -1).join(',') !== targets.shape.join(',')) {
    throw new ShapeError(`cross_entropy: logits [${logits.shape.join(', ')}] need targets of shape [${logits.shape.slice(0, -1).join(', ')}], found [${targets.shape.join(', ')}]`);
  }
  const lsm = logSoftmax(reshape(logits, [-1, C]), -1);
  const t = flatten(cast(targets, 'int64'));
  const ignored = eq(t, ignoreIndex);
  const safeTargets = where(ignored, 0, t);
  const picked = squeeze(gatherElements(lsm, 1, unsqueeze(safeTargets, 1)), 1);
  const mask = sub(1, cast(ignored, logits.dtype));
  const losses = neg(mul(picked, mask));
  if (reduction === 'none') return reshape(losses, targets.shape);
  if (reduction === 'sum') return sum(losses);
  return div(sum(losses), sum(mask));
}

/**
 * One chunk of rows of a linear layer followed by cross-entropy, fused (the "fused linear
 * cross-entropy" of Liger-Kernel and Apple's Cut Cross-Entropy). Inputs: h [n, H], weight [V, H],
 * safe targets [n] (int64, in range). Output [n, H + 1] packs ∂loss_row/∂h in its first H columns and
 * loss_row = −log softmax(h·Wᵀ)[target] in the last, so the [n, V] logits, their log-softmax and
 * their gradient live only inside this node's kernels: nothing vocabulary-sized is kept for the
 * backward pass, whose gradient for h is a broadcast multiply. Only the loss column is
 * differentiable (the packed gradient columns are for this op's own backward).
 */
const LINEAR_CROSS_ENTROPY_ROWS = defineOp({
  name: 'linear_cross_entropy_rows',
  infer([h, w, t]) {
    requireFloat(h!);
    if (h!.ndim !== 2 || w!.ndim !== 2 || h!.shape[1] !== w!.shape[1] || w!.dtype !== h!.dtype) {
      throw new ShapeError(`linear_cross_entropy: expected hidden [rows, H] and weight [vocab, H] of one dtype, found ${h!.dtype} [${h!.shape.join(', ')}] and ${w!.dtype} [${w!.shape.join(', ')}]`);
    }
    if (t!.dtype !== 'int64' || t!.ndim !== 1 || t!.shape[0] !== h!.shape[0]) {
      throw new ShapeError(`linear_cross_entropy: expected int64 targets [${h!.shape[0]}], found ${t!.dtype} [${t!.shape.join(', ')}]`);
    }
    return { shape: [h!.shape[0]!, h!.shape[1]! + 1], dtype: h!.dtype };
  },
  lower: (g, [h, w, t], _a, node) => {
    const n = node.shape[0]!;
    const logits = g.node('Gemm', [h!, w!], { transB: 1 });
    const logProbs = g.node('LogSoftmax', [logits], { axis: 1 });
    const index = g.node('Unsqueeze', [t!, g.constI64([1])]);
    const loss = g.node('Neg', [g.node('GatherElements', [logProbs, index], { axis: 1 })]);
    // softmax − onehot(target): the gradient of the row's loss with respect to its logits.
    const minusOne = g.constTensor(node.dtype, [n, 1], node.dtype === 'float64' ? new Float64Array(n).fill(-1) : new Float32Array(n).fill(-1));
    const dLogits = g.node('ScatterElements', [g.node('Exp', [logProbs]), index, minusOne], { axis: 1, reduction: 'add' });
    return g.node('Concat', [g.node('MatMul', [dLogits, w!]), loss], { axis: 1 });
  },
  // The chunk's logits, log-probabilities, probabilities and their gradient ([rows, vocab] each, at
  // most two or three alive at once), and the weight packed for the product.
  scratchBytes: (n) => {
    const [h, w] = n.inputs as [Tensor, Tensor];
    const bytes = n.dtype === 'float64' ? 8 : 4;
    return bytes * (3 * h.shape[0]! * w.shape[0]! + w.size);
  },
  vjp: (g, n) => {
    const [h, w, t] = n.inputs as [Tensor, Tensor, Tensor];
    const H = h.shape[1]!;
    const gLoss = slice(g, 1, H, H + 1);
    // The weight's gradient recomputes the chunk's softmax; it becomes part of a graph only when a
    // caller asks for that gradient (a trainable output layer), so a frozen head pays nothing for it.
    const dLogits = sub(softmax(matmul(h, transpose(w, 0, 1)), -1), oneHot(t, w.shape[0]!, h.dtype));
    return [mul(gLoss, slice(n, 1, 0, H)), matmul(transpose(mul(dLogits, gLoss), 0, 1), h), null];
  },
});

export interface LinearCrossEntropyOptions extends CrossEntropyOptions {
  /** Rows per fused chunk (default: enough for about 2²³ logits, 32 MB of float32, per chunk). */
  chunkRows?: number;
}

/**
 * crossEntropy(hidden · weightᵀ, targets) — an output layer without bias and its loss — computed a
 * chunk of rows at a time, so that no [rows, vocab] tensor exists beyond one chunk's and none is
 * kept for the backward pass. Same value and gradients (for hidden and weight) as the composition.
 * hidden [..., H], weight [V, H], targets [...] (int).
 */
export function linearCrossEntropy(hidden: Tensor, weight: Tensor, targets: Tensor, opts: LinearCrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, reduction = 'mean' } = opts;
  const H = hidden.shape[hidden.ndim - 1]!;
  const V = weight.shape[0]!;
  if (weight.ndim !== 2 || weight.shape[1] !== H) {
    throw new ShapeError(`linear_cross_entropy: hidden [${hidden.shape.join(', ')}] needs a weight [vocab, ${H}], found [${weight.shape.join(', ')}]`);
  }
  if (targets.dtype !== 'int64' && targets.dtype !== 'int32') throw new ShapeError(`linear_cross_entropy: targets must be int64 or int32, found ${targets.dtype}`);
  if (hidden.shape.slice(0, -1).join(',') !== targets.shape.join(',')) {
    throw new ShapeError(`linear_cross_entropy: hidden [${hidden.shape.join(', ')}] needs targets of shape [${hidden.shape.slice(0, -1).join(', ')}], found [${targets.shape.join(', ')}]`);
  }
  const h = reshape(hidden, [-1, H]);
  const N = h.shape[0]!;
  const t = flatten(cast(targets, 'int64'));
  const ignored = eq(t, ignoreIndex);
  const safeTargets = where(ignored, 0, t);
  const mask = sub(1, cast(ignored, hidden.dtype));
  const rowsPerChunk = Math.max(1, Math.min(N, opts.chunkRows ?? Math.floor(2 ** 23 / V)));
  const chunks = Math.ceil(N / rowsPerChunk);
  // Equal chunks (the last no smaller than the others by more than one row): fewer distinct shapes.
  const bounds = Array.from({ length: chunks + 1 }, (_, i) => Math.round((i * N) / chunks));
  const rowLosses = Array.from({ length: chunks }, (_, c) => {
    const [start, end] = [bounds[c]!, bounds[c + 1]!];
    const packed = apply(LINEAR_CROSS_ENTROPY_ROWS, [slice(h, 0, start, end), weight, slice(safeTargets, 0, start, end)], {});
    return slice(packed, 1, H, H + 1);
  });
  const losses = mul(reshape(chunks === 1 ? rowLosses[0]! : concat(rowLosses, 0), [N]), mask);
  if (reduction === 'none') return reshape(losses, targets.shape);
  if (reduction === 'sum') return sum(losses);
  return div(sum(losses), sum(mask));
}

/**
 * silu(gate) · up, the gated MLP's product (SwiGLU), as one op whose backward keeps only gate and
 * up: sigmoid(gate) is recomputed there (one pass over the product's shape) instead of keeping
 * sigmoid(gate) and silu(gate) from the forward pass, two [tokens, intermediate] tensors per layer.
 */
const SILU_MUL = defineOp({
  name: 'silu_mul',
  infer([gate, up]) {
    requireFloat(gate!);
    if (gate!.shape.join(',') !== up!.shape.join(',') || gate!.dtype !== up!.dtype) {
      throw new ShapeError(`silu_mul: gate and up must have one shape and dtype, found ${gate!.dtype} [${gate!.shape}] and ${up!.dtype} [${up!.shape}]`);
    }
    return { shape: [...gate!.shape], dtype: gate!.dtype };
  },
  lower: (g, [gate, up]) => g.node('Mul', [g.node('Mul', [gate!, g.node('Sigmoid', [gate!])]), up!]),
  vjp: (gOut, n) => {
    const [gate, up] = n.inputs as [Tensor, Tensor];
    // The gate seen through the incoming gradient (times zero): ONNX Runtime would otherwise merge
    // this sigmoid with the forward's and keep it alive until here.
    const anchored = add(gate, mul(reshape(slice(reshape(gOut, [-1]), 0, 0, 1), []), 0));
    const s = sigmoid(anchored);
    const silu = mul(gate, s);
    // d silu/d gate = s · (1 + gate · (1 − s))
    const dGate = mul(mul(gOut, up), mul(s, add(mul(gate, sub(1, s)), 1)));
    return [dGate, mul(gOut, silu)];
  },
});

/** silu(gate) · up (SwiGLU's product) with a backward that keeps only gate and up; see SILU_MUL. */
export function siluMul(gate: Tensor, up: Tensor): Tensor {
  return apply(SILU_MUL, [gate, up], {});
}

/** Layer normalisation over the last `normalizedDims` dimensions (biased variance, like torch). */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5, normalizedDims = 1): Tensor {
  const axes = Array.from({ length: normalizedDims }, (_, i) => x.ndim - normalizedDims + i);
  const centered = sub(x, mean(x, axes, true));
  let y = mul(centered, rsqrt(add(mean(mul(centered, centered), axes, true), eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** RMS normalisation over the last dimension, as transformers' LlamaRMSNorm computes it. */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  const y = mul(x, rsqrt(add(mean(mul(x, x), -1, true), eps)));
  return weight ? mul(y, weight) : y;
}

export interface DropoutOptions {
  training?: boolean;
  /** A one-element int64 tensor; by default a new one is drawn from the default generator. */
  seed?: Tensor;
}

/** Inverted dropout: zero with probability p, scale the rest by 1/(1-p). Identity when not training. */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  const { training = true } = opts;
  if (!(p >= 0 && p < 1)) throw new ShapeError(`dropout: p must be in [0, 1), found ${p}`);
  if (!training || p === 0) return x;
  const seed = opts.seed ?? Tensor.scalar(BigInt(getDefaultGenerator().nextUint32()), 'int64');
  const keep = apply(DROPOUT_KEEP, [hashUniform(x.shape, seed)], { p });
  return where(keep, mul(x, 1 / (1 - p)), 0);
}

const DROPOUT_KEEP = defineOp<{ p: number }>({
  name: 'dropout_keep',
  infer([u]) { return { shape: [...u!.shape], dtype: 'bool' }; },
  lower: (g, [u], a) => g.node('GreaterOrEqual', [u!, g.constScalar(a.p, 'float32')]),
});

/** The most negative finite value, used for masked scores as transformers does (never -inf: no NaN rows). */
export function minValue(dtype: Tensor['dtype']): number {
  return dtype === 'float64' ? -Number.MAX_VALUE : -3.4028234663852886e38;
}

/** Additive causal mask [q, k]: 0 where key j ≤ query i + (k − q), the dtype's minimum elsewhere. */
export function causalMask(queryLen: number, keyLen: number, dtype: Tensor['dtype'] = 'float32'): Tensor {
  const allowed = tril(full([queryLen, keyLen], 1, dtype), keyLen - queryLen);
  return where(eq(allowed, 0), minValue(dtype), full([], 0, dtype));
}

export interface AttentionOptions {
  /** Additive mask broadcastable to [batch, heads, q, k]. */
  mask?: Tensor;
  causal?: boolean;
  /** Defaults to 1/sqrt(head_dim). */
  scale?: number;
  /** Recompute the attention probabilities in the backward pass instead of keeping them (less memory, more time). */
  recompute?: boolean;
}

/**
 * Scaled dot-product attention with recomputation (scaledDotProductAttention's `recompute`), as
 * one op, with grouped-query heads folded into rows: q [B, H, T, D]
 * is read as [B, Hkv, G·T, D] (G = H / Hkv query heads per key/value head, in transformers'
 * repeat_kv order), so keys and values are never repeated and dK, dV need no sum over the group.
 * Inputs: q, k [B, Hkv, S, D], v [B, Hkv, S, Dv], and optionally an additive mask already shaped
 * [Bm, 1 or Hkv, 1 or G, 1 or T, 1 or S]. Output [B, H, T, Dv].
 *
 * Its backward recomputes the attention probabilities from q and k (the flash-attention trade), so
 * nothing [B, H, T, S]-sized is kept from the forward pass for the backward: a one-graph training
 * step would otherwise hold every layer's probabilities at once.
 */
const ATTENTION = defineOp<{ scale: number }>({
  name: 'attention',
  infer([q, , v]) {
    return { shape: [q!.shape[0]!, q!.shape[1]!, q!.shape[2]!, v!.shape[3]!], dtype: q!.dtype };
  },
  lower: (g, [q, k, v, mask], a, node) => {
    const [B, H, T, Dv] = node.shape as [number, number, number, number];
    const [, Hkv, S, D] = node.inputs[1]!.shape as [number, number, number, number];
    const G = H / Hkv;
    const rows = g.node('Reshape', [q!, g.constI64([B, Hkv, G * T, D])]);
    let scores = g.node('Mul', [g.node('MatMul', [rows, g.node('Transpose', [k!], { perm: [0, 1, 3, 2] })]), g.constScalar(a.scale, node.dtype)]);
    if (mask) {
      const grouped = g.node('Add', [g.node('Reshape', [scores, g.constI64([B, Hkv, G, T, S])]), mask]);
      scores = g.node('Reshape', [grouped, g.constI64([B, Hkv, G * T, S])]);
    }
    const out = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), v!]);
    return g.node('Reshape', [out, g.constI64([B, H, T, Dv])]);
  },
  vjp: (gOut, n) => {
    const [q, k, v, mask] = n.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
    const scale = n.attrs.scale as number;
    const [B, H, T, Dv] = n.shape as [number, number, number, number];
    const [, Hkv, S, D] = k.shape as [number, number, number, number];
    const G = H / Hkv;
    const rows = reshape(q, [B, Hkv, G * T, D]);
    // The probabilities again. q is scaled before the product (the forward scales after it), so that
    // ONNX Runtime's common-subexpression elimination cannot merge this back into the forward's
    // nodes and keep those alive until the backward pass.
    let scores = matmul(mul(rows, scale), transpose(k, -2, -1));
    if (mask) scores = reshape(add(reshape(scores, [B, Hkv, G, T, S]), mask), [B, Hkv, G * T, S]);
    const probs = softmax(scores, -1);
    const dOut = reshape(gOut, [B, Hkv, G * T, Dv]);
    const dV = matmul(transpose(probs, -2, -1), dOut);
    // softmax's backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)), and rowsum(dP ⊙ P) = rowsum(dO ⊙ O).
    const rowDot = sum(mul(dOut, reshape(n, [B, Hkv, G * T, Dv])), -1, true);
    const dScores = mul(probs, sub(matmul(dOut, transpose(v, -2, -1)), rowDot));
    const dQ = reshape(mul(matmul(dScores, k), scale), [B, H, T, D]);
    const dK = mul(matmul(transpose(dScores, -2, -1), rows), scale);
    const dMask = mask ? sumToShape(reshape(dScores, [B, Hkv, G, T, S]), mask.shape) : null;
    return [dQ, dK, dV, dMask];
  },
});

/**
 * Scaled dot-product attention. q: [B, H, T, D]; k, v: [B, Hkv, S, D] with H a multiple of Hkv
 * (grouped-query attention: each key/value head serves H/Hkv query heads). `mask` is additive and
 * broadcastable to [B, H, T, S]; `causal` adds the causal mask (aligned to the last key).
 *
 * By default a composition of primitives, whose backward reads the probabilities saved from the
 * forward pass. With `recompute` one op that recomputes them in the backward instead: in a one-graph
 * training step every layer's [B, H, T, S] probabilities are then no longer alive at once (about
 * 0.5 GB less for SmolLM2-135M at batch 4 × 256) for about 10 % more time per step.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new ShapeError(`attention: expected 4-D q, k, v [batch, heads, seq, head_dim], found [${q.shape}], [${k.shape}], [${v.shape}]`);
  }
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  if (H % Hkv !== 0) throw new ShapeError(`attention: ${H} query heads cannot share ${Hkv} key/value heads`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (opts.recompute) {
    if (k.shape[0] !== B || v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== S || k.shape[3] !== D) {
      throw new ShapeError(`attention: q [${q.shape}] needs k [${B}, ${Hkv}, S, ${D}] and v [${B}, ${Hkv}, S, Dv], found [${k.shape}] and [${v.shape}]`);
    }
    let mask = opts.mask ?? null;
    if (opts.causal) mask = mask ? add(mask, causalMask(T, S, q.dtype)) : causalMask(T, S, q.dtype);
    if (!mask) return apply(ATTENTION, [q, k, v], { scale });
    return apply(ATTENTION, [q, k, v, groupedMask(mask, B, H, Hkv, T, S)], { scale });
  }
  const repeatKv = (t: Tensor): Tensor => {
    if (Hkv === H) return t;
    const e = expand(unsqueeze(t, 2), [B, Hkv, H / Hkv, S, t.shape[3]!]);
    return reshape(e, [B, H, S, t.shape[3]!]);
  };
  let scores = mul(matmul(q, transpose(repeatKv(k))), scale);
  if (opts.mask) scores = add(scores, opts.mask);
  if (opts.causal) scores = add(scores, causalMask(T, S, q.dtype));
  return matmul(softmax(scores, -1), repeatKv(v));
}

/** An additive mask broadcastable to [B, H, T, S], as [Bm, 1 or Hkv, 1 or G, Tm, Sm] for the folded layout. */
function groupedMask(mask: Tensor, B: number, H: number, Hkv: number, T: number, S: number): Tensor {
  if (mask.ndim > 4) throw new ShapeError(`attention: the mask must broadcast to [${B}, ${H}, ${T}, ${S}], found [${mask.shape}]`);
  const m4 = [...new Array<number>(4 - mask.ndim).fill(1), ...mask.shape];
  const target = [B, H, T, S];
  if (m4.some((d, i) => d !== 1 && d !== target[i])) throw new ShapeError(`attention: the mask must broadcast to [${B}, ${H}, ${T}, ${S}], found [${mask.shape}]`);
  const [mb, mh, mt, ms] = m4 as [number, number, number, number];
  return reshape(mask, mh === 1 ? [mb, 1, 1, mt, ms] : [mb, Hkv, H / Hkv, mt, ms]);
}
