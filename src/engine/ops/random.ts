/**
 * In-graph random numbers for dropout. ONNX's RandomUniform takes its seed as an attribute, so a
 * fresh mask per step would recompile the graph. Instead a counter-based hash of (element index,
 * seed) is computed with int64 arithmetic, the seed being a fed scalar: same seed, same mask; a new
 * seed each step, a new mask and no recompilation.
 */
import { ShapeError } from '../errors.ts';
import { apply, defineOp } from '../op.ts';
import type { Tensor } from '../tensor.ts';

const U32 = 4294967296;
const M1 = 0x45d9f3b;

const HASH_UNIFORM = defineOp<{ shape: number[] }>({
  name: 'hash_uniform',
  infer([seed], a) {
    if (seed!.dtype !== 'int64' || seed!.size !== 1) throw new ShapeError(`seed must be a one-element int64 tensor, found ${seed!.dtype}[${seed!.shape.join(', ')}]`);
    return { shape: a.shape, dtype: 'float32' };
  },
  lower: (g, [seed], a) => {
    const n = a.shape.reduce((p, d) => p * d, 1);
    const mod = g.constScalar(U32, 'int64');
    const shift16 = g.constScalar(65536, 'int64');
    const m1 = g.constScalar(M1, 'int64');
    const idx = g.node('Range', [g.constScalar(0, 'int64'), g.constScalar(n, 'int64'), g.constScalar(1, 'int64')]);
    const s = g.node('Mod', [g.node('Mul', [g.node('Reshape', [seed!, g.constI64([])]), g.constScalar(0x9e3779b1, 'int64')]), mod], { fmod: 0 });
    let x = g.node('Mod', [g.node('Add', [idx, s]), mod], { fmod: 0 });
    // Two rounds of the "lowbias32"-style mix: x ^= x >> 16; x *= M1 (mod 2^32).
    for (let round = 0; round < 2; round++) {
      x = g.node('BitwiseXor', [x, g.node('Div', [x, shift16])]);
      x = g.node('Mod', [g.node('Mul', [x, m1]), mod], { fmod: 0 });
    }
    x = g.node('BitwiseXor', [x, g.node('Div', [x, shift16])]);
    const u = g.node('Div', [g.node('Cast', [x], { to: 1 }), g.constScalar(U32, 'float32')]);
    return g.node('Reshape', [u, g.constI64(a.shape)]);
  },
});

/** Uniform [0, 1) numbers of the given shape, a pure function of (seed, position). */
export function hashUniform(shape: readonly number[], seed: Tensor): Tensor {
  return apply(HASH_UNIFORM, [seed], { shape: [...shape] });
}
