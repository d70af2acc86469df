import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator, Tensor, realize } from '../../src/engine/index.ts';
import { batDelta, batUnmergeWeight, batWeight, defaultDeltaWeight, shardForward, tileMiniBlock } from '../../src/peft/bone/math.ts';

const gen = new Generator(7);
const randn = (shape: number[]): Tensor => Tensor.randn(shape, { generator: gen });

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('default mode: ΔW[o, i] = B[i mod r, o], including a partial last strip', async () => {
  for (const [inF, out, r] of [[12, 5, 4], [10, 6, 4], [3, 4, 8]] as const) {
    const B = randn([r, out]);
    const dw = await defaultDeltaWeight(B, inF).floats();
    const b = await B.floats();
    for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) assert.equal(dw[o * inF + i], b[(i % r) * out + o]);
  }
});

test('default-mode forward (pad, shard sum, one small matmul) equals x ΔWᵀ', async () => {
  for (const [inF, out, r] of [[12, 5, 4], [10, 6, 4], [18, 8, 16]] as const) {
    const x = randn([2, 3, inF]);
    const B = randn([r, out]);
    const fast = shardForward(x, B);
    const dense = x.matmul(defaultDeltaWeight(B, inF).transpose());
    await realize([fast, dense]);
    assert.ok(maxAbs(await fast.floats(), await dense.floats()) < 1e-5, `in=${inF} out=${out} r=${r}`);
  }
});

test('mini mode tiles M [r, miniR] along out', async () => {
  const M = randn([4, 3]);
  const full = await tileMiniBlock(M, 12).floats();
  const m = await M.floats();
  for (let k = 0; k < 4; k++) for (let o = 0; o < 12; o++) assert.equal(full[k * 12 + o], m[k * 3 + (o % 3)]);
});

test('BAT: W_{a,c}(I + B_a) + B_a per r×r block, against plain loops', async () => {
  const [out, inF, r] = [8, 12, 4];
  const W = randn([out, inF]);
  const B = randn([out / r, r, r]);
  const got = await batWeight(W, B).floats();
  const w = await W.floats();
  const b = await B.floats();
  const expected = new Float64Array(out * inF);
  for (let a = 0; a < out / r; a++) for (let c = 0; c < inF / r; c++) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
    let s = w[(a * r + i) * inF + c * r + j]! + b[a * r * r + i * r + j]!;
    for (let k = 0; k < r; k++) s += w[(a * r + i) * inF + c * r + k]! * b[a * r * r + k * r + j]!;
    expected[(a * r + i) * inF + c * r + j] = s;
  }
  assert.ok(maxAbs(got, expected) < 1e-5);
  const delta = await batDelta(W, B).floats();
  assert.ok(maxAbs(delta, expected.map((v, i) => v - w[i]!)) < 1e-5);
});

test('BAT unmerge inverts the merge', async () => {
  const W = randn([8, 16]);
  const B = Tensor.randn([2, 4, 4], { std: 0.1, generator: gen });
  const merged = await batWeight(W, B).realize();
  const restored = await batUnmergeWeight(merged, B);
  assert.ok(maxAbs(await restored.floats(), await W.floats()) < 1e-5);
});
