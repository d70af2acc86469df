/**
 * MiSS / Bone → LoRA against PEFT 0.21's own convert_to_lora / save_as_lora
 * (test/fixtures/lora-conversion, made by scripts/make_lora_conversion_fixtures.py):
 * - exact modes (default, mini, a padded shape, every linear layer, a legacy Bone folder, and
 *   layers_to_transform + modules_to_save + a second adapter): the same tensors within 1e-6 and the
 *   same adapter_config.json; the engine with the converted LoRA gives PEFT's LoRA logits within 1e-5;
 * - bat: at ranks 2, 8, 32 each layer's relative reconstruction error equals PEFT's within 1e-5, B·A
 *   equals PEFT's within 1e-5, the engine's logits equal PEFT's LoRA logits within 1e-4 and approach
 *   the adapter's as the rank grows; a share of 0.9 picks PEFT's rank for every layer.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runConvert } from '../../src/cli/commands/convert.ts';
import { captureIO } from '../../src/cli/io.ts';
import { Tensor } from '../../src/engine/index.ts';
import { loadModel } from '../../src/io/model-folder.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { PeftModel, convertAdapterFolderToLora, type ConvertFolderResult } from '../../src/peft/index.ts';

const ROOT = new URL('../fixtures/', import.meta.url).pathname;
const REF = join(ROOT, 'reference');
const CONV = join(ROOT, 'lora-conversion');

let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'bone-to-lora-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

async function tensorsOf(folder: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const { tensors } = await readSafetensors(join(folder, 'adapter_model.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, { shape: [...t.shape], data: t.data as Float32Array }]));
}

async function configOf(folder: string): Promise<Record<string, unknown>> {
  const json = JSON.parse(await readFile(join(folder, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  // PEFT writes target_modules from a Python set, in hash order.
  if (Array.isArray(json.target_modules)) json.target_modules = [...(json.target_modules as string[])].sort();
  return json;
}

interface Io { ids: Tensor; get(key: string): Float32Array }

async function io(name: string): Promise<Io> {
  const { tensors } = await readSafetensors(join(CONV, name, 'io.safetensors'));
  const ids = tensors.get('input_ids')!;
  return { ids: Tensor.fromData(ids.data as BigInt64Array, ids.shape, 'int64'), get: (key) => tensors.get(key)!.data as Float32Array };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** B·A of a layer, [out, in]. */
function product(a: { shape: number[]; data: Float32Array }, b: { shape: number[]; data: Float32Array }): Float64Array {
  const [r, inF] = a.shape as [number, number];
  const out = b.shape[0]!;
  const p = new Float64Array(out * inF);
  for (let o = 0; o < out; o++) for (let k = 0; k < r; k++) {
    const w = b.data[o * r + k]!;
    for (let i = 0; i < inF; i++) p[o * inF + i]! += w * a.data[k * inF + i]!;
  }
  return p;
}

/** The engine's logits with a LoRA folder (and, for a second adapter, that one loaded and active). */
async function engineLogits(base: string, lora: string, ids: Tensor, second?: string): Promise<Float32Array> {
  const peft = await PeftModel.fromPretrained(await loadModel(base), lora, { warn: () => undefined });
  if (second) { await peft.loadAdapter(join(lora, second), second); peft.setAdapter(second); }
  peft.eval();
  return await peft.forward({ inputIds: ids }).logits.floats() as Float32Array;
}

const EXACT = [
  ['llama-miss-default', 'default mode'], ['llama-miss-mini', 'mini mode'], ['llama-miss-pad', 'in_features 72, not a multiple of r 16'],
  ['qwen2-miss-all-linear', 'every linear layer, target_modules as full names'], ['llama-bone-legacy', 'a legacy Bone folder (peft_type BONE)'],
] as const;

