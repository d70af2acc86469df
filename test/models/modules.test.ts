/**
 * The model trees: transformers' module paths and state-dict keys, tied weights kept as one
 * parameter, loading errors, replacing a submodule by path, and random initialisation.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tensor, ops } from '../../src/engine/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { Linear, Module, ModuleError, type TensorModule } from '../../src/nn/index.ts';
import { createModelFromConfig, LlamaForCausalLM, Qwen3ForCausalLM } from '../../src/models/index.ts';
import { ROOT, loadFixtureModel, readConfig, readTensors } from './helpers.ts';

const tiny = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 50 };

for (const dir of ['reference/llama-lora/base', 'reference/qwen2-miss-all-linear/base', 'models/qwen3-qknorm', 'models/llama-untied-bias', 'models/qwen2-bias']) {
  test(`${dir}: stateDict keys are exactly the checkpoint's`, async () => {
    const path = join(ROOT, dir);
    const model = createModelFromConfig(readConfig(path));
    const { tensors } = await readSafetensors(join(path, 'model.safetensors'));
    assert.deepEqual([...model.stateDict().keys()].sort(), [...tensors.keys()].sort());
    for (const [k, p] of model.namedParameters()) assert.deepEqual([...p.shape], tensors.get(k)!.shape, k);
  });
}

test('module paths are transformers\'', () => {
  const model = createModelFromConfig({ model_type: 'qwen3', ...tiny, head_dim: 8 });
  const names = model.namedModules().map(([n]) => n);
  assert.deepEqual(names.slice(0, 6), ['', 'model', 'model.embed_tokens', 'model.layers', 'model.layers.0', 'model.layers.0.self_attn']);
  for (const n of ['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.q_norm', 'model.layers.1.self_attn.k_norm', 'model.layers.1.mlp.down_proj',
    'model.layers.0.input_layernorm', 'model.layers.0.post_attention_layernorm', 'model.norm', 'model.rotary_emb', 'lm_head']) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(model instanceof Qwen3ForCausalLM);
  assert.deepEqual([...model.getParameter('model.layers.0.self_attn.q_norm.weight').shape], [8]);
});

test('tied embeddings are one parameter, saved once under model.embed_tokens.weight', () => {
  const tied = createModelFromConfig({ model_type: 'llama', ...tiny, tie_word_embeddings: true }) as LlamaForCausalLM;
  assert.equal((tied.lm_head as Linear).weight, tied.model.embed_tokens.weight);
  assert.ok(!tied.stateDict().has('lm_head.weight'));
  assert.equal(tied.parameters().length, tied.namedParameters({ removeDuplicate: false }).length - 1);
  // A checkpoint that also carries lm_head.weight loads (the alias is not "unexpected").
  tied.initWeights({ seed: 1 });
  const state = tied.stateDict();
  state.set('lm_head.weight', state.get('model.embed_tokens.weight')!);
  assert.deepEqual(tied.loadStateDict(state), { missingKeys: [], unexpectedKeys: [] });
  const untied = createModelFromConfig({ model_type: 'llama', ...tiny, tie_word_embeddings: false });
  assert.ok(untied.stateDict().has('lm_head.weight'));
});

test('loadStateDict names missing and unexpected keys, and shape mismatches with both shapes', () => {
  const model = createModelFromConfig({ model_type: 'llama', ...tiny }).initWeights({ seed: 0 });
  const state = model.stateDict();
  const before = model.getParameter('model.norm.weight').value;

  const missing = new Map(state);
  missing.delete('model.layers.1.mlp.up_proj.weight');
  missing.set('model.layers.1.mlp.extra.weight', Tensor.zeros([2]));
  assert.throws(() => model.loadStateDict(missing), (e: Error) => {
    assert.ok(e instanceof ModuleError);
    assert.match(e.message, /missing keys \(1\): model\.layers\.1\.mlp\.up_proj\.weight/);
    assert.match(e.message, /unexpected keys \(1\): model\.layers\.1\.mlp\.extra\.weight/);
    return true;
  });
  assert.deepEqual(model.loadStateDict(missing, { strict: false }), {
    missingKeys: ['model.layers.1.mlp.up_proj.weight'], unexpectedKeys: ['model.layers.1.mlp.extra.weight'],
  });

  const wrong = new Map(state);
  wrong.set('model.layers.0.self_attn.k_proj.weight', Tensor.zeros([16, 16]));
  wrong.set('model.norm.weight', Tensor.ones([16]));
  assert.throws(() => model.loadStateDict(wrong), /model\.layers\.0\.self_attn\.k_proj\.weight: expected shape \[8, 16\], found \[16, 16\]/);
  // Nothing was assigned by the failed load.
  assert.equal(model.getParameter('model.norm.weight').value, before);
  wrong.set('model.layers.0.self_attn.k_proj.weight', Tensor.zeros([8, 16], 'float64'));
  assert.throws(() => model.loadStateDict(wrong), /k_proj\.weight: expected dtype float32, found float64/);
});

/** A wrapper like an adapter layer: the base Linear plus a scaled copy of its output. */
class Doubler extends Module implements TensorModule {
  base_layer: Linear;
  constructor(base: Linear) {
    super();
    this.base_layer = this.registerModule('base_layer', base);
  }
  forward(x: Tensor): Tensor { return this.base_layer.forward(x).mul(2); }
}

