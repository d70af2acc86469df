/**
 * Ops that move data without arithmetic: reshape, permute, expand, slice, pad, concat, gather,
 * scatter-add, triangular masks, and the no-input generators (full, arange).
 */
import { ShapeError } from '../errors.ts';
import { ONNX_DTYPE, arrayFor, runtimeDType, type DType } from '../dtype.ts';
import type { GraphBuilder } from '../onnx/builder.ts';
import { apply, defineOp, type OpDef } from '../op.ts';
import { numel, type Shape, type Tensor } from '../tensor.ts';
import { cast, eq } from './elementwise.ts';
import { sumToShape } from './reduce.ts';
import { broadcastShapes, normAxis, requireSameDType, sameShape } from './util.ts';

// ---- reshape / permute / expand -----------------------------------------------------------------

const RESHAPE = defineOp<{ shape: number[] }>({
  name: 'reshape',
  infer([x], a) {
    if (numel(a.shape) !== x!.size) throw new ShapeError(`cannot reshape ${x!.size} elements to [${a.shape.join(', ')}]`);
    return { shape: a.shape, dtype: x!.dtype };
  },
  lower: (g, [x], a) => g.node('Reshape', [x!, g.constI64(a.shape)]),
  vjp: (g, n) => [reshape(g, n.inputs[0]!.shape)],
});

/** Reshape; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const resolved = [...shape];
  const unknown = resolved.indexOf(-1);
  if (unknown >= 0) {
    const known = resolved.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    if (resolved.lastIndexOf(-1) !== unknown || known === 0 || x.size % known !== 0) {
      throw new ShapeError(`reshape: cannot infer -1 in [${shape.join(', ')}] for ${x.size} elements of shape [${x.shape.join(', ')}]`);
    }
    resolved[unknown] = x.size / known;
  }
  if (sameShape(resolved, x.shape)) return x;
  return apply(RESHAPE, [x], { shape: resolved });
}

const PERMUTE = defineOp<{ perm: number[] }>({
  name: 'permute',
  infer([x], a) {
    const sorted = [...a.perm].sort((p, q) => p - q);
    if (a.perm.length !== x!.ndim || sorted.some((p, i) => p !== i)) {
      throw new ShapeError(`[${a.perm.join(', ')}] is not a permutation of ${x!.ndim} axes`);
    }
    return { shape: a.perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
  },
  lower: (g, [x], a) => g.node('Transpose', [x!], { perm: a.perm }),
  vjp: (g, n) => {
    const perm = n.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [permute(g, inverse)];
  },
});

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((d) => (d < 0 ? d + x.ndim : d));
  if (p.every((d, i) => d === i) && p.length === x.ndim) return x;
  // A permutation of a permutation is one permutation (and none when they cancel: a matmul's
  // backward transposes the weight's transpose back). Left as two nodes, the inner transpose has a
  // second reader, so ONNX Runtime can no longer fold it into its product and materialises it:
  // every frozen weight transposed once more (403 MB for SmolLM2-135M).
  if (x.op === PERMUTE && p.length === x.ndim) {
    const inner = x.attrs.perm as number[];
    return permute(x.inputs[0]!, p.map((d) => inner[d]!));
  }
  return apply(PERMUTE, [x], { perm: p });
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normAxis(dim0, x.ndim);
  const b = normAxis(dim1, x.ndim);
  const perm = Array.from({ length: x.ndim }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

const EXPAND = defineOp<{ shape: number[] }>({
  name: 'expand',
  infer([x], a) {
    const out = broadcastShapes(x!.shape, a.shape);
    if (!sameShape(out, a.shape)) throw new ShapeError(`cannot expand to [${a.shape.join(', ')}]`);
    return { shape: a.shape, dtype: x!.dtype };
  },
  lower: (g, [x], a) => g.node('Expand', [x!, g.constI64(a.shape)]),
  vjp: (g, n) => [sumToShape(g, n.inputs[0]!.shape)],
});

/** Broadcast to a shape; -1 keeps the input's size in that (trailing-aligned) dimension. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const lead = shape.length - x.ndim;
  const resolved = shape.map((d, i) => (d === -1 ? x.shape[i - lead] ?? 1 : d));
  if (sameShape(resolved, x.shape)) return x;
  return apply(EXPAND, [x], { shape: resolved });
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normAxis(dim, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, dims?: number | readonly number[]): Tensor {
  const list = dims === undefined ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
    : (typeof dims === 'number' ? [dims] : dims).map((d) => normAxis(d, x.ndim));
  return reshape(x, x.shape.filter((d, i) => !(list.includes(i) && d === 1)));
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis(startDim, x.ndim);
  const e = normAxis(endDim, x.ndim);
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

// ---- slice / pad / concat -----------------------------------------------------------------------

interface SliceAttrs { axis: number; start: number; end: number; step: number; [k: string]: unknown }

const SLICE = defineOp<SliceAttrs>({
  name: 'slice',
  infer([x], a) {
    const shape = [...x!.shape];
    shape[a.axis] = Math.max(0, Math.ceil((a.end - a.start) / a.step));
    return { shape, dtype: x!.dtype };
  },
  lower: (g, [x], a) => g.node('Slice', [x!, g.constI64([a.start]), g.constI64([a.end]), g.constI64([a.axis]), g.constI64([a.step])]),
  vjp: (g, n) => [sliceGrad(g, n.inputs[0]!.shape, n.attrs as SliceAttrs)],
});

/** Python-style slice along one axis: negative indices count from the end, bounds are clamped; step ≥ 1. */
export function slice(x: Tensor, dim: number, start = 0, end = Number.MAX_SAFE_INTEGER, step = 1): Tensor {
  const axis = normAxis(dim, x.ndim);
  const size = x.shape[axis]!;
  if (!Number.isInteger(step) || step < 1) throw new ShapeError(`slice: step must be a positive integer, found ${step}`);
  const clamp = (i: number): number => Math.min(size, Math.max(0, i < 0 ? i + size : i));
  const s = clamp(start);
  const e = Math.max(s, clamp(end));
  if (s === 0 && e === size && step === 1) return x;
  return apply(SLICE, [x], { axis, start: s, end: e, step });
}

