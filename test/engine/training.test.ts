/**
 * End-to-end training through the engine alone: hand-written optimizers where each step is ONE
 * realize call returning [loss, new params..., new moments...]; the parameters and moments are
 * detached realised leaves fed into the next step, so every step of one shape runs one compiled graph.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator, Tensor, engineStats, grad, ops, realize } from '../../src/engine/index.ts';

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

// ---- a tiny MLP, SGD ------------------------------------------------------------------------------

interface Mlp { w1: Tensor; b1: Tensor; w2: Tensor; b2: Tensor }

/** XOR-like: label +1 where x·y > 0, −1 elsewhere, points uniform in [−1, 1]². */
function xorBatch(g: Generator, n: number): { x: Tensor; y: Tensor } {
  const x = new Float32Array(2 * n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = 2 * g.uniform() - 1;
    const b = 2 * g.uniform() - 1;
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = a * b > 0 ? 1 : -1;
  }
  return { x: Tensor.fromData(x, [n, 2]), y: Tensor.fromData(y, [n, 1]) };
}

function mlpLogits(p: Mlp, x: Tensor): Tensor {
  return x.matmul(p.w1).add(p.b1).tanh().matmul(p.w2).add(p.b2);
}

/** One SGD step, all lazy: [loss, w1', b1', w2', b2']. */
function sgdStep(p: Mlp, x: Tensor, y: Tensor, lr: Tensor): Tensor[] {
  // Logistic loss log(1 + exp(−y·z)), written with the engine's elementwise ops.
  const loss = ops.neg(y).mul(mlpLogits(p, x)).exp().add(1).log().mean();
  const params = [p.w1, p.b1, p.w2, p.b2];
  const grads = grad(loss, params);
  return [loss, ...params.map((w, i) => w.sub(grads[i]!.mul(lr)))];
}

test('a 2 → 16 → 1 MLP learns an XOR-like classification with SGD, one compiled graph per batch shape', async () => {
  const g = new Generator(11);
  let p: Mlp = {
    w1: Tensor.randn([2, 16], { std: 1, generator: g }),
    b1: Tensor.zeros([16]),
    w2: Tensor.randn([16, 1], { std: 0.25, generator: g }),
    b2: Tensor.zeros([1]),
  };
  const lr = Tensor.scalar(0.5); // fed, so that a schedule could change it without recompiling
  const compiles0 = engineStats.compiles;
  const runs0 = engineStats.runs;
  const losses: number[] = [];
  const steps = 400;
  for (let s = 0; s < steps; s++) {
    const { x, y } = xorBatch(g, 64);
    const out = sgdStep(p, x, y, lr);
    await realize(out);
    const [loss, w1, b1, w2, b2] = out.map((t) => t.detach()) as [Tensor, Tensor, Tensor, Tensor, Tensor];
    losses.push(await loss.item());
    p = { w1, b1, w2, b2 };
  }
  assert.equal(engineStats.compiles - compiles0, 1, 'all steps of one batch shape share one compiled graph');
  assert.equal(engineStats.runs - runs0, steps, 'one run per step');

  // The loss starts near log 2 and falls by more than a factor of 3.
  const first = mean(losses.slice(0, 10));
  const last = mean(losses.slice(-20));
  assert.ok(first > 0.6, `initial loss ${first}`);
  assert.ok(last < first / 3, `loss ${first.toFixed(3)} → ${last.toFixed(3)}: expected below a third`);
  // Held-out accuracy above 90% (ties at the axes are rare).
  const test = xorBatch(new Generator(12345), 512);
  const z = await mlpLogits(p, test.x).floats();
  const yt = test.y.storage as Float32Array;
  let correct = 0;
  for (let i = 0; i < yt.length; i++) if (Math.sign(z[i]!) === yt[i]) correct++;
  assert.ok(correct / yt.length > 0.9, `accuracy ${correct / yt.length}`);

  // A different batch shape: exactly one more compilation, however many steps.
  const compiles1 = engineStats.compiles;
  for (let s = 0; s < 3; s++) {
    const { x, y } = xorBatch(g, 32);
    const out = sgdStep(p, x, y, lr);
    await realize(out);
    const [, w1, b1, w2, b2] = out.map((t) => t.detach()) as [Tensor, Tensor, Tensor, Tensor, Tensor];
    p = { w1, b1, w2, b2 };
  }
  assert.equal(engineStats.compiles - compiles1, 1);
});

