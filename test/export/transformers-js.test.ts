/**
 * `bone export --format onnx`, proven by transformers.js itself (4.3.1, offline, from the exported
 * folder): for a model of each architecture, its greedy generation equals `bone generate`'s tokens
 * and text exactly, and its logits equal the engine's within 1e-4; the float16 file equals the
 * engine run with float16-rounded weights; an adapter merged on export gives PEFT's merged logits;
 * weights in external data load the same. transformers.js is imported once for the file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runExport } from '../../src/cli/commands/export.ts';
import { runGenerate } from '../../src/cli/commands/generate.ts';
import { captureIO } from '../../src/cli/io.ts';
import { Tensor } from '../../src/engine/index.ts';
import { f16ToF32, f32ToF16 } from '../../src/engine/dtype.ts';
import { loadPretrained } from '../../src/io/model-folder.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { generate, type CausalLM } from '../../src/models/index.ts';

type TransformersJs = typeof import('@huggingface/transformers');

const FIXTURES = new URL('../fixtures/export/', import.meta.url).pathname;
const PROMPT = 'The quick brown fox';
const PROMPTS = ['Hello world! Hello there', 'A small model'];
const NEW_TOKENS = 20;
const LOGITS_TOLERANCE = 1e-4;

let tjs: TransformersJs;
let dir = '';

before(async () => {
  tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  dir = await mkdtemp(join(tmpdir(), 'bone-export-tjs-'));
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'logits sizes differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The engine's logits for rows of ids (left-padded with `pad`, masked). */
async function engineLogits(model: CausalLM, rows: readonly (readonly number[])[], mask: readonly (readonly number[])[]): Promise<Float32Array> {
  const T = rows[0]!.length;
  const int64 = (r: readonly (readonly number[])[]): Tensor => Tensor.fromData(BigInt64Array.from(r.flat(), (v) => BigInt(v)), [r.length, T], 'int64');
  const out = model.forward({ inputIds: int64(rows), attentionMask: int64(mask) });
  return await out.logits.floats() as Float32Array;
}

/** The model with every weight rounded to float16 and back: what model_fp16.onnx holds. */
function roundWeightsToFloat16(model: CausalLM): CausalLM {
  for (const p of model.parameters()) p.value = Tensor.fromData(f16ToF32(f32ToF16(p.value.storage as Float32Array)), p.value.shape);
  return model;
}

async function tjsGenerate(folder: string, dtype: 'fp32' | 'fp16', ids: readonly number[]): Promise<number[]> {
  const model = await tjs.AutoModelForCausalLM.from_pretrained(folder, { dtype });
  const input = new tjs.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]);
  const mask = new tjs.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  const out = await model.generate({ input_ids: input, attention_mask: mask, max_new_tokens: NEW_TOKENS, do_sample: false }) as InstanceType<TransformersJs['Tensor']>;
  await model.dispose();
  return (out.tolist() as bigint[][])[0]!.slice(ids.length).map(Number);
}

async function tjsLogits(folder: string, dtype: 'fp32' | 'fp16', rows: readonly (readonly number[])[], mask: readonly (readonly number[])[]): Promise<Float32Array> {
  const model = await tjs.AutoModelForCausalLM.from_pretrained(folder, { dtype });
  const T = rows[0]!.length;
  const t = (r: readonly (readonly number[])[]): InstanceType<TransformersJs['Tensor']> => new tjs.Tensor('int64', BigInt64Array.from(r.flat(), (v) => BigInt(v)), [r.length, T]);
  const out = await model({ input_ids: t(rows), attention_mask: t(mask) }) as { logits: { data: Float32Array } };
  await model.dispose();
  return out.logits.data;
}

/** Two prompts, left-padded to one length as transformers.js's tokenizer pads for generation. */
function leftPadded(encode: (s: string) => number[], pad: number): { rows: number[][]; mask: number[][]; real: boolean[] } {
  const ids = PROMPTS.map(encode);
  const T = Math.max(...ids.map((r) => r.length));
  const rows = ids.map((r) => [...new Array<number>(T - r.length).fill(pad), ...r]);
  const mask = ids.map((r) => [...new Array<number>(T - r.length).fill(0), ...new Array<number>(r.length).fill(1)]);
  return { rows, mask, real: mask.flat().map((m) => m === 1) };
}

/** Only the positions of real tokens (padded rows' logits there are padding's). */
function realRows(logits: Float32Array, real: readonly boolean[], vocab: number): Float32Array {
  return Float32Array.from(real.flatMap((r, i) => (r ? Array.from(logits.subarray(i * vocab, (i + 1) * vocab)) : [])));
}