/** Scatter a slice's gradient back into zeros of the input's shape, using pads (no index tensors). */
function sliceGrad(g: Tensor, shape: readonly number[], a: SliceAttrs): Tensor {
  const dim = shape[a.axis]!;
  let spread = g;
  if (a.step > 1) {
    // [.., m, ..] -> [.., m, step, ..] (zeros after each element) -> [.., m*step, ..]
    const m = g.shape[a.axis]!;
    const widened = padAxis(unsqueeze(g, a.axis + 1), a.axis + 1, 0, a.step - 1);
    const merged = [...g.shape];
    merged[a.axis] = m * a.step;
    spread = reshape(widened, merged);
    if (a.start + m * a.step > dim) spread = slice(spread, a.axis, 0, dim - a.start);
  }
  return padAxis(spread, a.axis, a.start, dim - a.start - spread.shape[a.axis]!);
}

interface PadAttrs { pads: number[]; value: number; [k: string]: unknown }

const PAD = defineOp<PadAttrs>({
  name: 'pad',
  infer([x], a) {
    const r = x!.ndim;
    if (a.pads.length !== 2 * r || a.pads.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new ShapeError(`pads must be ${2 * r} non-negative integers, found [${a.pads.join(', ')}]`);
    }
    return { shape: x!.shape.map((d, i) => d + a.pads[i]! + a.pads[i + r]!), dtype: x!.dtype };
  },
  lower: (g, [x], a, n) => g.node('Pad', [x!, g.constI64(a.pads), g.constScalar(a.value, n.dtype)], { mode: 'constant' }),
  vjp: (g, n) => {
    const x = n.inputs[0]!;
    const pads = n.attrs.pads as number[];
    let out = g;
    x.shape.forEach((d, i) => { out = slice(out, i, pads[i]!, pads[i]! + d); });
    return [out];
  },
});

