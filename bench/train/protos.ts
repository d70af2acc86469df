/**
 * Prototypes (bench only) of engine/model changes, installed on a built model by replacing the
 * `forward` of its LlamaAttention and LlamaMLP instances — src/ is not touched. Each computes the
 * same function as the module it replaces (the step's loss is printed to check).
 *
 * - attention 'fold': grouped-query attention without materialising repeated keys/values: the
 *   query heads that share a key/value head are folded into the rows of one product,
 *   q [B, H, T, D] → [B, Hkv, G·T, D], so QKᵀ and PV are [G·T × T] products per KV head (no Expand,
 *   and dK, dV need no reduction over the group).
 *   (The same fold with the probabilities recomputed in the backward is now the engine's
 *   `scaledDotProductAttention({ recompute: true })`: step.ts --attention recompute.)
 *   (The SwiGLU prototype that was here is the engine's ops.siluMul now, used by LlamaMLP.)
 */
import type { Tensor } from '../../src/engine/index.ts';
import { LlamaAttention, type AttentionInputs } from '../../src/models/index.ts';
import type { Module } from '../../src/nn/index.ts';
import { applyRotaryPosEmb } from '../../src/nn/index.ts';

export type AttentionProto = 'fold';

/** Probabilities [B, Hkv, G·T, S] of folded attention. */
function foldedProbs(q: Tensor, k: Tensor, mask: Tensor, scale: number): Tensor {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  const G = H / Hkv;
  const q5 = q.reshape([B, Hkv, G * T, D]);
  const scores = q5.matmul(k.transpose(-2, -1)).mul(scale);
  const m = mask.reshape([mask.shape[0]!, 1, 1, T, S]);
  return scores.reshape([B, Hkv, G, T, S]).add(m).softmax(-1).reshape([B, Hkv, G * T, S]);
}

function foldedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: number): Tensor {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  return foldedProbs(q, k, mask, scale).matmul(v).reshape([B, H, T, D]);
}

export function installAttentionPrototype(model: Module, _mode: AttentionProto): number {
  let n = 0;
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof LlamaAttention)) continue;
    const att = m;
    att.forward = (hidden: Tensor, inputs: AttentionInputs) => {
      if (inputs.cache || att.q_norm || att.k_norm || inputs.mask.queryHasKeys) throw new Error('attention prototype: no cache, q/k norms or padding masks');
      const [B, T] = hidden.shape as [number, number];
      const heads = (t: Tensor, h: number): Tensor => t.reshape([B, T, h, att.headDim]).transpose(1, 2);
      const [q, k] = applyRotaryPosEmb(heads(att.q_proj.forward(hidden), att.numHeads), heads(att.k_proj.forward(hidden), att.numKeyValueHeads), inputs.cos, inputs.sin);
      const v = heads(att.v_proj.forward(hidden), att.numKeyValueHeads);
      const mask = inputs.mask.additive;
      const out = foldedAttention(q, k, v, mask, att.scaling);
      return { output: att.o_proj.forward(out.transpose(1, 2).reshape([B, T, att.numHeads * att.headDim])), present: null };
    };
    n++;
  }
  return n;
}
