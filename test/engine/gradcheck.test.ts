/**
 * Gradient checks: every differentiable op's vector-Jacobian rule against central finite
 * differences (test/helpers/gradcheck.ts), in float64 with eps = 1e-6 and tolerance 1e-6 relative
 * to max(1, max|numerical|). Ops whose ONNX kernel has no float64 version on ORT's CPU provider
 * (Erf, hence exact GELU) are checked in float32 with eps = 1e-2 and tolerance 2e-3 (float32
 * rounding of the outputs, ~6e-8·|y|, divided by the step, plus the eps² truncation term).
 * Inputs are kept away from kinks (relu, abs, maximum/minimum, max/min reductions) so that finite
 * differences are meaningful; the tie rules at kinks are checked exactly instead.
 * Inputs hold at most ~30 elements: the numerical side costs one graph run per element.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Generator, checkpoint, grad, ops, realize, savedForBackward, Tensor } from '../../src/engine/index.ts';
import { apply, defineOp } from '../../src/engine/op.ts';
import { gradcheck } from '../helpers/gradcheck.ts';
import * as R from '../helpers/reference.ts';
import type { NDArray } from '../helpers/reference.ts';

const gen = new Generator(31337);
const randn = (shape: readonly number[], scale = 1): NDArray => R.randn(gen, shape, scale);
const i64 = (shape: readonly number[], values: readonly number[]): Tensor =>
  Tensor.fromData(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64');
const bool = (shape: readonly number[], values: readonly number[]): Tensor => Tensor.fromData(Uint8Array.from(values), shape, 'bool');

/** Two arrays whose broadcast pairs differ by at least `gap` (no ties for maximum/minimum). */
function separated(sa: readonly number[], sb: readonly number[], gap = 0.05): [NDArray, NDArray] {
  for (;;) {
    const a = randn(sa);
    const b = randn(sb);
    const d = R.zip(a, b, (x, y) => Math.abs(x - y));
    if (d.data.every((v) => v > gap)) return [a, b];
  }
}

const BROADCAST_PAIRS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[2, 1, 3], [2, 1]],
  [[1], [2, 2]],
  [[], [3]],
  [[3, 1], [1, 2]],
];

describe('the checker', () => {
  test('catches a wrong vector-Jacobian rule and names the input and element', async () => {
    // x² lowered correctly, but with the gradient of x²/2.
    const BAD = defineOp({
      name: 'bad_square',
      infer: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype }),
      lower: (g, [x]) => g.node('Mul', [x!, x!]),
      vjp: (g, n) => [ops.mul(g, n.inputs[0]!)],
    });
    await assert.rejects(gradcheck(([x]) => apply(BAD, [x!], {}), [randn([2, 2])], { label: 'bad_square' }),
      (e: Error) => /bad_square \(float64\): gradient mismatch/.test(e.message) && /input 0 \[2, 2\]/.test(e.message));
    const ok = await gradcheck(([x]) => x!.mul(x!), [randn([2, 2])]);
    assert.ok(ok.error < 1e-8, `x·x: error ${ok.error}`);
  });
});

