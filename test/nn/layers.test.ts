/** Linear, Embedding and RMSNorm against plain JavaScript arithmetic, and their gradients. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator, Tensor, grad } from '../../src/engine/index.ts';
import { Embedding, Linear, RMSNorm, getActivation } from '../../src/nn/index.ts';

const close = (a: number, b: number, tol = 1e-5): boolean => Math.abs(a - b) <= tol * (1 + Math.abs(b));

test('Linear computes x Wᵀ + b over any leading dims, with torch\'s init bound', async () => {
  const lin = new Linear(3, 2, { generator: new Generator(1) });
  const w = lin.weight.value.storage as Float32Array;
  const b = lin.bias!.value.storage as Float32Array;
  assert.ok([...w, ...b].every((v) => Math.abs(v) <= 1 / Math.sqrt(3)));
  const x = Tensor.from([[[1, 2, 3], [4, 5, 6]], [[-1, 0, 1], [0.5, 0.25, 2]]]);
  const y = await lin.forward(x).toArray() as number[][][];
  const xs = await x.toArray() as number[][][];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let o = 0; o < 2; o++) {
    const want = xs[i]![j]!.reduce((s, v, k) => s + v * w[o * 3 + k]!, b[o]!);
    assert.ok(close(y[i]![j]![o]!, want), `${y[i]![j]![o]} vs ${want}`);
  }
  assert.throws(() => lin.forward(Tensor.zeros([2, 4])), /Linear\(3, 2\): expected input \[\.\.\., 3\], found \[2, 4\]/);
  assert.equal(new Linear(3, 2, { bias: false }).bias, null);
  assert.ok(!new Linear(3, 2, { init: 'empty' }).weight.value.isRealized);
});

test('gradients reach the current weight tensor of a Linear', async () => {
  const lin = new Linear(2, 1, { bias: true });
  lin.weight.value = Tensor.from([[2, -1]]);
  lin.bias!.value = Tensor.from([0.5]);
  const x = Tensor.from([[1, 3], [2, 1]]);
  const loss = lin.forward(x).sum();
  const [gw, gb] = grad(loss, [lin.weight.value, lin.bias!.value]);
  assert.deepEqual(await gw!.toArray(), [[3, 4]]);
  assert.deepEqual(await gb!.toArray(), [2]);
});

test('Embedding looks rows up; the padding row gets no gradient', async () => {
  const emb = new Embedding(4, 2, { paddingIdx: 0, generator: new Generator(3) });
  assert.deepEqual(Array.from((emb.weight.value.storage as Float32Array).subarray(0, 2)), [0, 0]);
  emb.weight.value = Tensor.from([[1, 1], [2, 2], [3, 3], [4, 4]]);
  const ids = Tensor.from([[0n, 2n, 2n]]);
  assert.deepEqual(await emb.forward(ids).toArray(), [[[1, 1], [3, 3], [3, 3]]]);
  const [g] = grad(emb.forward(ids).sum(), [emb.weight.value]);
  assert.deepEqual(await g!.toArray(), [[0, 0], [0, 0], [2, 2], [0, 0]]);
  assert.throws(() => emb.forward(Tensor.from([[0.5]])), /ids must be int64 or int32/);
  assert.throws(() => new Embedding(4, 2, { paddingIdx: 4 }), /paddingIdx must be within/);
});

test('RMSNorm is LlamaRMSNorm: weight · x / sqrt(mean(x²) + eps)', async () => {
  const norm = new RMSNorm(3, 1e-6);
  norm.weight.value = Tensor.from([1, 2, 0.5]);
  const x = [0.3, -1.2, 2.5];
  const y = await norm.forward(Tensor.from([x])).toArray() as number[][];
  const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / 3 + 1e-6);
  [1, 2, 0.5].forEach((w, i) => assert.ok(close(y[0]![i]!, w * x[i]! * r)));
  assert.throws(() => norm.forward(Tensor.zeros([2, 4])), /RMSNorm\(3\): expected input \[\.\.\., 3\], found \[2, 4\]/);
});

test('activations by config name; unknown ones listed', async () => {
  const silu = await getActivation('silu')(Tensor.from([1])).item();
  assert.ok(close(silu, 1 / (1 + Math.exp(-1))));
  assert.throws(() => getActivation('mish'), /unsupported hidden_act "mish" \(supported: silu, swish, relu, gelu, gelu_pytorch_tanh, gelu_new\)/);
});
