import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MissConfig } from '../../src/peft/bone/config.ts';
import { layerIndex, matchModule, selectTargets, type ModuleInfo } from '../../src/peft/targets.ts';

/** The module list of a 2-layer Llama, as namedModules() gives it. */
function llamaModules(layers = 2): ModuleInfo[] {
  const out: ModuleInfo[] = [{ name: '', isLinear: false }, { name: 'model', isLinear: false }, { name: 'model.embed_tokens', isLinear: false }, { name: 'model.layers', isLinear: false }];
  for (let i = 0; i < layers; i++) {
    out.push({ name: `model.layers.${i}`, isLinear: false }, { name: `model.layers.${i}.self_attn`, isLinear: false });
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) out.push({ name: `model.layers.${i}.self_attn.${p}`, isLinear: true });
    out.push({ name: `model.layers.${i}.mlp`, isLinear: false });
    for (const p of ['gate_proj', 'up_proj', 'down_proj']) out.push({ name: `model.layers.${i}.mlp.${p}`, isLinear: true });
    out.push({ name: `model.layers.${i}.input_layernorm`, isLinear: false }, { name: `model.layers.${i}.post_attention_layernorm`, isLinear: false });
  }
  out.push({ name: 'model.norm', isLinear: false }, { name: 'lm_head', isLinear: true });
  return out;
}
const ctx = { modelType: 'llama', outputEmbedding: 'lm_head' };

test('list entries match a full name or a dotted suffix', () => {
  const cfg = new MissConfig({ targetModules: ['q_proj', 'model.layers.1.mlp.up_proj'] });
  assert.equal(matchModule(cfg, cfg.targetModules!, 'model.layers.0.self_attn.q_proj'), 'matched');
  assert.equal(matchModule(cfg, cfg.targetModules!, 'model.layers.1.mlp.up_proj'), 'matched');
  assert.equal(matchModule(cfg, cfg.targetModules!, 'model.layers.0.mlp.up_proj'), 'unmatched');
  // a suffix must start at a dot: "xq_proj" is not "q_proj"
  assert.equal(matchModule(cfg, cfg.targetModules!, 'model.layers.0.self_attn.xq_proj'), 'unmatched');
});

test('a string target is a full-match regex', () => {
  const cfg = new MissConfig({ targetModules: '.*\\.(q|v)_proj' });
  const { names } = selectTargets(cfg, llamaModules(), ctx);
  assert.deepEqual(names, ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  // fullmatch, not search
  assert.equal(matchModule(cfg, cfg.targetModules!, 'model.layers.0.self_attn.q_proj.base_layer'), 'unmatched');
});

test('default targets come from the architecture', () => {
  const { names } = selectTargets(new MissConfig(), llamaModules(), ctx);
  assert.deepEqual(names, ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  assert.throws(() => selectTargets(new MissConfig(), llamaModules(), { modelType: 'mamba' }), /Please specify `target_modules` in `peft_config`.*'mamba'/);
});

test('all-linear takes every Linear but the output head, as full names', () => {
  const { names, targets } = selectTargets(new MissConfig({ targetModules: 'ALL-LINEAR' }), llamaModules(), ctx);
  assert.equal(names.length, 14);
  assert.ok(!names.includes('lm_head'));
  assert.deepEqual(targets, names);
});

test('exclusions win; unused exclusions warn', () => {
  const cfg = new MissConfig({ targetModules: ['q_proj', 'v_proj'], excludeModules: ['model.layers.0.self_attn.q_proj'] });
  assert.deepEqual(selectTargets(cfg, llamaModules(), ctx).names, ['model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  const regexEx = new MissConfig({ targetModules: ['q_proj', 'v_proj'], excludeModules: '.*layers\\.1\\..*' });
  assert.deepEqual(selectTargets(regexEx, llamaModules(), ctx).names, ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj']);
  const warnings: string[] = [];
  selectTargets(new MissConfig({ targetModules: ['q_proj'], excludeModules: ['nothing'] }), llamaModules(), { ...ctx, warn: (m) => warnings.push(m) });
  assert.match(warnings[0]!, /no modules were excluded/);
});

test('layersToTransform restricts suffix matches to layer indices (with and without layersPattern)', () => {
  assert.equal(layerIndex('model.layers.3.self_attn.q_proj', null), 3);
  assert.equal(layerIndex('model.layers.3.self_attn.q_proj', 'layers'), 3);
  assert.equal(layerIndex('model.layers.3.self_attn.q_proj', ['h', 'blocks']), null);
  assert.equal(layerIndex('lm_head', null), null);
  const one = new MissConfig({ targetModules: ['q_proj'], layersToTransform: 1 });
  assert.deepEqual(selectTargets(one, llamaModules(), ctx).names, ['model.layers.1.self_attn.q_proj']);
  const list = new MissConfig({ targetModules: ['q_proj'], layersToTransform: [0, 2], layersPattern: 'layers' });
  assert.deepEqual(selectTargets(list, llamaModules(3), ctx).names, ['model.layers.0.self_attn.q_proj', 'model.layers.2.self_attn.q_proj']);
  // an empty list is no restriction
  const empty = new MissConfig({ targetModules: ['q_proj'], layersToTransform: [] });
  assert.equal(selectTargets(empty, llamaModules(), ctx).names.length, 2);
  // a full-name entry matches regardless of the layer index, as in PEFT
  const full = new MissConfig({ targetModules: ['model.layers.0.self_attn.q_proj'], layersToTransform: [1] });
  assert.deepEqual(selectTargets(full, llamaModules(), ctx).names, ['model.layers.0.self_attn.q_proj']);
});

test("PEFT's errors when nothing is targeted", () => {
  assert.throws(() => selectTargets(new MissConfig({ targetModules: ['qkv'] }), llamaModules(), ctx),
    /Target modules \{'qkv'\} not found in the base model. Please check the target modules and try again./);
  assert.throws(() => selectTargets(new MissConfig({ targetModules: ['q_proj'], layersToTransform: [7] }), llamaModules(), ctx),
    /not found in the base model.*Note: You specified 'layers_to_transform': \[7\]/);
  assert.throws(() => selectTargets(new MissConfig({ targetModules: '.*', excludeModules: '.*' }), llamaModules(), ctx),
    /All modules were excluded/);
  assert.throws(() => selectTargets(new MissConfig({ targetModules: ['q_proj'], excludeModules: ['q_proj'] }), llamaModules(), ctx),
    /No modules were targeted for adaptation/);
  // modules_to_save entries are never adapter targets
  assert.throws(() => selectTargets(new MissConfig({ targetModules: ['lm_head'], modulesToSave: ['lm_head'] }), llamaModules(), ctx),
    /No modules were targeted for adaptation|All modules were excluded/);
});
