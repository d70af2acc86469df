/**
 * Generation: greedy tokens identical to transformers' generate (left-padded batch, EOS stopping
 * and pad filling), the key/value cache giving the same tokens as rerunning the whole sequence,
 * decoding compiling one graph for all its steps, and seeded sampling.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Generator, Tensor, engineStats, realize } from '../../src/engine/index.ts';
import { generate, sampleToken, type CausalLM } from '../../src/models/index.ts';
import { ROOT, loadFixtureModel, readTensors } from './helpers.ts';

const CASE = join(ROOT, 'models', 'llama-generate');

async function fixture(): Promise<{ model: CausalLM; io: Map<string, Tensor>; info: { eos_token_id: number; pad_token_id: number; max_new_tokens: number } }> {
  return {
    model: await loadFixtureModel(CASE),
    io: await readTensors(join(CASE, 'io.safetensors')),
    info: JSON.parse(readFileSync(join(CASE, 'case.json'), 'utf8')) as { eos_token_id: number; pad_token_id: number; max_new_tokens: number },
  };
}

const rows = async (t: Tensor): Promise<number[][]> => (await t.toArray() as bigint[][]).map((r) => r.map(Number));

for (const useCache of [true, false]) {
  test(`greedy generation matches transformers exactly (${useCache ? 'with' : 'without'} the cache)`, async () => {
    const { model, io, info } = await fixture();
    const common = { maxNewTokens: info.max_new_tokens, attentionMask: io.get('attention_mask')!, padTokenId: info.pad_token_id, useCache };
    const withEos = await generate(model, io.get('input_ids')!, { ...common, eosTokenId: info.eos_token_id });
    assert.deepEqual(withEos.sequences, await rows(io.get('generated')!));
    const free = await generate(model, io.get('input_ids')!, { ...common, eosTokenId: null });
    assert.deepEqual(free.sequences, await rows(io.get('generated_no_eos')!));
  });
}

// (Not the dynamic-rope fixture: there, as in transformers, cached keys keep the rotation of the step that wrote them.)
for (const dir of ['reference/qwen2-miss-all-linear/base', 'models/mistral-sliding', 'models/qwen3-sliding-layers']) {
  test(`the cache gives the same greedy tokens as decoding without it (${dir})`, async () => {
    const model = await loadFixtureModel(join(ROOT, dir));
    const prompt = [[5, 17, 200, 42, 7], [0, 0, 88, 91, 3]];
    const attentionMask = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];
    const opts = { maxNewTokens: 10, attentionMask, eosTokenId: null, cacheBlock: 16 };
    const cached = await generate(model, prompt, opts);
    const plain = await generate(model, prompt, { ...opts, useCache: false });
    assert.deepEqual(cached.sequences, plain.sequences);
    assert.equal(cached.newTokens[0]!.length, 10);
  });
}

test('decoding compiles one graph for all its steps', async () => {
  const { model, io } = await fixture();
  const opts = { maxNewTokens: 6, attentionMask: io.get('attention_mask')!, eosTokenId: null };
  await generate(model, io.get('input_ids')!, opts); // compiles prefill + the decode step
  const before = engineStats.compiles;
  await generate(model, io.get('input_ids')!, { ...opts, maxNewTokens: 12 });
  assert.equal(engineStats.compiles, before, 'a longer run within the same cache capacity compiled new graphs');
});

test('a cached forward step equals the uncached forward at that position', async () => {
  const { model, io } = await fixture();
  const ids = io.get('input_ids')!;
  const mask = io.get('attention_mask')!;
  const [B, T] = ids.shape as [number, number];
  const full = await model.forward({ inputIds: ids, attentionMask: mask }).logits.data() as Float32Array;
  // Prefill T-1 tokens, then the last one through the cache.
  const head = Tensor.fromData((ids.storage as BigInt64Array).filter((_, i) => i % T < T - 1), [B, T - 1], 'int64');
  const headMask = Tensor.fromData((mask.storage as BigInt64Array).filter((_, i) => i % T < T - 1), [B, T - 1], 'int64');
  const pre = model.forward({ inputIds: head, attentionMask: headMask, pastKeyValues: model.createCache(B, 32) });
  await realize(pre.pastKeyValues!.tensors());
  const last = Tensor.fromData((ids.storage as BigInt64Array).filter((_, i) => i % T === T - 1), [B, 1], 'int64');
  const step = model.forward({ inputIds: last, attentionMask: mask, pastKeyValues: pre.pastKeyValues! });
  const got = await step.logits.data() as Float32Array;
  const V = model.config.vocab_size;
  for (let b = 0; b < B; b++) {
    for (let v = 0; v < V; v++) {
      assert.ok(Math.abs(got[b * V + v]! - full[(b * T + T - 1) * V + v]!) < 1e-5);
    }
  }
  assert.equal(step.pastKeyValues!.length, T);
  // The mask may also span every cache slot (zeros beyond the tokens so far).
  const wide = new BigInt64Array(B * 32);
  (mask.storage as BigInt64Array).forEach((v, i) => { wide[Math.floor(i / T) * 32 + (i % T)] = v; });
  const stepWide = model.forward({ inputIds: last, attentionMask: Tensor.fromData(wide, [B, 32], 'int64'), pastKeyValues: pre.pastKeyValues! });
  assert.deepEqual(await stepWide.logits.data(), got);
});

test('a full cache is refused with its capacity in the message', async () => {
  const { model } = await fixture();
  const cache = model.createCache(1, 4);
  assert.throws(() => model.forward({ inputIds: Tensor.from([[5n, 6n, 7n, 8n, 9n]]), pastKeyValues: cache }), /capacity of 4/);
});

test('sampling is reproducible with a seed, and top-k 1 is greedy', async () => {
  const { model, io } = await fixture();
  const base = { maxNewTokens: 6, attentionMask: io.get('attention_mask')!, eosTokenId: null, doSample: true, temperature: 0.8, topP: 0.9 };
  const a = await generate(model, io.get('input_ids')!, { ...base, seed: 7 });
  const b = await generate(model, io.get('input_ids')!, { ...base, seed: 7 });
  assert.deepEqual(a.sequences, b.sequences);
  const greedy = await generate(model, io.get('input_ids')!, { maxNewTokens: 6, attentionMask: io.get('attention_mask')!, eosTokenId: null });
  const top1 = await generate(model, io.get('input_ids')!, { ...base, topK: 1, seed: 3 });
  assert.deepEqual(top1.sequences, greedy.sequences);
});

test('sampleToken follows the warpers: top-k keeps k tokens, top-p the nucleus', () => {
  const logits = Float32Array.from([0, 1, 2, 3, 10]);
  const g = new Generator(1);
  const counts = new Array<number>(5).fill(0);
  for (let i = 0; i < 2000; i++) counts[sampleToken(logits, { temperature: 5, topK: 2, topP: 1, generator: g })]!++;
  assert.deepEqual(counts.slice(0, 3), [0, 0, 0]);
  assert.ok(counts[3]! > 0 && counts[4]! > counts[3]!);
  // p(4) ≈ 0.9995 at temperature 1: a top-p of 0.5 keeps only token 4.
  for (let i = 0; i < 200; i++) assert.equal(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.5, generator: g }), 4);
});

test('right-padded prompts are refused', async () => {
  const { model } = await fixture();
  await assert.rejects(generate(model, [[5, 6, 0], [5, 6, 7]], { maxNewTokens: 2, attentionMask: [[1, 1, 0], [1, 1, 1]] }), /rows 0 are right-padded/);
});

test('generation refuses NaN logits instead of printing an empty completion', async () => {
  const { model } = await fixture();
  const p = model.getParameter('model.norm.weight');
  p.value = Tensor.fromData(new Float32Array(p.size).fill(NaN), p.shape);
  await assert.rejects(generate(model, [[1, 2, 3]], { maxNewTokens: 3 }), /^ModelError: generate: the logits of new token 1 hold \d+ NaN, 0 Inf \(first at flat index 0\): the model's weights or an adapter on it produce non-finite values/);
});
