/**
 * Forward values of every engine op against independent plain-JS computations (test/helpers/
 * reference.ts) on seeded random inputs. Most checks run in float64 with a tolerance of 1e-12
 * relative to max(1, max|expected|): the only differences left are summation order and libm
 * rounding. Each test realises all of its outputs in one `realize` call (one compiled graph).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EngineError, Generator, grad, ops, realize, ShapeError, Tensor } from '../../src/engine/index.ts';
import * as R from '../helpers/reference.ts';
import type { NDArray } from '../helpers/reference.ts';

const gen = new Generator(20240601);

const randn = (shape: readonly number[], scale = 1): NDArray => R.randn(gen, shape, scale);
const f64 = (a: NDArray): Tensor => Tensor.fromData(Float64Array.from(a.data), a.shape, 'float64');
const f32 = (a: NDArray): Tensor => Tensor.fromData(Float32Array.from(a.data), a.shape, 'float32');
const i64 = (shape: readonly number[], values: readonly number[]): Tensor =>
  Tensor.fromData(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64');
const idx = (shape: readonly number[], values: readonly number[]): NDArray => R.nd(shape, values);
/** float32 version of a reference array (values rounded as float32 inputs would be). */
const rounded32 = (a: NDArray): NDArray => R.map(a, Math.fround);

type Case = [label: string, actual: Tensor, expected: NDArray, tol?: number];

/** Realise every case in one graph, then compare shapes and values. */
async function expectAll(cases: readonly Case[], defaultTol = 1e-12): Promise<void> {
  await realize(cases.map((c) => c[1]));
  for (const [label, t, ref, tol = defaultTol] of cases) {
    assert.deepEqual([...t.shape], ref.shape, `${label}: shape`);
    const v = await t.floats();
    let scale = 1;
    for (const x of ref.data) if (Number.isFinite(x)) scale = Math.max(scale, Math.abs(x));
    const err = R.maxAbsDiff(v, ref.data);
    assert.ok(err <= tol * scale, `${label}: max |diff| ${err} > ${tol} × ${scale}\n  got      ${Array.from(v).slice(0, 12).join(', ')}\n  expected ${Array.from(ref.data).slice(0, 12).join(', ')}`);
  }
}

/** Shape pairs covering broadcasting: trailing alignment, size-1 dims on either side, rank 0. */
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[2, 1, 4], [3, 1]],
  [[1], [2, 3]],
  [[], [2, 2]],
  [[3, 1], [1, 4]],
  [[2, 3, 1], [1]],
];

describe('elementwise', () => {
  test('add, sub, mul, div, maximum, minimum with broadcasting', async () => {
    const fns: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
      ['add', ops.add, (x, y) => x + y],
      ['sub', ops.sub, (x, y) => x - y],
      ['mul', ops.mul, (x, y) => x * y],
      ['div', ops.div, (x, y) => x / y],
      ['maximum', ops.maximum, Math.max],
      ['minimum', ops.minimum, Math.min],
    ];
    const cases: Case[] = [];
    for (const [sa, sb] of BROADCAST_PAIRS) {
      const a = randn(sa);
      const b = R.awayFromZero(gen, sb, 0.5);
      for (const [name, op, ref] of fns) {
        cases.push([`${name} [${sa}] [${sb}]`, op(f64(a), f64(b)), R.zip(a, b, ref)]);
        cases.push([`${name} [${sb}] [${sa}]`, op(f64(b), f64(a)), R.zip(b, a, ref)]);
      }
    }
    await expectAll(cases);
  });

  test('random broadcast shapes (rank 0–4, size-1 dims on either side)', async () => {
    const fns: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
      ['add', ops.add, (x, y) => x + y], ['sub', ops.sub, (x, y) => x - y], ['mul', ops.mul, (x, y) => x * y],
      ['div', ops.div, (x, y) => x / y], ['maximum', ops.maximum, Math.max], ['minimum', ops.minimum, Math.min],
    ];
    const cases: Case[] = [];
    for (let i = 0; i < 20; i++) {
      const [sa, sb] = R.randomBroadcastPair(gen);
      const a = randn(sa);
      const b = R.awayFromZero(gen, sb, 0.5);
      for (const [name, op, ref] of fns) cases.push([`${name} [${sa}] [${sb}]`, op(f64(a), f64(b)), R.zip(a, b, ref)]);
    }
    await expectAll(cases);
  });

  test('number operands on either side take the tensor dtype', async () => {
    const a = R.awayFromZero(gen, [2, 3], 0.5);
    const x = f64(a);
    const x32 = f32(a);
    await expectAll([
      ['x + 2', ops.add(x, 2), R.map(a, (v) => v + 2)],
      ['2 - x', ops.sub(2, x), R.map(a, (v) => 2 - v)],
      ['x * -3', x.mul(-3), R.map(a, (v) => v * -3)],
      ['1 / x', ops.div(1, x), R.map(a, (v) => 1 / v)],
      ['x / 4', x.div(4), R.map(a, (v) => v / 4)],
      ['max(x, 0.25)', x.maximum(0.25), R.map(a, (v) => Math.max(v, 0.25))],
      ['min(0.25, x)', ops.minimum(0.25, x), R.map(a, (v) => Math.min(v, 0.25))],
      ['float32 x + 0.1', x32.add(0.1), R.map(rounded32(a), (v) => Math.fround(v + Math.fround(0.1)))],
    ]);
    assert.equal(x32.add(0.1).dtype, 'float32');
    assert.equal(ops.sub(2, x).dtype, 'float64');
  });

  test('unary math ops (float64)', async () => {
    const a = randn([3, 4], 1.5);
    const pos = R.uniform(gen, [3, 4], 0.2, 3);
    const nz = R.awayFromZero(gen, [2, 5], 0.1);
    const x = f64(a);
    const p = f64(pos);
    const n = f64(nz);
    await expectAll([
      ['neg', x.neg(), R.map(a, (v) => -v)],
      ['pow 2', x.pow(2), R.map(a, (v) => v ** 2)],
      ['pow 3', x.pow(3), R.map(a, (v) => v ** 3)],
      ['pow 1', x.pow(1), a],
      ['pow 0', x.pow(0), R.map(a, () => 1)],
      ['pow 0.5', p.pow(0.5), R.map(pos, Math.sqrt)],
      ['pow -1.5', p.pow(-1.5), R.map(pos, (v) => v ** -1.5)],
      ['pow -2', n.pow(-2), R.map(nz, (v) => v ** -2)],
      ['sqrt', p.sqrt(), R.map(pos, Math.sqrt)],
      ['rsqrt', p.rsqrt(), R.map(pos, (v) => 1 / Math.sqrt(v))],
      ['exp', x.exp(), R.map(a, Math.exp)],
      ['log', p.log(), R.map(pos, Math.log)],
      ['abs', x.abs(), R.map(a, Math.abs)],
      ['sign', ops.sign(n), R.map(nz, Math.sign)],
      ['tanh', x.tanh(), R.map(a, Math.tanh)],
      ['sigmoid', x.sigmoid(), R.map(a, R.sigmoid)],
      ['relu', x.relu(), R.map(a, (v) => Math.max(v, 0))],
      ['silu', x.silu(), R.map(a, (v) => v * R.sigmoid(v))],
      ['gelu tanh', x.gelu('tanh'), R.map(a, R.geluTanh)],
      ['sin', x.sin(), R.map(a, Math.sin)],
      ['cos', x.cos(), R.map(a, Math.cos)],
    ]);
  });

  test('erf and exact gelu (float32: ORT has no float64 Erf kernel)', async () => {
    const a = rounded32(R.uniform(gen, [4, 6], -3.5, 3.5));
    const x = f32(a);
    // float32 rounding of the result: a few ulps of values ≤ 3.5.
    await expectAll([
      ['erf', ops.erf(x), R.map(a, R.erf)],
      ['gelu', x.gelu(), R.map(a, R.geluErf)],
      ['gelu default is exact', ops.gelu(x, 'none'), R.map(a, R.geluErf)],
    ], 1e-6);
  });

  test('relu and abs at zero, sqrt(0), log(0), division by zero', async () => {
    const x = f64(R.nd([5], [-1, -0, 0, 1, 2]));
    await expectAll([
      ['relu', x.relu(), R.nd([5], [0, 0, 0, 1, 2])],
      ['abs', x.abs(), R.nd([5], [1, 0, 0, 1, 2])],
      ['sqrt of |x|', x.abs().sqrt(), R.nd([5], [1, 0, 0, 1, Math.SQRT2])],
      ['log of |x|', x.abs().log(), R.nd([5], [0, -Infinity, -Infinity, 0, Math.log(2)])],
      ['1 / (x + 1)', ops.div(1, x.add(1)), R.nd([5], [Infinity, 1, 1, 0.5, 1 / 3])],
    ]);
  });

  test('where broadcasts its condition and branches; scalar branches', async () => {
    const c = R.map(randn([2, 1, 4]), (v) => (v > 0 ? 1 : 0));
    const cond = Tensor.fromData(Uint8Array.from(c.data), c.shape, 'bool');
    const a = randn([3, 1]);
    const b = randn([4]);
    await expectAll([
      ['where(c, a, b)', ops.where(cond, f64(a), f64(b)), R.where3(c, a, b)],
      ['where(c, a, 7)', ops.where(cond, f64(a), 7), R.where3(c, a, R.nd([], [7]))],
      ['where(c, -1, b)', ops.where(cond, -1, f64(b)), R.where3(c, R.nd([], [-1]), b)],
    ]);
    assert.throws(() => ops.where(cond, 1, 2), ShapeError);
    assert.throws(() => ops.where(f64(a), f64(a), f64(a)), (e: Error) => e instanceof ShapeError && /where/.test(e.message) && /bool/.test(e.message));
  });
});

