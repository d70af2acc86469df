/** Reductions over axes (sum, mean, max, min, argmax) and the broadcast-undo used by gradients. */
import { ShapeError } from '../errors.ts';
import { apply, defineOp, type OpDef } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { cast, div, eq, mul } from './elementwise.ts';
import { expand, reshape } from './shape.ts';
import { normAxes, normAxis, requireComputable, sameShape } from './util.ts';

interface ReduceAttrs { axes: number[]; keepdim: boolean; [k: string]: unknown }

function reducedShape(shape: readonly number[], axes: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

/** The gradient of a reduction, brought back to the input's shape. */
function unreduce(g: Tensor, n: Tensor): Tensor {
  const x = n.inputs[0]!;
  const { axes } = n.attrs as ReduceAttrs;
  return expand(reshape(g, reducedShape(x.shape, axes, true)), x.shape);
}

function reduction(name: string, onnx: string, vjp: OpDef<ReduceAttrs>['vjp']): OpDef<ReduceAttrs> {
  return defineOp<ReduceAttrs>({
    name,
    infer([x], a) {
      requireComputable(x!);
      if (x!.dtype === 'bool') throw new Error('cannot reduce a bool tensor; cast it first');
      for (const ax of a.axes) if (x!.shape[ax] === 0 && onnx !== 'ReduceSum') throw new Error(`cannot ${name} over empty axis ${ax}`);
      return { shape: reducedShape(x!.shape, a.axes, a.keepdim), dtype: x!.dtype };
    },
    lower: (g, [x], a) => g.node(onnx, [x!, g.constI64(a.axes)], { keepdims: a.keepdim ? 1 : 0 }),
    vjp,
  });
}

const SUM = reduction('sum', 'ReduceSum', (g, n) => [unreduce(g, n)]);
const MEAN = reduction('mean', 'ReduceMean', (g, n) => {
  const x = n.inputs[0]!;
  const count = (n.attrs as ReduceAttrs).axes.reduce((c, ax) => c * x.shape[ax]!, 1);
  return [div(unreduce(g, n), count)];
});
const extremumVjp: OpDef<ReduceAttrs>['vjp'] = (g, n) => {
  const x = n.inputs[0]!;
  const a = n.attrs as ReduceAttrs;
  // Ties share the gradient equally, like torch.amax/amin.
  const hit = cast(eq(x, expand(reshape(n, reducedShape(x.shape, a.axes, true)), x.shape)), x.dtype);
  const count = apply(SUM, [hit], { axes: a.axes, keepdim: true });
  return [div(mul(unreduce(g, n), hit), count)];
};
const MAX = reduction('max', 'ReduceMax', extremumVjp);
const MIN = reduction('min', 'ReduceMin', extremumVjp);

type Axes = number | readonly number[] | undefined;
const reduceWith = (op: OpDef<ReduceAttrs>) => (x: Tensor, axes?: Axes, keepdim = false): Tensor => {
  let ax: number[];
  try { ax = normAxes(axes, x.ndim); } catch (e) { throw new ShapeError(`${op.name}: ${(e as Error).message}`, { cause: e }); }
  if (ax.length === 0) return x;
  return apply(op, [x], { axes: ax, keepdim });
};

export const sum = reduceWith(SUM);
export const mean = reduceWith(MEAN);
export const max = reduceWith(MAX);
export const min = reduceWith(MIN);

const ARGMAX = defineOp<{ axis: number; keepdim: boolean }>({
  name: 'argmax',
  infer([x], a) {
    requireComputable(x!);
    return { shape: reducedShape(x!.shape, [a.axis], a.keepdim), dtype: 'int64' };
  },
  lower: (g, [x], a) => g.node('ArgMax', [x!], { axis: a.axis, keepdims: a.keepdim ? 1 : 0, select_last_index: 0 }),
});

/** Index of the first maximum along an axis (int64). */
export function argmax(x: Tensor, axis = -1, keepdim = false): Tensor {
  return apply(ARGMAX, [x], { axis: normAxis(axis, x.ndim), keepdim });
}

/** Sum a broadcast gradient back down to the shape of the operand it was broadcast from. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? apply(SUM, [g], { axes, keepdim: true }) : g;
  return sameShape(summed.shape, shape) ? summed : reshape(summed, shape);
}