describe('elementwise', () => {
  const binary: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div], ['maximum', ops.maximum], ['minimum', ops.minimum],
  ];
  for (const [name, op] of binary) {
    test(`${name} with broadcasting and size-1 dims`, async () => {
      for (const [sa, sb] of BROADCAST_PAIRS) {
        let [a, b] = separated(sa, sb);
        if (name === 'div') { // both operands serve as denominators: keep them away from 0
          a = R.map(a, (v) => (v < 0 ? -1 : 1) * (0.5 + Math.abs(v)));
          b = R.map(b, (v) => (v < 0 ? -1 : 1) * (0.5 + Math.abs(v)));
        }
        // Both operand orders in one graph: [op(a, b), op(b, a)] flattened and concatenated.
        await gradcheck(([x, y]) => ops.concat([op(x!, y!).flatten(), op(y!, x!).flatten()]), [a, b],
          { label: `${name} [${sa}] [${sb}] and [${sb}] [${sa}]` });
      }
    });
  }

  test('random broadcast shapes: all six binary ops in one graph per shape pair', async () => {
    for (let i = 0; i < 6; i++) {
      const [sa, sb] = R.randomBroadcastPair(gen);
      let [a, b] = separated(sa, sb);
      a = R.map(a, (v) => (v < 0 ? -1 : 1) * (0.5 + Math.abs(v)));
      b = R.map(b, (v) => (v < 0 ? -1 : 1) * (0.5 + Math.abs(v)));
      // Away from zero for div; still separated (same signs: |a − b| unchanged; opposite signs: larger).
      await gradcheck(([x, y]) => ops.concat([ops.add, ops.sub, ops.mul, ops.div, ops.maximum, ops.minimum]
        .map((op) => op(x!, y!).flatten())), [a, b], { label: `binary ops [${sa}] [${sb}]` });
    }
  });

  test('number operands', async () => {
    const a = R.awayFromZero(gen, [2, 3], 0.3);
    const x = [a];
    await gradcheck(([t]) => ops.sub(2, t!), x, { label: '2 - x' });
    await gradcheck(([t]) => ops.div(1, t!), x, { label: '1 / x' });
    await gradcheck(([t]) => t!.mul(-3).add(1), x, { label: '-3x + 1' });
    await gradcheck(([t]) => t!.div(4), x, { label: 'x / 4' });
    await gradcheck(([t]) => t!.maximum(0.1), x, { label: 'max(x, 0.1)' });
    await gradcheck(([t]) => ops.minimum(0.1, t!), x, { label: 'min(0.1, x)' });
  });

  test('unary ops', async () => {
    const any = randn([2, 3], 1.2);
    const pos = R.uniform(gen, [2, 3], 0.3, 2.5);
    const nz = R.awayFromZero(gen, [2, 3], 0.1);
    const cases: [string, (x: Tensor) => Tensor, NDArray][] = [
      ['neg', ops.neg, any],
      ['pow 2', (x) => x.pow(2), any],
      ['pow 3', (x) => x.pow(3), any],
      ['pow 0.5', (x) => x.pow(0.5), pos],
      ['pow -1.5', (x) => x.pow(-1.5), pos],
      ['pow -2', (x) => x.pow(-2), nz],
      ['sqrt', ops.sqrt, pos],
      ['rsqrt', ops.rsqrt, pos],
      ['exp', ops.exp, any],
      ['log', ops.log, pos],
      ['abs', ops.abs, nz],
      ['tanh', ops.tanh, any],
      ['sigmoid', ops.sigmoid, any],
      ['relu', ops.relu, nz],
      ['silu', ops.silu, any],
      ['gelu tanh', (x) => ops.gelu(x, 'tanh'), any],
      ['sin', ops.sin, any],
      ['cos', ops.cos, any],
    ];
    for (const [label, f, a] of cases) await gradcheck(([x]) => f(x!), [a], { label });
  });

  test('erf and exact gelu (float32: ORT has no float64 Erf kernel)', async () => {
    const a = R.uniform(gen, [2, 5], -2.5, 2.5);
    await gradcheck(([x]) => ops.erf(x!), [a], { dtype: 'float32', label: 'erf' });
    await gradcheck(([x]) => ops.gelu(x!), [a], { dtype: 'float32', label: 'gelu' });
    await gradcheck(([x]) => x!.gelu('tanh'), [a], { dtype: 'float32', label: 'gelu tanh float32' });
  });

  test('where: both branches, broadcast condition and branches, scalar branch', async () => {
    const c = bool([2, 1, 3], [1, 0, 1, 0, 0, 1]);
    await gradcheck(([a, b]) => ops.where(c, a!, b!), [randn([4, 1]), randn([3])], { label: 'where broadcast' });
    await gradcheck(([a]) => ops.where(c, a!, 0.5), [randn([2, 4, 3])], { label: 'where scalar else' });
    await gradcheck(([b]) => ops.where(c, -1, b!), [randn([1, 3])], { label: 'where scalar then' });
  });

  test('cast between float32 and float64 (float32 check)', async () => {
    const a = randn([2, 3]);
    await gradcheck(([x]) => {
      const d = x!.cast('float64');
      return d.mul(d).sin().cast('float32');
    }, [a], { dtype: 'float32', label: 'cast chain' });
  });

  test('pow(x, 0) has a zero gradient, also at x = 0 (like torch)', async () => {
    const x = Tensor.fromData(Float64Array.of(0, 1, -2), [3], 'float64');
    const [g] = grad(ops.sum(x.pow(0).mul(x.add(1))), [x]);
    assert.deepEqual(Array.from(await g!.floats()), [1, 1, 1]);
  });

  test('casts through float16/bfloat16 round the gradient like torch (float32 → storage type → float32)', async () => {
    const x = Tensor.fromData(Float32Array.of(1.0001, 2.3, -0.7), [3]);
    const up = Float32Array.of(1.00012345, 3.3, -1e-3);
    for (const [dt, round] of [['float16', R.roundF16], ['bfloat16', R.roundBf16]] as const) {
      const [g] = grad(ops.sum(x.cast(dt).float().mul(Tensor.fromData(up, [3]))), [x]);
      assert.deepEqual(Array.from(await g!.floats()), Array.from(up, round), dt);
    }
  });

  test('maximum/minimum split the gradient evenly at ties; relu and abs use 0 at 0', async () => {
    const a = Tensor.fromData(Float64Array.of(1, 2, 3), [3], 'float64');
    const b = Tensor.fromData(Float64Array.of(1, 5, 0), [3], 'float64');
    const [ga, gb] = grad(ops.sum(ops.maximum(a, b)), [a, b]);
    const [ma, mb] = grad(ops.sum(ops.minimum(a, b)), [a, b]);
    const z = Tensor.fromData(Float64Array.of(-1, 0, 2), [3], 'float64');
    const [gr] = grad(ops.sum(ops.relu(z)), [z]);
    const [gabs] = grad(ops.sum(ops.abs(z)), [z]);
    await realize([ga!, gb!, ma!, mb!, gr!, gabs!]);
    assert.deepEqual(Array.from(await ga!.floats()), [0.5, 0, 1]);
    assert.deepEqual(Array.from(await gb!.floats()), [0.5, 1, 0]);
    assert.deepEqual(Array.from(await ma!.floats()), [0.5, 1, 0]);
    assert.deepEqual(Array.from(await mb!.floats()), [0.5, 0, 1]);
    assert.deepEqual(Array.from(await gr!.floats()), [0, 0, 1]);
    assert.deepEqual(Array.from(await gabs!.floats()), [-1, 0, 1]);
  });
});

