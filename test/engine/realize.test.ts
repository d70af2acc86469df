/**
 * Realisation (subgraph → ONNX → one session.run), the structure-keyed compile cache, constants
 * versus fed scalars, error reporting, dropout's per-step masks, and the autograd contract.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  EngineError, MAX_EMBEDDED_CONSTANT, RuntimeFailure, Tensor, checkFinite, engineStats, getBackend, grad, manualSeed, ops, realize, setBackend,
  setCaptureOrigins, setMemoryArena,
} from '../../src/engine/index.ts';
import { trace } from '../../src/engine/realize.ts';

/** Run f and report how many graphs it compiled and how many runs it made. */
async function counting<T>(f: () => Promise<T>): Promise<{ value: T; compiles: number; runs: number }> {
  const c = engineStats.compiles;
  const r = engineStats.runs;
  const value = await f();
  return { value, compiles: engineStats.compiles - c, runs: engineStats.runs - r };
}

const arange = (n: number, offset = 0): Float32Array => Float32Array.from({ length: n }, (_, i) => i + offset);

describe('realize', () => {
  test('setMemoryArena: graphs compiled afterwards ask the backend for an arena or not, with the same results', async () => {
    const real = await getBackend();
    const asked: (boolean | undefined)[] = [];
    setBackend({ name: 'recording', compile: (bytes, opts) => { asked.push(opts?.memoryArena); return real.compile(bytes, opts); } });
    try {
      const x = Tensor.from([1, 2, 3]);
      await realize([x.mul(7)]);
      const before = setMemoryArena(false);
      const y = x.mul(7).add(1);
      await realize([y]);
      assert.equal(before, true);
      assert.equal(setMemoryArena(true), false);
      assert.deepEqual(asked, [true, false]);
      assert.deepEqual(Array.from(y.storage as Float32Array), [8, 15, 22]);
    } finally {
      setBackend(real);
      setMemoryArena(true);
    }
  });

  test('several requested tensors are computed by one run, and become realised', async () => {
    const x = Tensor.from([[1, 2, 3], [4, 5, 6]]);
    const a = x.mul(x);
    const b = a.sum(1);
    const c = x.max();
    const { runs } = await counting(() => realize([a, b, c, a]));
    assert.equal(runs, 1);
    assert.ok(a.isRealized && b.isRealized && c.isRealized);
    assert.deepEqual(Array.from(a.storage as Float32Array), [1, 4, 9, 16, 25, 36]);
    assert.deepEqual(Array.from(b.storage as Float32Array), [14, 77]);
    assert.equal(await c.item(), 6);
    // Already realised: nothing to do.
    assert.equal((await counting(() => realize([a, b]))).runs, 0);
  });

  test('realised intermediates become graph inputs: the subgraph behind them is not recomputed', async () => {
    const x = Tensor.randn([3, 3]);
    const h = x.matmul(x).relu();
    await h.realize();
    const y = h.add(1);
    const tr = trace([y]);
    assert.deepEqual(tr.leaves.map((l) => l === h || l.constant), [true, true]);
    assert.deepEqual(tr.nodes.map((n) => n.op!.name), ['add']);
    const hv = await h.floats();
    assert.deepEqual(Array.from(await y.floats()), Array.from(hv, (v) => Math.fround(v + 1)));
  });

  test('leaves are fed zero-copy, subarray views included', async () => {
    const big = arange(1000);
    const view = big.subarray(137, 137 + 12);
    const t = Tensor.fromData(view, [3, 4]);
    assert.equal(t.storage, view);
    const y = t.mul(2).sum(1);
    assert.deepEqual(await y.toArray(), [
      2 * (137 + 138 + 139 + 140), 2 * (141 + 142 + 143 + 144), 2 * (145 + 146 + 147 + 148)]);
    // Views at odd element offsets, of several dtypes, in one graph.
    const ints = BigInt64Array.from({ length: 50 }, (_, i) => BigInt(i));
    const doubles = Float64Array.from({ length: 50 }, (_, i) => i / 2);
    const idx = Tensor.fromData(ints.subarray(3, 7), [4]);
    const d = Tensor.fromData(doubles.subarray(11, 19), [8]);
    assert.deepEqual(await ops.gather(d, 0, idx).toArray(), [7, 7.5, 8, 8.5]);
    // The fed buffer is read at run time: mutate it and the next run sees the new values.
    view.fill(1);
    assert.deepEqual(await t.mul(2).sum(1).toArray(), [8, 8, 8]);
  });

  test('sessions are cached by structure, never data: same structure compiles nothing, a new shape compiles once', async () => {
    const step = (x: Tensor, w: Tensor): Tensor => x.matmul(w).tanh().sum(-1);
    const first = await counting(() => step(Tensor.randn([5, 7]), Tensor.randn([7, 3])).data());
    assert.ok(first.compiles <= 1);
    const hits = engineStats.cacheHits;
    for (let k = 0; k < 3; k++) {
      const x = Tensor.fromData(arange(35, k), [5, 7]);
      const w = Tensor.full([7, 3], 0.01 * (k + 1));
      const r = await counting(() => step(x, w).data());
      assert.equal(r.compiles, 0, 'different data, same structure: no compilation');
      assert.equal(r.runs, 1);
      const got = r.value as Float32Array;
      for (let i = 0; i < 5; i++) {
        let rowSum = 0;
        for (let j = 0; j < 7; j++) rowSum += i * 7 + j + k;
        assert.ok(Math.abs(got[i]! - 3 * Math.tanh(0.01 * (k + 1) * rowSum)) < 1e-5);
      }
    }
    assert.equal(engineStats.cacheHits - hits, 3);
    const other = await counting(() => step(Tensor.randn([6, 7]), Tensor.randn([7, 3])).data());
    assert.equal(other.compiles, 1, 'a new batch shape compiles exactly one graph');
    assert.equal((await counting(() => step(Tensor.randn([6, 7]), Tensor.randn([7, 3])).data())).compiles, 0);
    // dtype is part of the structure too.
    const f64 = await counting(() => step(Tensor.randn([5, 7], { dtype: 'float64' }), Tensor.randn([7, 3], { dtype: 'float64' })).data());
    assert.equal(f64.compiles, 1);
  });

  test('small constants are embedded (a new value is a new graph); fed scalars change without recompiling', async () => {
    const x = Tensor.fromData(Float32Array.of(1, 2, 3), [3]);
    const k1 = await counting(() => x.mul(2.75).add(0.125).toArray());
    assert.deepEqual(k1.value, [2.875, 5.625, 8.375]);
    const k2 = await counting(() => x.mul(-1.5).add(0.125).toArray());
    assert.equal(k2.compiles, 1, 'a different embedded constant is a different graph');
    assert.deepEqual(k2.value, [-1.375, -2.875, -4.375]);
    const k3 = await counting(() => x.mul(2.75).add(0.125).toArray());
    assert.equal(k3.compiles, 0, 'the first constant\'s graph is still cached');
    assert.deepEqual(k3.value, k1.value);
    const c = Tensor.constant(0.5);
    assert.ok(c.constant);
    assert.equal(trace([x.mul(c)]).key.includes('=0.5'), true, 'the value is in the cache key');
    // 0 and -0 are different constants (1/x tells them apart).
    assert.deepEqual(await x.div(Tensor.constant(0)).toArray(), [Infinity, Infinity, Infinity]);
    assert.deepEqual(await x.div(Tensor.constant(-0)).toArray(), [-Infinity, -Infinity, -Infinity]);
    // A fed scalar (e.g. a learning rate) is an input: new values, same graph.
    const lrs = [0.1, 0.01, 3];
    let compiles = 0;
    for (const [i, lr] of lrs.entries()) {
      const r = await counting(() => x.sub(x.mul(Tensor.scalar(lr))).toArray());
      if (i > 0) compiles += r.compiles;
      assert.deepEqual(r.value, [1, 2, 3].map((v) => Math.fround(v - Math.fround(v * Math.fround(lr)))));
    }
    assert.equal(compiles, 0, 'changing a fed scalar compiles nothing');
    assert.equal(Tensor.scalar(1).constant, false);
    // Too big to embed: fed like any other leaf even if asked to be constant.
    assert.equal(Tensor.fromData(new Float32Array(MAX_EMBEDDED_CONSTANT + 1), [MAX_EMBEDDED_CONSTANT + 1], 'float32', { constant: true }).constant, false);
    assert.equal(Tensor.fromData(new Float32Array(4), [4], 'float32', { constant: true }).constant, true);
  });
});

