import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BoneConfig, MissConfig } from '../../src/peft/bone/config.ts';
import { pythonJsonDumps, type JsonValue } from '../../src/peft/config.ts';
import { PeftError } from '../../src/peft/errors.ts';
import { LoraConfig } from '../../src/peft/lora/config.ts';

const fixture = (c: string): string => readFileSync(new URL(`../fixtures/reference/${c}/adapter/adapter_config.json`, import.meta.url), 'utf8');

test('defaults follow PEFT', () => {
  const m = new MissConfig();
  assert.equal(m.r, 64);
  assert.equal(m.initWeights, true);
  assert.equal(m.miniR, 1);
  assert.equal(m.missDropout, 0);
  assert.equal(m.bias, 'none');
  assert.equal(m.targetModules, null);
  assert.equal(m.peftType, 'MISS');
  const b = new BoneConfig();
  assert.equal(b.r, 64);
  assert.equal(b.peftType, 'BONE');
  const l = new LoraConfig();
  assert.equal(l.r, 8);
  assert.equal(l.loraAlpha, 8);
  assert.equal(l.scaling, 1);
  assert.equal(new LoraConfig({ r: 16, loraAlpha: 32, useRslora: true }).scaling, 32 / 4);
});

test('adapter_config.json written exactly as PEFT writes it (MISS, BONE, LORA)', () => {
  for (const [c, cls] of [['llama-miss-default', MissConfig], ['llama-miss-mini', MissConfig], ['llama-miss-bat', MissConfig],
    ['llama-bone-legacy', BoneConfig], ['llama-lora', LoraConfig]] as const) {
    const text = fixture(c);
    const cfg = cls.fromJSON(JSON.parse(text) as Record<string, JsonValue>, () => assert.fail('no warning expected'));
    assert.equal(cfg.toJSONString(), text, c);
  }
});

test('unknown config keys are warned about and ignored', () => {
  const o = JSON.parse(fixture('llama-miss-default')) as Record<string, JsonValue>;
  o.future_option = 3;
  const warnings: string[] = [];
  const cfg = MissConfig.fromJSON(o, (m) => warnings.push(m));
  assert.equal(cfg.r, 8);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /Unexpected keyword arguments \['future_option'\] for class MissConfig/);
});

test('validation errors say what to change', () => {
  assert.throws(() => new MissConfig({ r: 0 }), (e: Error) => e instanceof PeftError && /`r` should be a positive integer value but the value passed is 0/.test(e.message));
  assert.throws(() => new BoneConfig({ r: -2 }), PeftError);
  assert.throws(() => new MissConfig({ targetModules: '.*q_proj', layersToTransform: [0] }), /`layers_to_transform` cannot be used when `target_modules` is a str/);
  assert.throws(() => new MissConfig({ targetModules: '.*q_proj', layersPattern: 'layers' }), /`layers_pattern` cannot be used when `target_modules` is a str/);
  assert.throws(() => new MissConfig({ taskType: 'CAUSAL' }), /Invalid task type: 'CAUSAL'. Must be one of the following task types: SEQ_CLS/);
  assert.throws(() => new MissConfig({ bias: 'some' }), /Requested bias: some, is not implemented/);
  assert.doesNotThrow(() => new MissConfig({ bias: 'miss_only' }));
  assert.throws(() => new MissConfig({ initWeights: 'lora' as never }), /initWeights must be true, false, 'bat' or 'mini'/);
  assert.throws(() => new BoneConfig({ initWeights: 'mini' as never }), /initWeights must be true, false or 'bat'/);
  assert.throws(() => new MissConfig({ miniR: 0 }), /miniR must be a positive integer/);
  assert.throws(() => new MissConfig({ missDropout: 1 }), /missDropout must be in \[0, 1\)/);
  assert.throws(() => LoraConfig.fromJSON({ ...JSON.parse(fixture('llama-lora')), use_dora: true }), /'use_dora' = true is not supported/);
});

test('list targets become sets (duplicates dropped)', () => {
  assert.deepEqual(new MissConfig({ targetModules: ['q_proj', 'v_proj', 'q_proj'] }).targetModules, ['q_proj', 'v_proj']);
});

test('pythonJsonDumps matches json.dumps(indent=2, sort_keys=True)', () => {
  // Expected text produced by Python: json.dumps({"b": [1, {"z": None, "a": "é"}], "a": 0.5, "e": [], "d": {}}, indent=2, sort_keys=True)
  const expected = '{\n  "a": 0.5,\n  "b": [\n    1,\n    {\n      "a": "\\u00e9",\n      "z": null\n    }\n  ],\n  "d": {},\n  "e": []\n}';
  assert.equal(pythonJsonDumps({ b: [1, { z: null, a: 'é' }], a: 0.5, e: [], d: {} }), expected);
});

test('a file\'s values are checked by their field: the message names the file, the key and the JSON type found', () => {
  const o = JSON.parse(fixture('llama-miss-default')) as Record<string, JsonValue>;
  assert.throws(() => MissConfig.fromJSON({ ...o, r: '16' }, () => undefined, 'run/adapter_config.json'),
    /^PeftError: run\/adapter_config.json: `r` should be a positive integer value but the value passed is "16" \(a string\) \(MissConfig\)$/);
  assert.throws(() => MissConfig.fromJSON({ ...o, mini_r: 2.5 }, () => undefined, 'a.json'), /a\.json: "mini_r" must be a positive integer, found 2\.5 \(mini_r: The rank along out_features/);
  assert.throws(() => LoraConfig.fromJSON({ ...JSON.parse(fixture('llama-lora')), init_lora_weights: 'pissa' }, () => undefined), /"init_lora_weights" must be true, false or 'gaussian', found "pissa" \(a string\)/);
  assert.throws(() => MissConfig.fromOptions({ r: 8, miniRank: 2 }), /MissConfig: unknown option\(s\) miniRank; its options are .*miniR/);
});