describe('matmul', () => {
  test('2-D, batched, broadcast batch dims and 1-D operands', async () => {
    const pairs: [number[], number[]][] = [
      [[3, 4], [4, 2]],
      [[2, 3, 2], [2, 2, 3]],
      [[2, 1, 2, 3], [3, 3, 2]],
      [[2, 3], [2, 3, 2]],
      [[1, 2, 3], [2, 3, 1]],
      [[3], [3]],
      [[3], [3, 2]],
      [[2, 3], [3]],
      [[3], [2, 3, 2]],
      [[2, 2, 3], [3]],
    ];
    for (const [sa, sb] of pairs) {
      await gradcheck(([a, b]) => ops.matmul(a!, b!), [randn(sa), randn(sb)], { label: `matmul [${sa}] [${sb}]` });
    }
  });
});

describe('shape ops', () => {
  test('permute, transpose, reshape/view (-1), expand, squeeze, unsqueeze, flatten', async () => {
    const a = randn([2, 3, 4]);
    const s = randn([3, 1, 2, 1]);
    const checks: [string, (x: Tensor) => Tensor, NDArray][] = [
      ['permute [2, 0, 1]', (x) => x.permute([2, 0, 1]), a],
      ['transpose', (x) => x.transpose(), a],
      ['transpose(0, 2)', (x) => x.transpose(0, -1), a],
      ['reshape [4, -1]', (x) => x.reshape([4, -1]), a],
      ['view [-1]', (x) => x.view([-1]), a],
      ['expand [3, 1] → [2, 3, 4]', (x) => x.expand([2, 3, 4]), randn([3, 1])],
      ['expand [1] → [2, 2]', (x) => x.expand([2, 2]), randn([1])],
      ['expand [] → [2, 3]', (x) => x.expand([2, 3]), randn([])],
      ['expand [2, 1, 3] → [2, 4, 3]', (x) => x.expand([-1, 4, -1]), randn([2, 1, 3])],
      ['squeeze()', (x) => x.squeeze(), s],
      ['squeeze(-1)', (x) => x.squeeze(-1), s],
      ['unsqueeze(1)', (x) => x.unsqueeze(1), s],
      ['flatten(1, 2)', (x) => x.flatten(1, 2), a],
    ];
    for (const [label, f, x] of checks) await gradcheck(([t]) => f(t!), [x], { label });
  });

  test('slice with steps and negative indices', async () => {
    const a = randn([7, 3]);
    const specs: [number, number | undefined, number | undefined, number][] = [
      [0, 1, 5, 1], [0, 1, 6, 2], [0, 0, 7, 3], [0, 2, undefined, 3], [0, -3, undefined, 1], [0, -6, -1, 2],
      [1, 1, undefined, 1], [-1, 0, 3, 2], [0, 6, 7, 4], [0, 4, 100, 5],
    ];
    for (const [dim, s, e, step] of specs) {
      await gradcheck(([x]) => x!.slice(dim, s, e, step), [a], { label: `slice(${dim}, ${s}, ${e}, ${step})` });
    }
  });

  test('concat, split, stack', async () => {
    await gradcheck(([a, b, c]) => ops.concat([a!, b!, c!], 1), [randn([2, 3]), randn([2, 1]), randn([2, 2])], { label: 'concat dim 1' });
    await gradcheck(([a, b]) => ops.concat([a!, b!], -3), [randn([1, 2, 2]), randn([2, 2, 2])], { label: 'concat dim 0' });
    await gradcheck(([a]) => {
      const [p, q, r] = a!.split([2, 1, 2], -1);
      return ops.concat([q!.mul(3), r!.exp(), p!.sin()], 1);
    }, [randn([2, 5])], { label: 'split [2, 1, 2]' });
    await gradcheck(([a]) => {
      const parts = a!.split(2, 0);
      return parts[0]!.sum().add(parts[2]!.mul(parts[1]!.slice(0, 0, 1)).sum());
    }, [randn([5, 2])], { label: 'split 2 (uneven), two parts used' });
    await gradcheck(([a, b]) => ops.stack([a!, b!, a!], 1), [randn([2, 3]), randn([2, 3])], { label: 'stack dim 1 (reused input)' });
  });

  test('pad (constant, torch convention)', async () => {
    const a = randn([2, 3, 2]);
    for (const [p, v] of [[[1, 2], 0], [[0, 1, 2, 0], -1.5], [[1, 0, 0, 2, 1, 1], 2]] as [number[], number][]) {
      await gradcheck(([x]) => x!.pad(p, v), [a], { label: `pad [${p}]` });
    }
  });

  test('gather/embedding (repeated ids), index_select, gatherElements, scatterAddRows, scatterElementsAdd', async () => {
    const ids = i64([2, 3], [4, 0, 4, 1, 4, 0]);
    await gradcheck(([w]) => ops.embedding(w!, ids), [randn([5, 3])], { label: 'embedding' });
    await gradcheck(([x]) => ops.gather(x!, 1, i64([2, 2], [3, 0, 3, 3])), [randn([2, 4, 2])], { label: 'gather axis 1, 2-D index' });
    await gradcheck(([x]) => ops.gather(x!, 2, i64([3], [1, 1, 0])), [randn([2, 2, 3])], { label: 'gather last axis' });
    await gradcheck(([x]) => ops.gather(x!, 0, i64([], [2])), [randn([3, 4])], { label: 'gather scalar index' });
    await gradcheck(([x]) => ops.gather(x!, 0, i64([3], [-1, 0, -1])), [randn([3, 2])], { label: 'gather negative indices' });
    await gradcheck(([x]) => x!.gather(1, i64([3, 1], [-1, 0, -2])), [randn([3, 2])], { label: 'gatherElements negative indices' });
    await gradcheck(([x]) => x!.indexSelect(0, Tensor.fromData(Int32Array.of(2, 0, 2), [3], 'int32')), [randn([3, 4])], { label: 'index_select int32' });
    await gradcheck(([x]) => x!.gather(1, i64([3, 3], [0, 3, 0, 1, 1, 2, 2, 0, 3])), [randn([3, 4])], { label: 'gatherElements dim 1' });
    await gradcheck(([x]) => ops.gatherElements(x!, 0, i64([2, 4], [2, 0, 1, 2, 2, 0, 2, 1])), [randn([3, 4])], { label: 'gatherElements dim 0' });
    await gradcheck(([u]) => ops.scatterAddRows(4, i64([2, 3], [1, 3, 1, 0, 1, 3]), u!), [randn([2, 3, 2])], { label: 'scatterAddRows' });
    await gradcheck(([u]) => ops.scatterElementsAdd([3, 4], 1, i64([3, 2], [0, 0, 3, 1, 2, 3]), u!), [randn([3, 2])], { label: 'scatterElementsAdd' });
  });

  test('triu and tril with offsets', async () => {
    const a = randn([2, 3, 4]);
    for (const k of [-1, 0, 2]) {
      await gradcheck(([x]) => x!.triu(k), [a], { label: `triu ${k}` });
      await gradcheck(([x]) => x!.tril(k), [a], { label: `tril ${k}` });
    }
  });
});