/** Constant padding with torch.nn.functional.pad's convention: pairs from the last dimension backwards. */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
    throw new ShapeError(`pad: expected pairs (left, right) for up to ${x.ndim} dims, found [${pads.join(', ')}]`);
  }
  const onnxPads = new Array<number>(2 * x.ndim).fill(0);
  for (let k = 0; k < pads.length / 2; k++) {
    const axis = x.ndim - 1 - k;
    onnxPads[axis] = pads[2 * k]!;
    onnxPads[axis + x.ndim] = pads[2 * k + 1]!;
  }
  if (onnxPads.every((p) => p === 0)) return x;
  return apply(PAD, [x], { pads: onnxPads, value });
}

export function padAxis(x: Tensor, axis: number, before: number, after: number, value = 0): Tensor {
  const pads = new Array<number>(2 * x.ndim).fill(0);
  pads[axis] = before;
  pads[axis + x.ndim] = after;
  if (before === 0 && after === 0) return x;
  return apply(PAD, [x], { pads, value });
}

const CONCAT = defineOp<{ axis: number }>({
  name: 'concat',
  infer(xs, a) {
    const dtype = requireSameDType(xs);
    const first = xs[0]!;
    let total = 0;
    for (const t of xs) {
      if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a.axis && d !== first.shape[i])) {
        throw new ShapeError(`all inputs must match except on axis ${a.axis}`);
      }
      total += t.shape[a.axis]!;
    }
    const shape = [...first.shape];
    shape[a.axis] = total;
    return { shape, dtype };
  },
  lower: (g, ins, a) => g.node('Concat', ins, { axis: a.axis }),
  vjp: (g, n) => {
    const axis = n.attrs.axis as number;
    let offset = 0;
    return n.inputs.map((t) => {
      const part = slice(g, axis, offset, offset + t.shape[axis]!);
      offset += t.shape[axis]!;
      return part;
    });
  },
});

export function concat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: expected at least one tensor');
  if (xs.length === 1) return xs[0]!;
  return apply(CONCAT, xs, { axis: normAxis(dim, xs[0]!.ndim) });
}

export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('stack: expected at least one tensor');
  const d = normAxis(dim, xs[0]!.ndim + 1);
  return concat(xs.map((x) => unsqueeze(x, d)), d);
}