// ---- a two-layer causal transformer, Adam -------------------------------------------------------------

const V = 16;     // vocabulary
const T = 16;     // sequence length
const B = 4;      // batch
const D = 32;     // model width
const H = 4;      // query heads
const HKV = 2;    // key/value heads (grouped-query attention)
const HD = D / H; // head dim
const F = 64;     // MLP width
const PERIOD = 4; // each sequence repeats a random pattern of this length

type Params = Record<string, Tensor>;

function initTransformer(g: Generator): Params {
  const w = (shape: number[], fanIn: number): Tensor => Tensor.randn(shape, { std: 1 / Math.sqrt(fanIn), generator: g });
  const p: Params = {
    embed: Tensor.randn([V, D], { std: 1, generator: g }),
    pos: Tensor.randn([T, D], { std: 1, generator: g }),
    final_norm: Tensor.ones([D]),
    head: w([D, V], D), // untied from the embedding
  };
  for (let l = 0; l < 2; l++) {
    Object.assign(p, {
      [`l${l}.attn_norm`]: Tensor.ones([D]),
      [`l${l}.q`]: w([D, H * HD], D),
      [`l${l}.k`]: w([D, HKV * HD], D),
      [`l${l}.v`]: w([D, HKV * HD], D),
      [`l${l}.o`]: w([H * HD, D], H * HD),
      [`l${l}.mlp_norm`]: Tensor.ones([D]),
      [`l${l}.gate`]: w([D, F], D),
      [`l${l}.up`]: w([D, F], D),
      [`l${l}.down`]: w([F, D], F),
    });
  }
  return p;
}

function transformerLoss(p: Params, ids: Tensor, targets: Tensor): Tensor {
  const [b, t] = ids.shape as [number, number];
  let x = ops.embedding(p.embed!, ids).add(p.pos!.slice(0, 0, t)); // [b, t, D]
  const heads = (y: Tensor, n: number): Tensor => y.reshape([b, t, n, HD]).transpose(1, 2); // [b, n, t, HD]
  for (let l = 0; l < 2; l++) {
    const h = ops.rmsNorm(x, p[`l${l}.attn_norm`]!);
    const q = heads(h.matmul(p[`l${l}.q`]!), H);
    const k = heads(h.matmul(p[`l${l}.k`]!), HKV);
    const v = heads(h.matmul(p[`l${l}.v`]!), HKV);
    const a = ops.scaledDotProductAttention(q, k, v, { causal: true }).transpose(1, 2).reshape([b, t, H * HD]);
    x = x.add(a.matmul(p[`l${l}.o`]!));
    const m = ops.rmsNorm(x, p[`l${l}.mlp_norm`]!);
    x = x.add(m.matmul(p[`l${l}.gate`]!).silu().mul(m.matmul(p[`l${l}.up`]!)).matmul(p[`l${l}.down`]!));
  }
  const logits = ops.rmsNorm(x, p.final_norm!).matmul(p.head!);
  return ops.crossEntropy(logits, targets);
}

/** Sequences of T + 1 tokens repeating a random pattern of PERIOD tokens; inputs are the first T, targets the last T. */
function repeatBatch(g: Generator, b: number): { ids: Tensor; targets: Tensor } {
  const ids = new BigInt64Array(b * T);
  const targets = new BigInt64Array(b * T);
  for (let i = 0; i < b; i++) {
    const pattern = Array.from({ length: PERIOD }, () => BigInt(Math.floor(g.uniform() * V)));
    for (let j = 0; j < T; j++) {
      ids[i * T + j] = pattern[j % PERIOD]!;
      targets[i * T + j] = pattern[(j + 1) % PERIOD]!;
    }
  }
  return { ids: Tensor.fromData(ids, [b, T]), targets: Tensor.fromData(targets, [b, T]) };
}

