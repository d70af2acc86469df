/**
 * In training mode a causal LM computes its loss with the output layer fused into the cross-entropy
 * (ops.linearCrossEntropy): the same loss and gradients as cross-entropy of the logits, without a
 * [tokens, vocab] tensor in the training graph. (The PEFT reference cases check the fused path's
 * loss and adapter gradients against PEFT itself: test/peft/reference.test.ts.)
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { grad, manualSeed, realize, Tensor } from '../../src/engine/index.ts';
import { causalLMLoss, setAttentionImplementation, setAttentionRecompute, setGradientCheckpointing } from '../../src/models/index.ts';
import { MissConfig, getPeftModel } from '../../src/peft/index.ts';
import { ROOT, loadFixtureModel, maxAbsDiff } from './helpers.ts';

const DIR = join(ROOT, 'models', 'llama-generate');

/** Every op node the tensors depend on. */
function graphNodes(outputs: readonly Tensor[]): Tensor[] {
  const seen = new Set<Tensor>();
  const stack = [...outputs];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push(...t.inputs);
  }
  return [...seen].filter((t) => t.op);
}

test('training mode: the loss fuses the output layer into the cross-entropy — same loss and gradients, no [tokens, vocab] tensor in the graph', async () => {
  const model = await loadFixtureModel(DIR);
  const V = model.config.vocab_size;
  const [B, T] = [3, 7];
  const ids = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 17 + 5) % V)), [B, T], 'int64');
  const labels = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => (i % 5 === 2 ? -100n : BigInt((i * 29 + 3) % V))), [B, T], 'int64');
  const params = model.namedParameters();
  const headWeight = params.find(([n]) => n === 'lm_head.weight')![1].value;
  const qWeight = params.find(([n]) => n === 'model.layers.1.self_attn.q_proj.weight')![1].value;

  model.train();
  const out = model.forward({ inputIds: ids, labels });
  const fusedGrads = grad(out.loss!, [qWeight, headWeight]);
  const plain = causalLMLoss(out.logits, labels);
  const plainGrads = grad(plain, [qWeight, headWeight]);
  await realize([out.loss!, plain, ...fusedGrads, ...plainGrads]);
  assert.ok(Math.abs((await out.loss!.item()) - (await plain.item())) < 1e-6, `loss ${await out.loss!.item()} vs ${await plain.item()}`);
  for (let i = 0; i < 2; i++) {
    const d = maxAbsDiff(await fusedGrads[i]!.floats(), await plainGrads[i]!.floats());
    assert.ok(d < 1e-6, `${i ? 'lm_head' : 'q_proj'} gradient: max |difference| ${d}`);
  }

  // The training graph of an adapter-style run (head frozen): nothing vocabulary-sized in it.
  const trainGraph = graphNodes([out.loss!, grad(out.loss!, [qWeight])[0]!]);
  const vocabSized = trainGraph.filter((t) => t.shape.includes(V));
  assert.deepEqual(vocabSized.map((t) => `${t.op!.name} [${t.shape.join(', ')}]`), []);
  // In eval mode the loss is the plain cross-entropy of the logits.
  model.eval();
  const evalOut = model.forward({ inputIds: ids, labels });
  assert.ok(graphNodes([evalOut.loss!]).some((t) => t.op!.name === 'log_softmax' && t.shape.includes(V)));
  assert.ok(Math.abs((await evalOut.loss!.item()) - (await plain.item())) < 1e-6);
});

