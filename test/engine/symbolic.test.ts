/**
 * emitSymbolicGraph: one graph for every size of the symbolic dimensions, run by ONNX Runtime at
 * sizes it was never traced at (including 1 and 0), with the same numbers as the engine; and clear
 * refusals for what cannot be symbolic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Tensor, ops } from '../../src/engine/index.ts';
import { encodeModel } from '../../src/engine/onnx/builder.ts';
import { emitSymbolicGraph, type SymbolicGraphSpec } from '../../src/engine/onnx/symbolic.ts';

const w = Tensor.randn([4, 3]);

/** x [b, s, 4] → a Linear over flattened rows (b·s), p [b, past, 3] concatenated before it, and past..past+s−1. */
const spec: SymbolicGraphSpec = {
  symbols: ['batch', 'seq', 'past'],
  dimNames: { 'seq + past': 'total' },
  weightName: (t) => (t === w ? 'w' : undefined),
  build: ({ batch, seq, past }) => {
    const x = Tensor.zeros([batch!, seq!, 4]);
    const p = Tensor.zeros([batch!, past!, 3]);
    const y = x.reshape([-1, 4]).matmul(w).reshape([batch!, seq!, 3]);
    return {
      inputs: [{ name: 'x', tensor: x }, { name: 'p', tensor: p }],
      outputs: [{ name: 'y', tensor: ops.concat([p, y], 1) }, { name: 'slots', tensor: ops.arange(past!, past! + seq!, 1, 'int64') }],
    };
  },
};

test('inputs and outputs get named dims; the graph runs at untraced sizes with the engine\'s numbers', async () => {
  const graph = emitSymbolicGraph(spec);
  assert.deepEqual(graph.input.map((v) => v.dims), [['batch', 'seq', 4], ['batch', 'past', 3]]);
  assert.deepEqual(graph.output.map((v) => v.dims), [['batch', 'total', 3], ['seq']]);
  assert.deepEqual(graph.initializer.filter((x) => x.name === 'w').map((x) => x.dims), [[4, 3]]);
  const session = await ort.InferenceSession.create(encodeModel(graph));
  for (const [B, T, P] of [[1, 1, 0], [2, 5, 3], [7, 2, 20]] as const) {
    const x = Tensor.randn([B, T, 4]);
    const p = Tensor.randn([B, P, 3]);
    const out = await session.run({
      x: new ort.Tensor('float32', x.storage as Float32Array, [B, T, 4]),
      p: new ort.Tensor('float32', p.storage as Float32Array, [B, P, 3]),
    });
    const expected = await ops.concat([p, x.reshape([-1, 4]).matmul(w).reshape([B, T, 3])], 1).floats();
    assert.deepEqual(out.y!.dims, [B, P + T, 3]);
    const y = out.y!.data as Float32Array;
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i]! - expected[i]!) <= 1e-6, `y[${i}]`);
    assert.deepEqual(Array.from(out.slots!.data as BigInt64Array, Number), Array.from({ length: T }, (_, i) => P + i));
  }
  await session.release();
});

test('a tensor computed in JavaScript from the sizes is refused, naming what to do', () => {
  assert.throws(() => emitSymbolicGraph({
    symbols: ['seq'],
    build: ({ seq }) => {
      const x = Tensor.zeros([seq!]);
      const positions = Tensor.fromData(Float32Array.from({ length: seq! }, (_, i) => i), [seq!]);
      return { inputs: [{ name: 'x', tensor: x }], outputs: [{ name: 'y', tensor: x.add(positions) }] };
    },
  }), /realised tensor .* computed outside the graph from the sizes: make it a declared input or compute it with ops/);
});

test('a size that is no polynomial of degree ≤ 2, or a size written into an attribute, is refused', () => {
  const withConstant = (value: (seq: number) => Tensor): SymbolicGraphSpec => ({
    symbols: ['seq'],
    build: ({ seq }) => {
      const x = Tensor.zeros([seq!], 'int64');
      return { inputs: [{ name: 'x', tensor: x }], outputs: [{ name: 'y', tensor: x.add(value(seq!)) }] };
    },
  });
  assert.throws(() => emitSymbolicGraph(withConstant((seq) => Tensor.constant(seq ** 3, 'int64'))),
    /takes the values \[27, 64, 125, .*\] .* which no polynomial of degree ≤ 2 with integer coefficients gives/);
  assert.throws(() => emitSymbolicGraph(withConstant((seq) => ops.full([], seq, 'int64'))),
    /the attributes of node .* \(ConstantOfShape\) differ: an op writes a size into an attribute/);
});
