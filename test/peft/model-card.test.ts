/**
 * The README.md model card save_pretrained writes (issue 11, item 19), compared with the card PEFT
 * 0.21 wrote for the same reference adapters (test/fixtures/reference/<case>/adapter/README.md):
 * the same YAML metadata keys and tags (base_model:adapter:<base>, "lora" for LoRA, "transformers"),
 * the card ending with PEFT's "### Framework versions" block; and a user's own README is kept.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createModelFromConfig } from '../../src/models/index.ts';
import { PeftModel } from '../../src/peft/index.ts';
import { ROOT, readConfig } from '../models/helpers.ts';

let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'bone-model-card-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** The YAML front matter as key → lines, and the lines of the body. */
function card(text: string): { meta: Map<string, string[]>; body: string[] } {
  const [, front = '', body = ''] = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text) ?? [];
  const meta = new Map<string, string[]>();
  let key = '';
  for (const line of front.split('\n')) {
    if (line.startsWith('- ')) meta.get(key)!.push(line.slice(2).replace(/^'(.*)'$/, '$1'));
    else { key = line.split(':')[0]!; meta.set(key, line.includes(': ') ? [line.slice(key.length + 2).replace(/^'(.*)'$/, '$1')] : []); }
  }
  return { meta, body: body.split('\n') };
}

for (const name of ['llama-miss-default', 'llama-lora']) {
  test(`${name}: the card has PEFT's metadata and framework block`, async () => {
    const caseDir = join(ROOT, 'reference', name);
    const model = createModelFromConfig(readConfig(join(caseDir, 'base')));
    model.nameOrPath = 'HuggingFaceTB/SmolLM2-135M';
    const peft = await PeftModel.fromPretrained(model, join(caseDir, 'adapter'), { warn: () => undefined });
    const out = join(dir, name);
    await peft.savePretrained(out);
    const ours = card(await readFile(join(out, 'README.md'), 'utf8'));
    const peftCard = card(await readFile(join(caseDir, 'adapter', 'README.md'), 'utf8'));
    // PEFT's keys (its base_model is '' there: the model had no name); the base is the model's name here.
    assert.deepEqual([...ours.meta.keys()].sort(), [...peftCard.meta.keys()].sort());
    assert.deepEqual(ours.meta.get('library_name'), ['peft']);
    assert.deepEqual(ours.meta.get('base_model'), ['HuggingFaceTB/SmolLM2-135M']);
    const peftTags = peftCard.meta.get('tags')!.map((t) => (t === 'base_model:adapter:' ? 'base_model:adapter:HuggingFaceTB/SmolLM2-135M' : t));
    assert.deepEqual(ours.meta.get('tags'), [...peftTags, 'bone-peft'].sort());
    const framework = (b: string[]): string[] => b.slice(b.indexOf('### Framework versions'), b.indexOf('### Framework versions') + 3);
    assert.deepEqual(framework(ours.body), framework(peftCard.body));
    assert.ok(ours.body.includes('## How to Get Started with the Model') && peftCard.body.includes('## How to Get Started with the Model'));
  });
}

test('a README.md the user wrote is left alone; bone-peft\'s own card is replaced', async () => {
  const caseDir = join(ROOT, 'reference', 'llama-miss-default');
  const peft = await PeftModel.fromPretrained(createModelFromConfig(readConfig(join(caseDir, 'base'))), join(caseDir, 'adapter'), { warn: () => undefined });
  const out = join(dir, 'users-card');
  await peft.savePretrained(out);
  const first = await readFile(join(out, 'README.md'), 'utf8');
  await peft.savePretrained(out, { modelCard: { settings: [['--lr', '0.001']], results: [['final train loss', '1.5']] } });
  const second = await readFile(join(out, 'README.md'), 'utf8');
  assert.notEqual(second, first);
  assert.match(second, /#### Training Hyperparameters\n\n\| \| \|\n\|---\|---\|\n\| --lr \| 0\.001 \|\n\n### Results\n\n\| \| \|\n\|---\|---\|\n\| final train loss \| 1\.5 \|/);
  await writeFile(join(out, 'README.md'), '# My adapter\n');
  await peft.savePretrained(out);
  assert.equal(await readFile(join(out, 'README.md'), 'utf8'), '# My adapter\n');
});
