import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tensor, engineStats } from '../../src/engine/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { Trainer, TrainingError, type TrainBatch } from '../../src/train/trainer.ts';
import { ShuffledData, makeBatches, tinyPeft, tinyTrainer } from './trainer-fixture.ts';

const here = new URL('.', import.meta.url).pathname;

test('training lowers the loss; evaluation reports a held-out loss; one compile per graph shape', async () => {
  const events: string[] = [];
  // The tiny random base model is near-uniform (loss ≈ ln 512 = 6.24): a few steps move it measurably, not far.
  const trainer = await tinyTrainer({ maxSteps: 12, lr: 2e-2, evalData: new ShuffledData(makeBatches(2, 2, 16, 99)), evalEvery: 6, onEvent: (e) => events.push(e.type) });
  const before = await trainer.evaluate();
  const compiles = engineStats.compiles;
  const result = await trainer.run();
  assert.equal(result.step, 12);
  assert.equal(result.reason, 'completed');
  const losses = result.history.map((h) => h.loss);
  const mean = (xs: number[]): number => xs.reduce((p, q) => p + q, 0) / xs.length;
  assert.ok(mean(losses.slice(-4)) < mean(losses.slice(0, 4)) - 0.15, `train loss ${losses.map((l) => l.toFixed(2)).join(' ')}`);
  assert.ok(result.finalEvalLoss! < before - 0.1, `eval loss ${before} → ${result.finalEvalLoss}`);
  assert.deepEqual(events.filter((e) => e === 'eval').length, 2);
  // a training step graph and an eval graph; schedules, item counts and dropout seeds are fed
  assert.ok(engineStats.compiles - compiles <= 2, `compiled ${engineStats.compiles - compiles} graphs`);
});

test('gradient accumulation over two micro-batches equals one step on both (num_items_in_batch)', async () => {
  const [a, b] = makeBatches(2, 2, 16, 7) as [TrainBatch, TrainBatch];
  // give the micro-batches different numbers of labels, so that averaging per micro-batch would differ
  const labels = Float64Array.from(await a.labels.floats()).map((v, i) => (i % 16 < 6 ? -100 : v));
  const a2 = { ...a, labels: Tensor.fromData(BigInt64Array.from(labels, (v) => BigInt(v)), [2, 16]) };
  const cat = (x: Tensor, y: Tensor): Tensor => Tensor.fromData(BigInt64Array.from([...(x.storage as BigInt64Array), ...(y.storage as BigInt64Array)]), [4, 16]);
  const both: TrainBatch = { inputIds: cat(a2.inputIds, b.inputIds), attentionMask: cat(a2.attentionMask, b.attentionMask), labels: cat(a2.labels, b.labels) };
  // SGD: the step is the gradient itself (Adam's first step g/|g| would magnify float32 noise in tiny gradients).
  const accumulated = new Trainer(await tinyPeft(), { epochBatches: () => [a2, b] }, { optimizer: 'sgd', lr: 1, maxSteps: 1, gradientAccumulationSteps: 2 });
  const single = new Trainer(await tinyPeft(), { epochBatches: () => [both] }, { optimizer: 'sgd', lr: 1, maxSteps: 1 });
  const r1 = await accumulated.trainStep();
  const r2 = await single.trainStep();
  assert.ok(Math.abs(r1.loss - r2.loss) < 1e-5, `loss ${r1.loss} vs ${r2.loss}`);
  for (let i = 0; i < accumulated.params.length; i++) {
    const x = await accumulated.params[i]![1].value.floats();
    const y = await single.params[i]![1].value.floats();
    let d = 0;
    for (let j = 0; j < x.length; j++) d = Math.max(d, Math.abs(x[j]! - y[j]!));
    assert.ok(d < 1e-6, `${accumulated.params[i]![0]}: ${d}`);
  }
});