/** torch.split: equal chunks of `sizes` (last may be smaller) or the listed sizes. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  const axis = normAxis(dim, x.ndim);
  const total = x.shape[axis]!;
  const list = typeof sizes === 'number'
    ? Array.from({ length: Math.ceil(total / sizes) }, (_, i) => Math.min(sizes, total - i * sizes))
    : [...sizes];
  if (list.reduce((p, q) => p + q, 0) !== total) {
    throw new ShapeError(`split: sizes [${list.join(', ')}] do not add up to ${total} (axis ${axis} of [${x.shape.join(', ')}])`);
  }
  let offset = 0;
  return list.map((s) => { const part = slice(x, axis, offset, offset + s); offset += s; return part; });
}

// ---- gather / scatter ---------------------------------------------------------------------------

function requireIndex(t: Tensor): void {
  if (t.dtype !== 'int64' && t.dtype !== 'int32') throw new ShapeError(`indices must be int64 or int32, found ${t.dtype}`);
}

const GATHER = defineOp<{ axis: number }>({
  name: 'gather',
  infer([x, idx], a) {
    requireIndex(idx!);
    return { shape: [...x!.shape.slice(0, a.axis), ...idx!.shape, ...x!.shape.slice(a.axis + 1)], dtype: x!.dtype };
  },
  lower: (g, ins, a) => g.node('Gather', ins, { axis: a.axis }),
  vjp: (g, n) => {
    const [x, idx] = n.inputs as [Tensor, Tensor];
    const axis = n.attrs.axis as number;
    // Move the index dims to the front, scatter-add rows, then move the gathered axis back.
    const r = idx.ndim;
    const front = [...Array(r).keys()].map((i) => i + axis);
    const rest = [...Array(g.ndim).keys()].filter((i) => i < axis || i >= axis + r);
    const rows = scatterAddRows(x.shape[axis]!, idx, permute(g, [...front, ...rest]));
    const back = [...Array(x.ndim).keys()].map((i) => (i < axis ? i + 1 : i === axis ? 0 : i));
    return [permute(rows, back), null];
  },
});

/** numpy `take` / torch.index_select generalised to any index shape: the embedding lookup. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  return apply(GATHER, [x, index], { axis: normAxis(dim, x.ndim) });
}

export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  if (index.ndim !== 1) throw new ShapeError(`index_select: index must be 1-D, found shape [${index.shape.join(', ')}]`);
  return gather(x, dim, index);
}

export function embedding(weight: Tensor, ids: Tensor): Tensor {
  return gather(weight, 0, ids);
}

const SCATTER_ADD_ROWS = defineOp<{ rows: number }>({
  name: 'scatter_add_rows',
  infer([idx, upd], a) {
    requireIndex(idx!);
    if (!sameShape(upd!.shape.slice(0, idx!.ndim), idx!.shape)) throw new ShapeError('updates must start with the index shape');
    return { shape: [a.rows, ...upd!.shape.slice(idx!.ndim)], dtype: upd!.dtype };
  },
  lower: (g, [idx, upd], _a, n) => {
    const zeros = constantOfShape(g, n.shape, n.dtype);
    const i64 = n.inputs[0]!.dtype === 'int64' ? idx! : g.node('Cast', [idx!], { to: ONNX_DTYPE.int64 });
    return g.node('ScatterND', [zeros, g.node('Unsqueeze', [i64, g.constI64([-1])]), upd!], { reduction: 'add' });
  },
  vjp: (g, n) => [null, gather(g, 0, n.inputs[0]!)],
});

/** out[idx[i], ...] += updates[i, ...] into zeros of `rows` rows. */
export function scatterAddRows(rows: number, index: Tensor, updates: Tensor): Tensor {
  return apply(SCATTER_ADD_ROWS, [index, updates], { rows });
}

const GATHER_ELEMENTS = defineOp<{ axis: number }>({
  name: 'gather_elements',
  infer([x, idx], a) {
    requireIndex(idx!);
    if (idx!.ndim !== x!.ndim) throw new ShapeError(`index rank ${idx!.ndim} must equal input rank ${x!.ndim}`);
    idx!.shape.forEach((d, i) => {
      if (i !== a.axis && d > x!.shape[i]!) throw new ShapeError(`index dim ${i} (${d}) exceeds input dim (${x!.shape[i]})`);
    });
    return { shape: [...idx!.shape], dtype: x!.dtype };
  },
  lower: (g, ins, a) => g.node('GatherElements', ins, { axis: a.axis }),
  vjp: (g, n) => [scatterElementsAdd(n.inputs[0]!.shape, n.attrs.axis as number, n.inputs[1]!, g), null],
});

/** torch.gather: out[i][j] = x[i][index[i][j]] along `dim`. */
export function gatherElements(x: Tensor, dim: number, index: Tensor): Tensor {
  return apply(GATHER_ELEMENTS, [x, index], { axis: normAxis(dim, x.ndim) });
}

const SCATTER_ELEMENTS_ADD = defineOp<{ shape: number[]; axis: number }>({
  name: 'scatter_elements_add',
  infer([idx, upd], a) {
    requireIndex(idx!);
    if (!sameShape(idx!.shape, upd!.shape)) throw new ShapeError('index and updates must have the same shape');
    return { shape: a.shape, dtype: upd!.dtype };
  },
  lower: (g, [idx, upd], a, n) =>
    g.node('ScatterElements', [constantOfShape(g, a.shape, n.dtype), idx!, upd!], { axis: a.axis, reduction: 'add' }),
  vjp: (g, n) => [null, gatherElements(g, n.attrs.axis as number, n.inputs[0]!)],
});

