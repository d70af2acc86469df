/**
 * A cross-entropy whose gradient is written as one expression, (softmax(x) − onehot(t)) · g, instead
 * of being derived through log-softmax → gather as `ops.crossEntropy`'s composite is. Used by the
 * benchmark to measure what the LM head + loss would gain from such an op in the engine; it gives
 * the same loss and gradient (ignore_index and the 'mean' reduction included).
 */
import { Tensor, ops } from '../src/engine/index.ts';
import { apply, defineOp } from '../src/engine/op.ts';

/** x with `updates` added at `index` along `axis` (ScatterElements, reduction add). */
const SCATTER_ADD_INTO = defineOp<{ axis: number }>({
  name: 'bench_scatter_add_into',
  infer([x]) { return { shape: [...x!.shape], dtype: x!.dtype }; },
  lower: (g, [x, i, u], a) => g.node('ScatterElements', [x!, i!, u!], { axis: a.axis, reduction: 'add' }),
  vjp: (g, n) => [g, null, ops.gatherElements(g, n.attrs.axis as number, n.inputs[1]!)],
});

/** Per-row −log softmax(x)[t] for logits [N, C] and int64 targets [N] (all in range). */
const CE_ROWS = defineOp({
  name: 'bench_cross_entropy_rows',
  infer([x]) { return { shape: [x!.shape[0]!], dtype: x!.dtype }; },
  lower: (g, [x, t]) => {
    const lsm = g.node('LogSoftmax', [x!], { axis: 1 });
    const picked = g.node('GatherElements', [lsm, g.node('Unsqueeze', [t!, g.constI64([1])])], { axis: 1 });
    return g.node('Neg', [g.node('Squeeze', [picked, g.constI64([1])])]);
  },
  vjp: (g, n) => {
    const [x, t] = n.inputs as [Tensor, Tensor];
    const g1 = ops.unsqueeze(g, 1);
    return [apply(SCATTER_ADD_INTO, [ops.mul(ops.softmax(x, 1), g1), ops.unsqueeze(t, 1), ops.neg(g1)], { axis: 1 }), null];
  },
});

/** Mean cross-entropy over the targets that are not ignoreIndex, like `ops.crossEntropy`. */
export function fusedCrossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
  const C = logits.shape[logits.ndim - 1]!;
  const t = ops.flatten(ops.cast(targets, 'int64'));
  const ignored = ops.eq(t, ignoreIndex);
  const mask = ops.sub(1, ops.cast(ignored, logits.dtype));
  const losses = apply(CE_ROWS, [ops.reshape(logits, [-1, C]), ops.where(ignored, 0, t)], {});
  return ops.div(ops.sum(ops.mul(losses, mask)), ops.sum(mask));
}
