import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adapterConfigFor } from '../../src/cli/method.ts';
import { modeName } from '../../src/peft/index.ts';
import { BoneConfig, LoraConfig, MissConfig } from '../../src/peft/index.ts';

test('--method picks the PEFT config and mode; r defaults to 64; targets default to PEFT\'s choice', () => {
  const miss = adapterConfigFor({});
  assert.ok(miss instanceof MissConfig);
  assert.deepEqual([miss.r, miss.initWeights, miss.targetModules], [64, true, null]);

  const bone = adapterConfigFor({ method: 'bone', r: 16 });
  assert.ok(bone instanceof BoneConfig);
  assert.equal(bone.r, 16);

  const bat = adapterConfigFor({ method: 'bat' });
  assert.ok(bat instanceof MissConfig);
  assert.equal(bat.initWeights, 'bat');

  const mini = adapterConfigFor({ method: 'mini', miniR: 4, dropout: 0.1 });
  assert.ok(mini instanceof MissConfig);
  assert.deepEqual([mini.initWeights, mini.miniR, mini.missDropout], ['mini', 4, 0.1]);

  const lora = adapterConfigFor({ method: 'lora', r: 16 });
  assert.ok(lora instanceof LoraConfig);
  assert.deepEqual([lora.r, lora.loraAlpha, lora.scaling], [16, 32, 2]); // alpha defaults to 2r
  assert.equal((adapterConfigFor({ method: 'lora', r: 16, loraAlpha: 16 }) as LoraConfig).scaling, 1);
});

test('--targets: a list, or all-linear as the string PEFT expects; base_model_name_or_path recorded', () => {
  assert.deepEqual(adapterConfigFor({ targets: ['q_proj', 'o_proj'] }).targetModules, ['q_proj', 'o_proj']);
  assert.equal(adapterConfigFor({ targets: ['all-linear'] }).targetModules, 'all-linear');
  assert.equal(adapterConfigFor({}, './SmolLM2-135M').baseModelNameOrPath, './SmolLM2-135M');
});

test('modeName reads init_weights as inspect shows it', () => {
  assert.equal(modeName(true), 'default');
  assert.equal(modeName(false), 'random init');
  assert.equal(modeName('bat'), 'bat');
});