describe('comparisons and logic (forward only)', () => {
  test('eq, ne, lt, le, gt, ge with ties and broadcasting, float and int64', async () => {
    // Small integers as floats: plenty of ties.
    const a = R.map(randn([3, 4]), (v) => Math.round(v * 2));
    const b = R.map(randn([4]), (v) => Math.round(v * 2));
    const cmp: [string, (x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => boolean][] = [
      ['eq', ops.eq, (x, y) => x === y], ['ne', ops.ne, (x, y) => x !== y],
      ['lt', ops.lt, (x, y) => x < y], ['le', ops.le, (x, y) => x <= y],
      ['gt', ops.gt, (x, y) => x > y], ['ge', ops.ge, (x, y) => x >= y],
    ];
    const cases: Case[] = [];
    const ai = i64(a.shape, Array.from(a.data));
    const bi = i64(b.shape, Array.from(b.data));
    for (const [name, op, ref] of cmp) {
      const expected = R.zip(a, b, (x, y) => (ref(x, y) ? 1 : 0));
      const t = op(f64(a), f64(b));
      assert.equal(t.dtype, 'bool');
      cases.push([`${name} float64`, t, expected]);
      cases.push([`${name} int64`, op(ai, bi), expected]);
      cases.push([`${name} scalar`, op(f64(a), Tensor.constant(0, 'float64')), R.map(a, (x) => (ref(x, 0) ? 1 : 0))]);
    }
    cases.push(['eq int64 with a number', ops.eq(ai, 1), R.map(a, (x) => (x === 1 ? 1 : 0))]);
    cases.push(['method form x.le(0)', f64(a).le(0), R.map(a, (x) => (x <= 0 ? 1 : 0))]);
    await expectAll(cases);
  });

  test('logical and, or, xor, not with broadcasting', async () => {
    const p = R.nd([2, 3], [1, 0, 1, 0, 0, 1]);
    const q = R.nd([3], [1, 1, 0]);
    const bt = (a: NDArray): Tensor => Tensor.fromData(Uint8Array.from(a.data), a.shape, 'bool');
    await expectAll([
      ['and', ops.logicalAnd(bt(p), bt(q)), R.zip(p, q, (x, y) => (x && y ? 1 : 0))],
      ['or', ops.logicalOr(bt(p), bt(q)), R.zip(p, q, (x, y) => (x || y ? 1 : 0))],
      ['xor', ops.logicalXor(bt(p), bt(q)), R.zip(p, q, (x, y) => (x !== y ? 1 : 0))],
      ['not', ops.logicalNot(bt(p)), R.map(p, (x) => (x ? 0 : 1))],
    ]);
    assert.throws(() => ops.logicalAnd(f64(p), bt(q)), (e: Error) => e instanceof ShapeError && /logical_and/.test(e.message));
  });

  test('comparisons have no gradient: nothing flows back through them', async () => {
    const x = f64(randn([3]));
    const y = ops.sum(ops.cast(ops.gt(x, 0), 'float64'));
    assert.deepEqual(grad(y, [x], { allowUnused: true }), [null]);
    const [g] = grad(y, [x]);
    await expectAll([['zeros', g!, R.nd([3], [0, 0, 0])]], 0);
  });
});

describe('cast', () => {
  test('float ↔ int ↔ bool conversions (truncation toward zero, nonzero → true)', async () => {
    const v = R.nd([6], [2.7, -2.7, 0, 1.5, -0.2, 3]);
    const x = f64(v);
    const b = R.nd([3], [1, 0, 1]);
    await expectAll([
      ['float64 → int64', x.cast('int64'), R.map(v, Math.trunc)],
      ['float64 → int32', x.cast('int32'), R.map(v, Math.trunc)],
      ['float64 → bool', x.cast('bool'), R.map(v, (t) => (t !== 0 ? 1 : 0))],
      ['float64 → float32', x.cast('float32'), rounded32(v)],
      ['int64 → float64', i64([3], [-5, 0, 7]).cast('float64'), R.nd([3], [-5, 0, 7])],
      ['bool → float32', Tensor.fromData(Uint8Array.from(b.data), [3], 'bool').float(), b],
      ['same dtype is the identity', x.cast('float64'), v],
    ]);
    assert.equal(x.cast('float64'), x);
  });

  test('float16 and bfloat16 storage: round-to-nearest-even round trips through graphs', async () => {
    const raw = R.map(randn([40], 3), Math.fround);
    // Boundary values: exact halfway cases, overflow, subnormals, and the largest finite float16.
    const special = [1, -2, 65504, 65520, 1e5, -1e5, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
      1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.0e38, 0];
    const data = rounded32(R.nd([raw.data.length + special.length], [...raw.data, ...special]));
    const x = f32(data);
    const h = x.cast('float16');
    const bf = x.cast('bfloat16');
    const backH = h.cast('float32');
    const backB = bf.cast('float32');
    // Also through arithmetic: float16 leaves are float32 inside graphs.
    const h2 = ops.mul(h.cast('float32'), 2).cast('float16');
    await realize([h, bf, backH, backB, h2]);
    assert.equal(h.dtype, 'float16');
    assert.ok(h.storage instanceof Uint16Array && bf.storage instanceof Uint16Array);
    await expectAll([
      ['float32 → float16 → float32', backH, R.map(data, R.roundF16)],
      ['float32 → bfloat16 → float32', backB, R.map(data, R.roundBf16)],
      ['float16 floats()', h, R.map(data, R.roundF16)],
      ['bfloat16 floats()', bf, R.map(data, R.roundBf16)],
      ['float16 × 2', h2, R.map(data, (v) => R.roundF16(2 * R.roundF16(v)))],
    ], 0);
    // Known bit patterns.
    const bits = (t: Tensor, i: number): number => (t.storage as Uint16Array)[raw.data.length + i]!;
    assert.equal(bits(h, 0), 0x3c00);
    assert.equal(bits(h, 1), 0xc000);
    assert.equal(bits(h, 2), 0x7bff);
    assert.equal(bits(h, 3), 0x7c00, '65520 rounds to +inf in float16');
    assert.equal(bits(bf, 0), 0x3f80);
    assert.equal(bits(bf, 1), 0xc000);
    // Leaves in storage dtypes feed graphs as float32.
    const leaf = Tensor.fromData(Uint16Array.of(0x3c00, 0xc000, 0x3555), [3], 'float16');
    const bleaf = Tensor.fromData(Uint16Array.of(0x3f80, 0x4049, 0xbe80), [3], 'bfloat16');
    await expectAll([
      ['float16 leaf → float64', leaf.cast('float64'), R.nd([3], [1, -2, 0.333251953125])],
      ['bfloat16 leaf → float32', bleaf.float(), R.nd([3], [1, 3.140625, -0.25])],
    ], 0);
    // Every source dtype rounds when cast to a storage type inside a graph.
    const ints = [1, 300, 2049, -2051, 65519];
    await expectAll([
      ['int64 → float16', i64([5], ints).cast('float16').float(), R.map(R.nd([5], ints), R.roundF16)],
      ['int32 → bfloat16', Tensor.fromData(Int32Array.from(ints), [5], 'int32').cast('bfloat16').float(), R.map(R.nd([5], ints), R.roundBf16)],
      ['bool → float16', Tensor.fromData(Uint8Array.of(1, 0), [2], 'bool').cast('float16').float(), R.nd([2], [1, 0])],
      ['float64 → bfloat16', f64(R.nd([3], [1, 300.5, 1 + 2 ** -8])).cast('bfloat16').cast('float64'), R.nd([3], [1, 300, 1])],
      ['float16 → bfloat16', leaf.cast('bfloat16').float(), R.map(R.nd([3], [1, -2, 0.333251953125]), R.roundBf16)],
    ], 0);
    // Storage types are not computable: arithmetic needs a cast first.
    assert.throws(() => h.add(h), (e: Error) => e instanceof ShapeError && /float16/.test(e.message));
  });
});

describe('matmul', () => {
  test('2-D, batched, broadcast batch dims and 1-D operands (torch.matmul)', async () => {
    const pairs: [number[], number[]][] = [
      [[3, 4], [4, 5]],
      [[2, 3, 4], [2, 4, 5]],
      [[2, 1, 3, 4], [3, 4, 2]],
      [[3, 4], [2, 4, 5]],
      [[1, 3, 4], [2, 4, 1]],
      [[4], [4]],
      [[4], [4, 5]],
      [[3, 4], [4]],
      [[4], [2, 4, 3]],
      [[2, 3, 4], [4]],
      [[1, 1], [1, 1]],
    ];
    const cases: Case[] = pairs.map(([sa, sb]) => {
      const a = randn(sa);
      const b = randn(sb);
      return [`matmul [${sa}] [${sb}]`, f64(a).matmul(f64(b)), R.matmul(a, b)];
    });
    await expectAll(cases);
  });

  test('float32 matmul', async () => {
    const a = rounded32(randn([5, 7]));
    const b = rounded32(randn([7, 3]));
    await expectAll([['float32', f32(a).matmul(f32(b)), R.matmul(a, b)]], 1e-6);
  });

  test('shape errors name matmul and both shapes', () => {
    const check = (sa: number[], sb: number[]): void => {
      assert.throws(() => f64(randn(sa)).matmul(f64(randn(sb))), (e: Error) =>
        e instanceof ShapeError && /matmul/.test(e.message) && e.message.includes(sa.join(', ')) && e.message.includes(sb.join(', ')));
    };
    check([2, 3], [4, 5]);
    check([2, 2, 3], [3, 3, 1]);
    check([3], [4]);
    assert.throws(() => f64(randn([])).matmul(f64(randn([3]))), ShapeError);
  });
});

describe('shape ops', () => {
  test('transpose, permute, reshape/view with -1, expand, squeeze, unsqueeze, flatten', async () => {
    const a = randn([2, 3, 4]);
    const x = f64(a);
    // Permutations compose into one node, and cancel into none (a transposed weight transposed back).
    const twice = x.permute([2, 0, 1]).permute([1, 2, 0]);
    assert.equal(twice, x);
    const composed = x.permute([2, 0, 1]).permute([0, 2, 1]);
    assert.deepEqual([composed.op?.name, composed.inputs[0], composed.attrs.perm], ['permute', x, [2, 1, 0]]);
    const s = randn([3, 1, 2, 1]);
    const y = f64(s);
    const e = randn([3, 1]);
    await expectAll([
      ['transpose()', x.transpose(), R.permute(a, [0, 2, 1])],
      ['transpose(0, 1)', x.transpose(0, 1), R.permute(a, [1, 0, 2])],
      ['transpose(-3, -1)', x.transpose(-3, -1), R.permute(a, [2, 1, 0])],
      ['permute [2, 0, 1]', x.permute([2, 0, 1]), R.permute(a, [2, 0, 1])],
      ['permute [1, -1, 0]', x.permute([1, -1, 0]), R.permute(a, [1, 2, 0])],
      ['permute of a permute (one node)', x.permute([2, 0, 1]).permute([1, 2, 0]).permute([0, 2, 1]), R.permute(R.permute(R.permute(a, [2, 0, 1]), [1, 2, 0]), [0, 2, 1])],
      ['reshape [6, 4]', x.reshape([6, 4]), R.reshape(a, [6, 4])],
      ['reshape [-1]', x.reshape([-1]), R.reshape(a, [24])],
      ['view [4, -1, 2]', x.view([4, -1, 2]), R.reshape(a, [4, 3, 2])],
      ['reshape [] of one element', f64(R.nd([1, 1], [5])).reshape([]), R.nd([], [5])],
      ['expand [2, 3, 4] from [3, 1]', f64(e).expand([2, 3, 4]), R.broadcastTo(e, [2, 3, 4])],
      ['expand [-1, 5] keeps a dim', f64(e).expand([-1, 5]), R.broadcastTo(e, [3, 5])],
      ['squeeze()', y.squeeze(), R.reshape(s, [3, 2])],
      ['squeeze(1)', y.squeeze(1), R.reshape(s, [3, 2, 1])],
      ['squeeze(-1)', y.squeeze(-1), R.reshape(s, [3, 1, 2])],
      ['squeeze([1, 3])', y.squeeze([1, 3]), R.reshape(s, [3, 2])],
      ['squeeze(0) of a non-1 dim is a no-op', y.squeeze(0), s],
      ['unsqueeze(0)', x.unsqueeze(0), R.reshape(a, [1, 2, 3, 4])],
      ['unsqueeze(-1)', x.unsqueeze(-1), R.reshape(a, [2, 3, 4, 1])],
      ['unsqueeze(2)', x.unsqueeze(2), R.reshape(a, [2, 3, 1, 4])],
      ['flatten()', x.flatten(), R.reshape(a, [24])],
      ['flatten(1)', x.flatten(1), R.reshape(a, [2, 12])],
      ['flatten(0, 1)', x.flatten(0, 1), R.reshape(a, [6, 4])],
      ['flatten of a scalar', f64(R.nd([], [3])).flatten(), R.nd([1], [3])],
    ]);
    assert.throws(() => x.reshape([5, -1]), (err: Error) => err instanceof ShapeError && /reshape/.test(err.message) && err.message.includes('2, 3, 4'));
    assert.throws(() => x.reshape([5, 5]), (err: Error) => err instanceof ShapeError && /reshape/.test(err.message) && err.message.includes('2, 3, 4'));
    assert.throws(() => x.permute([0, 0, 1]), (err: Error) => err instanceof ShapeError && /permute/.test(err.message));
    assert.throws(() => f64(e).expand([2, 4]), (err: Error) => err instanceof ShapeError && /expand/.test(err.message) && err.message.includes('3, 1'));
    assert.throws(() => x.transpose(0, 3), ShapeError);
  });

  test('slice with steps, negative indices and clamping (Python semantics)', async () => {
    const a = randn([7, 5]);
    const x = f64(a);
    const specs: [number, number | undefined, number | undefined, number][] = [
      [0, 1, 5, 1], [0, 1, 6, 2], [0, 0, 7, 3], [0, 2, undefined, 3], [0, -3, undefined, 1], [0, -5, -1, 2],
      [1, 1, -1, 1], [1, -100, 100, 2], [1, 4, 2, 1], [-1, 3, 4, 1], [0, 6, 7, 4], [1, -2, 5, 1],
    ];
    await expectAll(specs.map(([dim, s, e, step]) => [`slice(${dim}, ${s}, ${e}, ${step})`, x.slice(dim, s, e, step),
      R.slice(a, dim < 0 ? dim + 2 : dim, s ?? 0, e ?? Number.MAX_SAFE_INTEGER, step)] as Case));
    assert.equal(x.slice(0), x, 'a full slice is the input');
    assert.throws(() => x.slice(0, 0, 3, 0), (err: Error) => err instanceof ShapeError && /slice/.test(err.message));
    assert.throws(() => x.slice(0, 0, 3, -1), ShapeError);
  });

  test('concat, split and stack', async () => {
    const a = randn([2, 3]);
    const b = randn([2, 1]);
    const c = randn([2, 4]);
    const d = randn([2, 3]);
    const parts = f64(c).split(3, 1);
    const listed = f64(c).split([1, 3], -1);
    const rows = f64(a).split(1, 0);
    await expectAll([
      ['concat dim 1', ops.concat([f64(a), f64(b), f64(c)], 1), R.concat([a, b, c], 1)],
      ['concat dim -2', ops.concat([f64(a), f64(d)], -2), R.concat([a, d], 0)],
      ['concat of one', ops.concat([f64(a)], 0), a],
      ['split 3 → [0:3]', parts[0]!, R.slice(c, 1, 0, 3, 1)],
      ['split 3 → [3:4]', parts[1]!, R.slice(c, 1, 3, 4, 1)],
      ['split [1, 3] → first', listed[0]!, R.slice(c, 1, 0, 1, 1)],
      ['split [1, 3] → second', listed[1]!, R.slice(c, 1, 1, 4, 1)],
      ['split rows → 1', rows[1]!, R.slice(a, 0, 1, 2, 1)],
      ['stack dim 0', ops.stack([f64(a), f64(d)], 0), R.reshape(R.concat([a, d], 0), [2, 2, 3])],
      ['stack dim 1', ops.stack([f64(a), f64(d)], 1), R.concat([R.reshape(a, [2, 1, 3]), R.reshape(d, [2, 1, 3])], 1)],
      ['stack dim -1', ops.stack([f64(a), f64(d)], -1), R.concat([R.reshape(a, [2, 3, 1]), R.reshape(d, [2, 3, 1])], 2)],
    ]);
    assert.equal(parts.length, 2);
    assert.equal(rows.length, 2);
    assert.throws(() => ops.concat([f64(a), f64(c)], 0), (e: Error) => e instanceof ShapeError && /concat/.test(e.message) && e.message.includes('2, 3') && e.message.includes('2, 4'));
    assert.throws(() => f64(c).split([1, 2], 1), (e: Error) => e instanceof ShapeError && /split/.test(e.message));
    assert.throws(() => ops.concat([], 0), ShapeError);
  });

  test('pad with torch.nn.functional.pad conventions', async () => {
    const a = randn([2, 3, 2]);
    const x = f64(a);
    const specs: [number[], number][] = [[[1, 2], 0], [[0, 1, 2, 0], -1.5], [[1, 1, 0, 0, 2, 1], 3], [[0, 0], 0]];
    await expectAll(specs.map(([p, v]) => [`pad [${p}] value ${v}`, x.pad(p, v), R.pad(a, p, v)] as Case));
    assert.throws(() => x.pad([1]), (e: Error) => e instanceof ShapeError && /pad/.test(e.message));
    assert.throws(() => x.pad([1, 1, 1, 1, 1, 1, 1, 1]), ShapeError);
    assert.throws(() => x.pad([-1, 0]), (e: Error) => e instanceof ShapeError && /pad/.test(e.message));
  });

  test('gather (embedding), index_select, gatherElements, scatterAddRows, scatterElementsAdd', async () => {
    const w = randn([5, 3]);
    const ids = idx([2, 3], [4, 0, 4, 1, 2, 0]);
    const ids2 = idx([2], [2, 0]);
    const x = randn([3, 4]);
    const ge = idx([3, 2], [0, 3, 1, 1, 2, 0]);
    const ge0 = idx([2, 4], [2, 0, 1, 2, 0, 0, 2, 1]);
    const upd = randn([2, 3, 2]);
    const sidx = idx([2, 3], [1, 3, 1, 0, 1, 3]);
    const supd = randn([3, 2]);
    const sei = idx([3, 2], [0, 0, 3, 1, 2, 3]);
    const sref: NDArray = { shape: [3, 4], data: new Float64Array(12) };
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) sref.data[i * 4 + sei.data[i * 2 + j]!]! += supd.data[i * 2 + j]!;
    const i32 = Tensor.fromData(Int32Array.of(1, 0, 1), [3], 'int32');
    await expectAll([
      ['embedding', ops.embedding(f64(w), i64(ids.shape, Array.from(ids.data))), R.take(w, 0, ids)],
      ['gather axis 1', ops.gather(f64(x), 1, i64([2], [3, 0])), R.take(x, 1, idx([2], [3, 0]))],
      ['gather axis 1, 2-D index', ops.gather(f64(x), 1, i64([2, 2], [3, 0, 1, 1])), R.take(x, 1, idx([2, 2], [3, 0, 1, 1]))],
      ['gather negative index', ops.gather(f64(x), 0, i64([2], [-1, 0])), R.take(x, 0, idx([2], [-1, 0]))],
      ['index_select', f64(x).indexSelect(0, i64([2], Array.from(ids2.data))), R.take(x, 0, ids2)],
      ['index_select int32', f64(x).indexSelect(0, i32), R.take(x, 0, idx([3], [1, 0, 1]))],
      ['gatherElements dim 1', f64(x).gather(1, i64(ge.shape, Array.from(ge.data))), R.gatherElements(x, 1, ge)],
      ['gatherElements dim 0', ops.gatherElements(f64(x), 0, i64(ge0.shape, Array.from(ge0.data))), R.gatherElements(x, 0, ge0)],
      ['scatterAddRows (repeated rows)', ops.scatterAddRows(4, i64(sidx.shape, Array.from(sidx.data)), f64(R.reshape(upd, [2, 3, 2]))),
        R.scatterAddRows(4, sidx, upd)],
      ['scatterElementsAdd', ops.scatterElementsAdd([3, 4], 1, i64(sei.shape, Array.from(sei.data)), f64(supd)), sref],
    ]);
    assert.throws(() => ops.gather(f64(x), 0, f64(ids2)), (e: Error) => e instanceof ShapeError && /gather/.test(e.message) && /int64/.test(e.message));
    assert.throws(() => f64(x).indexSelect(0, i64([1, 1], [0])), (e: Error) => e instanceof ShapeError && /index_select/.test(e.message));
    assert.throws(() => ops.gatherElements(f64(x), 0, i64([3], [0, 0, 0])), (e: Error) => e instanceof ShapeError && /gather_elements/.test(e.message));
  });

  test('triu and tril with diagonal offsets, batched and non-square', async () => {
    const a = randn([2, 3, 5]);
    const sq = randn([4, 4]);
    const cases: Case[] = [];
    for (const k of [-2, -1, 0, 1, 3]) {
      cases.push([`triu ${k}`, f64(a).triu(k), R.trilu(a, true, k)]);
      cases.push([`tril ${k}`, f64(a).tril(k), R.trilu(a, false, k)]);
      cases.push([`tril square ${k}`, ops.tril(f64(sq), k), R.trilu(sq, false, k)]);
    }
    cases.push(['triu default', ops.triu(f64(sq)), R.trilu(sq, true, 0)]);
    await expectAll(cases);
    assert.throws(() => f64(randn([3])).triu(), (e: Error) => e instanceof ShapeError && /trilu/.test(e.message));
  });
});

