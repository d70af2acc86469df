/**
 * ops.blockedCausalAttention (causal self-attention a block of queries at a time) against three
 * independent computations, in float64: its outputs against a plain JavaScript attention
 * (test/helpers/reference.ts) with the mask written out element by element from the rules
 * (causal, padding keys, sliding window, packed documents; a row that sees no key is zero), within
 * 1e-12; its gradients against the composite scaledDotProductAttention with that mask (within 1e-12)
 * and against central finite differences (test/helpers/gradcheck.ts: eps 1e-6, tolerance 1e-6). Block
 * shapes cover one block, query blocks that do not divide T, key blocks (the online softmax), the
 * diagonal split and single rows; heads are grouped (4 query heads over 2 key/value heads).
 * It also checks what the blocked graph keeps and computes: nothing [T, T]-sized is read by the
 * backward pass, and the forward's products cover the causal blocks only.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Generator, ShapeError, Tensor, grad, ops, realize, savedForBackward } from '../../src/engine/index.ts';
import { trace } from '../../src/engine/realize.ts';
import { gradcheck } from '../helpers/gradcheck.ts';
import * as R from '../helpers/reference.ts';

const gen = new Generator(2024);
const f64 = (a: R.NDArray): Tensor => Tensor.fromData(Float64Array.from(a.data), a.shape, 'float64');
const i64 = (shape: number[], values: readonly number[]): Tensor => Tensor.fromData(BigInt64Array.from(values, (v) => BigInt(v)), shape, 'int64');

const [B, H, HKV, T, D] = [2, 4, 2, 11, 3];
// Row 0 right-padded by two, row 1 left-padded by two (its first queries see no key).
const VALID = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
const SEGMENTS = [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2];

interface MaskRules { valid?: boolean; segments?: boolean; window?: number }

/** The additive mask [B, 1, T, T] and the rows that see a key [B, 1, T, 1], element by element. */
function maskFor(rules: MaskRules): { mask: R.NDArray; rows: R.NDArray } {
  const mask = new Float64Array(B * T * T);
  const rows = new Float64Array(B * T);
  for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
    let ok = j <= i;
    if (rules.window !== undefined) ok &&= j > i - rules.window;
    if (rules.valid) ok &&= VALID[b * T + j] === 1;
    if (rules.segments) ok &&= SEGMENTS[b * T + i] === SEGMENTS[b * T + j];
    mask[(b * T + i) * T + j] = ok ? 0 : -Number.MAX_VALUE;
    if (ok) rows[b * T + i] = 1;
  }
  return { mask: R.nd([B, 1, T, T], mask), rows: R.nd([B, 1, T, 1], rows) };
}

function blocked(rules: MaskRules, blocks: { queryBlock?: number; keyBlock?: number }) {
  const keyValid = rules.valid ? i64([B, T], VALID) : null;
  const segmentIds = rules.segments ? i64([B, T], SEGMENTS) : null;
  return (q: Tensor, k: Tensor, v: Tensor): Tensor => ops.blockedCausalAttention(q, k, v, { keyValid, segmentIds, slidingWindow: rules.window ?? null, ...blocks });
}

