/**
 * The model fixtures of scripts/make_model_fixtures.py (transformers 5.18): logits within 1e-4 of
 * transformers' for Mistral (sliding window), Qwen3 (q/k norms, explicit head_dim, sliding layers),
 * Qwen2 (biases), Llama (untied head, biases), the rope scalings (llama3, linear in the legacy
 * config keys, dynamic past max_position_embeddings), left- and right-padded batches (position
 * ids derived from the mask; every position compared, padded ones included: they follow
 * transformers' default sdpa attention and enter its loss), the causal-LM loss (1e-4), and the
 * loss gradients of a few parameters (relative error ‖a − b‖/‖b‖ < 1e-4).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tensor, grad, realize } from '../../src/engine/index.ts';
import { ROOT, loadFixtureModel, maxAbsDiff, readTensors } from './helpers.ts';

const DIR = join(ROOT, 'models');
const cases = readdirSync(DIR).filter((c) => existsSync(join(DIR, c, 'case.json'))).sort();

interface CaseInfo { covers: string }

test('the model fixtures are all there', () => {
  for (const c of ['mistral-sliding', 'qwen3-qknorm', 'qwen3-sliding-layers', 'qwen2-bias', 'llama-untied-bias', 'llama-rope-llama3',
    'llama-rope-linear-legacy', 'llama-rope-dynamic', 'llama-left-pad', 'qwen2-right-pad', 'llama-generate']) {
    assert.ok(cases.includes(c), `missing fixture ${c}`);
  }
});

for (const name of cases) {
  const info = JSON.parse(readFileSync(join(DIR, name, 'case.json'), 'utf8')) as CaseInfo;
  test(`${name}: logits match transformers within 1e-4 (${info.covers})`, async () => {
    const model = await loadFixtureModel(join(DIR, name));
    const io = await readTensors(join(DIR, name, 'io.safetensors'));
    const mask = io.get('attention_mask')!;
    // No position ids passed: the forward derives them from the mask, as transformers' generate does.
    const { logits, loss } = model.forward({ inputIds: io.get('input_ids')!, attentionMask: mask, labels: io.get('labels') ?? null });
    // Logits, loss and gradients in one graph: one compile per case.
    const gradKeys = [...io.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice('grad.'.length));
    const grads = loss ? grad(loss, gradKeys.map((k) => model.getParameter(k).value)) : [];
    await realize([logits, ...(loss ? [loss] : []), ...grads]);
    const want = io.get('logits')!;
    assert.deepEqual(logits.shape, want.shape);
    const diff = maxAbsDiff(logits.storage as Float32Array, want.storage as Float32Array);
    assert.ok(diff < 1e-4, `max |Δlogit| = ${diff}`);
    const wantLoss = io.get('loss');
    if (wantLoss) {
      const l = await loss!.item();
      assert.ok(Math.abs(l - (wantLoss.storage as Float32Array)[0]!) < 1e-4, `loss ${l} vs ${(wantLoss.storage as Float32Array)[0]}`);
      for (const [i, k] of gradKeys.entries()) {
        const got = grads[i]!.storage as Float32Array;
        const ref = io.get(`grad.${k}`)!.storage as Float32Array;
        let num = 0;
        let den = 0;
        ref.forEach((w, j) => { num += (got[j]! - w) ** 2; den += w * w; });
        assert.ok(Math.sqrt(num / den) < 1e-4, `${k}: relative gradient error ${Math.sqrt(num / den)}`);
      }
    }
  });
}

test('a left-padded row gives the logits of the same tokens unpadded', async () => {
  const model = await loadFixtureModel(join(DIR, 'llama-left-pad'));
  const io = await readTensors(join(DIR, 'llama-left-pad', 'io.safetensors'));
  const ids = io.get('input_ids')!.storage as BigInt64Array;
  const mask = io.get('attention_mask')!.storage as BigInt64Array;
  const [, T] = io.get('input_ids')!.shape as [number, number];
  const row = 2;
  const real = Array.from({ length: T }, (_, t) => t).filter((t) => mask[row * T + t] !== 0n);
  const alone = Tensor.fromData(BigInt64Array.from(real, (t) => ids[row * T + t]!), [1, real.length], 'int64');
  const single = await model.forward({ inputIds: alone }).logits.data() as Float32Array;
  const padded = await model.forward({ inputIds: io.get('input_ids')!, attentionMask: io.get('attention_mask')! }).logits.data() as Float32Array;
  const V = model.config.vocab_size;
  const rowLogits = padded.subarray((row * T + real[0]!) * V, (row * T + T) * V);
  assert.ok(maxAbsDiff(rowLogits, single) < 1e-5);
});