describe('errors and debugging', () => {
  test('an ONNX Runtime failure names the engine op, and with origin capture (BONE_DEBUG) the user code that created it', async () => {
    const table = Tensor.randn([5, 3]);
    const ids = Tensor.from([[0n, 4n], [2n, 9n]]); // shape-valid, but 9 is out of range: fails inside session.run
    // Without capture (the default): the op and its shapes, and how to see more.
    const before = setCaptureOrigins(false);
    let plain: unknown;
    try { await ops.embedding(table, ids).mul(2).sum().data(); } catch (e) { plain = e; }
    assert.ok(plain instanceof RuntimeFailure);
    assert.match(plain.message, /engine op: gather\(float32\[5, 3\], int64\[2, 2\]\) -> float32\[2, 2, 3\]/);
    assert.match(plain.message, /set BONE_DEBUG=1/);
    setCaptureOrigins(true);
    const emb = ops.embedding(table, ids).mul(2).sum();
    setCaptureOrigins(before);
    let err: unknown;
    try { await emb.data(); } catch (e) { err = e; }
    assert.ok(err instanceof RuntimeFailure, `expected a RuntimeFailure, got ${String(err)}`);
    const msg = err.message;
    assert.match(msg, /while running a graph/);
    assert.match(msg, /engine op: gather\(float32\[5, 3\], int64\[2, 2\]\) -> float32\[2, 2, 3\]/);
    assert.match(msg, /created at:\n.*realize\.test\.ts:\d+/);
    assert.ok(!/src\/engine\//.test(msg.split('created at:')[1]!), 'engine frames are left out of the user stack');
    assert.ok(err.cause instanceof Error, 'the original ORT error is kept as the cause');
    // The failure does not poison the cache: the same graph runs with valid indices.
    const ok = await counting(() => ops.embedding(table, Tensor.from([[0n, 4n], [2n, 1n]])).mul(2).sum().data());
    assert.equal(ok.compiles, 0);
    assert.equal(ok.runs, 1);
  });

  test('BONE_DUMP_ONNX=dir writes each compiled model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bone-dump-'));
    process.env.BONE_DUMP_ONNX = dir;
    try {
      // A structure no other test compiles.
      const r = await counting(() => Tensor.randn([3, 11, 2]).softmax(1).cos().sum().data());
      assert.equal(r.compiles, 1);
      const files = readdirSync(dir).filter((f) => f.endsWith('.onnx'));
      assert.equal(files.length, 1);
      assert.ok(statSync(join(dir, files[0]!)).size > 50);
    } finally {
      delete process.env.BONE_DUMP_ONNX;
      rmSync(dir, { recursive: true, force: true });
    }
    // Unset: nothing is written.
    await Tensor.randn([3, 13, 2]).softmax(1).cos().sum().data();
  });

  test('checkFinite names the tensors holding NaN or Inf', async () => {
    const x = Tensor.from([1, 0, -1, 4]);
    await checkFinite({ ok: x.add(1), sqrt: x.abs().sqrt() });
    await assert.rejects(checkFinite({ fine: x.mul(2), logits: x.log(), inv: Tensor.from([1, 2]).div(Tensor.from([1, 0])) }), (e: Error) => {
      assert.ok(e instanceof EngineError);
      assert.match(e.message, /logits log float32\[4\]: 1 NaN, 1 Inf \(first at flat index 1\)/);
      assert.match(e.message, /inv div float32\[2\]: 0 NaN, 1 Inf \(first at flat index 1\)/);
      assert.doesNotMatch(e.message, /fine/);
      return true;
    });
  });
});

