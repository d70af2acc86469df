/**
 * Padding-free packing (makeBatches with `packing`): best-fit-decreasing rows, positions restarting
 * at each document, per-document attention and labels; the packed loss and gradients against the
 * same examples unpacked (one padded row each), within 1e-5 (float32: the loss absolutely, each
 * gradient relative to its largest element), on a Llama with grouped-query heads and on a Qwen3
 * with q/k norms and sliding-window layers; and exact resume over packed batches.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Generator, Tensor, grad, realize } from '../../src/engine/index.ts';
import { MissConfig, getPeftModel } from '../../src/peft/index.ts';
import { IGNORE_INDEX, makeBatches, packBestFitDecreasing, type BatchableExample } from '../../src/train/data.ts';
import { Trainer, countLossTokens } from '../../src/train/trainer.ts';
import { ROOT, loadFixtureModel } from '../models/helpers.ts';

/** Examples of uneven lengths, the first third of each without loss (a prompt). */
function examples(count: number, vocab: number, seed: number, lengths: readonly number[]): BatchableExample[] {
  const g = new Generator(seed);
  return Array.from({ length: count }, (_, i) => {
    const n = lengths[i % lengths.length]!;
    const inputIds = Array.from({ length: n }, () => 3 + (g.nextUint32() % (vocab - 3)));
    const labels = inputIds.map((id, t) => (t < Math.floor(n / 3) ? IGNORE_INDEX : id));
    return { inputIds, labels };
  });
}

test('packBestFitDecreasing: longest first, each into the fullest row it fits, every item once, no row over capacity', () => {
  assert.deepEqual(packBestFitDecreasing([5, 3, 8, 2, 7, 4], 10), [[2, 3], [4, 1], [0, 5]]);
  const g = new Generator(9);
  const lengths = Array.from({ length: 500 }, () => 1 + (g.nextUint32() % 300));
  const bins = packBestFitDecreasing(lengths, 512);
  assert.deepEqual(bins.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
  for (const bin of bins) assert.ok(bin.reduce((n, i) => n + lengths[i]!, 0) <= 512);
  // Best fit leaves at most one row less than half full (two such rows would have been merged).
  assert.ok(bins.filter((b) => b.reduce((n, i) => n + lengths[i]!, 0) <= 256).length <= 1);
  assert.throws(() => packBestFitDecreasing([3, 11], 10), /cannot pack an example of 11 tokens into rows of 10/);
});

test('packed batches: documents back to back, positions restart, segment ids per document, no label across a document boundary', () => {
  const data = examples(5, 50, 1, [6, 3, 5, 2, 4]);
  const batches = makeBatches(data, { batchSize: 2, padTokenId: 0, maxLength: 10, packing: true, shuffle: false, bucketMultiple: 2 });
  assert.deepEqual(batches.rows, [[0, 4], [2, 1, 3]]);
  assert.equal(batches.batchesPerEpoch, 1);
  const [b] = batches.epochBatches(0);
  const ints = (t: Tensor | undefined): number[] => Array.from(t!.storage as BigInt64Array, Number);
  assert.deepEqual(b!.inputIds.shape, [2, 10]);
  assert.deepEqual(ints(b!.positionIds), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 1, 2, 3, 4, 0, 1, 2, 0, 1]);
  assert.deepEqual(ints(b!.segmentIds), [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3]);
  assert.deepEqual(ints(b!.attentionMask), new Array<number>(20).fill(1));
  assert.deepEqual(ints(b!.inputIds).slice(10, 20), [...data[2]!.inputIds, ...data[1]!.inputIds, ...data[3]!.inputIds]);
  const labels = ints(b!.labels);
  // Row 1: example 2's labels, then example 1's and 3's with their first label dropped.
  assert.deepEqual(labels.slice(10, 20), [...data[2]!.labels, IGNORE_INDEX, ...data[1]!.labels.slice(1), IGNORE_INDEX, ...data[3]!.labels.slice(1)]);
  assert.throws(() => makeBatches(data, { batchSize: 2, padTokenId: 0, packing: true }), /packing needs maxLength/);
});

