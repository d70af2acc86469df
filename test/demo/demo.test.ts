/**
 * The demo's shipped files are what the repository's scripts make, and the shipped base model
 * knows what demo/README.md says it knows. (The demo itself, `npm run demo`, is not run here: it
 * trains two adapters for a minute or more.)
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPretrained } from '../../src/io/model-folder.ts';
import { readJsonl } from '../../src/train/data.ts';
import { greedyContinuations, isExactMatch } from '../../demo/answer.ts';
import { tokenizerConfigJson, tokenizerJson } from '../../demo/char-tokenizer.ts';
import { DEMO_MODEL_DIR, MAX_POSITIONS, demoModelConfig } from '../../demo/model-files.ts';
import { EOS_TOKEN, SKILLS, knowledgeProbe, makeTaskSplits } from '../../demo/tiny-world.ts';

const DATA_DIR = fileURLToPath(new URL('../../demo/data/', import.meta.url));
const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));

test('demo/data holds the splits scripts/make-demo-data.ts makes (seed 7, 3000 train, 150 held out), with no held-out prompt in training', async () => {
  const { train, eval: held } = makeTaskSplits(7, 3000, 150);
  const trainFile = (await readJsonl(join(DATA_DIR, 'train.jsonl'))).map((r) => r.value);
  const evalFile = (await readJsonl(join(DATA_DIR, 'eval.jsonl'))).map((r) => r.value);
  assert.deepEqual(trainFile, train.map((e) => ({ prompt: e.prompt, completion: e.completion })));
  assert.deepEqual(evalFile, held.map((e) => ({ prompt: e.prompt, completion: e.completion, skill: e.skill })));
  const trainPrompts = new Set(train.map((e) => e.prompt));
  assert.equal(held.filter((e) => trainPrompts.has(e.prompt)).length, 0);
  for (const skill of SKILLS) assert.equal(held.filter((e) => e.skill === skill).length, 50, skill);
});

test('demo/model holds the configuration and tokenizer files that demo/ writes', async () => {
  assert.deepEqual(await readJson(join(DEMO_MODEL_DIR, 'tokenizer.json')), tokenizerJson());
  assert.deepEqual(await readJson(join(DEMO_MODEL_DIR, 'tokenizer_config.json')), tokenizerConfigJson(MAX_POSITIONS));
  const config = (await readJson(join(DEMO_MODEL_DIR, 'config.json'))) as Record<string, unknown>;
  // savePretrained writes rope_theta inside rope_parameters, as transformers 5 does.
  const { rope_theta: ropeTheta, ...rest } = demoModelConfig();
  for (const [key, value] of Object.entries(rest)) assert.deepEqual(config[key], value, `config.json ${key}`);
  assert.deepEqual(config.rope_parameters, { rope_theta: ropeTheta, rope_type: 'default' });
});

test('the shipped base model states the facts in its pretraining phrasing (the probe of scripts/pretrain-demo-model.ts), and round-trips text through its tokenizer', async () => {
  const { model, tokenizer } = await loadPretrained(DEMO_MODEL_DIR);
  assert.ok(tokenizer);
  assert.equal(model.numParameters(), 1_638_912);
  const text = 'Q: what is candle backwards\nA: eldnac' + EOS_TOKEN;
  assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  assert.equal(tokenizer.encode(text).length, text.length - EOS_TOKEN.length + 1, 'one token per character');

  model.eval();
  const probe = knowledgeProbe(99, 90);
  const outputs = await greedyContinuations(model, tokenizer, probe.map((p) => p.prompt), { maxNewTokens: 14, batchSize: 90 });
  const wrong = probe.flatMap((p, i) => (isExactMatch(outputs[i]!, p.completion) ? [] : [`${JSON.stringify(p.prompt)} → ${JSON.stringify(outputs[i])}`]));
  // demo/README.md: 100% on the 90 probe facts after pretraining.
  assert.deepEqual(wrong, []);
});