export function scatterElementsAdd(shape: Shape, dim: number, index: Tensor, updates: Tensor): Tensor {
  return apply(SCATTER_ELEMENTS_ADD, [index, updates], { shape: [...shape], axis: normAxis(dim, shape.length) });
}

// ---- triangular ----------------------------------------------------------------------------------

const TRILU: OpDef<{ upper: boolean; k: number }> = defineOp<{ upper: boolean; k: number }>({
  name: 'trilu',
  infer([x]) {
    if (x!.ndim < 2) throw new ShapeError('triu/tril need at least 2 dimensions');
    return { shape: [...x!.shape], dtype: x!.dtype };
  },
  lower: (g, [x], a) => g.node('Trilu', [x!, g.constI64([a.k], true)], { upper: a.upper ? 1 : 0 }),
  vjp: (g, n) => [apply(TRILU, [g], n.attrs as { upper: boolean; k: number })],
});

export const triu = (x: Tensor, k = 0): Tensor => apply(TRILU, [x], { upper: true, k });
export const tril = (x: Tensor, k = 0): Tensor => apply(TRILU, [x], { upper: false, k });

// ---- generators (no inputs) -------------------------------------------------------------------------

function constantOfShape(g: GraphBuilder, shape: readonly number[], dtype: DType, value = 0): string {
  const rt = runtimeDType(dtype);
  const v = arrayFor(rt, 1);
  (v as unknown as (number | bigint)[])[0] = rt === 'int64' ? BigInt(value) : value;
  return g.node('ConstantOfShape', [g.constI64(shape)], { value: { tensor: { dtype: rt, dims: [1], data: v } } });
}

const FULL = defineOp<{ shape: number[]; value: number; dtype: DType }>({
  name: 'full',
  infer: (_ins, a) => ({ shape: a.shape, dtype: a.dtype }),
  lower: (g, _ins, a) => constantOfShape(g, a.shape, a.dtype, a.value),
  vjp: () => [],
});

/** A constant-filled tensor computed inside the graph (no buffer is allocated or fed). */
export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  return apply(FULL, [], { shape: [...shape], value, dtype });
}

const ARANGE = defineOp<{ start: number; end: number; step: number; dtype: DType }>({
  name: 'arange',
  infer: (_ins, a) => {
    if (a.step === 0) throw new ShapeError('step must not be zero');
    return { shape: [Math.max(0, Math.ceil((a.end - a.start) / a.step))], dtype: a.dtype };
  },
  lower: (g, _ins, a) => {
    if (runtimeDType(a.dtype) !== 'float32') {
      return g.node('Range', [g.constScalar(a.start, a.dtype), g.constScalar(a.end, a.dtype), g.constScalar(a.step, a.dtype)]);
    }
    // Float32 ranges are computed in float64 and cast, as torch does: a float32 Range counts
    // (end − start)/step in float32 and can make one element more than the inferred shape (0..0.3 by 0.1).
    const r = g.node('Range', [g.constScalar(a.start, 'float64'), g.constScalar(a.end, 'float64'), g.constScalar(a.step, 'float64')]);
    const cast = g.node('Cast', [r], { to: ONNX_DTYPE[a.dtype] });
    return a.dtype === 'float32' ? cast : g.node('Cast', [cast], { to: ONNX_DTYPE.float32 });
  },
  vjp: () => [],
});

export function arange(start: number, end?: number, step = 1, dtype: DType = 'int64'): Tensor {
  return end === undefined ? apply(ARANGE, [], { start: 0, end: start, step, dtype }) : apply(ARANGE, [], { start, end, step, dtype });
}

/** One-hot encoding along a new last axis (float32 unless another dtype is asked for). */
export function oneHot(indices: Tensor, numClasses: number, dtype: DType = 'float32'): Tensor {
  const idx = indices.dtype === 'int64' ? indices : cast(indices, 'int64');
  return cast(eq(unsqueeze(idx, -1), arange(0, numClasses, 1, 'int64')), dtype);
}