test('setSubmodule swaps a projection and the next forward uses the wrapper', async () => {
  const model = await loadFixtureModel(join(ROOT, 'models', 'llama-untied-bias'));
  const io = await readTensors(join(ROOT, 'models', 'llama-untied-bias', 'io.safetensors'));
  const ids = io.get('input_ids')!;
  const before = await model.forward({ inputIds: ids }).logits.data() as Float32Array;
  const path = 'model.layers.1.self_attn.v_proj';
  const base = model.getSubmodule(path) as Linear;
  model.setSubmodule(path, new Doubler(base));
  assert.ok(model.getSubmodule(path) instanceof Doubler);
  assert.ok(model.stateDict().has(`${path}.base_layer.weight`));
  const after = await model.forward({ inputIds: ids }).logits.data() as Float32Array;
  assert.ok(after.some((v, i) => Math.abs(v - before[i]!) > 1e-3), 'the wrapper had no effect');
  model.setSubmodule(path, base);
  const again = await model.forward({ inputIds: ids }).logits.data() as Float32Array;
  assert.deepEqual(again, before);
  assert.throws(() => model.setSubmodule('model.layers.7.mlp', base), /setSubmodule\("model\.layers\.7\.mlp"\): no submodule "model\.layers\.7": "model\.layers" \(ModuleList\) has no child "7" \(children: 0, 1\)/);
});

test('a parameter swapped after construction is what the next forward reads (optimizer steps)', async () => {
  const model = createModelFromConfig({ model_type: 'llama', ...tiny }).initWeights({ seed: 2 });
  const ids = Tensor.from([[1n, 2n, 3n]]);
  const a = await model.forward({ inputIds: ids }).logits.data() as Float32Array;
  const norm = model.getParameter('model.norm.weight');
  norm.value = await ops.mul(norm.value, 2).realize();
  const b = await model.forward({ inputIds: ids }).logits.data() as Float32Array;
  assert.ok(b.some((v, i) => Math.abs(v - 2 * a[i]!) < 1e-5) && b.every((v, i) => Math.abs(v - 2 * a[i]!) < 1e-4));
});

test('initWeights is seeded and gives finite logits; placeholders allocate nothing', async () => {
  const fresh = createModelFromConfig({ model_type: 'mistral', ...tiny, sliding_window: 2 });
  assert.ok(fresh.parameters().every((p) => !p.value.isRealized), 'placeholders should be lazy');
  const a = fresh.initWeights({ seed: 5 });
  const b = createModelFromConfig({ model_type: 'mistral', ...tiny, sliding_window: 2 }).initWeights({ seed: 5 });
  const ids = Tensor.from([[1n, 2n, 3n, 4n]]);
  const la = await a.forward({ inputIds: ids }).logits.data() as Float32Array;
  const lb = await b.forward({ inputIds: ids }).logits.data() as Float32Array;
  assert.deepEqual(la, lb);
  assert.ok(la.every(Number.isFinite));
});

test('train() and eval() set the flag on the whole tree; requiresGrad freezes parameters', () => {
  const model = createModelFromConfig({ model_type: 'llama', ...tiny });
  assert.ok(model.modules().every((m) => m.training));
  model.eval();
  assert.ok(model.modules().every((m) => !m.training));
  model.requiresGrad(false);
  assert.equal(model.numParameters({ trainableOnly: true }), 0);
  model.getParameter('lm_head.weight').requiresGrad = true;
  assert.equal(model.numParameters({ trainableOnly: true }), 50 * 16);
});
