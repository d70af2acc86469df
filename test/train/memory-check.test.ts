/**
 * The memory check before training (src/train/memory-check.ts): the host's memory as the kernel
 * reports it, a step's estimate from its graph (it grows with the batch, shrinks with gradient
 * checkpointing, and leaves dropout's generator untouched), and the verdict against a given host.
 */
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getDefaultGenerator, manualSeed } from '../../src/engine/index.ts';
import { MissConfig, getPeftModel } from '../../src/peft/index.ts';
import { hostMemory } from '../../src/node/host-memory.ts';
import { CLOSE_SHARE, checkTrainingMemory, estimateTrainingStep, estimateWithCheckpointing } from '../../src/train/memory-check.ts';
import { ROOT, loadFixtureModel } from '../models/helpers.ts';

test('hostMemory: the machine total, what is available to this process, its own resident memory', () => {
  const h = hostMemory();
  assert.equal(h.totalBytes, totalmem());
  assert.ok(h.availableBytes > 0 && h.availableBytes <= h.totalBytes);
  assert.ok(h.processBytes > 10 * 2 ** 20 && h.processBytes < h.totalBytes);
  assert.ok(h.limitBytes === null || h.limitBytes < h.totalBytes);
});

test('a step\'s estimate grows with the batch, shrinks with gradient checkpointing, leaves the generator as it was; the verdict against a host', async () => {
  const peft = getPeftModel(await loadFixtureModel(join(ROOT, 'models', 'llama-generate')), new MissConfig({ r: 4, targetModules: ['q_proj', 'v_proj'], missDropout: 0.1 }), 'default', { warn: () => undefined });
  manualSeed(3);
  const rng = getDefaultGenerator().getState();
  const base = { baseBytes: 0 };
  const small = estimateTrainingStep(peft, [1, 64], base);
  const large = estimateTrainingStep(peft, [4, 128], base);
  assert.deepEqual(getDefaultGenerator().getState(), rng, 'dropout seeds drawn while building are given back');
  assert.ok(small.graphPeakBytes > 0 && large.graphPeakBytes > 4 * small.graphPeakBytes, `${small.graphPeakBytes} → ${large.graphPeakBytes}`);
  assert.ok(large.processPeakBytes >= large.graphPeakBytes);
  assert.ok(estimateWithCheckpointing(peft, [4, 128], base).graphPeakBytes < large.graphPeakBytes);
  assert.equal(peft.model.modules().some((m) => (m as { gradientCheckpointing?: boolean }).gradientCheckpointing === true), false, 'checkpointing is switched back off');
  // Packed rows (position and segment ids) cost about what padded rows do.
  const packed = estimateTrainingStep(peft, [4, 128], { ...base, packing: true });
  assert.ok(Math.abs(packed.graphPeakBytes - large.graphPeakBytes) < 0.1 * large.graphPeakBytes);

  const need = large.processPeakBytes;
  const host = (available: number) => ({ totalBytes: 2 * need, availableBytes: available, limitBytes: null, processBytes: 0 });
  // The largest shape decides, whichever comes first.
  assert.equal(checkTrainingMemory(peft, [[1, 64], [4, 128]], { host: host(2 * need) }).verdict, 'fits');
  assert.deepEqual(checkTrainingMemory(peft, [[4, 128], [1, 64]], { host: host(2 * need) }).estimate.shape, [4, 128]);
  assert.equal(checkTrainingMemory(peft, [[4, 128]], { host: host(Math.ceil(need / CLOSE_SHARE) - 1) }).verdict, 'close');
  assert.equal(checkTrainingMemory(peft, [[4, 128]], { host: host(need - 1) }).verdict, 'too-large');
});
