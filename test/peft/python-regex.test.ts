/**
 * Python `re` patterns as PEFT's target_modules uses them, translated to JavaScript. The expected
 * results are Python 3.11's re.fullmatch on the same pattern and module path (checked with the
 * reference environment); the refused constructs are those JavaScript has no equivalent for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModelFromConfig } from '../../src/models/index.ts';
import { MissConfig, PeftError, getPeftModel, pythonRegex, pythonRegexProblem } from '../../src/peft/index.ts';
import { readFileSync } from 'node:fs';

const Q = 'model.layers.0.self_attn.q_proj';

test('Python-only forms are translated: re.fullmatch gives what Python gives', () => {
  const cases: [string, string, boolean][] = [
    ['(?P<proj>q|v)_proj', Q, false],
    ['.*(?P<proj>q|v)_proj', Q, true],
    ['(?i).*Q_PROJ', Q, true],
    ['.*q_proj\\Z', Q, true],
    ['\\A.*(?P<a>q)_proj(?P=a)?', Q, true],
    ['.*\\_proj', 'x_proj', true],
    ['.*layers\\.[0-9]{,2}\\.self_attn\\.(q|v)_proj', 'model.layers.0.self_attn.v_proj', true],
    ['.*a{', 'xa{', true],
    ['.*(?#a comment)q_proj', 'a.q_proj', true],
    ['.*\\x71_proj', Q, true],
    ['.*\\161_proj', Q, true], // three octal digits: 'q'
    ['(a)\\1', 'aa', true], // one digit: a back-reference
  ];
  for (const [pattern, s, python] of cases) assert.equal(pythonRegex(pattern, 'fullmatch').test(s), python, pattern);
});

test('constructs without a JavaScript equivalent are refused by name', () => {
  const refused: [string, RegExp][] = [
    ['(?x).*', /\(\?x\) \(verbose mode\) has no JavaScript equivalent/],
    ['.*(?>a)', /\(\?>…\) \(an atomic group\)/],
    ['.*a++', /a possessive quantifier/],
    ['a(?i)b', /\(\?i\) must come first: global flags are allowed only at the start/],
    ['(?i:a)', /\(\?i:…\) \(flags for part of the pattern\) is not supported/],
    ['(?(1)a|b)', /a conditional/],
    ['\\N{EM DASH}', /\\N\{…\}/],
    ['lay[ers', /a character class "\[" is not closed/],
    ['(a', /not a valid regex \(Unterminated group\)/],
  ];
  for (const [pattern, message] of refused) assert.match(pythonRegexProblem(pattern) ?? 'accepted', message, pattern);
});

test('a config names the option and the construct; a valid Python regex targets what PEFT targets', () => {
  assert.throws(() => new MissConfig({ targetModules: '.*(?>q)_proj' }), (e: unknown) => e instanceof PeftError
    && e.message === 'MissConfig: targetModules ".*(?>q)_proj" is a Python regex (PEFT matches it with re.fullmatch) that bone-peft cannot run: (?>…) (an atomic group) has no JavaScript equivalent: write a plain group (…)');
  assert.throws(() => MissConfig.fromJSON({ peft_type: 'MISS', exclude_modules: 'a(?i)b' }, () => undefined, 'run/adapter_config.json'), /^PeftError: run\/adapter_config.json: "exclude_modules" "a\(\?i\)b" is a Python regex/);
  assert.throws(() => new MissConfig({ targetModules: ['q_proj'], modulesToSave: ['lm_(head'] }), /modulesToSave: the entry "lm_\(head" cannot be used as a Python regex \(PEFT matches each entry inside the regex/);
  assert.throws(() => new MissConfig({ targetModules: ['q_proj'], layersToTransform: [0], layersPattern: 'lay[ers' }), /layersPattern: the entry "lay\[ers"/);
  // all-linear is PEFT's keyword, not a regex
  assert.equal(new MissConfig({ targetModules: 'ALL-LINEAR' }).targetModules, 'ALL-LINEAR');

  const config = JSON.parse(readFileSync(new URL('../fixtures/reference/llama-miss-default/base/config.json', import.meta.url), 'utf8'));
  const peft = getPeftModel(createModelFromConfig(config), new MissConfig({ r: 8, targetModules: '(?i).*\\.(?P<p>Q|V)_PROJ\\Z' }), 'default', { warn: () => undefined });
  assert.deepEqual(peft.adapterLayers().map(([p]) => p), [
    'model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
});
