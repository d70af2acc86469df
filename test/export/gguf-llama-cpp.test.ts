/**
 * `bone export --format gguf`, proven by llama.cpp itself (node-llama-cpp 3.21.1's prebuilt CPU
 * binary, offline): for the Llama, Qwen2 and Qwen3 fixtures (byte-level BPE tokenizers of the
 * smollm and qwen2 kinds), llama.cpp reads the metadata bone wrote, tokenizes text as bone does, and
 * its greedy 20 tokens from the f32 file equal `bone generate`'s; its perplexity on a fixture text
 * equals the engine's within 1e-3 relative (measured: 1.1–1.6e-4; llama.cpp takes its
 * probabilities through its sampler's float32 softmax); the q8_0 file produces text and its perplexity is
 * within 1 % of the f32 file's. A MiSS adapter as a llama.cpp LoRA GGUF (`--format gguf-lora`) on the
 * base file gives the merged file's greedy tokens, and its perplexity within 1e-3.
 *
 * node-llama-cpp is not a devDependency (docs/design.md, "Testing GGUF files"): CI installs it, and
 * `npm run test:llama-cpp` installs it and runs this file. Without it this file says so and skips,
 * except under CI, where its absence fails.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runExport } from '../../src/cli/commands/export.ts';
import { runGenerate } from '../../src/cli/commands/generate.ts';
import { captureIO } from '../../src/cli/io.ts';
import { Generator, Tensor } from '../../src/engine/index.ts';
import { loadPretrained } from '../../src/io/model-folder.ts';
import { MissConfig, getPeftModel } from '../../src/peft/index.ts';
import { llamaCpp, type LlamaCpp, type LlamaCppModel } from '../helpers/llama-cpp.ts';

const FIXTURES = new URL('../fixtures/export/', import.meta.url).pathname;
const PROMPT = 'The quick brown fox';
const TEXT = 'Hello world! The tokenizer splits text into pieces, and each piece maps to an integer id.';
const NEW_TOKENS = 20;

let runtime: LlamaCpp | null = null;
let dir = '';
const absent = await llamaCpp.available();

before(async () => {
  if (absent) return;
  runtime = await llamaCpp.load();
  dir = await mkdtemp(join(tmpdir(), 'bone-export-gguf-'));
});
after(async () => {
  await runtime?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The engine's perplexity of `ids` (exp of the mean negative log-likelihood of each next token). */