describe('exact conversions equal PEFT\'s convert_to_lora', () => {
  for (const [name, what] of EXACT) {
    test(`${name} (${what}): tensors within 1e-6, the same config, PEFT's LoRA logits within 1e-5`, async () => {
      const out = join(dir, name);
      const result = await runConvert({ to: 'lora', adapter: join(REF, name, 'adapter'), model: join(REF, name, 'base'), out, io: captureIO() });
      assert.equal(result.to, 'LORA');
      const [ours, theirs] = [await tensorsOf(out), await tensorsOf(join(CONV, name, 'lora'))];
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
      for (const [k, t] of theirs) {
        assert.deepEqual(ours.get(k)!.shape, t.shape, k);
        assert.ok(maxAbsDiff(ours.get(k)!.data, t.data) <= 1e-6, k);
      }
      assert.deepEqual(await configOf(out), await configOf(join(CONV, name, 'lora')));
      const data = await io(name);
      const logits = await engineLogits(join(REF, name, 'base'), out, data.ids);
      assert.ok(maxAbsDiff(logits, data.get('logits_lora')) <= 1e-5);
    });
  }

  test('llama-extras: layers_to_transform, modules_to_save (lm_head carried over) and a second adapter in a subfolder', async () => {
    const out = join(dir, 'extras');
    const source = join(CONV, 'llama-extras');
    await convertAdapterFolderToLora(join(source, 'adapter'), out, { model: join(REF, 'llama-miss-default', 'base') });
    const data = await io('llama-extras');
    for (const sub of ['', 'second']) {
      const [ours, theirs] = [await tensorsOf(join(out, sub)), await tensorsOf(join(source, 'lora', sub))];
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
      for (const [k, t] of theirs) assert.ok(maxAbsDiff(ours.get(k)!.data, t.data) <= 1e-6, k);
      assert.deepEqual(await configOf(join(out, sub)), await configOf(join(source, 'lora', sub)));
    }
    const ids = data.ids;
    const base = join(REF, 'llama-miss-default', 'base');
    assert.ok(maxAbsDiff(await engineLogits(base, out, ids), data.get('logits_lora')) <= 1e-5);
    assert.ok(maxAbsDiff(await engineLogits(base, out, ids, 'second'), data.get('logits_lora.second')) <= 1e-5);
  });

  test('an existing --out is refused unless --overwrite; a bat adapter needs a rank', async () => {
    const out = join(dir, 'llama-miss-default');
    await assert.rejects(runConvert({ to: 'lora', adapter: join(REF, 'llama-miss-default', 'adapter'), model: join(REF, 'llama-miss-default', 'base'), out, io: captureIO() }), /already holds an adapter .*add --overwrite/);
    await runConvert({ to: 'lora', adapter: join(REF, 'llama-miss-default', 'adapter'), model: join(REF, 'llama-miss-default', 'base'), out, overwrite: true, io: captureIO() });
    await assert.rejects(runConvert({ to: 'lora', adapter: join(REF, 'llama-miss-bat', 'adapter'), model: join(REF, 'llama-miss-bat', 'base'), out: join(dir, 'no-rank'), io: captureIO() }),
      /is bat, whose update depends on the base weight and is factored by SVD: give a rank/);
  });
});

describe('bat: the SVD of ΔW, as PEFT', () => {
  const source = join(REF, 'llama-miss-bat');
  let peftCase: { relative_error: Record<string, Record<string, number>>; effective_rank: Record<string, Record<string, number>> };
  const gaps: number[] = [];

  before(async () => { peftCase = JSON.parse(await readFile(join(CONV, 'llama-miss-bat', 'case.json'), 'utf8')) as typeof peftCase; });

  for (const rank of [2, 8, 32]) {
    test(`rank ${rank}: per-layer reconstruction error and B·A equal PEFT's within 1e-5; logits PEFT's within 1e-4`, async () => {
      const out = join(dir, `bat-${rank}`);
      const result: ConvertFolderResult = await convertAdapterFolderToLora(join(source, 'adapter'), out, { model: join(source, 'base'), rank });
      for (const layer of result.adapters[0]!.layers) {
        assert.equal(layer.rank, rank);
        assert.ok(Math.abs(layer.relativeError - peftCase.relative_error[String(rank)]![layer.name]!) <= 1e-5, `${layer.name}: ${layer.relativeError}`);
      }
      const [ours, theirs] = [await tensorsOf(out), await tensorsOf(join(CONV, 'llama-miss-bat', `lora-${rank}`))];
      for (const k of [...theirs.keys()].filter((key) => key.endsWith('lora_A.weight'))) {
        const bKey = k.replace('lora_A', 'lora_B');
        assert.ok(maxAbsDiff(product(ours.get(k)!, ours.get(bKey)!), product(theirs.get(k)!, theirs.get(bKey)!)) <= 1e-5, k);
      }
      const data = await io('llama-miss-bat');
      const logits = await engineLogits(join(source, 'base'), out, data.ids);
      assert.ok(maxAbsDiff(logits, data.get(`logits_lora-${rank}`)) <= 1e-4);
      gaps.push(maxAbsDiff(logits, data.get('logits_adapter')));
      // Logits approach the bat adapter's as the rank grows.
      for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! < gaps[i - 1]!, `max |Δlogits| by rank: ${gaps.join(', ')}`);
    });
  }

  test('a share of 0.9 of the squared singular values: PEFT\'s rank for every layer, in rank_pattern/alpha_pattern', async () => {
    const out = join(dir, 'bat-0.9');
    const result = await runConvert({ to: 'lora', adapter: join(source, 'adapter'), model: join(source, 'base'), rank: '0.9', out, io: captureIO() });
    assert.equal(result.to, 'LORA');
    assert.deepEqual(await configOf(out), await configOf(join(CONV, 'llama-miss-bat', 'lora-0.9')));
    const ours = await tensorsOf(out);
    for (const [name, r] of Object.entries(peftCase.effective_rank['0.9']!)) assert.equal(ours.get(`base_model.model.${name}.lora_A.weight`)!.shape[0], r, name);
  });
});