test('attention implementations: blocked (the default), composite and composite with recompute give the same loss and gradients (left padding, grouped-query heads)', async () => {
  const model = await loadFixtureModel(DIR);
  const V = model.config.vocab_size;
  const [B, T] = [2, 6];
  const ids = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 13 + 7) % V)), [B, T], 'int64');
  // Row 1 is left-padded by two tokens.
  const mask = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => (i === 6 || i === 7 ? 0n : 1n)), [B, T], 'int64');
  const labels = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => (i === 6 || i === 7 ? -100n : BigInt((i * 31 + 1) % V))), [B, T], 'int64');
  const wrt = model.namedParameters().filter(([n]) => /layers\.0\.self_attn\.[qkv]_proj\.weight/.test(n)).map(([, p]) => p.value);
  assert.equal(wrt.length, 3);
  assert.ok(model.config.num_attention_heads > model.config.num_key_value_heads, 'the fixture has grouped-query heads');
  model.train();
  const lossOf = (): { loss: Tensor; grads: Tensor[] } => {
    const loss = model.forward({ inputIds: ids, attentionMask: mask, labels }).loss!;
    return { loss, grads: grad(loss, wrt) };
  };
  const blocked = lossOf();
  assert.equal(setAttentionImplementation(model, 'composite'), model.config.num_hidden_layers);
  const composite = lossOf();
  assert.equal(setAttentionRecompute(model), model.config.num_hidden_layers);
  const recomputed = lossOf();
  const runs = { blocked, composite, recomputed };
  await realize(Object.values(runs).flatMap((r) => [r.loss, ...r.grads]));
  for (const [name, r] of Object.entries(runs)) {
    assert.ok(Math.abs((await r.loss.item()) - (await composite.loss.item())) < 1e-6, `${name} loss`);
    for (let i = 0; i < wrt.length; i++) {
      const d = maxAbsDiff(await r.grads[i]!.floats(), await composite.grads[i]!.floats());
      assert.ok(d < 1e-6, `${name} gradient ${i}: max |difference| ${d}`);
    }
  }
  const opsOf = (r: { grads: Tensor[] }): string[] => graphNodes(r.grads).map((t) => t.op!.name);
  assert.ok(opsOf(blocked).includes('blocked_attention') && !opsOf(blocked).includes('attention'));
  assert.ok(opsOf(recomputed).includes('attention') && !opsOf(recomputed).includes('blocked_attention'));
  assert.ok(!opsOf(composite).includes('attention') && !opsOf(composite).includes('blocked_attention'));
});

test('setGradientCheckpointing: the same loss and adapter gradients with each layer recomputed in the backward (MiSS with dropout, so the dropout masks must repeat), and no layer activation read by the backward', async () => {
  const V = 256;
  const [B, T] = [2, 6];
  const ids = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 13 + 7) % V)), [B, T], 'int64');
  const mask = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => (i === 6 ? 0n : 1n)), [B, T], 'int64');
  const labels = Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => (i === 6 ? -100n : BigInt((i * 31 + 1) % V))), [B, T], 'int64');
  const run = async (checkpointing: boolean): Promise<{ loss: number; grads: Float32Array[]; graph: Tensor[] }> => {
    const peft = getPeftModel(await loadFixtureModel(DIR), new MissConfig({ r: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], missDropout: 0.2 }));
    peft.train();
    assert.equal(setGradientCheckpointing(peft.model, checkpointing), 1);
    manualSeed(7);
    const loss = peft.forward({ inputIds: ids, attentionMask: mask, labels }).loss!;
    const params = peft.trainableParameters().map(([, p]) => p.value);
    const grads = grad(loss, params);
    await realize([loss, ...grads]);
    return { loss: await loss.item(), grads: await Promise.all(grads.map((g) => g.floats() as Promise<Float32Array>)), graph: graphNodes(grads) };
  };
  const plain = await run(false);
  const checkpointed = await run(true);
  assert.ok(Math.abs(plain.loss - checkpointed.loss) < 1e-6, `loss ${plain.loss} vs ${checkpointed.loss}`);
  assert.equal(plain.grads.length, 6);
  for (let i = 0; i < plain.grads.length; i++) {
    const d = maxAbsDiff(plain.grads[i]!, checkpointed.grads[i]!);
    assert.ok(d < 1e-6, `adapter gradient ${i}: max |difference| ${d}`);
  }
  // The backward reads the layers' rebuilt copies: the graph of the gradients holds every layer's
  // attention twice, the first forward's (which feeds only the layer's output) and the rebuilt one.
  const attentions = (g: Tensor[]): number => g.filter((t) => t.op!.name === 'blocked_attention').length;
  assert.equal(attentions(plain.graph), 2);
  assert.equal(attentions(checkpointed.graph), 2 * attentions(plain.graph));
});
