/** config.json parsing (transformers' defaults and derived keys) and the model_type registry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, createModelFromConfig, parseConfig, supportedModelTypes } from '../../src/models/index.ts';

const tiny = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 100 };

test('an unsupported model_type is named, with the supported ones listed', () => {
  assert.throws(() => createModelFromConfig({ model_type: 'gpt2', ...tiny }), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /unsupported model_type "gpt2"/);
    for (const t of ['llama', 'mistral', 'qwen2', 'qwen3']) assert.ok(e.message.includes(t), e.message);
    return true;
  });
  assert.throws(() => parseConfig({ ...tiny }), /no "model_type".*supported model types: llama/);
  assert.deepEqual(supportedModelTypes(), ['llama', 'mistral', 'qwen2', 'qwen3']);
});

test('llama: head_dim and num_key_value_heads are derived, defaults fill the rest', () => {
  const c = parseConfig({ model_type: 'llama', ...tiny });
  assert.equal(c.head_dim, 8);
  assert.equal(c.num_key_value_heads, 2);
  assert.equal(parseConfig({ model_type: 'llama', ...tiny, num_key_value_heads: undefined }).num_key_value_heads, 4);
  assert.equal(c.hidden_act, 'silu');
  assert.equal(c.rms_norm_eps, 1e-6);
  assert.equal(c.tie_word_embeddings, false);
  assert.equal(c.attention_bias, false);
  assert.equal(c.mlp_bias, false);
  assert.equal(c.max_position_embeddings, 2048);
  assert.deepEqual(c.rope_parameters, { rope_type: 'default', rope_theta: 10000 });
  assert.equal(c.eos_token_id, 2);
  // Parsing a parsed config changes nothing (createModelFromConfig accepts either).
  assert.deepEqual(parseConfig(c), c);
});

test('legacy rope_theta + rope_scaling become rope_parameters', () => {
  const c = parseConfig({ model_type: 'llama', ...tiny, rope_theta: 5000, rope_scaling: { type: 'linear', factor: 4 } });
  assert.deepEqual(c.rope_parameters, { rope_type: 'linear', rope_theta: 5000, factor: 4 });
  assert.ok(!('rope_scaling' in c) && !('rope_theta' in c));
  const l3 = parseConfig({
    model_type: 'llama', ...tiny, max_position_embeddings: 4096,
    rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 8, low_freq_factor: 1, high_freq_factor: 4 },
  });
  assert.equal(l3.rope_parameters.original_max_position_embeddings, 4096);
  // rope_scaling: null is the old "no scaling".
  assert.equal(parseConfig({ model_type: 'llama', ...tiny, rope_scaling: null, rope_theta: 1e6 }).rope_parameters.rope_theta, 1e6);
});

test('unsupported or incomplete rope settings are refused by name', () => {
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, rope_scaling: { rope_type: 'yarn', factor: 4 } }),
    /unsupported rope_type "yarn" \(supported: default, linear, dynamic, llama3\)/);
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, rope_scaling: { type: 'linear' } }), /needs a positive number "factor"/);
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, partial_rotary_factor: 0.5 }), /partial_rotary_factor/);
});

test('invalid sizes name the key and the value found', () => {
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, num_key_value_heads: 3 }), /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, hidden_size: '32' }), /"hidden_size" must be an integer ≥ 1, found "32"/);
  assert.throws(() => parseConfig({ model_type: 'qwen3', ...tiny, head_dim: 7 }), /even head_dim, found 7/);
});

test('qwen2/qwen3: sliding windows only with use_sliding_window, on layers from max_window_layers', () => {
  const off = parseConfig({ model_type: 'qwen2', ...tiny });
  assert.equal(off.sliding_window, null);
  assert.deepEqual(off.layer_types, ['full_attention', 'full_attention']);
  const on = parseConfig({ model_type: 'qwen2', ...tiny, use_sliding_window: true, sliding_window: 8, max_window_layers: 1 });
  assert.deepEqual(on.layer_types, ['full_attention', 'sliding_attention']);
  const q3 = parseConfig({ model_type: 'qwen3', ...tiny });
  assert.equal(q3.head_dim, 128, "Qwen3Config's default head_dim is 128, not hidden/heads");
  assert.throws(() => parseConfig({ model_type: 'qwen3', ...tiny, layer_types: ['full_attention'] }), /"layer_types" must list 2 entries/);
});

test('mistral keeps its default sliding window of 4096', () => {
  assert.equal(parseConfig({ model_type: 'mistral', ...tiny }).sliding_window, 4096);
  assert.equal(parseConfig({ model_type: 'mistral', ...tiny, sliding_window: null }).sliding_window, null);
});

test('an odd head_dim derived from heads that do not divide hidden_size says where it came from', () => {
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, hidden_size: 36, num_attention_heads: 5, num_key_value_heads: 5 }),
    /rotary embeddings need an even head_dim, found 7 \(no "head_dim" is given, so it is hidden_size 36 \/\/ num_attention_heads 5, and 5 does not divide 36\)/);
  assert.throws(() => parseConfig({ model_type: 'llama', ...tiny, head_dim: 7 }), /need an even head_dim, found 7$/);
});
