/** Shape helpers shared by the op definitions. */
import { ShapeError } from '../errors.ts';
import type { DType } from '../dtype.ts';
import { Tensor, type Scalar } from '../tensor.ts';

/** Resolve a possibly negative axis against a rank; throws with the valid range. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) {
    throw new ShapeError(`axis ${axis} is out of range for a tensor of rank ${rank} (expected ${-rank}..${rank - 1})`);
  }
  return a;
}

export function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(a, rank)))].sort((x, y) => x - y);
  if (out.length !== list.length) throw new ShapeError(`repeated axis in [${list.join(', ')}]`);
  return out;
}

/** numpy broadcasting of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new ShapeError(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast (dim ${i - n}: ${x} vs ${y})`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A Python-style scalar operand takes the other operand's dtype and is embedded as a constant. */
export function operand(x: Tensor | Scalar, like: Tensor): Tensor {
  return x instanceof Tensor ? x : Tensor.constant(x, like.dtype);
}

export function requireSameDType(ts: readonly Tensor[]): DType {
  const d = ts[0]!.dtype;
  for (const t of ts) {
    if (t.dtype !== d) throw new ShapeError(`dtypes differ (${ts.map((x) => x.dtype).join(' vs ')}); cast one operand first`);
  }
  return d;
}

export function requireFloat(t: Tensor): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new ShapeError(`expected a float32 or float64 tensor, found ${t.dtype}${t.dtype === 'float16' || t.dtype === 'bfloat16' ? ' (a storage type: cast it to float32 first)' : ''}`);
  }
}

export function requireComputable(t: Tensor): void {
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    throw new ShapeError(`${t.dtype} is a storage type here: cast it to float32 first`);
  }
}