describe('generators', () => {
  test('arange, full (in-graph), Tensor.full, one_hot, causalMask', async () => {
    const oh = idx([2, 2], [0, 3, 2, 2]);
    const ohExpected: NDArray = { shape: [2, 2, 4], data: new Float64Array(16) };
    oh.data.forEach((c, i) => { ohExpected.data[i * 4 + c] = 1; });
    const mask = (q: number, k: number): NDArray => {
      const m: NDArray = { shape: [q, k], data: new Float64Array(q * k) };
      for (let i = 0; i < q; i++) for (let j = 0; j < k; j++) m.data[i * k + j] = j <= i + (k - q) ? 0 : -3.4028234663852886e38;
      return m;
    };
    const m64 = R.map(mask(2, 4), (v) => (v === 0 ? 0 : -Number.MAX_VALUE));
    await expectAll([
      ['arange(5)', ops.arange(5), R.nd([5], [0, 1, 2, 3, 4])],
      ['arange(2, 9, 3)', ops.arange(2, 9, 3), R.nd([3], [2, 5, 8])],
      ['arange(5, 1, -2)', ops.arange(5, 1, -2), R.nd([2], [5, 3])],
      ['arange(3, 3)', ops.arange(3, 3), R.nd([0], [])],
      ['arange float64', ops.arange(0, 1, 0.25, 'float64'), R.nd([4], [0, 0.25, 0.5, 0.75])],
      ['arange float32', ops.arange(-1, 1, 0.5, 'float32'), R.nd([4], [-1, -0.5, 0, 0.5])],
      // Counted and computed in float64 then rounded, like torch (a float32 count of 0.3/0.1 gives 4).
      ['arange(0, 0.3, 0.1) float32', ops.arange(0, 0.3, 0.1, 'float32'), R.nd([3], [0, 0.1, 0.2].map(Math.fround))],
      ['arange(0, 2.2, 0.2) float32', ops.arange(0, 2.2, 0.2, 'float32'), R.nd([11], Array.from({ length: 11 }, (_, i) => Math.fround(i * 0.2)))],
      ['arange(0, 3, 0.3) float16', ops.arange(0, 3, 0.3, 'float16'), R.nd([10], Array.from({ length: 10 }, (_, i) => R.roundF16(i * 0.3)))],
      ['full float64', ops.full([2, 3], 1.25, 'float64'), R.nd([2, 3], [1.25, 1.25, 1.25, 1.25, 1.25, 1.25])],
      ['full int64', ops.full([2], -7, 'int64'), R.nd([2], [-7, -7])],
      ['full scalar', ops.full([], 3), R.nd([], [3])],
      ['Tensor.full', Tensor.full([2, 2], 0.5, 'float64').add(0), R.nd([2, 2], [0.5, 0.5, 0.5, 0.5])],
      ['one_hot', ops.oneHot(i64(oh.shape, Array.from(oh.data)), 4), ohExpected],
      ['one_hot float64 from int32', ops.oneHot(Tensor.fromData(Int32Array.of(1, 0), [2], 'int32'), 3, 'float64'), R.nd([2, 3], [0, 1, 0, 1, 0, 0])],
      ['causalMask 3×3', ops.causalMask(3, 3), mask(3, 3)],
      ['causalMask 2×4 (cached keys)', ops.causalMask(2, 4), mask(2, 4)],
      ['causalMask float64', ops.causalMask(2, 4, 'float64'), m64],
    ], 0);
    assert.equal(ops.arange(3).dtype, 'int64');
    assert.equal(ops.oneHot(i64([1], [0]), 2).dtype, 'float32');
    assert.throws(() => ops.arange(0, 3, 0), (e: Error) => e instanceof ShapeError && /arange/.test(e.message));
  });
});

