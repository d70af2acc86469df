import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Tensor, realize } from '../../src/engine/index.ts';
import { AdamW, SGD, clipGradNorm, type Trainable } from '../../src/train/optim.ts';
import { lrMultiplier } from '../../src/train/schedule.ts';

/** Made by scripts/make_optim_fixtures.py with torch 2.13 and transformers 5.18. */
const ref = JSON.parse(readFileSync(new URL('../fixtures/train/optim.json', import.meta.url), 'utf8')) as {
  shapes: number[][]; params0: number[][]; grads: number[][][]; lrs: number[];
  adamw: { betas: [number, number]; eps: number; weight_decay: number; trajectory: number[][][] };
  sgd: { momentum: number; weight_decay: number; trajectory: number[][][] };
  clip: { max_norm: number; grads: number[][]; total_norm: number; clipped: number[][] };
  schedules: { warmup: number; total: number; constant: number[]; linear: number[]; cosine: number[] };
};

const f32 = (xs: number[], shape: number[]): Tensor => Tensor.fromData(Float32Array.from(xs), shape);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function runOptimizer(make: (ps: Trainable[]) => AdamW | SGD, trajectory: number[][][]): Promise<void> {
  const params: Trainable[] = ref.params0.map((p, i) => ({ value: f32(p, ref.shapes[i]!) }));
  const opt = make(params);
  for (let step = 0; step < ref.grads.length; step++) {
    const pending = opt.update(ref.grads[step]!.map((g, i) => f32(g, ref.shapes[i]!)), ref.lrs[step]!);
    await realize(pending.tensors);
    pending.commit();
    for (let i = 0; i < params.length; i++) {
      // torch.optim, same float32 arithmetic: 1e-6 absolute (the reference tolerance for one AdamW step)
      const d = maxAbsDiff(await params[i]!.value.floats(), trajectory[step]![i]!);
      assert.ok(d < 1e-6, `step ${step + 1}, param ${i}: max |diff| ${d}`);
    }
  }
}

test('AdamW matches torch.optim.AdamW over 4 steps with a changing learning rate', async () => {
  const { betas, eps, weight_decay } = ref.adamw;
  await runOptimizer((ps) => new AdamW(ps, { betas, eps, weightDecay: weight_decay }), ref.adamw.trajectory);
});

test('SGD with momentum and weight decay matches torch.optim.SGD', async () => {
  await runOptimizer((ps) => new SGD(ps, { momentum: ref.sgd.momentum, weightDecay: ref.sgd.weight_decay }), ref.sgd.trajectory);
});

test('AdamW steps compile once: learning rate and bias corrections are fed, not embedded', async () => {
  const { engineStats } = await import('../../src/engine/index.ts');
  const params: Trainable[] = [{ value: Tensor.randn([4, 4]) }];
  const opt = new AdamW(params);
  let compilesAfterFirst = 0;
  for (let step = 0; step < 4; step++) {
    const pending = opt.update([Tensor.randn([4, 4])], 1e-3 * (step + 1));
    await realize(pending.tensors);
    pending.commit();
    if (step === 0) compilesAfterFirst = engineStats.compiles;
  }
  assert.equal(engineStats.compiles, compilesAfterFirst);
  assert.equal(opt.stepCount, 4);
});

test('clipGradNorm matches torch.nn.utils.clip_grad_norm_', async () => {
  const grads = ref.clip.grads.map((g, i) => f32(g, ref.shapes[i]!));
  const { grads: clipped, totalNorm } = clipGradNorm(grads, ref.clip.max_norm);
  await realize([...clipped, totalNorm]);
  assert.ok(Math.abs((await totalNorm.item()) - ref.clip.total_norm) < 1e-5);
  for (let i = 0; i < clipped.length; i++) assert.ok(maxAbsDiff(await clipped[i]!.floats(), ref.clip.clipped[i]!) < 1e-6);
  // below the threshold nothing changes
  const small = clipGradNorm([f32([0.1, 0.2], [2])], 10).grads[0]!;
  assert.deepEqual(Array.from(await small.floats()), Array.from(Float32Array.of(0.1, 0.2)));
});

test('schedules match transformers (constant, linear, cosine with warmup)', () => {
  const { warmup, total } = ref.schedules;
  for (const name of ['constant', 'linear', 'cosine'] as const) {
    ref.schedules[name].forEach((expected, step) => {
      const got = lrMultiplier(step, { name, warmupSteps: warmup, totalSteps: total });
      assert.ok(Math.abs(got - expected) < 1e-12, `${name} step ${step}: ${got} vs ${expected}`);
    });
  }
  assert.throws(() => lrMultiplier(5, { name: 'linear' }), /needs totalSteps/);
});

test('state() / loadState(): a second optimizer continued from the first\'s state takes the same steps; bad states are refused', async () => {
  for (const make of [(ps: Trainable[]) => new AdamW(ps, { weightDecay: 0.01 }), (ps: Trainable[]) => new SGD(ps, { momentum: 0.9 })]) {
    const fresh = (): Trainable[] => ref.params0.map((p, i) => ({ value: f32(p, ref.shapes[i]!) }));
    const step = async (opt: AdamW | SGD, k: number): Promise<void> => {
      const pending = opt.update(ref.grads[k]!.map((g, i) => f32(g, ref.shapes[i]!)), ref.lrs[k]!);
      await realize(pending.tensors);
      pending.commit();
    };
    const a = fresh();
    const first = make(a);
    await step(first, 0);
    await step(first, 1);
    const b = a.map((p) => ({ value: p.value }));
    const second = make(b);
    second.loadState(first.state());
    assert.equal(second.stepCount, 2);
    await step(first, 2);
    await step(second, 2);
    // the same float32 graph on the same inputs: identical
    for (let i = 0; i < a.length; i++) assert.equal(maxAbsDiff(await a[i]!.value.floats(), await b[i]!.value.floats()), 0);
    const state = first.state();
    const name = first.bufferNames[0]!;
    assert.throws(() => make(fresh()).loadState({ step: 1, buffers: { ...state.buffers, [name]: state.buffers[name]!.slice(1) } }),
      new RegExp(`expected ${a.length} "${name}" buffers \\(one per parameter\\), found ${a.length - 1}`));
    const wrongShape = state.buffers[name]!.map((t, i) => (i === 0 ? Tensor.zeros([1]) : t));
    assert.throws(() => make(fresh()).loadState({ step: 1, buffers: { ...state.buffers, [name]: wrongShape } }), /buffer 0 has shape \[1\], its parameter \[/);
  }
});