describe('reductions', () => {
  test('sum, mean, max, min over axes with keepdim (distinct values)', async () => {
    const a = randn([2, 3, 4]);
    for (const axes of [undefined, [0], [-1], [0, 2]] as (number[] | undefined)[]) {
      for (const keep of [false, true]) {
        const tag = `${axes ? `[${axes}]` : 'all'} keep=${keep}`;
        // The four reductions in one graph (concatenated), to keep the number of compiled graphs down.
        await gradcheck(([x]) => ops.concat([x!.sum(axes, keep), x!.mean(axes, keep), x!.max(axes, keep), x!.min(axes, keep)]
          .map((t) => t.flatten())), [a], { label: `sum, mean, max, min ${tag}` });
      }
    }
  });

  test('random shapes and axes: sum, mean, max, min, softmax, log_softmax in one graph', async () => {
    for (let i = 0; i < 4; i++) {
      const shape = R.randomShape(gen, 3, 3);
      if (shape.length === 0) shape.push(3);
      const axes = R.randomAxes(gen, shape.length);
      const keep = gen.uniform() < 0.5;
      await gradcheck(([x]) => ops.concat([
        x!.sum(axes, keep).flatten(), x!.mean(axes, keep).flatten(), x!.max(axes, keep).flatten(), x!.min(axes, keep).flatten(),
        x!.softmax(axes[0]).flatten(), x!.logSoftmax(axes[0]).flatten(),
      ]), [randn(shape)], { label: `reductions [${shape}] axes [${axes}] keep=${keep}` });
    }
  });

  test('max/min reductions share the gradient equally between ties', async () => {
    const x = Tensor.fromData(Float64Array.of(1, 3, 3, 0, 2, 2, 2, -1), [2, 4], 'float64');
    const [gmax] = grad(x.max(1).mul(Tensor.fromData(Float64Array.of(1, 6), [2], 'float64')).sum(), [x]);
    const [gmin] = grad(x.min().mul(4), [x]);
    await realize([gmax!, gmin!]);
    assert.deepEqual(Array.from(await gmax!.floats()), [0, 0.5, 0.5, 0, 2, 2, 2, 0]);
    assert.deepEqual(Array.from(await gmin!.floats()), [0, 0, 0, 0, 0, 0, 0, 4]);
  });
});