describe('reductions', () => {
  test('sum, mean, max, min over axes, negative axes and keepdim', async () => {
    const a = randn([2, 3, 4]);
    const x = f64(a);
    const axesList: (number[] | undefined)[] = [undefined, [0], [1], [2], [-1], [0, 2], [-3, -2], [0, 1, 2]];
    const cases: Case[] = [];
    for (const axes of axesList) {
      const ax = axes ?? [0, 1, 2];
      for (const keep of [false, true]) {
        const tag = `${axes ? `[${axes}]` : 'all'} keep=${keep}`;
        cases.push([`sum ${tag}`, x.sum(axes, keep), R.sum(a, ax, keep)]);
        cases.push([`mean ${tag}`, x.mean(axes, keep), R.mean(a, ax, keep)]);
        cases.push([`max ${tag}`, x.max(axes, keep), R.amax(a, ax, keep)]);
        cases.push([`min ${tag}`, x.min(axes, keep), R.amin(a, ax, keep)]);
      }
    }
    cases.push(['sum of one number axis', x.sum(1), R.sum(a, [1])]);
    cases.push(['sum over an empty axis list is the identity', x.sum([]), a]);
    const ints = R.map(randn([3, 4]), (v) => Math.round(v * 5));
    cases.push(['sum int64', i64(ints.shape, Array.from(ints.data)).sum(1), R.sum(ints, [1])]);
    await expectAll(cases);
    assert.throws(() => x.sum(3), (e: Error) => e instanceof ShapeError && /sum/.test(e.message));
    assert.throws(() => x.mean([0, -3]), (e: Error) => e instanceof ShapeError && /mean/.test(e.message));
    assert.throws(() => Tensor.fromData(Uint8Array.of(1, 0), [2], 'bool').sum(), (e: Error) => e instanceof ShapeError && /sum/.test(e.message));
  });

  test('random shapes and axes', async () => {
    const cases: Case[] = [];
    for (let i = 0; i < 12; i++) {
      const shape = R.randomShape(gen, 4, 3);
      if (shape.length === 0) shape.push(2);
      const axes = R.randomAxes(gen, shape.length);
      const keep = gen.uniform() < 0.5;
      const a = randn(shape);
      const tag = `[${shape}] axes [${axes}] keep=${keep}`;
      cases.push([`sum ${tag}`, f64(a).sum(axes, keep), R.sum(a, axes, keep)]);
      cases.push([`mean ${tag}`, f64(a).mean(axes, keep), R.mean(a, axes, keep)]);
      cases.push([`max ${tag}`, f64(a).max(axes, keep), R.amax(a, axes, keep)]);
      cases.push([`min ${tag}`, f64(a).min(axes, keep), R.amin(a, axes, keep)]);
      cases.push([`argmax ${tag}`, f64(a).argmax(axes[0], keep), R.argmax(a, axes[0]!, keep)]);
      cases.push([`softmax ${tag}`, f64(a).softmax(axes[0]), R.softmax(a, axes[0]!)]);
    }
    await expectAll(cases);
  });

  test('max, min and argmax with ties (argmax picks the first)', async () => {
    const a = R.nd([3, 4], [1, 3, 3, 0, 2, 2, 2, 2, -1, -5, -1, -5]);
    const x = f64(a);
    await expectAll([
      ['max rows', x.max(1), R.nd([3], [3, 2, -1])],
      ['min rows', x.min(1), R.nd([3], [0, 2, -5])],
      ['max cols keepdim', x.max(0, true), R.amax(a, [0], true)],
      ['argmax rows', x.argmax(), R.nd([3], [1, 0, 0])],
      ['argmax -1 keepdim', x.argmax(-1, true), R.nd([3, 1], [1, 0, 0])],
      ['argmax cols', x.argmax(0), R.nd([4], [1, 0, 0, 1])],
    ], 0);
    const r = randn([2, 3, 5]);
    await expectAll([
      ['argmax random axis 1', f64(r).argmax(1), R.argmax(r, 1)],
      ['argmax random axis -1', f64(r).argmax(-1, true), R.argmax(r, -1, true)],
    ], 0);
    assert.equal(x.argmax().dtype, 'int64');
  });
});