async function maxDiff(a: Tensor, b: Float64Array | Tensor): Promise<number> {
  const x = await a.floats();
  const y = b instanceof Tensor ? await b.floats() : b;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const RULES: [string, MaskRules][] = [
  ['causal', {}],
  ['padding (left and right)', { valid: true }],
  ['packed documents', { segments: true }],
  ['sliding window 4', { window: 4 }],
  ['padding + documents + window 3', { valid: true, segments: true, window: 3 }],
];
const BLOCKS: [string, { queryBlock?: number; keyBlock?: number }][] = [
  ['one block', {}],
  ['query blocks of 3 (uneven)', { queryBlock: 3 }],
  ['query blocks of 4, key blocks of 2', { queryBlock: 4, keyBlock: 2 }],
  ['query blocks of 5, key blocks of 3', { queryBlock: 5, keyBlock: 3 }],
  ['query blocks of 4, split at the diagonal', { queryBlock: 4, keyBlock: -1 }],
  ['single rows and keys', { queryBlock: 1, keyBlock: 1 }],
];

describe('blocked causal attention', () => {
  const q = R.randn(gen, [B, H, T, D]);
  const k = R.randn(gen, [B, HKV, T, D]);
  const v = R.randn(gen, [B, HKV, T, D + 1]);
  const proj = f64(R.randn(gen, [B, H, T, D + 1]));

  for (const [ruleName, rules] of RULES) {
    test(`${ruleName}: values equal plain attention, gradients equal the composite's, for every block shape`, async () => {
      const { mask, rows } = maskFor(rules);
      const expected = R.attention(q, k, v, { mask });
      // Zero where a row sees no key (torch's sdpa), which the reference's uniform average is not.
      const keep = R.broadcastTo(rows, expected.shape);
      const want = expected.data.map((x, i) => x * keep.data[i]!);
      const [qt, kt, vt] = [f64(q), f64(k), f64(v)];
      const composite = ops.scaledDotProductAttention(qt, kt, vt, { mask: f64(mask) }).mul(f64(rows));
      const compositeGrads = grad(composite.mul(proj).sum(), [qt, kt, vt]);
      for (const [blockName, blocks] of BLOCKS) {
        const out = blocked(rules, blocks)(qt, kt, vt);
        const grads = grad(out.mul(proj).sum(), [qt, kt, vt]);
        await realize([out, ...grads, ...compositeGrads]);
        const d = await maxDiff(out, want);
        assert.ok(d < 1e-12, `${blockName}: output max |difference| ${d}`);
        for (const [i, name] of ['q', 'k', 'v'].entries()) {
          const dg = await maxDiff(grads[i]!, compositeGrads[i]!);
          assert.ok(dg < 1e-12, `${blockName}: d${name} max |difference| ${dg}`);
        }
      }
    });
  }

  test('gradients against finite differences: blocks, key blocks, padding, documents and a window', async () => {
    const [b, h, hkv, t, d] = [1, 2, 1, 5, 2];
    const qs = R.randn(gen, [b, h, t, d]);
    const ks = R.randn(gen, [b, hkv, t, d]);
    const vs = R.randn(gen, [b, hkv, t, d]);
    const valid = i64([b, t], [0, 1, 1, 1, 1]);
    const segments = i64([b, t], [1, 1, 2, 2, 2]);
    const A = (opts: Parameters<typeof ops.blockedCausalAttention>[3]) => ([x, y, z]: Tensor[]): Tensor => ops.blockedCausalAttention(x!, y!, z!, opts);
    await gradcheck(A({ queryBlock: 2 }), [qs, ks, vs], { label: 'blocked, query blocks of 2' });
    await gradcheck(A({ queryBlock: 2, keyBlock: 1, scale: 0.6 }), [qs, ks, vs], { label: 'blocked, key blocks of 1, scale 0.6' });
    await gradcheck(A({ queryBlock: 3, keyBlock: -1, keyValid: valid }), [qs, ks, vs], { label: 'blocked, diagonal split, left padding' });
    await gradcheck(A({ queryBlock: 2, segmentIds: segments, slidingWindow: 2 }), [qs, ks, vs], { label: 'blocked, documents and window 2' });
  });

  test('the backward reads nothing [T, T]-sized, and the forward multiplies only blocks on or below the diagonal', async () => {
    const [b, h, hkv, t, d, block] = [1, 4, 2, 64, 8, 16];
    const qt = Tensor.randn([b, h, t, d], { generator: gen });
    const kt = Tensor.randn([b, hkv, t, d], { generator: gen });
    const vt = Tensor.randn([b, hkv, t, d], { generator: gen });
    const out = ops.blockedCausalAttention(qt, kt, vt, { queryBlock: block, keyValid: Tensor.ones([b, t], 'bool') });
    const loss = out.sum();
    const saved = savedForBackward([loss], grad(loss, [qt, kt, vt]));
    const biggest = Math.max(...saved.map((s) => s.tensor.size));
    // q and the output are the largest things kept: b·h·t·d elements, not b·h·t·t.
    assert.equal(biggest, b * h * t * d, saved.map((s) => `${s.tensor.describe()}`).join(', '));
    // Query block i sees keys [0, (i + 1)·block): the products' rows × keys add up to the causal blocks.
    const products = trace([out]).nodes.filter((n) => n.op!.name === 'matmul' && n.inputs[1]!.shape[n.inputs[1]!.ndim - 1] !== d);
    const scored = products.reduce((sum, n) => sum + n.shape[n.ndim - 2]! * n.shape[n.ndim - 1]! / (h / hkv), 0);
    const blocks = t / block;
    assert.equal(scored, block * block * (blocks * (blocks + 1)) / 2);
  });

  test('bad input: shapes, masks and block sizes are named', () => {
    const q = Tensor.zeros([1, 4, 6, 2]);
    const k = Tensor.zeros([1, 2, 6, 2]);
    const mustThrow = (f: () => unknown, pattern: RegExp): void => assert.throws(f, (e: Error) => e instanceof ShapeError && pattern.test(e.message), pattern.source);
    mustThrow(() => ops.blockedCausalAttention(q, Tensor.zeros([1, 3, 6, 2]), Tensor.zeros([1, 3, 6, 2])), /4 query heads cannot share 3/);
    mustThrow(() => ops.blockedCausalAttention(q, Tensor.zeros([1, 2, 5, 2]), Tensor.zeros([1, 2, 5, 2])), /self-attention, no cache/);
    mustThrow(() => ops.blockedCausalAttention(q, k, k, { keyValid: Tensor.ones([1, 5]) }), /key mask must be \[1, 6\]/);
    mustThrow(() => ops.blockedCausalAttention(q, k, k, { segmentIds: Tensor.ones([1, 6]) }), /segment ids must be int64 \[1, 6\], found float32/);
    mustThrow(() => ops.blockedCausalAttention(q, k, k, { queryBlock: 0 }), /queryBlock must be an integer ≥ 1, found 0/);
    mustThrow(() => ops.blockedCausalAttention(q, k, k, { slidingWindow: 1.5 }), /slidingWindow must be an integer ≥ 1/);
  });
});
