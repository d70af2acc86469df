/** A tiny training setup shared by the trainer tests and the child process that the resume test kills. */
import { join } from 'node:path';
// Also the entry of a child process (the resume test), which gets no preloaded platform.
import '../../src/node/install.ts';
import { Generator, Tensor } from '../../src/engine/index.ts';
import type { CausalLM } from '../../src/models/index.ts';
import { MissConfig, getPeftModel, type PeftModel } from '../../src/peft/index.ts';
import { Trainer, type TrainBatch, type TrainData, type TrainerOptions } from '../../src/train/trainer.ts';
import { ROOT, loadFixtureModel } from '../models/helpers.ts';

/** Sequences that repeat a short random pattern: learnable by a small adapter. */
export function makeBatches(count: number, batch: number, seq: number, seed: number): TrainBatch[] {
  const g = new Generator(seed);
  return Array.from({ length: count }, () => {
    const ids = new BigInt64Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      const pattern = Array.from({ length: 4 }, () => 10 + (g.nextUint32() % 20));
      for (let t = 0; t < seq; t++) ids[b * seq + t] = BigInt(pattern[t % 4]!);
    }
    const labels = BigInt64Array.from(ids);
    for (let b = 0; b < batch; b++) labels[b * seq] = -100n;
    return {
      inputIds: Tensor.fromData(ids, [batch, seq]),
      attentionMask: Tensor.fromData(new BigInt64Array(batch * seq).fill(1n), [batch, seq]),
      labels: Tensor.fromData(labels, [batch, seq]),
    };
  });
}

/** Batches in a seeded order per epoch. */
export class ShuffledData implements TrainData {
  constructor(readonly batches: TrainBatch[], readonly seed = 0) {}
  epochBatches(epoch: number): readonly TrainBatch[] {
    const g = new Generator(this.seed * 1000 + epoch);
    const order = this.batches.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) { const j = g.nextUint32() % (i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
    return order.map((i) => this.batches[i]!);
  }
}

export async function tinyPeft(dropout = 0): Promise<PeftModel<CausalLM>> {
  const base = await loadFixtureModel(join(ROOT, 'reference', 'llama-miss-default', 'base'));
  return getPeftModel(base, new MissConfig({ r: 8, targetModules: 'all-linear', missDropout: dropout }), 'default', { warn: () => undefined });
}

export async function tinyTrainer(opts: TrainerOptions, dropout = 0.1): Promise<Trainer> {
  const peft = await tinyPeft(dropout);
  return new Trainer(peft, new ShuffledData(makeBatches(6, 2, 16, 1), 3), { lr: 1e-2, maxSteps: 8, warmupSteps: 2, schedule: 'cosine', ...opts });
}

// Run as a script: train into argv[2] with checkpoints every 2 steps (the resume test kills this process).
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const outputDir = process.argv[2]!;
  const slow = process.argv[3] === 'slow';
  const trainer = await tinyTrainer({
    outputDir, saveEvery: 2, resume: true,
    onEvent: (e) => { if (e.type === 'checkpoint') process.stdout.write(`checkpoint ${e.step}\n`); },
  });
  if (slow) {
    // Give the parent time to kill the run between checkpoints.
    const step = trainer.trainStep.bind(trainer);
    trainer.trainStep = async () => { await new Promise((r) => setTimeout(r, 150)); return step(); };
  }
  await trainer.run();
  await trainer.peft.savePretrained(join(outputDir, 'final'));
  process.stdout.write('done\n');
}
