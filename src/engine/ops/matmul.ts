/** Matrix product with torch.matmul semantics (1-D operands, batched, broadcast batch dims). */
import { ShapeError } from '../errors.ts';
import { apply, defineOp } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { sumToShape } from './reduce.ts';
import { reshape, squeeze, transpose, unsqueeze } from './shape.ts';
import { broadcastShapes, requireComputable, requireSameDType } from './util.ts';

/** The primitive: both operands at least 2-D. */
const MATMUL = defineOp({
  name: 'matmul',
  infer([a, b]) {
    requireComputable(a!);
    const dtype = requireSameDType([a!, b!]);
    const k1 = a!.shape[a!.ndim - 1]!;
    const k2 = b!.shape[b!.ndim - 2]!;
    if (k1 !== k2) throw new ShapeError(`inner dimensions differ: ${k1} vs ${k2}`);
    const batch = broadcastShapes(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return { shape: [...batch, a!.shape[a!.ndim - 2]!, b!.shape[b!.ndim - 1]!], dtype };
  },
  lower: (g, ins) => g.node('MatMul', ins),
  vjp: (g, n) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    return [sumToShape(matmul2(g, transpose(b)), a.shape), sumToShape(matmul2(transpose(a), g), b.shape)];
  },
});

function matmul2(a: Tensor, b: Tensor): Tensor {
  return apply(MATMUL, [a, b], {});
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: operands must be at least 1-D, found [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  if (a.ndim === 1 && b.ndim === 1) return reshape(matmul2(unsqueeze(a, 0), unsqueeze(b, 1)), []);
  if (a.ndim === 1) return squeeze(matmul2(unsqueeze(a, 0), b), -2);
  if (b.ndim === 1) return squeeze(matmul2(a, unsqueeze(b, 1)), -1);
  return matmul2(a, b);
}