for (const [name, dir] of [['Llama, grouped-query heads', 'llama-generate'], ['Qwen3, q/k norms and sliding-window layers', 'qwen3-sliding-layers']] as const) {
  test(`${name}: packed loss and adapter gradients equal the unpacked ones within 1e-5`, async () => {
    const base = await loadFixtureModel(join(ROOT, 'models', dir));
    const peft = getPeftModel(base, new MissConfig({ r: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'] }), 'default', { warn: () => undefined });
    // Non-zero adapter blocks, so that every adapter's gradient depends on the attention pattern.
    const params = peft.trainableParameters().map(([, p]) => p);
    const g = new Generator(5);
    for (const p of params) p.value = Tensor.fromData(Float32Array.from({ length: p.size }, () => 0.05 * g.normal()), p.shape);
    peft.train();
    const data = examples(7, base.config.vocab_size, 3, [9, 4, 13, 6, 2, 11, 7]);
    const unpacked = makeBatches(data, { batchSize: data.length, padTokenId: 0, shuffle: false, bucketMultiple: 1 }).epochBatches(0)[0]!;
    const packed = makeBatches(data, { batchSize: 4, padTokenId: 0, maxLength: 16, packing: true, shuffle: false, bucketMultiple: 1 }).epochBatches(0)[0]!;
    assert.ok(packed.inputIds.shape[0]! < data.length && packed.inputIds.size < unpacked.inputIds.size, 'packing makes fewer, fuller rows');
    const items = countLossTokens(unpacked.labels);
    assert.equal(countLossTokens(packed.labels), items);
    const run = (batch: typeof packed): { loss: Tensor; grads: Tensor[] } => {
      const { loss } = peft.forward({ ...batch, numItemsInBatch: items });
      return { loss: loss!, grads: grad(loss!, params.map((p) => p.value)) };
    };
    const a = run(unpacked);
    const b = run(packed);
    await realize([a.loss, b.loss, ...a.grads, ...b.grads]);
    assert.ok(Math.abs((await a.loss.item()) - (await b.loss.item())) < 1e-5, `loss ${await a.loss.item()} vs ${await b.loss.item()}`);
    for (let i = 0; i < params.length; i++) {
      const [x, y] = [await a.grads[i]!.floats(), await b.grads[i]!.floats()];
      let scale = 0;
      let diff = 0;
      for (let j = 0; j < x.length; j++) { scale = Math.max(scale, Math.abs(x[j]!)); diff = Math.max(diff, Math.abs(x[j]! - y[j]!)); }
      assert.ok(scale > 0 && diff / scale < 1e-5, `gradient ${i}: max |difference| ${diff} of ${scale}`);
    }
  });
}

test('a run over packed batches resumes from its checkpoint to the same adapter (1e-6)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-pack-'));
  try {
    const base = join(ROOT, 'models', 'llama-generate');
    const data = examples(24, 256, 8, [9, 4, 13, 6, 2, 11, 7, 15]);
    const train = async (opts: { maxSteps: number; outputDir?: string; resume?: boolean }): Promise<Float32Array[]> => {
      const peft = getPeftModel(await loadFixtureModel(base), new MissConfig({ r: 4, targetModules: ['q_proj', 'v_proj'] }), 'default', { warn: () => undefined });
      const batches = makeBatches(data, { batchSize: 2, padTokenId: 0, maxLength: 24, packing: true, seed: 4, bucketMultiple: 8 });
      assert.ok(batches.batchesPerEpoch >= 3);
      // Two epochs in 2 × batchesPerEpoch steps: the resumed part crosses an epoch boundary.
      const trainer = new Trainer(peft, batches, { lr: 1e-2, saveEvery: 3, saveTotalLimit: 5, ...opts });
      await trainer.run();
      return Promise.all(peft.trainableParameters().map(async ([, p]) => Float32Array.from(await p.value.floats())));
    };
    const steps = 2 * makeBatches(data, { batchSize: 2, padTokenId: 0, maxLength: 24, packing: true, bucketMultiple: 8 }).batchesPerEpoch;
    const straight = await train({ maxSteps: steps });
    await train({ maxSteps: 3, outputDir: dir });
    const resumed = await train({ maxSteps: steps, outputDir: dir, resume: true });
    straight.forEach((x, i) => {
      const d = Math.max(...x.map((v, j) => Math.abs(v - resumed[i]![j]!)));
      assert.ok(d < 1e-6, `parameter ${i}: ${d}`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
