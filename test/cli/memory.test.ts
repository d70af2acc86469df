/**
 * bone train's memory check (src/cli/memory.ts) against hosts with chosen amounts of memory: a step
 * that does not fit is refused with the settings that would fit and their estimates, one that comes
 * close is trained with a warning.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.ts';
import { checkMemoryBeforeTraining } from '../../src/cli/memory.ts';
import { MissConfig, getPeftModel } from '../../src/peft/index.ts';
import { CLOSE_SHARE, estimateTrainingStep, estimateWithCheckpointing } from '../../src/train/memory-check.ts';
import { ROOT, loadFixtureModel } from '../models/helpers.ts';

test('too large: the error names the estimate, the memory available and the settings that fit; close: a warning', async () => {
  const peft = getPeftModel(await loadFixtureModel(join(ROOT, 'models', 'llama-generate')), new MissConfig({ r: 4, targetModules: ['q_proj', 'v_proj'] }), 'default', { warn: () => undefined });
  const base = { baseBytes: 0 };
  const full = estimateTrainingStep(peft, [8, 256], base).processPeakBytes;
  const shorter = estimateTrainingStep(peft, [8, 128], base).processPeakBytes;
  const smaller = estimateTrainingStep(peft, [4, 256], base).processPeakBytes;
  const checkpointed = estimateWithCheckpointing(peft, [8, 256], base).processPeakBytes;
  assert.ok(shorter < full && smaller < full && checkpointed < full);
  // Room for a shorter or smaller batch (within the 85 % the check keeps as a margin), not for the
  // step; checkpointing this 2-layer model saves too little to fit (its peak is one attention block).
  const available = Math.ceil(Math.max(shorter, smaller) / CLOSE_SHARE);
  assert.ok(available < full && checkpointed > CLOSE_SHARE * available, 'the fixture leaves a gap between the step and its alternatives');
  const host = { totalBytes: 8 * 2 ** 30, availableBytes: available, limitBytes: null, processBytes: 0 };
  const settings = { batchSize: 8, gradAccum: 1 };
  assert.throws(() => checkMemoryBeforeTraining(peft, [[8, 256]], settings, () => undefined, host), (e: unknown) => {
    const m = (e as Error).message;
    return e instanceof UsageError && /a training step on a batch of 8 × 256 tokens needs about/.test(m) && /of the machine's 8\.00 GiB/.test(m)
      && /These would fit: --max-length 128 \(about [\d.]+ MiB\); --batch-size 4 --grad-accum 2 \(the same step in micro-batches; about [\d.]+ MiB\)\./.test(m);
  });
  const warnings: string[] = [];
  const close = checkMemoryBeforeTraining(peft, [[8, 256]], { ...settings, gradientCheckpointing: true }, (w) => warnings.push(w), { ...host, availableBytes: Math.ceil(full / CLOSE_SHARE) - 1 });
  // (With checkpointing already on, it is not offered again.)
  assert.equal(close.verdict, 'close');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^a training step on a batch of 8 × 256 tokens needs about [\d.]+ MiB \(estimated from the step's graph before it runs\), close to the memory available: .*; if the run is killed, use --max-length 128 .*--batch-size 4 --grad-accum 2/);
  assert.doesNotMatch(warnings[0]!, /--gradient-checkpointing/);
});
