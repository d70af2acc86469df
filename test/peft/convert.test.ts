import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { convertBoneToMiss } from '../../src/peft/index.ts';

const ref = (c: string): string => new URL(`../fixtures/reference/${c}/adapter`, import.meta.url).pathname;

test('a Bone checkpoint converts to the MiSS checkpoint PEFT 0.21 wrote for the same adapter', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-convert-'));
  try {
    assert.deepEqual(await convertBoneToMiss(ref('llama-bone-legacy'), dir), { tensors: 4 });
    const got = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    const expected = await readSafetensors(join(ref('llama-miss-default'), 'adapter_model.safetensors'));
    assert.deepEqual([...got.tensors.keys()].sort(), [...expected.tensors.keys()].sort());
    for (const [k, t] of expected.tensors) assert.deepEqual(got.tensors.get(k), t, k);
    assert.deepEqual(got.metadata, { format: 'pt' });
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    const bone = JSON.parse(await readFile(join(ref('llama-bone-legacy'), 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config, { ...bone, peft_type: 'MISS' });
    // PEFT's script keeps the key order and indents by 2
    assert.deepEqual(Object.keys(config), Object.keys(bone));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('converting in place works; converting a non-Bone adapter is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bone-convert-'));
  try {
    await cp(ref('llama-bone-legacy'), dir, { recursive: true });
    await convertBoneToMiss(dir, dir);
    await assert.rejects(convertBoneToMiss(dir, dir), /expected peft_type "BONE" to convert, found "MISS"/);
    await assert.rejects(convertBoneToMiss(join(dir, 'missing'), dir), /cannot read the adapter config/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