describe('dropout', () => {
  const p = 0.25;
  const x = Tensor.ones([64, 64]);
  const mask = async (t: Tensor): Promise<Float32Array> => (await t.floats()) as Float32Array;

  test('a fresh mask each call, without recompiling; kept values scaled by 1/(1-p)', async () => {
    const first = await counting(() => mask(ops.dropout(x, p)));
    assert.ok(first.compiles <= 1);
    const masks = [first.value];
    for (let k = 0; k < 3; k++) {
      const r = await counting(() => mask(ops.dropout(x, p)));
      assert.equal(r.compiles, 0, 'a new seed is fed, not compiled in');
      masks.push(r.value);
    }
    for (let i = 0; i < masks.length; i++) {
      const m = masks[i]!;
      let dropped = 0;
      for (const v of m) {
        if (v === 0) dropped++;
        else assert.equal(v, Math.fround(1 / (1 - p)));
      }
      // 4096 Bernoulli(0.25) draws: the dropped fraction is within 0.04 of p (over 5 standard deviations).
      assert.ok(Math.abs(dropped / m.length - p) < 0.04, `mask ${i}: dropped ${dropped / m.length}`);
      for (let j = 0; j < i; j++) assert.notDeepEqual(m, masks[j], `masks ${j} and ${i} are equal`);
    }
    // Not training, or p = 0: the identity, no node.
    assert.equal(ops.dropout(x, p, { training: false }), x);
    assert.equal(ops.dropout(x, 0), x);
    assert.throws(() => ops.dropout(x, 1), /p must be in \[0, 1\)/);
  });

  test('reproducible with manualSeed, or with an explicit seed tensor', async () => {
    manualSeed(99);
    const a = await mask(ops.dropout(x, p));
    const b = await mask(ops.dropout(x, p));
    manualSeed(99);
    assert.deepEqual(await mask(ops.dropout(x, p)), a);
    assert.deepEqual(await mask(ops.dropout(x, p)), b);
    const seed = Tensor.scalar(12345n, 'int64');
    assert.deepEqual(await mask(ops.dropout(x, p, { seed })), await mask(ops.dropout(x, p, { seed })));
    // Gradients flow only through kept elements, with the same scale.
    const w = Tensor.randn([64, 64]);
    const s = Tensor.scalar(7n, 'int64');
    const [gw] = grad(ops.dropout(w, p, { seed: s }).sum(), [w]);
    assert.deepEqual(await gw!.floats(), await mask(ops.dropout(x, p, { seed: s })));
  });
});

