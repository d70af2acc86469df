/**
 * Parity with Python PEFT on the reference cases (test/fixtures/reference, made by transformers 5.18 +
 * peft 0.21): loading PEFT's adapter onto the base model reproduces its logits, loss, gradients, one
 * AdamW step, merged weights and checkpoint files.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { grad, realize, type Tensor } from '../../src/engine/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import type { CausalLM } from '../../src/models/index.ts';
import { PeftModel } from '../../src/peft/index.ts';
import { AdamW } from '../../src/train/optim.ts';
import { ROOT, loadFixtureModel, maxAbsDiff, readTensors } from '../models/helpers.ts';

const CASES = (await readdir(join(ROOT, 'reference'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / den);
}

async function setup(name: string): Promise<{ dir: string; io: Map<string, Tensor>; peft: PeftModel<CausalLM>; warnings: string[] }> {
  const dir = join(ROOT, 'reference', name);
  const base = await loadFixtureModel(join(dir, 'base'));
  const warnings: string[] = [];
  const peft = await PeftModel.fromPretrained(base, join(dir, 'adapter'), { isTrainable: true, warn: (m) => warnings.push(m) });
  return { dir, io: await readTensors(join(dir, 'io.safetensors')), peft, warnings };
}

for (const name of CASES) {
  test(`${name}: logits, loss, gradients and one AdamW step match PEFT`, async () => {
    const { io, peft, warnings } = await setup(name);
    assert.deepEqual(warnings, []);
    peft.train();
    const out = peft.forward({ inputIds: io.get('input_ids')!, labels: io.get('labels')! });
    const trainable = peft.trainableParameters();
    const grads = grad(out.loss!, trainable.map(([, p]) => p.value));
    await realize([out.logits, out.loss!, ...grads]);

    // logits and loss: 1e-4 absolute (float32)
    assert.ok(maxAbsDiff(await out.logits.floats(), await io.get('logits_adapted')!.floats()) < 1e-4, 'logits_adapted');
    assert.ok(Math.abs((await out.loss!.item()) - (await io.get('loss_adapted')!.item())) < 1e-4, 'loss_adapted');
    // gradients: 1e-4 relative, for every adapter tensor PEFT differentiated
    const expectedGrads = [...io.keys()].filter((k) => k.startsWith('grad.'));
    assert.equal(trainable.length, expectedGrads.length);
    const savedName = (n: string): string => n.replace(/\.default(?=\.|$)/, '');
    for (let i = 0; i < trainable.length; i++) {
      const key = `grad.${savedName(trainable[i]![0])}`;
      assert.ok(io.has(key), `no reference for ${key}`);
      const err = relativeError(await grads[i]!.floats(), await io.get(key)!.floats());
      assert.ok(err < 1e-4, `${key}: relative error ${err}`);
    }
    // One AdamW step from PEFT's gradients (as the reference was made): 1e-6 absolute. Feeding our
    // own gradients instead would let their float32 noise through Adam's g/|g| first step.
    const opt = new AdamW(trainable.map(([, p]) => p), { weightDecay: 0.1, betas: [0.9, 0.999], eps: 1e-8 });
    const step = opt.update(trainable.map(([n]) => io.get(`grad.${savedName(n)}`)!), 1e-2);
    await realize(step.tensors);
    step.commit();
    for (const [n, p] of trainable) {
      const key = `after_adamw.${savedName(n)}`;
      const d = maxAbsDiff(await p.value.floats(), await io.get(key)!.floats());
      assert.ok(d < 1e-6, `${key}: max |diff| ${d}`);
    }
  });

  test(`${name}: merging matches PEFT's merge_and_unload; saving reproduces PEFT's files`, async () => {
    const { dir, peft } = await setup(name);
    const tmp = await mkdtemp(join(tmpdir(), 'bone-ref-'));
    try {
      // saved tensors: exactly PEFT's
      await peft.savePretrained(tmp);
      const ours = await readSafetensors(join(tmp, 'adapter_model.safetensors'));
      const theirs = await readSafetensors(join(dir, 'adapter', 'adapter_model.safetensors'));
      assert.deepEqual(ours.metadata, { format: 'pt' });
      assert.deepEqual([...ours.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
      for (const [k, t] of theirs.tensors) assert.deepEqual(ours.tensors.get(k), t, k);
      // config: the same JSON text PEFT wrote
      assert.equal(await readFile(join(tmp, 'adapter_config.json'), 'utf8'), await readFile(join(dir, 'adapter', 'adapter_config.json'), 'utf8'));

      const isBat = JSON.parse(await readFile(join(dir, 'case.json'), 'utf8')).adapter.init === 'bat';
      const baseWeights = new Map([...peft.model.stateDict()].filter(([k]) => !k.includes('_block') && !k.includes('lora_')));
      if (isBat) {
        // BAT unmerge restores the base within 1e-5
        await peft.mergeAdapter();
        await peft.unmergeAdapter();
        for (const [k, w] of peft.model.stateDict()) {
          const key = k.replace('.base_layer', '');
          if (k.includes('_block')) continue;
          const before = baseWeights.get(k) ?? baseWeights.get(key);
          assert.ok(maxAbsDiff(await w.floats(), await before!.floats()) < 1e-5, `unmerged ${k}`);
        }
      }
      const merged = await peft.mergeAndUnload();
      const expected = await readTensors(join(dir, 'merged', 'model.safetensors'));
      const got = merged.stateDict();
      assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
      for (const [k, t] of expected) {
        const d = maxAbsDiff(await got.get(k)!.floats(), await t.floats());
        assert.ok(d < 1e-5, `merged ${k}: max |diff| ${d}`);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}
