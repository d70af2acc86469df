/**
 * PEFT 0.21's edge cases, side by side (issue 11, items 9, 14, 15, 17, 18): the behaviour asserted
 * here is what the reference environment's PEFT does on the same model and calls (the script and
 * its output are summarised in docs/design.md, "PEFT's edge cases"), except where noted.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Tensor } from '../../src/engine/index.ts';
import { loadModel } from '../../src/io/model-folder.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import { createModelFromConfig, type CausalLM } from '../../src/models/index.ts';
import { Linear } from '../../src/nn/index.ts';
import { BoneConfig, LoraConfig, MissConfig, PeftError, PeftModel, getPeftModel } from '../../src/peft/index.ts';
import { ROOT, loadFixtureModel, maxAbsDiff, readConfig } from '../models/helpers.ts';

const BASE = join(ROOT, 'reference', 'llama-miss-default', 'base');
const ADAPTER = join(ROOT, 'reference', 'llama-miss-default', 'adapter');
const quiet = { warn: () => undefined };
const ids = Tensor.fromData(BigInt64Array.from([1n, 17n, 42n, 99n, 3n, 250n]), [1, 6]);

let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'bone-peft-edge-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

const shapeOnly = (): CausalLM => createModelFromConfig(readConfig(BASE));
const grads = (peft: PeftModel): Record<string, boolean> =>
  Object.fromEntries(peft.namedParameters().filter(([n]) => n.includes('miss_block') || n.includes('modules_to_save')).map(([n, p]) => [n.replace('base_model.model.model.layers.0.self_attn.', '').replace('base_model.model.', ''), p.requiresGrad]));
const layer0 = (flags: Record<string, boolean>): Record<string, boolean> => Object.fromEntries(Object.entries(flags).filter(([n]) => n.startsWith('q_proj.') || n.startsWith('lm_head')));

test('#14 r above in_features: MiSS refuses as PEFT 0.21 does, naming the module; legacy Bone and LoRA accept it, as PEFT does', () => {
  const model = shapeOnly();
  assert.throws(() => getPeftModel(model, new MissConfig({ r: 128, targetModules: ['q_proj'] }), 'default', quiet), (e: unknown) => e instanceof PeftError
    && e.message.startsWith('model.layers.0.self_attn.q_proj: `r` (128) must be less than or equal to in_features (64) (adapter "default"'));
  assert.ok(model.getSubmodule('model.layers.0.self_attn.q_proj') instanceof Linear, 'the model is left as it was');
  assert.throws(() => getPeftModel(shapeOnly(), new MissConfig({ r: 128, initWeights: 'mini', miniR: 4, targetModules: ['q_proj'] }), 'default', quiet), /`r` \(128\) must be less than or equal to in_features \(64\)/);
  assert.equal(getPeftModel(shapeOnly(), new BoneConfig({ r: 128, targetModules: ['q_proj'] }), 'default', quiet).adapterLayers().length, 2);
  assert.equal(getPeftModel(shapeOnly(), new LoraConfig({ r: 128, targetModules: ['q_proj'] }), 'default', quiet).adapterLayers().length, 2);
});

test('#14 a layer that fails after others were wrapped undoes them (all or nothing)', () => {
  const model = shapeOnly();
  // mini_r 64 divides q_proj's 64 outputs (wrapped first) but not k_proj's 32.
  assert.throws(() => getPeftModel(model, new MissConfig({ r: 8, initWeights: 'mini', miniR: 64, targetModules: ['q_proj', 'k_proj'] }), 'default', quiet),
    /^PeftError: model\.layers\.0\.self_attn\.k_proj: mini_r is divided along the out_features dimension\./);
  assert.ok(model.getSubmodule('model.layers.0.self_attn.q_proj') instanceof Linear, 'q_proj of layer 0 was wrapped, then put back');
  assert.equal(model.namedModules().length, shapeOnly().namedModules().length);
});

test('#15 a target_modules regex that matches act_fn is refused, as PEFT refuses it; a list entry too', () => {
  for (const targetModules of ['.*\\.(gate_proj|up_proj|down_proj|act_fn)', ['act_fn', 'q_proj']]) {
    assert.throws(() => getPeftModel(shapeOnly(), new MissConfig({ r: 8, targetModules }), 'default', quiet),
      /^PeftError: Target module model\.layers\.0\.mlp\.act_fn \(SiLUActivation\) is not supported\. Currently, only `Linear` is supported\. \(PEFT refuses it too/);
  }
  // transformers' module tree: act_fn listed after the MLP's projections, with its class
  const tree = shapeOnly().namedModuleTree().filter((m) => m.path.startsWith('model.layers.0.mlp'));
  assert.deepEqual(tree.map((m) => `${m.path} ${m.className}`), [
    'model.layers.0.mlp LlamaMLP', 'model.layers.0.mlp.gate_proj Linear', 'model.layers.0.mlp.up_proj Linear', 'model.layers.0.mlp.down_proj Linear', 'model.layers.0.mlp.act_fn SiLUActivation']);
  // matching only the projections still works
  assert.equal(getPeftModel(shapeOnly(), new MissConfig({ r: 8, targetModules: '.*\\.(gate_proj|up_proj|down_proj)' }), 'default', quiet).adapterLayers().length, 6);
});

test('#17 trainability: disable_adapter freezes every adapter tensor; load_adapter(is_trainable) makes the inactive adapter trainable; add_adapter keeps the others\' (PEFT 0.21)', async () => {
  const peft = getPeftModel(shapeOnly(), new MissConfig({ r: 8, targetModules: ['q_proj'], modulesToSave: ['lm_head'] }), 'default', quiet);
  assert.deepEqual(layer0(grads(peft)), { 'q_proj.miss_block.default': true, 'lm_head.modules_to_save.default.weight': true });
  const inside = await peft.withAdaptersDisabled(() => layer0(grads(peft)));
  assert.deepEqual(inside, { 'q_proj.miss_block.default': false, 'lm_head.modules_to_save.default.weight': false });
  assert.deepEqual(layer0(grads(peft)), { 'q_proj.miss_block.default': true, 'lm_head.modules_to_save.default.weight': true });

  const saved = join(dir, 'trainability');
  const plain = getPeftModel(shapeOnly(), new MissConfig({ r: 8, targetModules: ['q_proj'] }), 'default', quiet);
  await plain.savePretrained(saved);
  await plain.loadAdapter(saved, 'other', { isTrainable: true });
  assert.deepEqual(plain.activeAdapters, ['default']);
  assert.deepEqual(layer0(grads(plain)), { 'q_proj.miss_block.default': true, 'q_proj.miss_block.other': true });
  await plain.loadAdapter(saved, 'third');
  plain.addAdapter('fourth', new MissConfig({ r: 8, targetModules: ['q_proj'] }));
  assert.deepEqual(layer0(grads(plain)), { 'q_proj.miss_block.default': true, 'q_proj.miss_block.other': true, 'q_proj.miss_block.third': false, 'q_proj.miss_block.fourth': false });
  plain.setAdapter('other');
  assert.deepEqual(layer0(grads(plain)), { 'q_proj.miss_block.default': false, 'q_proj.miss_block.other': true, 'q_proj.miss_block.third': false, 'q_proj.miss_block.fourth': false });

  // from_pretrained (frozen) + load_adapter(is_trainable=True): PEFT gives default False, x True, and
  // inside disable_adapter both False. On exit PEFT re-derives from the active adapter (default True,
  // x False, so an adapter loaded for inference becomes trainable); bone-peft restores what it was.
  const frozen = await PeftModel.fromPretrained(shapeOnly(), saved, quiet);
  await frozen.loadAdapter(saved, 'x', { isTrainable: true });
  assert.deepEqual(layer0(grads(frozen)), { 'q_proj.miss_block.default': false, 'q_proj.miss_block.x': true });
  assert.deepEqual(await frozen.withAdaptersDisabled(() => layer0(grads(frozen))), { 'q_proj.miss_block.default': false, 'q_proj.miss_block.x': false });
  assert.deepEqual(layer0(grads(frozen)), { 'q_proj.miss_block.default': false, 'q_proj.miss_block.x': true });
});

test('#18 merge_and_unload with a trained modules_to_save lm_head on tied embeddings unties the head, as PEFT does', async () => {
  const base = await loadFixtureModel(BASE);
  assert.equal(base.config.tie_word_embeddings, true);
  const embedding = Float32Array.from(await base.getParameter('model.embed_tokens.weight').value.floats());
  const warnings: string[] = [];
  const peft = getPeftModel(base, new MissConfig({ r: 8, targetModules: ['q_proj', 'v_proj'], modulesToSave: ['lm_head'] }), 'default', { warn: (m) => warnings.push(m) });
  for (const [name, p] of peft.trainableParameters()) {
    const v = Float32Array.from(await p.value.floats(), (x, i) => (name.includes('modules_to_save') ? x + 0.05 * Math.sin(i) : 0.01 * Math.cos(i)));
    p.value = Tensor.fromData(v, p.shape);
  }
  const adapted = Float32Array.from(await peft.forward({ inputIds: ids }).logits.floats());
  const merged = await peft.mergeAndUnload();
  assert.ok(warnings.some((w) => w.startsWith('Input and output embeddings are no longer tied after merging. Setting `tie_word_embeddings=False` in the model config.')), warnings.join('\n'));
  assert.equal(merged.config.tie_word_embeddings, false);
  assert.notEqual(merged.getParameter('lm_head.weight'), merged.getParameter('model.embed_tokens.weight'), 'two parameters now');
  assert.deepEqual(Float32Array.from(await merged.getParameter('model.embed_tokens.weight').value.floats()), embedding, 'the input embedding keeps the base values');
  // the merged model computes what the adapter did (an independent check: no PEFT needed)
  assert.ok(maxAbsDiff(await merged.forward({ inputIds: ids }).logits.floats(), adapted) < 1e-4);
  // and a saved merged folder says so and loads back to the same numbers
  const { savePretrained } = await import('../../src/io/model-folder.ts');
  const out = join(dir, 'untied');
  await savePretrained(merged, out);
  const { tensors } = await readSafetensors(join(out, 'model.safetensors'));
  assert.ok(tensors.has('lm_head.weight') && tensors.has('model.embed_tokens.weight'));
  const reloaded = await loadModel(out);
  assert.equal(reloaded.config.tie_word_embeddings, false);
  assert.ok(maxAbsDiff(await reloaded.forward({ inputIds: ids }).logits.floats(), adapted) < 1e-4);
});

test('#9 tensors that do not fit the layers are refused by default, leaving the model as it was; allowKeyMismatch loads with PEFT\'s warnings', async () => {
  const partial = join(dir, 'partial');
  await mkdir(partial);
  await copyFile(join(ADAPTER, 'adapter_config.json'), join(partial, 'adapter_config.json'));
  const { tensors } = await readSafetensors(join(ADAPTER, 'adapter_model.safetensors'));
  tensors.delete('base_model.model.model.layers.1.self_attn.v_proj.miss_block');
  tensors.set('base_model.model.model.layers.1.self_attn.o_proj.miss_block', tensors.get('base_model.model.model.layers.0.self_attn.q_proj.miss_block')!);
  await writeSafetensors(join(partial, 'adapter_model.safetensors'), tensors, { format: 'pt' });

  const model = shapeOnly();
  await assert.rejects(PeftModel.fromPretrained(model, partial, quiet), (e: unknown) => e instanceof PeftError && e.message.includes([
    'the tensors do not match the MiSS adapter layers that its adapter_config.json (peft_type "MISS") creates on this model:',
    '  1 adapter tensor(s) are not in the file: base_model.model.model.layers.1.self_attn.v_proj.miss_block',
    '  1 tensor(s) of the file fit no adapter layer: base_model.model.model.layers.1.self_attn.o_proj.miss_block',
  ].join('\n')) && e.message.endsWith('pass allowKeyMismatch: true.'));
  assert.ok(model.getSubmodule('model.layers.1.self_attn.v_proj') instanceof Linear, 'the refused load put the base layers back');

  const warnings: string[] = [];
  const loaded = await PeftModel.fromPretrained(shapeOnly(), partial, { warn: (m) => warnings.push(m), allowKeyMismatch: true });
  assert.equal(loaded.adapterLayers().length, 4);
  assert.deepEqual(warnings.map((w) => w.split(':')[0]), ['Found missing adapter keys while loading the checkpoint', join(partial, 'adapter_model.safetensors')]);

  // loadAdapter: a refused file leaves the PeftModel with the adapters it had
  const peft = await PeftModel.fromPretrained(shapeOnly(), ADAPTER, quiet);
  await assert.rejects(peft.loadAdapter(partial, 'second'), /do not match/);
  assert.deepEqual([...peft.peftConfig.keys()], ['default']);
  assert.deepEqual(peft.adapterLayers()[0]![1].adapterNames(), ['default']);
});