describe('neural-network ops', () => {
  test('softmax and log_softmax on every axis', async () => {
    const a = randn([2, 3, 4]);
    for (const ax of [0, 1, -1]) {
      await gradcheck(([x]) => x!.softmax(ax), [a], { label: `softmax ${ax}` });
      await gradcheck(([x]) => x!.logSoftmax(ax), [a], { label: `log_softmax ${ax}` });
    }
  });

  test('cross_entropy with ignore_index: mean over kept targets, sum, none', async () => {
    const logits = randn([2, 3, 4], 1.5);
    const t = i64([2, 3], [3, -100, 0, 2, -100, 1]);
    await gradcheck(([x]) => ops.crossEntropy(x!, t), [logits], { label: 'cross_entropy mean' });
    await gradcheck(([x]) => ops.crossEntropy(x!, t, { reduction: 'sum' }), [logits], { label: 'cross_entropy sum' });
    await gradcheck(([x]) => ops.crossEntropy(x!, t, { reduction: 'none' }), [logits], { label: 'cross_entropy none' });
    const t32 = Tensor.fromData(Int32Array.of(1, 5, 5, 0), [4], 'int32');
    await gradcheck(([x]) => ops.crossEntropy(x!, t32, { ignoreIndex: 5 }), [randn([4, 3])], { label: 'cross_entropy ignore 5, int32' });
    // Ignored rows get exactly zero gradient.
    const x = Tensor.fromData(Float64Array.from(logits.data), logits.shape, 'float64');
    const [g] = grad(ops.crossEntropy(x, t), [x]);
    const gv = await g!.floats();
    for (const row of [1, 4]) assert.deepEqual(Array.from(gv.subarray(row * 4, row * 4 + 4)), [0, 0, 0, 0]);
  });

  test('linear_cross_entropy (fused output layer + loss, in row chunks): hidden and weight gradients, ignored rows, uneven chunks', async () => {
    // 5 rows in chunks of 2, 2 and 1... rounded to equal chunks: bounds 0, 2, 3, 5 for chunkRows 2.
    const hidden = randn([5, 3], 1.5);
    const weight = randn([4, 3]);
    const t = i64([5], [3, -100, 0, 2, 1]);
    for (const chunkRows of [2, 5]) {
      await gradcheck(([h, w]) => ops.linearCrossEntropy(h!, w!, t, { chunkRows }), [hidden, weight], { label: `linear_cross_entropy mean, chunkRows ${chunkRows}` });
    }
    await gradcheck(([h, w]) => ops.linearCrossEntropy(h!, w!, t, { reduction: 'sum', chunkRows: 3 }), [hidden, weight], { label: 'linear_cross_entropy sum' });
    await gradcheck(([h, w]) => ops.linearCrossEntropy(h!, w!, t, { reduction: 'none', chunkRows: 1 }), [hidden, weight], { label: 'linear_cross_entropy none' });
    // Batched hidden [2, 3, H] with int32 targets, through the hidden states only (a frozen head).
    const t32 = Tensor.fromData(Int32Array.of(1, 5, 5, 0, 2, 3), [2, 3], 'int32');
    const w = Tensor.fromData(Float64Array.from(randn([6, 4]).data), [6, 4], 'float64');
    await gradcheck(([h]) => ops.linearCrossEntropy(h!, w, t32, { ignoreIndex: 5, chunkRows: 4 }), [randn([2, 3, 4])], { label: 'linear_cross_entropy [2, 3, H], ignore 5, int32' });
  });

  test('linear_cross_entropy equals cross_entropy of the matmul: values and gradients (float32, a vocabulary of 1000, 7 chunks)', async () => {
    const h = Tensor.fromData(Float32Array.from(randn([2, 24, 16]).data), [2, 24, 16]);
    const w = Tensor.fromData(Float32Array.from(randn([1000, 16], 0.3).data), [1000, 16]);
    const targets = Array.from({ length: 48 }, (_, i) => (i % 11 === 3 ? -100 : (i * 37) % 1000));
    const t = i64([2, 24], targets);
    const fused = ops.linearCrossEntropy(h, w, t, { chunkRows: 7 });
    const plain = ops.crossEntropy(h.matmul(w.transpose(0, 1)), t);
    const [gh1, gw1] = grad(fused, [h, w]);
    const [gh2, gw2] = grad(plain, [h, w]);
    await realize([fused, plain, gh1!, gw1!, gh2!, gw2!]);
    assert.ok(Math.abs((await fused.item()) - (await plain.item())) < 1e-5, `loss ${await fused.item()} vs ${await plain.item()}`);
    for (const [a, b, name] of [[gh1!, gh2!, 'd hidden'], [gw1!, gw2!, 'd weight']] as const) {
      const [x, y] = [await a.floats(), await b.floats()];
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      assert.ok(worst < 1e-6, `${name}: max |difference| ${worst}`);
    }
  });

  test('checkpoint: gradients through a block rebuilt in the backward pass (input and parameters), stacked twice', async () => {
    const x = randn([3, 4]);
    const w1 = randn([4, 4], 0.5);
    const w2 = randn([4, 2], 0.5);
    await gradcheck(([a, p, q]) => {
      const h1 = checkpoint((h) => h.matmul(p!).tanh().mul(h), a!, [p!]);
      return checkpoint((h) => h.matmul(q!).sigmoid(), h1, [q!]);
    }, [x, w1, w2], { label: 'checkpoint' });
  });

  test('layer_norm and rms_norm (input, weight, bias)', async () => {
    const x = randn([2, 2, 4], 2);
    await gradcheck(([a, w, b]) => ops.layerNorm(a!, w!, b!), [x, randn([4]), randn([4])], { label: 'layer_norm w, b' });
    await gradcheck(([a]) => ops.layerNorm(a!, null, null, 1e-3), [x], { label: 'layer_norm plain' });
    await gradcheck(([a, w]) => ops.layerNorm(a!, w!, null, 1e-5, 2), [x, randn([2, 4])], { label: 'layer_norm 2 dims' });
    await gradcheck(([a, w]) => ops.rmsNorm(a!, w!), [x, randn([4])], { label: 'rms_norm w' });
    await gradcheck(([a]) => ops.rmsNorm(a!, null, 0.1), [x], { label: 'rms_norm plain' });
  });

  for (const recompute of [false, true]) {
    test(`scaledDotProductAttention${recompute ? ' (recompute: one op, probabilities recomputed in the backward)' : ''}: causal, additive mask, grouped-query heads`, async () => {
      const A = (q: Tensor, k: Tensor, v: Tensor, opts: Parameters<typeof ops.scaledDotProductAttention>[3] = {}): Tensor => ops.scaledDotProductAttention(q, k, v, { ...opts, recompute });
      const q = randn([1, 2, 3, 2]);
      const k = randn([1, 2, 3, 2]);
      const v = randn([1, 2, 3, 2]);
      await gradcheck(([a, b, c]) => A(a!, b!, c!, { causal: true }), [q, k, v], { label: 'attention causal' });
      await gradcheck(([a, b, c, m]) => A(a!, b!, c!, { mask: m! }), [q, k, v, randn([1, 1, 3, 3])], { label: 'attention additive mask (and its gradient)' });
      const padding = Tensor.fromData(Float64Array.of(-1e9, 0, 0), [1, 1, 1, 3], 'float64');
      await gradcheck(([a, b, c]) => A(a!, b!, c!, { causal: true, mask: padding, scale: 0.7 }), [q, k, v], { label: 'attention causal + padding mask' });
      const qg = randn([2, 4, 2, 2]);
      const kg = randn([2, 2, 3, 2]);
      const vg = randn([2, 2, 3, 3]);
      await gradcheck(([a, b, c]) => A(a!, b!, c!), [qg, kg, vg], { label: 'attention GQA 4/2' });
      await gradcheck(([a, b, c]) => A(a!, b!, c!, { causal: true }), [qg, kg, vg], { label: 'attention GQA causal, T < S' });
      // Per-head and per-batch masks in the grouped layout, with their gradients.
      await gradcheck(([a, b, c, m]) => A(a!, b!, c!, { mask: m! }), [qg, kg, vg, randn([2, 4, 2, 3])], { label: 'attention GQA, per-head mask' });
      await gradcheck(([a, b, c, m]) => A(a!, b!, c!, { mask: m!, causal: true }), [qg, kg, vg, randn([2, 1, 1, 3])], { label: 'attention GQA, padding-style mask' });
    });
  }

  test('silu_mul (the gated MLP product): silu(gate)·up, gradients, and a backward that keeps only gate and up', async () => {
    const g = randn([2, 5], 2);
    const u = randn([2, 5]);
    const f64 = (a: NDArray): Tensor => Tensor.fromData(Float64Array.from(a.data), a.shape, 'float64');
    const fused = ops.siluMul(f64(g), f64(u));
    const plain = ops.silu(f64(g)).mul(f64(u));
    await realize([fused, plain]);
    const [x, y] = [await fused.floats(), await plain.floats()];
    assert.ok(x.every((v, i) => Math.abs(v - y[i]!) < 1e-15));
    await gradcheck(([a, b]) => ops.siluMul(a!, b!), [g, u], { label: 'silu_mul' });
    const gate = f64(g);
    const up = f64(u);
    const loss = ops.siluMul(gate.mul(1.5), up.mul(2)).sum();
    // The two scaled inputs, not sigmoid(gate) or silu(gate).
    const saved = savedForBackward([loss], grad(loss, [gate, up]));
    assert.deepEqual(saved.map((s) => s.tensor.op!.name), ['mul', 'mul']);
  });

  test('dropout: the gradient is exactly mask/(1 − p) times the upstream gradient', async () => {
    const p = 0.3;
    const n = 2000;
    const data = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 5));
    const up = Float32Array.from({ length: n }, (_, i) => Math.sin(i) + 2);
    const x = Tensor.fromData(data, [40, 50]);
    const seed = Tensor.scalar(99n, 'int64');
    const y = ops.dropout(x, p, { seed });
    const [g1] = grad(ops.sum(y), [x]);
    const [g2] = grad(ops.sum(ops.mul(y, Tensor.fromData(up, [40, 50]))), [x]);
    await realize([y, g1!, g2!]);
    const scale = Math.fround(1 / (1 - p));
    const yv = y.storage as Float32Array;
    const gv1 = g1!.storage as Float32Array;
    const gv2 = g2!.storage as Float32Array;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const keep = yv[i] !== 0;
      if (keep) kept++;
      assert.equal(gv1[i], keep ? scale : 0, `element ${i}`);
      assert.equal(gv2[i], keep ? Math.fround(up[i]! * scale) : 0, `element ${i}`);
    }
    assert.ok(kept > 0 && kept < n);
    // float64: the same rule, checked by finite differences too (the mask is fixed by the seed).
    await gradcheck(([t]) => ops.dropout(t!, 0.5, { seed }), [randn([4, 5])], { label: 'dropout float64' });
  });

  test('stop_gradient / detach block the gradient', async () => {
    const a = randn([3]);
    const x = Tensor.fromData(Float64Array.from(a.data), [3], 'float64');
    const [g] = grad(ops.sum(x.mul(ops.stopGradient(x))), [x]);
    const [gd] = grad(ops.sum(x.mul(x.detach())), [x]);
    await realize([g!, gd!]);
    assert.deepEqual(Array.from(await g!.floats()), Array.from(a.data));
    assert.deepEqual(Array.from(await gd!.floats()), Array.from(a.data));
  });
});
