/**
 * Rotary embeddings against numbers printed by transformers 5.18 / torch 2.13 (LlamaRotaryEmbedding,
 * head_dim 16, max_position_embeddings 128), and attention masks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../../src/engine/index.ts';
import { RotaryEmbedding, applyRotaryPosEmb, attention, attentionMask, computeInvFreq, rotateHalf, type RopeParameters } from '../../src/nn/index.ts';

const TORCH_INV_FREQ: Record<string, { rope: RopeParameters; seqLen?: number; inv: number[] }> = {
  default: {
    rope: { rope_type: 'default', rope_theta: 10000 },
    inv: [1.0, 0.3162277638912201, 0.10000000149011612, 0.03162277862429619, 0.009999999776482582, 0.003162277862429619, 0.0010000000474974513, 0.0003162277862429619],
  },
  linear: {
    rope: { rope_type: 'linear', rope_theta: 500000, factor: 3 },
    inv: [0.3333333432674408, 0.06464091688394547, 0.012535343877971172, 0.00243088835850358, 0.0004714044916909188, 9.141606278717518e-05, 1.7727652448229492e-05, 3.437795157879009e-06],
  },
  llama3: {
    rope: { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 100 },
    inv: [1.0, 0.3162277638912201, 0.02975352481007576, 0.0039528473280370235, 0.0012499999720603228, 0.00039528473280370235, 0.0001250000059371814, 3.9528473280370235e-05],
  },
  dynamic: {
    // after a forward over positions 0..299
    rope: { rope_type: 'dynamic', rope_theta: 10000, factor: 2 },
    seqLen: 300,
    inv: [1.0, 0.26244500279426575, 0.06887736916542053, 0.018076522275805473, 0.0047440920025110245, 0.0012450632639229298, 0.00032676063710823655, 8.575668471166864e-05],
  },
};

for (const [name, c] of Object.entries(TORCH_INV_FREQ)) {
  test(`inv_freq (${name}) equals torch's float32 values`, () => {
    const inv = computeInvFreq({ headDim: 16, maxPositionEmbeddings: 128, rope: c.rope }, c.seqLen);
    assert.deepEqual(Array.from(inv), c.inv.map(Math.fround));
  });
}

test('cos/sin at position ids match torch (float32 rounding of angle·cos)', async () => {
  const rope = new RotaryEmbedding({ headDim: 16, maxPositionEmbeddings: 128, rope: { rope_type: 'default', rope_theta: 10000 } });
  const { cos, sin } = rope.forward(Tensor.from([[0n, 5n, 77n, 1000n]]));
  const c = await cos.toArray() as number[][][];
  const s = await sin.toArray() as number[][][];
  const torchCos1000 = [0.5623790621757507, -0.4773979187011719, 0.8623188734054565, 0.9786823987960815, -0.83907151222229, -0.9997860789299011, 0.5403023362159729, 0.9504152536392212];
  const torchSin77 = [0.9995201826095581, -0.7055538296699524, 0.9881682991981506, 0.6492810249328613, 0.6961352229118347, 0.2410963773727417, 0.07692394405603409, 0.024347133934497833];
  for (let i = 0; i < 16; i++) {
    assert.ok(Math.abs(c[0]![3]![i]! - torchCos1000[i % 8]!) < 2e-6, `cos[1000][${i}]`);
    assert.ok(Math.abs(s[0]![2]![i]! - torchSin77[i % 8]!) < 2e-6, `sin[77][${i}]`);
  }
});

test('dynamic scaling grows past the trained context and returns to the original', () => {
  const rope = new RotaryEmbedding({ headDim: 16, maxPositionEmbeddings: 128, rope: { rope_type: 'dynamic', rope_theta: 10000, factor: 2 } });
  const original = Array.from(rope.invFreq);
  const positions = (n: number): Tensor => Tensor.fromData(BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n], 'int64');
  rope.forward(positions(300));
  assert.deepEqual(Array.from(rope.invFreq), TORCH_INV_FREQ.dynamic!.inv.map(Math.fround));
  rope.forward(positions(200)); // between the trained context and the longest seen: kept, as transformers
  assert.deepEqual(Array.from(rope.invFreq), TORCH_INV_FREQ.dynamic!.inv.map(Math.fround));
  rope.forward(positions(10));
  assert.deepEqual(Array.from(rope.invFreq), original);
});

test('rotate_half and apply_rotary_pos_emb rotate the (i, i + d/2) pairs', async () => {
  const x = Tensor.from([[[[1, 2, 3, 4]]]]);
  assert.deepEqual(await rotateHalf(x).toArray(), [[[[-3, -4, 1, 2]]]]);
  const angle = 0.3;
  const cos = Tensor.from([[[Math.cos(angle), Math.cos(angle), Math.cos(angle), Math.cos(angle)]]]);
  const sin = Tensor.from([[[Math.sin(angle), Math.sin(angle), Math.sin(angle), Math.sin(angle)]]]);
  const [q] = applyRotaryPosEmb(x, x, cos, sin);
  const out = (await q.toArray() as number[][][][])[0]![0]![0]!;
  // pair (x0, x2) = (1, 3) rotated by angle: (1·c − 3·s, 3·c + 1·s)
  assert.ok(Math.abs(out[0]! - (Math.cos(angle) - 3 * Math.sin(angle))) < 1e-6);
  assert.ok(Math.abs(out[2]! - (3 * Math.cos(angle) + Math.sin(angle))) < 1e-6);
});

test('attention masks: causal, padding, sliding window, by slot', async () => {
  const MIN = -3.4028234663852886e38;
  const { additive, queryHasKeys } = attentionMask({
    queryLen: 4, keyLen: 4, keyValid: Tensor.from([[0n, 1n, 1n, 1n]]), slidingWindow: 2,
  });
  const allowed = (await additive.toArray() as number[][][][])[0]![0]!.map((r) => r.map((v) => (v === 0 ? 1 : (assert.equal(v, MIN), 0))));
  assert.deepEqual(allowed, [
    [0, 0, 0, 0], // slot 0 is padding: sees nothing
    [0, 1, 0, 0],
    [0, 1, 1, 0],
    [0, 0, 1, 1], // window 2: slots 2 and 3
  ]);
  assert.deepEqual(await queryHasKeys!.toArray(), [[[[0], [1], [1], [1]]]]);
  // Query slots from a cache: two queries at slots 5 and 6 of 8.
  const cached = attentionMask({ queryLen: 2, keyLen: 8, querySlots: Tensor.from([5n, 6n]) });
  const rows = (await cached.additive.toArray() as number[][][][])[0]![0]!.map((r) => r.map((v) => (v === 0 ? 1 : 0)));
  assert.deepEqual(rows, [[1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0]]);
  assert.equal(cached.queryHasKeys, null);
});

test('a query that sees no key gets a zero output (torch sdpa), others a softmax average', async () => {
  const q = Tensor.randn([1, 2, 3, 4]);
  const k = Tensor.randn([1, 1, 3, 4]);
  const v = Tensor.randn([1, 1, 3, 4]);
  const mask = attentionMask({ queryLen: 3, keyLen: 3, keyValid: Tensor.from([[0n, 1n, 1n]]) });
  const out = await attention(q, k, v, { mask }).toArray() as number[][][][];
  assert.ok(out[0]![0]![0]!.every((x) => x === 0));
  const vs = await v.toArray() as number[][][][];
  // Query 1 sees only key 1: its output is v[1] exactly (GQA: both heads share the kv head).
  for (const h of [0, 1]) for (let d = 0; d < 4; d++) assert.ok(Math.abs(out[0]![h]![1]![d]! - vs[0]![0]![1]![d]!) < 1e-6);
});