interface AdamState { params: Params; m: Params; v: Params }

const BETA1 = 0.9;
const BETA2 = 0.98;
const EPS = 1e-8;

/**
 * One Adam step, all lazy: [loss, new params..., new first moments..., new second moments...].
 * The bias corrections change every step, so they are fed scalars; the betas are embedded constants.
 */
function adamStep(s: AdamState, names: readonly string[], ids: Tensor, targets: Tensor, lr: number, step: number): Tensor[] {
  const loss = transformerLoss(s.params, ids, targets);
  const grads = grad(loss, names.map((n) => s.params[n]!));
  const stepSize = Tensor.scalar(lr / (1 - BETA1 ** step));
  const bc2 = Tensor.scalar(1 - BETA2 ** step);
  const newP: Tensor[] = [];
  const newM: Tensor[] = [];
  const newV: Tensor[] = [];
  names.forEach((n, i) => {
    const gi = grads[i]!;
    const m = s.m[n]!.mul(BETA1).add(gi.mul(1 - BETA1));
    const v = s.v[n]!.mul(BETA2).add(gi.mul(gi).mul(1 - BETA2));
    newP.push(s.params[n]!.sub(m.mul(stepSize).div(v.div(bc2).sqrt().add(EPS))));
    newM.push(m);
    newV.push(v);
  });
  return [loss, ...newP, ...newM, ...newV];
}

test('a two-layer causal GQA transformer learns a repeating-sequence task with Adam, one compiled graph per shape', async () => {
  const g = new Generator(2025);
  const params = initTransformer(g);
  const names = Object.keys(params);
  const zeros = (): Params => Object.fromEntries(names.map((n) => [n, Tensor.zeros(params[n]!.shape)]));
  let state: AdamState = { params, m: zeros(), v: zeros() };
  const k = names.length;

  const compiles0 = engineStats.compiles;
  const runs0 = engineStats.runs;
  const losses: number[] = [];
  const steps = 150;
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const { ids, targets } = repeatBatch(g, B);
    const out = adamStep(state, names, ids, targets, 1e-2, step);
    await realize(out); // the whole step: forward, backward, update
    const d = out.map((t) => t.detach());
    losses.push(await d[0]!.item());
    const pick = (from: number): Params => Object.fromEntries(names.map((n, i) => [n, d[from + i]!]));
    state = { params: pick(1), m: pick(1 + k), v: pick(1 + 2 * k) };
  }
  const ms = performance.now() - t0;
  assert.equal(engineStats.compiles - compiles0, 1, `${steps} steps of one shape compiled ${engineStats.compiles - compiles0} graphs`);
  assert.equal(engineStats.runs - runs0, steps, 'one run per step');

  // Chance is ln 16 ≈ 2.77; a model that does not copy from PERIOD tokens back cannot beat it.
  // Copying makes 13 of the 16 targets predictable, a floor of about 3/16 · ln 16 ≈ 0.52.
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-10));
  assert.ok(first > 2.3, `initial loss ${first}`);
  assert.ok(last < 1.0, `loss ${first.toFixed(3)} → ${last.toFixed(3)} (${(ms / steps).toFixed(1)} ms/step): expected below 1.0`);

  // Another batch size: one more compilation for any number of steps.
  const compiles1 = engineStats.compiles;
  for (let step = steps + 1; step <= steps + 2; step++) {
    const { ids, targets } = repeatBatch(g, 2);
    const out = adamStep(state, names, ids, targets, 1e-2, step);
    await realize(out);
    const d = out.map((t) => t.detach());
    const pick = (from: number): Params => Object.fromEntries(names.map((n, i) => [n, d[from + i]!]));
    state = { params: pick(1), m: pick(1 + k), v: pick(1 + 2 * k) };
  }
  assert.equal(engineStats.compiles - compiles1, 1);
});
