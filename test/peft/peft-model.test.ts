/** PeftModel behaviour on PEFT's own test model (tests/test_custom_models.py's MLP: Linear(10, 20) → ReLU → Linear(20, 2)). */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Generator, Tensor, grad, realize } from '../../src/engine/index.ts';
import { Linear, Module } from '../../src/nn/index.ts';
import { BoneConfig, LoraConfig, MissConfig, PeftError, PeftModel, getPeftModel } from '../../src/peft/index.ts';
import { AdamW, SGD } from '../../src/train/optim.ts';

class MLP extends Module {
  readonly config = { model_type: 'mlp' };
  lin0: Linear;
  lin1: Linear;
  constructor(seed = 0) {
    super();
    const generator = new Generator(seed);
    this.lin0 = this.registerModule('lin0', new Linear(10, 20, { generator }));
    this.lin1 = this.registerModule('lin1', new Linear(20, 2, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.lin1.forward(this.lin0.forward(x).relu()).logSoftmax(-1);
  }
}

const X = Tensor.fromData(Float32Array.from({ length: 90 }, (_, i) => i / 90), [9, 10]);
const quiet = { warn: () => undefined };

async function values(t: Tensor): Promise<Float32Array> { return (await t.floats()) as Float32Array; }
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Random blocks, so that the adapter is not the identity (PEFT's init_weights=False in tests). */
async function randomizeAdapters(peft: PeftModel, seed: number, std = 0.1): Promise<void> {
  const g = new Generator(seed);
  for (const [, layer] of peft.adapterLayers()) for (const n of layer.adapterNames()) for (const p of layer.adapterParameters(n)) {
    p.value = Tensor.randn(p.shape, { std, generator: g });
  }
}

test('zero-initialised adapters are the identity in every mode', async () => {
  const base = await values(new MLP().forward(X));
  for (const initWeights of [true, 'bat', 'mini'] as const) {
    const peft = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0', 'lin1'], initWeights, miniR: 2 }), 'default', quiet);
    assert.ok(maxAbs(await values(peft.forward(X)), base) === 0, `${String(initWeights)} is the identity`);
  }
});

test('only adapter tensors are trainable; printTrainableParameters counts them', () => {
  const peft = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'] }), 'default', quiet);
  assert.deepEqual(peft.trainableParameters().map(([n]) => n), ['base_model.model.lin0.miss_block.default']);
  const lines: string[] = [];
  const { trainable, all } = peft.printTrainableParameters((l) => lines.push(l));
  assert.equal(trainable, 2 * 20);
  assert.equal(all, 10 * 20 + 20 + 20 * 2 + 2 + 40); // 302
  assert.equal(lines[0], 'trainable params: 40 || all params: 302 || trainable%: 13.2450');
});

test('layer validation: BAT needs r | in and r | out, mini needs mini_r | out; non-Linear targets are refused', () => {
  assert.throws(() => getPeftModel(new MLP(), new MissConfig({ r: 4, targetModules: ['lin1'], initWeights: 'bat' }), 'default', quiet),
    /The weight matrix must be fully divisible into \[r, r\] blocks/);
  assert.throws(() => getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'], initWeights: 'mini', miniR: 3 }), 'default', quiet),
    /mini_r is divided along the out_features dimension.*20 % mini_r != 0/);
  class Wrapper extends MLP { inner = this.registerModule('inner', new Module()); }
  assert.throws(() => getPeftModel(new Wrapper(), new MissConfig({ r: 2, targetModules: ['inner'] }), 'default', quiet),
    /Target module inner \(Module\) is not supported. Currently, only `Linear` is supported./);
});

test('multiple adapters: active sets add up, delete, disable; modes mixed on one layer', async () => {
  const base = await values(new MLP().forward(X));
  const peft = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'] }), 'a', quiet);
  peft.addAdapter('b', new MissConfig({ r: 2, targetModules: ['lin0'], initWeights: 'bat' }));
  peft.addAdapter('c', new MissConfig({ r: 2, targetModules: ['lin0', 'lin1'], initWeights: 'mini', miniR: 2 }));
  await randomizeAdapters(peft, 1);
  // a new adapter is inactive and frozen
  assert.deepEqual(peft.activeAdapters, ['a']);
  assert.deepEqual(peft.trainableParameters().map(([n]) => n), ['base_model.model.lin0.miss_block.a']);
  const outA = await values(peft.forward(X));
  peft.setAdapter('b');
  const outB = await values(peft.forward(X));
  peft.setAdapter(['a', 'b', 'c']);
  assert.deepEqual(peft.trainableParameters().map(([n]) => n).sort(),
    ['base_model.model.lin0.miss_block.a', 'base_model.model.lin0.miss_block.b', 'base_model.model.lin0.miss_block.c', 'base_model.model.lin1.miss_block.c']);
  const outAll = await values(peft.forward(X));
  assert.ok(maxAbs(outA, base) > 1e-4 && maxAbs(outB, base) > 1e-4 && maxAbs(outA, outB) > 1e-4 && maxAbs(outAll, outA) > 1e-4, 'adapters change the output, each differently');

  // merged == unmerged forward with all three active (BAT chained first, then the additive ones)
  await peft.mergeAdapter();
  assert.ok(maxAbs(await values(peft.forward(X)), outAll) < 1e-5, 'merged == unmerged');
  await peft.unmergeAdapter();
  assert.ok(maxAbs(await values(peft.forward(X)), outAll) < 1e-5, 'unmerged again');

  // disabled == base, and back
  const disabled = await peft.withAdaptersDisabled(async () => values(peft.forward(X)));
  assert.ok(maxAbs(disabled, base) < 1e-6, 'disabled == base');
  assert.ok(maxAbs(await values(peft.forward(X)), outAll) < 1e-6, 'enabled again');

  // delete an active adapter: the others stay active
  peft.deleteAdapter('b');
  assert.deepEqual(peft.activeAdapters, ['a', 'c']);
  assert.throws(() => peft.deleteAdapter('b'), /Adapter b does not exist/);
  // delete the last active ones: the first remaining name (sorted) becomes active, with PEFT's warning
  const warnings: string[] = [];
  const p2 = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'] }), 'x', { warn: (m) => warnings.push(m) });
  p2.addAdapter('w', new MissConfig({ r: 2, targetModules: ['lin0'] }));
  p2.deleteAdapter('x');
  assert.deepEqual(p2.activeAdapters, ['w']);
  assert.match(warnings.join('\n'), /Adapter x was active which is now deleted. Setting active adapter to w./);
  assert.throws(() => p2.setAdapter('nope'), /Adapter nope not found/);
  assert.throws(() => p2.addAdapter('w', new MissConfig({ r: 2, targetModules: ['lin0'] })), /Adapter with name w already exists/);
  assert.throws(() => p2.addAdapter('l', new LoraConfig({ r: 2, targetModules: ['lin0'] })), /mixing adapter types is not supported/);
});

test('merge is idempotent with a warning; safe merge with a NaN throws and leaves the base weight untouched', async () => {
  const warnings: string[] = [];
  const peft = getPeftModel(new MLP(), new MissConfig({ r: 3, targetModules: ['lin0'] }), 'default', { warn: (m) => warnings.push(m) });
  await randomizeAdapters(peft, 2);
  const unmerged = await values(peft.forward(X));
  await peft.mergeAdapter();
  const once = await values(peft.forward(X));
  await peft.mergeAdapter();
  assert.match(warnings.join('\n'), /All adapters are already merged, nothing to do./);
  assert.ok(maxAbs(await values(peft.forward(X)), once) === 0, 'second merge changes nothing');
  assert.ok(maxAbs(once, unmerged) < 1e-5, 'merged == unmerged');
  await peft.unmergeAdapter();

  // a NaN in the block (10 % 3 != 0: the partial strip path that PEFT ≤ 0.19 mutated in place)
  const layer = peft.adapterLayers()[0]![1];
  const block = layer.adapterParameters('default')[0]!;
  const data = Float32Array.from(await block.value.floats());
  data[0] = NaN;
  block.value = Tensor.fromData(data, block.shape);
  const before = await values(layer.base_layer.weight.value);
  await assert.rejects(peft.mergeAdapter(undefined, { safeMerge: true }), (e: Error) => e instanceof PeftError && /NaNs detected in the merged weights. The adapter default seems to be broken/.test(e.message));
  assert.deepEqual(await values(layer.base_layer.weight.value), before);
  assert.equal(layer.merged, false);
});

test('30 AdamW steps with a Bone adapter reduce the loss; only adapter tensors change, base weights stay bit-identical', async () => {
  const model = new MLP(3);
  const baseState = new Map([...model.stateDict()].map(([k, t]) => [k, Float32Array.from(t.storage as Float32Array)]));
  const peft = getPeftModel(model, new BoneConfig({ r: 2, targetModules: ['lin0', 'lin1'] }), 'default', quiet);
  const target = Tensor.fromData(BigInt64Array.from({ length: 9 }, (_, i) => BigInt(i < 5 ? 1 : 0)), [9]);
  const params = peft.trainableParameters();
  const opt = new AdamW(params.map(([, p]) => p), { weightDecay: 0.01 });
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) {
    const logp = peft.forward(X);
    const loss = logp.gather(1, target.unsqueeze(1)).mean().neg();
    const pending = opt.update(grad(loss, params.map(([, p]) => p.value)), 5e-2);
    await realize([loss, ...pending.tensors]);
    pending.commit();
    losses.push(await loss.item());
  }
  assert.ok(losses[29]! < losses[0]! * 0.8, `loss ${losses[0]} → ${losses[29]}`);
  for (const [k, t] of peft.model.stateDict()) {
    const original = baseState.get(k.replace('.base_layer', ''));
    if (k.includes('bone_block')) { assert.equal(original, undefined); continue; }
    assert.deepEqual(await values(t), original, `${k} changed`);
  }
});

test('adapters with random init: LoRA, Bone and MiSS save and load back (other adapters in subfolders)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-peft-'));
  try {
    for (const make of [() => new MissConfig({ r: 4, targetModules: ['lin0'], initWeights: false }),
      () => new BoneConfig({ r: 2, targetModules: ['lin0', 'lin1'], initWeights: 'bat' }),
      () => new LoraConfig({ r: 2, loraAlpha: 4, targetModules: ['lin0'] })]) {
      const peft = getPeftModel(new MLP(), make(), 'default', quiet);
      peft.addAdapter('second', make());
      await randomizeAdapters(peft, 5);
      peft.setAdapter(['default', 'second']);
      const out = await values(peft.forward(X));
      await peft.savePretrained(dir);
      assert.ok((await stat(join(dir, 'second', 'adapter_model.safetensors'))).isFile(), 'second adapter in its subfolder');
      const loaded = await PeftModel.fromPretrained(new MLP(), dir, quiet);
      await loaded.loadAdapter(join(dir, 'second'), 'second');
      loaded.setAdapter(['default', 'second']);
      assert.ok(maxAbs(await values(loaded.forward(X)), out) < 1e-6, make().peftType);
      // loaded adapters are frozen unless isTrainable
      assert.deepEqual(loaded.trainableParameters(), []);
      const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config.inference_mode, true);
      assert.deepEqual(config.auto_mapping, { base_model_class: 'MLP', parent_library: 'transformers.models.mlp.modeling_mlp' });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loading reports shape mismatches by key and refuses unknown peft types', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-peft-'));
  try {
    const peft = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'] }), 'default', quiet);
    await peft.savePretrained(dir);
    const raw = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...raw, r: 4 }));
    await assert.rejects(PeftModel.fromPretrained(new MLP(), dir, quiet),
      /tensor base_model\.model\.lin0\.miss_block has shape \[2, 20\], but the adapter layer expects \[4, 20\]/);
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify({ ...raw, peft_type: 'VERA' }));
    await assert.rejects(PeftModel.fromPretrained(new MLP(), dir, quiet), /unsupported peft_type "VERA"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SGD on sum(output) changes only the adapter (PEFT test_only_params_are_updated)', async () => {
  const peft = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'] }), 'default', quiet);
  const before = new Map([...peft.namedParameters()].map(([n, p]) => [n, p.value]));
  const params = peft.trainableParameters();
  const opt = new SGD(params.map(([, p]) => p));
  for (let i = 0; i < 3; i++) {
    const loss = peft.forward(X).sum();
    const pending = opt.update(grad(loss, params.map(([, p]) => p.value)), 0.5);
    await realize(pending.tensors);
    pending.commit();
  }
  for (const [n, p] of peft.namedParameters()) {
    const changed = maxAbs(await values(p.value), await values(before.get(n)!)) > 1e-4;
    assert.equal(changed, n.includes('miss_'), n);
  }
});