describe('autograd contract', () => {
  test('gradients flow through a frozen weight to an earlier trainable one', async () => {
    const x = Tensor.from([[1, 2]]);
    const w1 = Tensor.from([[1, 0, 2], [0, 1, -1]]);   // trainable
    const w2 = Tensor.from([[1], [2], [3]]);           // frozen: not asked for
    const loss = x.matmul(w1).matmul(w2).sum();
    const [g1] = grad(loss, [w1]);
    // d/dw1 of x·w1·w2 = xᵀ w2ᵀ
    assert.deepEqual(await g1!.toArray(), [[1, 2, 3], [2, 4, 6]]);
    // The gradient graph computes nothing for the frozen weight: no [3, 1]-shaped matmul (w2's gradient) in it.
    assert.ok(!trace([g1!]).nodes.some((n) => n.op!.name === 'matmul' && n.shape.join() === w2.shape.join()));
    // Through a frozen non-linear layer too.
    const h = x.matmul(w1).tanh().matmul(w2).sum();
    const [gh] = grad(h, [w1]);
    const pre = [1, 2, 0]; // x·w1
    const expected = [[1], [2]].map(([xi]) => pre.map((p, j) => xi! * (1 - Math.tanh(p) ** 2) * (j + 1)));
    const got = await gh!.toArray() as number[][];
    got.flat().forEach((v, i) => assert.ok(Math.abs(v - expected.flat()[i]!) < 1e-6));
  });

  test('unused inputs get zeros, or null with allowUnused', async () => {
    const a = Tensor.from([1, 2, 3]);
    const unused = Tensor.from([[5, 5], [5, 5]], 'float64');
    const loss = a.mul(a).sum();
    const [ga, gu] = grad(loss, [a, unused]);
    assert.deepEqual(await ga!.toArray(), [2, 4, 6]);
    assert.deepEqual(gu!.shape, [2, 2]);
    assert.equal(gu!.dtype, 'float64');
    assert.deepEqual(await gu!.toArray(), [[0, 0], [0, 0]]);
    const [ga2, gu2] = grad(loss, [a, unused], { allowUnused: true });
    assert.ok(ga2 instanceof Tensor);
    assert.equal(gu2, null);
    // Only reachable through a stop-gradient: not used either.
    const [gs] = grad(a.detach().mul(2).sum(), [a], { allowUnused: true });
    assert.equal(gs, null);
  });

  test('gradients of broadcast inputs are reduced to their own shapes', async () => {
    const x = Tensor.from([[1, 2, 3], [4, 5, 6]]);        // [2, 3]
    const row = Tensor.from([10, 20, 30]);                // [3]
    const col = Tensor.from([[1], [2]]);                  // [2, 1]
    const s = Tensor.from(3);                             // []
    const loss = x.mul(row).add(col).mul(s).sum();
    const [gx, grow, gcol, gs] = grad(loss, [x, row, col, s]);
    assert.deepEqual(gx!.shape, [2, 3]);
    assert.deepEqual(grow!.shape, [3]);
    assert.deepEqual(gcol!.shape, [2, 1]);
    assert.deepEqual(gs!.shape, []);
    await realize([gx!, grow!, gcol!, gs!]);
    assert.deepEqual(await gx!.toArray(), [[30, 60, 90], [30, 60, 90]]);
    assert.deepEqual(await grow!.toArray(), [15, 21, 27]);
    assert.deepEqual(await gcol!.toArray(), [[9], [9]]);
    assert.equal(await gs!.item(), 10 + 40 + 90 + 40 + 100 + 180 + 3 * 3);
    // Size-1 dims in the middle, and a leading broadcast dim.
    const b = Tensor.randn([4, 1, 5]);
    const c = Tensor.randn([3, 1]);
    const [gb, gc] = grad(b.add(c).sum(), [b, c]);
    assert.deepEqual(gb!.shape, [4, 1, 5]);
    assert.deepEqual(gc!.shape, [3, 1]);
    assert.deepEqual(Array.from(await gb!.floats()), new Array(20).fill(3));
    assert.deepEqual(Array.from(await gc!.floats()), [20, 20, 20]);
  });

  test('a non-scalar output needs gradOutput', async () => {
    const x = Tensor.from([1, 2, 3]);
    const y = x.mul(x);
    assert.throws(() => grad(y, [x]), (e: Error) => e instanceof EngineError && /output has shape \[3\]; pass gradOutput/.test(e.message));
    const [gx] = grad(y, [x], { gradOutput: Tensor.from([1, 0, -1]) });
    assert.deepEqual(await gx!.toArray(), [2, 0, -6]);
    // A one-element output of any rank is fine, an integer output is not.
    assert.deepEqual(await grad(x.sum().reshape([1, 1]), [x])[0]!.toArray(), [1, 1, 1]);
    assert.throws(() => grad(x.argmax(), [x]), /float32 or float64, found int64/);
  });
});