describe('neural-network ops', () => {
  test('softmax and log_softmax on every axis, numerically stable for large logits', async () => {
    const a = randn([2, 3, 4], 2);
    const big = R.nd([2, 3], [1000, 1001, 999, -1000, -1002, -1001]);
    const cases: Case[] = [];
    for (const ax of [0, 1, 2, -1]) {
      cases.push([`softmax ${ax}`, f64(a).softmax(ax), R.softmax(a, ax)]);
      cases.push([`log_softmax ${ax}`, f64(a).logSoftmax(ax), R.logSoftmax(a, ax)]);
    }
    cases.push(['softmax large', f64(big).softmax(), R.softmax(big, -1)]);
    cases.push(['log_softmax large', f64(big).logSoftmax(), R.logSoftmax(big, -1)]);
    cases.push(['softmax float32', f32(rounded32(a)).softmax(), R.softmax(rounded32(a), -1), 1e-6]);
    await expectAll(cases);
  });

  test('cross_entropy: mean over kept targets, sum, none, ignore_index, 3-D logits, int32 targets', async () => {
    const logits = randn([2, 3, 5], 2);
    const targets = [4, -100, 0, 2, -100, 1];
    const flat = R.reshape(logits, [6, 5]);
    const t = i64([2, 3], targets);
    const custom = [4, 7, 0, 7, 7, 1];
    const tc = Tensor.fromData(Int32Array.from(custom), [2, 3], 'int32');
    await expectAll([
      ['mean', ops.crossEntropy(f64(logits), t), R.crossEntropy(flat, targets, -100, 'mean')],
      ['sum', ops.crossEntropy(f64(logits), t, { reduction: 'sum' }), R.crossEntropy(flat, targets, -100, 'sum')],
      ['none', ops.crossEntropy(f64(logits), t, { reduction: 'none' }), R.reshape(R.crossEntropy(flat, targets, -100, 'none'), [2, 3])],
      ['ignore_index 7, int32', ops.crossEntropy(f64(logits), tc, { ignoreIndex: 7 }), R.crossEntropy(flat, custom, 7, 'mean')],
      ['2-D logits', ops.crossEntropy(f64(flat), i64([6], [1, 1, 1, 1, 1, 1])), R.crossEntropy(flat, [1, 1, 1, 1, 1, 1], -100, 'mean')],
      ['all ignored → NaN (like torch)', ops.crossEntropy(f64(flat), i64([6], Array(6).fill(-100))), R.nd([], [NaN])],
      ['float32', ops.crossEntropy(f32(rounded32(logits)), t), R.crossEntropy(R.reshape(rounded32(logits), [6, 5]), targets, -100, 'mean'), 1e-6],
    ]);
    assert.throws(() => ops.crossEntropy(f64(logits), i64([6], targets)), (e: Error) => e instanceof ShapeError && /cross_entropy/.test(e.message) && e.message.includes('2, 3, 5'));
    assert.throws(() => ops.crossEntropy(f64(logits), f64(randn([2, 3]))), (e: Error) => e instanceof ShapeError && /cross_entropy/.test(e.message));
  });

  test('layer_norm (weight, bias, none, two normalised dims) and rms_norm', async () => {
    const x = randn([2, 3, 4], 3);
    const w = randn([4]);
    const b = randn([4]);
    const w2 = randn([3, 4]);
    await expectAll([
      ['layer_norm w, b', ops.layerNorm(f64(x), f64(w), f64(b)), R.layerNorm(x, w, b, 1e-5)],
      ['layer_norm none', ops.layerNorm(f64(x), null, null, 1e-3), R.layerNorm(x, null, null, 1e-3)],
      ['layer_norm 2 dims', ops.layerNorm(f64(x), f64(w2), null, 1e-5, 2), R.layerNorm(x, w2, null, 1e-5, 2)],
      ['rms_norm w', ops.rmsNorm(f64(x), f64(w)), R.rmsNorm(x, w, 1e-6)],
      ['rms_norm none, eps 0.1', ops.rmsNorm(f64(x), null, 0.1), R.rmsNorm(x, null, 0.1)],
      ['rms_norm float32', ops.rmsNorm(f32(rounded32(x)), f32(rounded32(w))), R.rmsNorm(rounded32(x), rounded32(w), 1e-6), 1e-6],
    ]);
  });

  test('scaledDotProductAttention: plain, causal (square and cached keys), additive mask, grouped-query heads', async () => {
    const q = randn([2, 4, 3, 5]);
    const k = randn([2, 2, 3, 5]);
    const v = randn([2, 2, 3, 5]);
    const kLong = randn([1, 2, 5, 4]);
    const vLong = randn([1, 2, 5, 3]);
    const qShort = randn([1, 2, 2, 4]);
    const kFull = randn([2, 4, 3, 5]);
    const vFull = randn([2, 4, 3, 5]);
    // Padding mask [B, 1, 1, S]: batch 1 cannot see key 0.
    const mask = R.nd([2, 1, 1, 3], [0, 0, 0, -1e9, 0, 0]);
    const bias = randn([1, 4, 3, 3]);
    const A = ops.scaledDotProductAttention;
    const AR = (a: Tensor, b: Tensor, c: Tensor, opts: Parameters<typeof A>[3] = {}): Tensor => A(a, b, c, { ...opts, recompute: true });
    await expectAll([
      ['recompute: GQA causal + padding mask', AR(f64(q), f64(k), f64(v), { causal: true, mask: f64(mask) }), R.attention(q, k, v, { causal: true, mask })],
      ['recompute: additive per-head bias, scale 0.3', AR(f64(q), f64(kFull), f64(vFull), { mask: f64(bias), scale: 0.3 }), R.attention(q, kFull, vFull, { mask: bias, scale: 0.3 })],
      ['recompute: causal with T < S, v head dim ≠ qk head dim', AR(f64(qShort), f64(kLong), f64(vLong), { causal: true }), R.attention(qShort, kLong, vLong, { causal: true })],
      ['recompute: plain GQA', AR(f64(q), f64(k), f64(v)), R.attention(q, k, v)],
      ['plain MHA', A(f64(q), f64(kFull), f64(vFull)), R.attention(q, kFull, vFull)],
      ['causal MHA', A(f64(q), f64(kFull), f64(vFull), { causal: true }), R.attention(q, kFull, vFull, { causal: true })],
      ['GQA 4 query heads / 2 kv heads', A(f64(q), f64(k), f64(v)), R.attention(q, k, v)],
      ['GQA causal', A(f64(q), f64(k), f64(v), { causal: true }), R.attention(q, k, v, { causal: true })],
      ['GQA causal + padding mask', A(f64(q), f64(k), f64(v), { causal: true, mask: f64(mask) }), R.attention(q, k, v, { causal: true, mask })],
      ['additive bias mask, scale 0.3', A(f64(q), f64(kFull), f64(vFull), { mask: f64(bias), scale: 0.3 }), R.attention(q, kFull, vFull, { mask: bias, scale: 0.3 })],
      ['causal with T < S, v head dim ≠ qk head dim', A(f64(qShort), f64(kLong), f64(vLong), { causal: true }), R.attention(qShort, kLong, vLong, { causal: true })],
    ]);
    assert.throws(() => A(f64(q), f64(randn([2, 3, 3, 5])), f64(randn([2, 3, 3, 5]))), (e: Error) => e instanceof ShapeError && /attention/.test(e.message));
    assert.throws(() => AR(f64(q), f64(k), f64(v), { mask: f64(randn([2, 3, 3, 3])) }), (e: Error) => e instanceof ShapeError && /mask must broadcast/.test(e.message));
    assert.throws(() => A(f64(randn([3, 5])), f64(k), f64(v)), (e: Error) => e instanceof ShapeError && /attention/.test(e.message));
  });

  test('dropout: identity in eval and for p = 0; in training zero fraction ≈ p, survivors × 1/(1 − p), seeded masks', async () => {
    const x = Tensor.fromData(Float32Array.from({ length: 20000 }, (_, i) => 1 + (i % 7)), [100, 200]);
    assert.equal(ops.dropout(x, 0.5, { training: false }), x);
    assert.equal(ops.dropout(x, 0), x);
    for (const p of [0.1, 0.5]) {
      const seedA = Tensor.scalar(12345n, 'int64');
      const seedB = Tensor.scalar(12346n, 'int64');
      const a1 = ops.dropout(x, p, { seed: seedA });
      const a2 = ops.dropout(x, p, { seed: Tensor.scalar(12345n, 'int64') });
      const b = ops.dropout(x, p, { seed: seedB });
      const d1 = ops.dropout(x, p);
      const d2 = ops.dropout(x, p);
      await realize([a1, a2, b, d1, d2]);
      const [va1, va2, vb, vd1, vd2] = await Promise.all([a1, a2, b, d1, d2].map((t) => t.floats()));
      const xs = x.storage as Float32Array;
      const scale = Math.fround(1 / (1 - p));
      let zeros = 0;
      let same = true;
      let sameOther = 0;
      let sameDefault = 0;
      for (let i = 0; i < xs.length; i++) {
        const y = va1![i]!;
        if (y === 0) zeros++;
        else assert.equal(y, Math.fround(xs[i]! * scale), `survivor ${i} is x / (1 - p)`);
        if (y !== va2![i]) same = false;
        if ((y === 0) === (vb![i] === 0)) sameOther++;
        if ((vd1![i] === 0) === (vd2![i] === 0)) sameDefault++;
      }
      // Binomial(n, p) zero count: 5 standard deviations (failure probability < 1e-6 for a fair hash).
      const n = xs.length;
      const sd = Math.sqrt(p * (1 - p) / n);
      assert.ok(Math.abs(zeros / n - p) < 5 * sd, `p=${p}: zero fraction ${zeros / n}, expected ${p} ± ${5 * sd}`);
      assert.ok(same, 'same seed → same mask');
      // Independent masks agree on a fraction p² + (1 − p)² of positions.
      const agree = p * p + (1 - p) * (1 - p);
      assert.ok(Math.abs(sameOther / n - agree) < 5 * Math.sqrt(agree * (1 - agree) / n), `different seed → different mask (${sameOther / n} agree)`);
      assert.ok(sameDefault < n, 'two calls without a seed draw different masks');
    }
    assert.throws(() => ops.dropout(x, 1), (e: Error) => e instanceof ShapeError && /dropout/.test(e.message));
    assert.throws(() => ops.dropout(x, -0.1), ShapeError);
  });
});

describe('shape errors name the op and the shapes', () => {
  test('binary elementwise ops', () => {
    for (const [name, op] of [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div], ['maximum', ops.maximum]] as const) {
      assert.throws(() => op(f64(randn([2, 3])), f64(randn([4]))), (e: Error) => {
        assert.ok(e instanceof ShapeError, `${name}: ShapeError`);
        assert.ok(e instanceof EngineError);
        assert.match(e.message, new RegExp(`\\b${name}\\b`));
        assert.ok(e.message.includes('[2, 3]') && e.message.includes('[4]'), e.message);
        return true;
      });
    }
    assert.throws(() => ops.eq(f64(randn([2])), f64(randn([3]))), (e: Error) => e instanceof ShapeError && /\beq\b/.test(e.message) && e.message.includes('[2]') && e.message.includes('[3]'));
    assert.throws(() => ops.add(f64(randn([2])), f32(randn([2]))), (e: Error) => e instanceof ShapeError && /add/.test(e.message) && /float32/.test(e.message) && /float64/.test(e.message));
    assert.throws(() => i64([2], [1, 2]).sqrt(), (e: Error) => e instanceof ShapeError && /sqrt/.test(e.message) && /int64/.test(e.message));
  });
});