test('modules_to_save: a trained copy per adapter, saved under the module keys, tied weights left alone', async () => {
  const base = await values(new MLP().forward(X));
  const peft = getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'], modulesToSave: ['lin1'] }), 'default', quiet);
  assert.deepEqual(peft.trainableParameters().map(([n]) => n).sort(), [
    'base_model.model.lin0.miss_block.default', 'base_model.model.lin1.modules_to_save.default.bias', 'base_model.model.lin1.modules_to_save.default.weight']);
  // copies start equal to the module: still the identity
  assert.ok(maxAbs(await values(peft.forward(X)), base) === 0, 'fresh copy is the identity');
  // train the copy: the output changes, the original module does not
  const params = peft.trainableParameters();
  const opt = new SGD(params.map(([, p]) => p));
  const pending = opt.update(grad(peft.forward(X).sum(), params.map(([, p]) => p.value)), 0.5);
  await realize(pending.tensors);
  pending.commit();
  const trained = await values(peft.forward(X));
  assert.ok(maxAbs(trained, base) > 1e-3, 'training changes the output');
  const disabled = await peft.withAdaptersDisabled(async () => values(peft.forward(X)));
  assert.ok(maxAbs(disabled, base) < 1e-6, 'disabled == base: the original lin1 is untouched');

  const dir = await mkdtemp(join(tmpdir(), 'bone-mts-'));
  try {
    await peft.savePretrained(dir);
    const { readSafetensors } = await import('../../src/io/safetensors.ts');
    const saved = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    assert.deepEqual([...saved.tensors.keys()].sort(), ['base_model.model.lin0.miss_block', 'base_model.model.lin1.bias', 'base_model.model.lin1.weight']);
    const loaded = await PeftModel.fromPretrained(new MLP(), dir, quiet);
    assert.ok(maxAbs(await values(loaded.forward(X)), trained) < 1e-6, 'reloaded == trained');
    // unload keeps the trained copy in place of the module
    const plain = loaded.unload();
    assert.ok(maxAbs(await values(plain.lin1.forward(Tensor.ones([1, 20]))), await values(peft.model.lin1.forward(Tensor.ones([1, 20])) as Tensor)) < 1e-6, 'unloaded lin1 carries the trained values');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.throws(() => getPeftModel(new MLP(), new MissConfig({ r: 2, targetModules: ['lin0'], modulesToSave: ['head'] }), 'default', quiet),
    /modules_to_save entry "head" matches no module/);
});

test('LoRA deleteAdapter: the adapter leaves the layers, the state dict and the trainable parameters; the others keep working', async () => {
  const peft = getPeftModel(new MLP(), new LoraConfig({ r: 2, targetModules: ['lin0', 'lin1'] }), 'a', quiet);
  peft.addAdapter('b', new LoraConfig({ r: 3, targetModules: ['lin0'] }));
  await randomizeAdapters(peft, 3);
  peft.setAdapter('a');
  const onlyA = await values(peft.forward(X));
  peft.setAdapter(['a', 'b']);
  assert.ok(maxAbs(await values(peft.forward(X)), onlyA) > 1e-4, 'b changes the output');

  peft.deleteAdapter('b');
  assert.deepEqual(peft.activeAdapters, ['a']);
  assert.deepEqual(peft.model.stateDict().size, new MLP().stateDict().size + 4, 'lora_A/lora_B of a on lin0 and lin1 remain');
  assert.ok(![...peft.model.stateDict().keys()].some((k) => /\.b\./.test(k)), 'no tensor of b is left');
  assert.deepEqual(peft.trainableParameters().map(([n]) => n).sort(), [
    'base_model.model.lin0.lora_A.a.weight', 'base_model.model.lin0.lora_B.a.weight', 'base_model.model.lin1.lora_A.a.weight', 'base_model.model.lin1.lora_B.a.weight',
  ]);
  assert.ok(maxAbs(await values(peft.forward(X)), onlyA) < 1e-6, 'the output is a alone');
  // b's name is free again, with another rank
  peft.addAdapter('b', new LoraConfig({ r: 4, targetModules: ['lin1'] }));
  assert.ok(peft.model.stateDict().has('lin1.lora_A.b.weight'), 'b re-added on lin1');
  assert.ok(!peft.model.stateDict().has('lin0.lora_A.b.weight'));
});