test('a NaN loss stops the run with a message naming the step, without updating the adapter', async () => {
  const trainer = await tinyTrainer({ maxSteps: 3 });
  await trainer.trainStep();
  const [, p] = trainer.params[0]!;
  const poisoned = Float32Array.from(await p.value.floats());
  poisoned[0] = NaN;
  p.value = Tensor.fromData(poisoned, p.shape);
  await assert.rejects(trainer.trainStep(), (e: Error) => e instanceof TrainingError && /^step 2: the run diverged: the loss became NaN; the adapter was not updated/.test(e.message));
  assert.equal(trainer.step, 1);
});

test('a trainable tensor with a NaN stops the run before step 1, naming the tensor', async () => {
  const trainer = await tinyTrainer({ maxSteps: 2 });
  const [name, p] = trainer.params[1]!;
  const poisoned = Float32Array.from(await p.value.floats());
  poisoned[5] = NaN;
  p.value = Tensor.fromData(poisoned, p.shape);
  await assert.rejects(trainer.run(), (e: Error) => e instanceof TrainingError
    && e.message.includes(`the trainable parameters hold non-finite values before training starts:\n  ${name} float32[${p.shape.join(', ')}]: 1 NaN, 0 Inf (first at flat index 5)`));
  assert.equal(trainer.step, 0);
});

test('divergence: --lr 1e9 stops at step 1 with the tensor and its size; a usual run, at 2e-2, trips no limit', async () => {
  // AdamW's first step moves every weight by about lr: 1e9 here, while the loss stays finite.
  const trainer = await tinyTrainer({ maxSteps: 3, lr: 1e9, warmupSteps: 0, schedule: 'constant' });
  const before = await Promise.all(trainer.params.map(([, p]) => p.value.floats()));
  await assert.rejects(trainer.run(), (e: Error) => e instanceof TrainingError
    && /^step 1: the run diverged: the update would make base_model\.model\.\S+ reach \|value\| 1\.00e\+9, above 1000 .*the adapter was not updated\. Lower the learning rate \(1000000000;/.test(e.message));
  assert.equal(trainer.step, 0);
  const after = await Promise.all(trainer.params.map(([, p]) => p.value.floats()));
  assert.deepEqual(after, before, 'nothing was committed');
});

async function runChild(dir: string, killAfterCheckpoint?: number): Promise<'done' | 'killed'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'trainer-fixture.ts'), dir, killAfterCheckpoint ? 'slow' : 'fast'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAfterCheckpoint && out.includes(`checkpoint ${killAfterCheckpoint}\n`)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && out.includes('done')) resolve('done');
      else reject(new Error(`training child exited with ${code ?? signal}: ${out}`));
    });
  });
}

test('a run killed with SIGKILL resumes from its checkpoint and ends with the same adapter (1e-6)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bone-resume-'));
  try {
    const straight = join(root, 'straight');
    const resumed = join(root, 'resumed');
    assert.equal(await runChild(straight), 'done');
    assert.equal(await runChild(resumed, 4), 'killed');
    const left = await readdir(resumed);
    assert.ok(left.includes('checkpoint-4'), `checkpoints after the kill: ${left.join(', ')}`);
    assert.ok(!left.includes('final'));
    assert.equal(await runChild(resumed), 'done');
    const a = await readSafetensors(join(straight, 'final', 'adapter_model.safetensors'));
    const b = await readSafetensors(join(resumed, 'final', 'adapter_model.safetensors'));
    assert.deepEqual([...a.tensors.keys()], [...b.tensors.keys()]);
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k)!;
      let d = 0;
      for (let i = 0; i < t.data.length; i++) d = Math.max(d, Math.abs(Number(t.data[i]) - Number(u.data[i])));
      assert.ok(d < 1e-6, `${k}: ${d}`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an interrupt (AbortSignal) writes a checkpoint and stops', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-int-'));
  try {
    const ac = new AbortController();
    const trainer = await tinyTrainer({ outputDir: dir, signal: ac.signal, onEvent: (e) => { if (e.type === 'step' && e.step === 3) ac.abort(); } });
    const r = await trainer.run();
    assert.equal(r.reason, 'interrupted');
    assert.equal(r.step, 3);
    assert.deepEqual(await readdir(dir), ['checkpoint-3']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