async function enginePerplexity(source: string, ids: readonly number[]): Promise<number> {
  const { model } = await loadPretrained(source);
  const logits = await model.forward({ inputIds: Tensor.fromData(BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length], 'int64') }).logits.floats();
  const V = model.config.vocab_size;
  let nll = 0;
  for (let k = 0; k + 1 < ids.length; k++) {
    const row = logits.subarray(k * V, (k + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    nll -= row[ids[k + 1]!]! - max - Math.log(sum);
  }
  return Math.exp(nll / (ids.length - 1));
}

describe('GGUF files run in llama.cpp (node-llama-cpp 3.21.1)', { skip: absent ?? false }, () => {
  for (const arch of ['llama', 'qwen2', 'qwen3'] as const) {
    const source = join(FIXTURES, arch);
    const file = (dtype: string): string => join(dir, `${arch}-${dtype}.gguf`);
    let f32: LlamaCppModel;

    test(`${arch}: llama.cpp reads the f32 file's metadata and tokenizes as bone does`, async () => {
      await runExport({ format: 'gguf', model: source, out: file('f32'), dtype: ['f32'], io: captureIO() });
      f32 = await runtime!.loadModel(file('f32'));
      const meta = await runtime!.metadata(file('f32'));
      const { model, tokenizer } = await loadPretrained(source);
      assert.equal(meta.general.architecture, arch);
      assert.equal(meta.general.file_type, 0);
      assert.equal(meta.tokenizer.ggml.pre, arch === 'llama' ? 'smollm' : 'qwen2');
      assert.equal(meta.tokenizer.ggml.tokens.length, model.config.vocab_size);
      assert.equal(typeof meta.tokenizer.chat_template, 'string');
      for (const text of [PROMPT, TEXT, 'Numbers like 12, 345 and 6789.']) assert.deepEqual(f32.tokenize(text), tokenizer!.encode(text), text);
    });

    test(`${arch}: greedy ${NEW_TOKENS} tokens from the f32 file equal bone generate's; perplexity equals the engine's within 1e-3 (relative)`, async () => {
      const ours = await runGenerate({ model: source, prompt: PROMPT, maxNewTokens: NEW_TOKENS, print: false, io: captureIO() });
      assert.equal(ours.tokens.length, NEW_TOKENS);
      assert.deepEqual(await f32.greedy(ours.promptTokens, NEW_TOKENS), ours.tokens);
      const ids = f32.tokenize(TEXT);
      const theirs = await f32.perplexity(ids);
      const engine = await enginePerplexity(source, ids);
      assert.ok(Math.abs(theirs - engine) / engine <= 1e-3, `llama.cpp ${theirs}, engine ${engine}`);
    });

    test(`${arch}: q8_0 produces text, with a perplexity within 1 % of the f32 file's`, async () => {
      await runExport({ format: 'gguf', model: source, out: file('q8_0'), dtype: ['q8_0'], io: captureIO() });
      const q8 = await runtime!.loadModel(file('q8_0'));
      assert.equal((await runtime!.metadata(file('q8_0'))).general.file_type, 7);
      const tokens = await q8.greedy(q8.tokenize(PROMPT), NEW_TOKENS);
      assert.ok(q8.detokenize(tokens).length > 0, 'q8_0 generated no text');
      const ids = f32.tokenize(TEXT);
      const [p32, p8] = [await f32.perplexity(ids), await q8.perplexity(ids)];
      assert.ok(Math.abs(p8 - p32) / p32 <= 0.01, `perplexity f32 ${p32}, q8_0 ${p8}`);
    });
  }
});

/** A MiSS adapter (default mode) with random blocks for a fixture, saved in `out`. */
async function randomMissAdapter(source: string, out: string): Promise<void> {
  const { model } = await loadPretrained(source);
  const peft = getPeftModel(model, new MissConfig({ r: 4, targetModules: ['q_proj', 'k_proj', 'o_proj', 'up_proj'] }));
  const generator = new Generator(7);
  for (const [name, p] of peft.namedParameters()) if (name.includes('miss_block')) p.value = Tensor.randn(p.shape, { std: 0.05, generator });
  await peft.savePretrained(out);
}

describe('gguf-lora: a MiSS adapter as a llama.cpp LoRA on the base file equals the merged file', { skip: absent ?? false }, () => {
  for (const arch of ['llama', 'qwen2'] as const) {
    test(`${arch}: base + LoRA GGUF gives the merged GGUF's greedy ${NEW_TOKENS} tokens and perplexity (1e-3)`, async () => {
      const source = join(FIXTURES, arch);
      let adapter = join(FIXTURES, 'llama-miss');
      if (arch !== 'llama') { adapter = join(dir, `${arch}-miss`); await randomMissAdapter(source, adapter); }
      const file = (what: string): string => join(dir, `${arch}-${what}.gguf`);
      await runExport({ format: 'gguf', model: source, out: file('base'), dtype: ['f32'], io: captureIO() });
      await runExport({ format: 'gguf', model: source, adapter, out: file('merged'), dtype: ['f32'], io: captureIO() });
      await runExport({ format: 'gguf-lora', model: source, adapter, out: file('lora'), io: captureIO() });
      const meta = await runtime!.metadata(file('lora'));
      assert.equal(meta.general.type, 'adapter');
      assert.equal(meta.adapter!.type, 'lora');
      assert.equal(meta.adapter!.lora.alpha, arch === 'llama' ? 8 : 4);
      const merged = await runtime!.loadModel(file('merged'));
      const withLora = await runtime!.loadModel(file('base'), { lora: file('lora') });
      const ours = await runGenerate({ model: source, adapter, prompt: PROMPT, maxNewTokens: NEW_TOKENS, print: false, io: captureIO() });
      assert.deepEqual(await merged.greedy(ours.promptTokens, NEW_TOKENS), ours.tokens, 'merged file vs bone generate --adapter');
      assert.deepEqual(await withLora.greedy(ours.promptTokens, NEW_TOKENS), ours.tokens, 'base + LoRA vs bone generate --adapter');
      const ids = merged.tokenize(TEXT);
      const [pm, pl] = [await merged.perplexity(ids), await withLora.perplexity(ids)];
      assert.ok(Math.abs(pm - pl) / pm <= 1e-3, `perplexity merged ${pm}, base + LoRA ${pl}`);
    });
  }
});
