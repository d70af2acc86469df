/**
 * The project's reference cases (transformers 5.18): the base model's logits on the case's
 * input_ids must match `logits_base` within 1e-4 (float32 allows it; measured here about 2e-7).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, loadFixtureModel, maxAbsDiff, readTensors } from './helpers.ts';

const REF = join(ROOT, 'reference');
const cases = readdirSync(REF).filter((c) => existsSync(join(REF, c, 'base', 'config.json')));

test('there are reference cases to check', () => {
  assert.ok(cases.length >= 1);
});

for (const name of cases) {
  test(`reference ${name}: base logits match transformers within 1e-4`, async () => {
    const model = await loadFixtureModel(join(REF, name, 'base'));
    const io = await readTensors(join(REF, name, 'io.safetensors'));
    const { logits } = model.forward({ inputIds: io.get('input_ids')! });
    const want = io.get('logits_base')!;
    assert.deepEqual(logits.shape, want.shape);
    const diff = maxAbsDiff(await logits.data() as Float32Array, want.storage as Float32Array);
    assert.ok(diff < 1e-4, `max |Δlogit| = ${diff}`);
  });
}
