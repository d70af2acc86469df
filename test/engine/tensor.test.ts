/**
 * The Tensor front end: dtypes and storage, creation (typed arrays, nested arrays, fills, seeded
 * random), laziness with eager shape/dtype checks, and the read-back helpers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EngineError, Generator, ShapeError, Tensor, engineStats, grad, manualSeed, ops, type DType, type NestedArray,
} from '../../src/engine/index.ts';

function stats(v: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < v.length; i++) { s += v[i]!; min = Math.min(min, v[i]!); max = Math.max(max, v[i]!); }
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(q / v.length), min, max };
}

describe('dtypes and typed-array creation', () => {
  const cases: [DType, () => ArrayLike<number | bigint> & { length: number }, NestedArray][] = [
    ['float32', () => Float32Array.of(1.5, -2, 3, 0.25, 5, 6), [[1.5, -2, 3], [0.25, 5, 6]]],
    ['float64', () => Float64Array.of(0.1, 0.2, 0.3, 1e-300, 5, 6), [[0.1, 0.2, 0.3], [1e-300, 5, 6]]],
    ['int64', () => BigInt64Array.of(1n, -2n, 3n, 2n ** 40n, 5n, 6n), [[1n, -2n, 3n], [2n ** 40n, 5n, 6n]]],
    ['int32', () => Int32Array.of(1, -2, 3, 4, 5, 2 ** 30), [[1, -2, 3], [4, 5, 2 ** 30]]],
    ['bool', () => Uint8Array.of(1, 0, 0, 1, 1, 0), [[true, false, false], [true, true, false]]],
  ];
  for (const [dtype, make, expected] of cases) {
    test(`${dtype}: fromData infers the dtype, keeps the array, and round-trips through a graph`, async () => {
      const data = make();
      const t = Tensor.fromData(data as never, [2, 3]);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [2, 3]);
      assert.equal(t.ndim, 2);
      assert.equal(t.size, 6);
      assert.ok(t.isRealized);
      assert.equal(t.storage, data, 'fromData wraps the array without copying');
      assert.deepEqual(await t.toArray(), expected);
      // Through ONNX Runtime and back (reshape is dtype-agnostic).
      const r = t.reshape([3, 2]).reshape([6]);
      assert.equal(r.dtype, dtype);
      assert.deepEqual(await r.toArray(), (expected as NestedArray[]).flat());
    });
  }

  test('float16 and bfloat16 are storage: Uint16Array bits, converted on read, cast before use', async () => {
    for (const dt of ['float16', 'bfloat16'] as const) {
      const t = Tensor.from([[1, -2.5], [0.5, 1024]], dt);
      assert.equal(t.dtype, dt);
      assert.ok(t.storage instanceof Uint16Array);
      assert.deepEqual(Array.from(await t.floats()), [1, -2.5, 0.5, 1024]);
      assert.deepEqual(await t.toArray(), [[1, -2.5], [0.5, 1024]]);
      // Arithmetic on a storage type names the fix.
      assert.throws(() => t.add(t), (e: Error) => e instanceof ShapeError && /add/.test(e.message) && /cast it to float32/.test(e.message));
      assert.throws(() => t.exp(), (e: Error) => e instanceof ShapeError && /exp/.test(e.message) && /storage type/.test(e.message));
      // Cast on use; cast back to storage on the way out.
      const y = t.cast('float32').mul(2);
      assert.equal(y.dtype, 'float32');
      assert.deepEqual(await y.toArray(), [[2, -5], [1, 2048]]);
      const back = y.cast(dt);
      assert.ok((await back.data()) instanceof Uint16Array);
      assert.deepEqual(await back.toArray(), [[2, -5], [1, 2048]]);
    }
    // Rounding on storage: 1 + 2^-11 is a tie in float16 (rounds to even, 1); bfloat16 keeps 8 bits.
    assert.deepEqual(Array.from(await Tensor.from([1 + 2 ** -11, 1 + 3 * 2 ** -11], 'float16').floats()), [1, 1 + 2 ** -9]);
    assert.deepEqual(Array.from(await Tensor.from([1 + 2 ** -8, 1 + 2 ** -7], 'bfloat16').floats()), [1, 1 + 2 ** -7]);
    // A float16 weight fed as a graph input (converted once), used after a cast.
    const w = Tensor.fromData(Uint16Array.of(0x3c00, 0x4000, 0xc200, 0x3800), [2, 2], 'float16'); // 1, 2, -3, 0.5
    const x = Tensor.from([[1, 1]]);
    assert.deepEqual(await x.matmul(w.cast('float32')).toArray(), [[-2, 2.5]]);
  });

  test('fromData rejects a typed array that is not the dtype\'s storage, and a wrong element count', () => {
    assert.throws(() => Tensor.fromData(new Float64Array(4), [4], 'float32'), /float32 tensor needs a Float32Array, found Float64Array/);
    assert.throws(() => Tensor.fromData(new Float32Array(4), [4], 'float16'), /float16 tensor needs a Uint16Array/);
    assert.throws(() => Tensor.fromData(new Float32Array(5), [2, 3]), /shape \[2, 3\] needs 6 elements, found 5/);
    assert.throws(() => Tensor.fromData(new Uint16Array(2), [2]), /pass the dtype.*float16 or bfloat16/);
  });
});

describe('nested arrays', () => {
  test('shapes and default dtypes', async () => {
    const a = Tensor.from([[[1, 2], [3, 4], [5, 6]]]);
    assert.deepEqual(a.shape, [1, 3, 2]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(Array.from(a.storage as Float32Array), [1, 2, 3, 4, 5, 6]);
    assert.equal(Tensor.from([1n, 2n]).dtype, 'int64');
    assert.equal(Tensor.from([[true], [false]]).dtype, 'bool');
    assert.deepEqual(Tensor.from(7).shape, []);
    assert.equal(await Tensor.from(7).item(), 7);
    assert.deepEqual(Tensor.from([]).shape, [0]);
    assert.deepEqual(Array.from(Tensor.from([1, 2, 3], 'int64').storage as BigInt64Array), [1n, 2n, 3n]);
    assert.deepEqual(Array.from(Tensor.from([[1, 0]], 'bool').storage as Uint8Array), [1, 0]);
    assert.deepEqual(Array.from(Tensor.from([0.5], 'float64').storage as Float64Array), [0.5]);
    assert.throws(() => Tensor.from([1.5], 'int64'), /int64 tensor: expected an integer, found 1.5/);
  });

  test('ragged arrays are rejected with the position named', () => {
    assert.throws(() => Tensor.from([[1, 2], [3]]), (e: Error) => e instanceof EngineError
      && /ragged nested array at values\[1\]: expected 2 elements, found 1/.test(e.message));
    assert.throws(() => Tensor.from([[[1], [2]], [[3], [4, 5]]]), /ragged nested array at values\[1\]\[1\]: expected 1 elements, found 2/);
    assert.throws(() => Tensor.from([[1, 2], 3]), /ragged nested array at values\[1\]: expected 2 elements, found a scalar/);
    assert.throws(() => Tensor.from([1, [2]]), /ragged nested array at values\[1\]: expected a scalar, found an array/);
  });
});

describe('fills', () => {
  test('zeros, ones and full in every dtype (storage dtypes hold the converted bits)', async () => {
    assert.deepEqual(await Tensor.zeros([2, 2]).toArray(), [[0, 0], [0, 0]]);
    assert.deepEqual(await Tensor.ones([3]).toArray(), [1, 1, 1]);
    assert.deepEqual(await Tensor.full([2], -1.5, 'float64').toArray(), [-1.5, -1.5]);
    assert.deepEqual(await Tensor.full([2], 7, 'int64').toArray(), [7n, 7n]);
    assert.deepEqual(await Tensor.full([2], 3n, 'int64').toArray(), [3n, 3n]);
    assert.deepEqual(await Tensor.ones([2], 'int32').toArray(), [1, 1]);
    assert.deepEqual(await Tensor.full([2], true, 'bool').toArray(), [true, true]);
    assert.deepEqual(await Tensor.zeros([2], 'bool').toArray(), [false, false]);
    assert.deepEqual(await Tensor.ones([2], 'float16').toArray(), [1, 1]);
    assert.deepEqual(Array.from(Tensor.ones([1], 'float16').storage as Uint16Array), [0x3c00]);
    assert.deepEqual(await Tensor.full([2], 2.5, 'bfloat16').toArray(), [2.5, 2.5]);
    assert.deepEqual(Array.from(Tensor.ones([1], 'bfloat16').storage as Uint16Array), [0x3f80]);
    assert.ok(Object.is((await Tensor.full([1], -0).floats())[0], -0));
    assert.deepEqual(Tensor.zeros([0, 3]).shape, [0, 3]);
  });
});

describe('seeded random', () => {
  test('same seed, same values; another seed, other values', () => {
    const a = Tensor.randn([64], { generator: new Generator(123) }).storage;
    const b = Tensor.randn([64], { generator: new Generator(123) }).storage;
    const c = Tensor.randn([64], { generator: new Generator(124) }).storage;
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    manualSeed(7);
    const u1 = Tensor.rand([32]).storage;
    const n1 = Tensor.randn([32]).storage;
    manualSeed(7);
    assert.deepEqual(Tensor.rand([32]).storage, u1);
    assert.deepEqual(Tensor.randn([32]).storage, n1);
    // The default generator advances: two draws in a row differ.
    assert.notDeepEqual(Tensor.rand([32]).storage, u1);
  });

  test('normal and uniform statistics (n = 200000: mean within 0.01, std within 0.01)', async () => {
    const g = new Generator(2024);
    const n = 200_000;
    const z = stats(Tensor.randn([n], { generator: g }).storage as Float32Array);
    assert.ok(Math.abs(z.mean) < 0.01, `randn mean ${z.mean}`);
    assert.ok(Math.abs(z.std - 1) < 0.01, `randn std ${z.std}`);
    const s = stats(Tensor.randn([n], { mean: 3, std: 0.5, generator: g, dtype: 'float64' }).storage as Float64Array);
    assert.ok(Math.abs(s.mean - 3) < 0.01 && Math.abs(s.std - 0.5) < 0.01, `randn(3, 0.5): ${JSON.stringify(s)}`);
    const u = stats(Tensor.rand([n], { low: -2, high: 2, generator: g }).storage as Float32Array);
    assert.ok(u.min >= -2 && u.max < 2, `uniform range [${u.min}, ${u.max}]`);
    assert.ok(Math.abs(u.mean) < 0.01, `uniform mean ${u.mean}`);
    assert.ok(Math.abs(u.std - 4 / Math.sqrt(12)) < 0.01, `uniform std ${u.std}`);
    // Storage dtypes are sampled in float32 and rounded.
    const h = Tensor.randn([1000], { dtype: 'bfloat16', generator: new Generator(1) });
    assert.equal(h.dtype, 'bfloat16');
    const hs = stats(await h.floats());
    assert.ok(Math.abs(hs.mean) < 0.1 && Math.abs(hs.std - 1) < 0.1);
    assert.throws(() => Tensor.randn([2], { dtype: 'int64' }), /float dtype, found int64/);
  });
});

describe('laziness and eager checks', () => {
  test('ops record nodes with inferred shapes and dtypes and run nothing', () => {
    const runs = engineStats.runs;
    const compiles = engineStats.compiles;
    const x = Tensor.randn([4, 1, 3]);
    const y = Tensor.randn([5, 1]);
    const z = x.add(y);
    assert.equal(z.isRealized, false);
    assert.equal(z.op?.name, 'add');
    assert.equal(z.inputs[0], x);
    assert.equal(z.inputs[1], y);
    assert.deepEqual(z.shape, [4, 5, 3]);
    assert.equal(z.dtype, 'float32');
    assert.deepEqual(z.sum(-1).shape, [4, 5]);
    assert.deepEqual(z.mean([0, 2], true).shape, [1, 5, 1]);
    assert.equal(z.gt(0).dtype, 'bool');
    assert.equal(z.argmax(1).dtype, 'int64');
    assert.deepEqual(z.argmax(1).shape, [4, 3]);
    assert.deepEqual(x.reshape([2, -1]).shape, [2, 6]);
    assert.deepEqual(Tensor.randn([2, 7, 3]).matmul(Tensor.randn([3, 5])).shape, [2, 7, 5]);
    assert.deepEqual(Tensor.randn([3]).matmul(Tensor.randn([3])).shape, []);
    assert.equal(Tensor.from([1n]).cast('float64').dtype, 'float64');
    assert.throws(() => z.storage, /not realised/);
    assert.equal(engineStats.runs, runs, 'recording ops runs nothing');
    assert.equal(engineStats.compiles, compiles, 'recording ops compiles nothing');
  });

  test('a shape mismatch throws a ShapeError naming the op and the shapes, at the call', () => {
    const a = Tensor.zeros([2, 3]);
    const b = Tensor.zeros([4, 5]);
    assert.throws(() => a.matmul(b), (e: Error) => e instanceof ShapeError
      && e.message.startsWith('matmul(float32[2, 3], float32[4, 5])') && /inner dimensions differ: 3 vs 4/.test(e.message));
    assert.throws(() => a.add(Tensor.zeros([3, 2])), (e: Error) => e instanceof ShapeError
      && /^add\(float32\[2, 3\], float32\[3, 2\]\)/.test(e.message) && /do not broadcast/.test(e.message));
    assert.throws(() => a.mul(Tensor.zeros([2, 3], 'float64')), (e: Error) => e instanceof ShapeError
      && /^mul\(float32\[2, 3\], float64\[2, 3\]\): dtypes differ/.test(e.message));
    assert.throws(() => a.reshape([4, 2]), (e: Error) => e instanceof ShapeError && /reshape/.test(e.message) && /6 elements/.test(e.message));
    assert.throws(() => a.sum(2), (e: Error) => e instanceof ShapeError && /sum/.test(e.message) && /axis 2 is out of range/.test(e.message));
    assert.throws(() => ops.where(a, a, a), (e: Error) => e instanceof ShapeError && /^where\(float32\[2, 3\]/.test(e.message) && /condition must be bool/.test(e.message));
    assert.throws(() => ops.crossEntropy(Tensor.zeros([2, 5]), Tensor.zeros([3], 'int64')), ShapeError);
    assert.throws(() => a.gather(1, Tensor.zeros([2, 3])), (e: Error) => e instanceof ShapeError && /gather_elements/.test(e.message) && /int64 or int32/.test(e.message));
  });
});

describe('reading values back', () => {
  test('toArray, item, floats', async () => {
    const t = Tensor.from([[1, 2], [3, 4]]).mul(Tensor.from([10, 100]));
    assert.deepEqual(await t.toArray(), [[10, 200], [30, 400]]);
    assert.equal(t.isRealized, true);
    const f = await t.floats();
    assert.ok(f instanceof Float32Array);
    assert.deepEqual(Array.from(f), [10, 200, 30, 400]);
    assert.equal(await t.sum().item(), 640);
    assert.equal(await Tensor.from([[5n]]).item(), 5);
    assert.equal(await Tensor.from([true]).item(), 1);
    await assert.rejects(t.item(), /one element, found shape \[2, 2\]/);
    const i = Tensor.from([3, 1, 2], 'int32');
    assert.deepEqual(Array.from(await i.floats()), [3, 1, 2]);
    assert.deepEqual(await Tensor.from([0.5, -1]).gt(0).toArray(), [true, false]);
    assert.deepEqual(await Tensor.from([[1, 9, 3]]).argmax(-1).toArray(), [1n]);
    assert.deepEqual(await Tensor.zeros([0, 2]).toArray(), []);
  });

  test('detach: a realised tensor shares its buffer and loses its history; a lazy one stops gradients', async () => {
    const w = Tensor.from([1, 2, 3]);
    const y = w.mul(w);
    await y.realize();
    const d = y.detach();
    assert.equal(d.op, null);
    assert.equal(d.inputs.length, 0);
    assert.equal(d.storage, y.storage, 'same buffer, not a copy');
    assert.deepEqual(d.shape, y.shape);
    // The realised y still carries its node: gradients go through it, not through d.
    assert.deepEqual(await grad(y.sum(), [w])[0]!.toArray(), [2, 4, 6]);
    assert.deepEqual(await grad(d.mul(w).sum(), [w])[0]!.toArray(), [1, 4, 9]);
    const lazy = w.mul(3);
    const ld = lazy.detach();
    assert.equal(ld.op?.name, 'stop_gradient');
    assert.deepEqual(await ld.toArray(), [3, 6, 9]);
    const [gw] = grad(ld.mul(w).sum(), [w]);
    assert.deepEqual(await gw!.toArray(), [3, 6, 9], 'only the direct use of w contributes');
  });
});