for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3'] as const) {
  describe(`${arch}: transformers.js runs the exported folder as bone does`, () => {
    const source = join(FIXTURES, arch);
    const out = (): string => join(dir, arch);

    test('bone export --format onnx writes the folder transformers.js loads (fp32 and fp16 files)', async () => {
      const result = await runExport({ format: 'onnx', model: source, out: out(), dtype: ['fp32', 'fp16'], io: captureIO() });
      assert.deepEqual(result.files.filter((f) => f.startsWith('onnx/')), ['onnx/model.onnx', 'onnx/model_fp16.onnx']);
      const names = await readdir(out());
      for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx']) assert.ok(names.includes(f), `${f} missing`);
      // An existing output is refused (before any work) unless --overwrite.
      await assert.rejects(runExport({ format: 'onnx', model: source, out: out(), io: captureIO() }), /--out .* already exists \(a folder\); add --overwrite to replace it/);
    });

    test(`greedy generation of ${NEW_TOKENS} tokens (model.generate and the text-generation pipeline) equals bone generate's`, async () => {
      const ours = await runGenerate({ model: source, prompt: PROMPT, maxNewTokens: NEW_TOKENS, print: false, io: captureIO() });
      assert.equal(ours.tokens.length, NEW_TOKENS, 'the fixture should not stop early');
      const tokenizer = await tjs.AutoTokenizer.from_pretrained(out());
      assert.deepEqual(tokenizer.encode(PROMPT), ours.promptTokens, 'transformers.js tokenizes the prompt as bone does');
      assert.deepEqual(await tjsGenerate(out(), 'fp32', ours.promptTokens), ours.tokens);
      const generator = await tjs.pipeline('text-generation', out(), { dtype: 'fp32' });
      const [first] = await generator(PROMPT, { max_new_tokens: NEW_TOKENS, do_sample: false, return_full_text: false }) as { generated_text: string }[];
      assert.equal(first!.generated_text, ours.text);
      await generator.dispose();
    });

    test(`logits of a prompt and of a left-padded batch equal the engine's within ${LOGITS_TOLERANCE}`, async () => {
      const { model, tokenizer } = await loadPretrained(source);
      const ids = tokenizer!.encode(PROMPT);
      const single = maxAbsDiff(await tjsLogits(out(), 'fp32', [ids], [ids.map(() => 1)]), await engineLogits(model, [ids], [ids.map(() => 1)]));
      assert.ok(single <= LOGITS_TOLERANCE, `max |Δlogits| ${single}`);
      const { rows, mask, real } = leftPadded((s) => tokenizer!.encode(s), tokenizer!.padTokenId!);
      const V = model.config.vocab_size;
      const batch = maxAbsDiff(realRows(await tjsLogits(out(), 'fp32', rows, mask), real, V), realRows(await engineLogits(model, rows, mask), real, V));
      assert.ok(batch <= LOGITS_TOLERANCE, `max |Δlogits| over the padded batch ${batch}`);
    });

    test('dtype fp16: logits equal the engine with float16-rounded weights within 1e-4, and so do the greedy tokens', async () => {
      const { model, tokenizer } = await loadPretrained(source);
      roundWeightsToFloat16(model);
      const ids = tokenizer!.encode(PROMPT);
      const diff = maxAbsDiff(await tjsLogits(out(), 'fp16', [ids], [ids.map(() => 1)]), await engineLogits(model, [ids], [ids.map(() => 1)]));
      assert.ok(diff <= LOGITS_TOLERANCE, `max |Δlogits| ${diff}`);
      const ours = await generate(model, [ids], { maxNewTokens: NEW_TOKENS, eosTokenId: [...tokenizer!.eosTokenIds] });
      assert.deepEqual(await tjsGenerate(out(), 'fp16', ids), ours.newTokens[0]);
    });
  });
}

describe('llama with a MiSS adapter merged on export', () => {
  const source = join(FIXTURES, 'llama');
  const adapter = join(FIXTURES, 'llama-miss');
  const out = (): string => join(dir, 'llama-miss');

  test('transformers.js gives PEFT\'s merged logits (1e-4) and bone generate --adapter\'s tokens', async () => {
    await runExport({ format: 'onnx', model: source, adapter, out: out(), io: captureIO() });
    const { tensors } = await readSafetensors(join(adapter, 'merged-logits.safetensors'));
    const ids = Array.from(tensors.get('input_ids')!.data as BigInt64Array, Number);
    const diff = maxAbsDiff(await tjsLogits(out(), 'fp32', [ids], [ids.map(() => 1)]), tensors.get('logits')!.data as Float32Array);
    assert.ok(diff <= LOGITS_TOLERANCE, `max |Δlogits| against PEFT ${diff}`);
    const ours = await runGenerate({ model: source, adapter, prompt: PROMPT, maxNewTokens: NEW_TOKENS, print: false, io: captureIO() });
    assert.deepEqual(await tjsGenerate(out(), 'fp32', ours.promptTokens), ours.tokens);
  });
});

describe('weights as external data', () => {
  test('--external-data writes onnx/model.onnx_data, named in config.json, and transformers.js loads the same model', async () => {
    const source = join(FIXTURES, 'qwen2');
    const inline = join(dir, 'qwen2-inline');
    const external = join(dir, 'qwen2-external');
    await runExport({ format: 'onnx', model: source, out: inline, io: captureIO() });
    const result = await runExport({ format: 'onnx', model: source, out: external, externalData: true, io: captureIO() });
    assert.deepEqual(result.files.filter((f) => f.startsWith('onnx/')), ['onnx/model.onnx', 'onnx/model.onnx_data']);
    const ids = [5, 77, 130, 9, 250];
    const mask = [ids.map(() => 1)];
    assert.equal(maxAbsDiff(await tjsLogits(external, 'fp32', [ids], mask), await tjsLogits(inline, 'fp32', [ids], mask)), 0);
  });
});
