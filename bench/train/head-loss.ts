/**
 * Prototype (bench only): the LM head and the causal-LM cross-entropy as one fused op per chunk of
 * rows, whose forward also computes the gradient with respect to the hidden states, so that the
 * [tokens, vocab] logits live only inside one chunk's kernels and the backward pass costs nothing
 * beyond a broadcast multiply (the "fused linear cross-entropy" of Liger-Kernel / Apple's CCE, in
 * ONNX operators). Same loss and gradient as `causalLMLoss(hidden @ Wᵀ, labels)`.
 *
 * Per chunk of n rows h [n, H], tied head W [V, H], safe targets t [n]:
 *   logits = Gemm(h, W, transB)          [n, V]
 *   lsm    = LogSoftmax(logits)
 *   loss   = −lsm[t]                     [n, 1]
 *   G      = exp(lsm) − onehot(t)        (ScatterElements, reduction add)
 *   D      = G · W                       [n, H]    = ∂loss_row/∂h
 *   output = concat(D, loss)             [n, H+1]
 * and the op's gradient is ∂L/∂h = g[:, H] · D (W is frozen: no gradient for it).
 */
import { ops, type Tensor } from '../../src/engine/index.ts';
import { apply, defineOp } from '../../src/engine/op.ts';

const HEAD_CE_WITH_GRAD = defineOp({
  name: 'bench_head_ce_with_grad',
  infer([h, w]) {
    if (h!.ndim !== 2 || w!.ndim !== 2 || h!.shape[1] !== w!.shape[1]) throw new Error('expected h [n, H] and W [V, H]');
    return { shape: [h!.shape[0]!, h!.shape[1]! + 1], dtype: h!.dtype };
  },
  lower: (g, [h, w, t], _a, node) => {
    const n = node.shape[0]!;
    const logits = g.node('Gemm', [h!, w!], { transB: 1 });
    const lsm = g.node('LogSoftmax', [logits], { axis: 1 });
    const idx = g.node('Unsqueeze', [t!, g.constI64([1])]);
    const loss = g.node('Neg', [g.node('GatherElements', [lsm, idx], { axis: 1 })]);
    const minusOne = g.constTensor('float32', [n, 1], new Float32Array(n).fill(-1));
    const G = g.node('ScatterElements', [g.node('Exp', [lsm]), idx, minusOne], { axis: 1, reduction: 'add' });
    const D = g.node('MatMul', [G, w!]);
    return g.node('Concat', [D, loss], { axis: 1 });
  },
  vjp: (g, n) => {
    const H = n.shape[1]! - 1;
    if (n.inputs[1]!.requiresGrad) throw new Error('bench_head_ce_with_grad: the head weight must be frozen');
    return [ops.mul(ops.slice(g, 1, H, H + 1), ops.slice(n, 1, 0, H)), null, null];
  },
});

/**
 * Mean causal-LM loss (labels shifted left, -100 ignored) of hidden [B, T, H] under the tied head
 * W [V, H], computed in `chunks` row chunks without keeping any [tokens, vocab] tensor alive.
 */
export function chunkedHeadLoss(hidden: Tensor, w: Tensor, labels: Tensor, chunks: number, ignoreIndex = -100): Tensor {
  const H = hidden.shape[2]!;
  const h = ops.reshape(hidden, [-1, H]);
  const N = h.shape[0]!;
  if (N % chunks !== 0) throw new Error(`chunkedHeadLoss: ${N} rows do not split into ${chunks} chunks`);
  const shifted = ops.flatten(ops.pad(ops.slice(labels, 1, 1), [0, 1], ignoreIndex));
  const ignored = ops.eq(shifted, ignoreIndex);
  const safe = ops.where(ignored, 0, shifted);
  const mask = ops.sub(1, ops.cast(ignored, 'float32'));
  const n = N / chunks;
  const rows: Tensor[] = [];
  for (let c = 0; c < chunks; c++) {
    const packed = apply(HEAD_CE_WITH_GRAD, [ops.slice(h, 0, c * n, (c + 1) * n), w, ops.slice(safe, 0, c * n, (c + 1) * n)], {});
    rows.push(ops.slice(packed, 1, H, H + 1));
  }
  const losses = ops.reshape(chunks === 1 ? rows[0]! : ops.concat(rows, 0), [N]);
  return ops.div(ops.sum(ops.mul(losses, mask)), ops.sum(mask));
}
