/**
 * Prototypes (bench only) of engine/model changes, installed on a built model by replacing the
 * `forward` of its LlamaAttention and LlamaMLP instances — src/ is not touched. Each computes the
 * same function as the module it replaces (the step's loss is printed to check).
 *
 * - attention 'fold': grouped-query attention without materialising repeated keys/values: the
 *   query heads that share a key/value head are folded into the rows of one product,
 *   q [B, H, T, D] → [B, Hkv, G·T, D], so QKᵀ and PV are [G·T × T] products per KV head (no Expand,
 *   and dK, dV need no reduction over the group).
 * - attention 'recompute': 'fold', as one op whose backward recomputes the probabilities from q and k
 *   (the flash-attention trade: nothing [B, H, T, T] is kept from the forward pass to the backward).
 * - swiglu: silu(gate)·up as one op whose backward is written by hand from gate and up, so that only
 *   gate and up are kept for the backward (not sigmoid(gate) and silu(gate) as well).
 */
import { Tensor, ops } from '../../src/engine/index.ts';
import { apply, defineOp } from '../../src/engine/op.ts';
import { LlamaAttention, LlamaMLP, type AttentionInputs } from '../../src/models/index.ts';
import type { Module } from '../../src/nn/index.ts';
import { applyRotaryPosEmb } from '../../src/nn/index.ts';

export type AttentionProto = 'fold' | 'recompute';

/** Probabilities [B, Hkv, G·T, S] of folded attention; `scaleFirst` scales q before the product (a different graph than the forward's, so that ORT's common-subexpression elimination cannot merge the recomputation back into the forward). */
function foldedProbs(q: Tensor, k: Tensor, mask: Tensor, scale: number, scaleFirst: boolean): Tensor {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  const G = H / Hkv;
  const q5 = q.reshape([B, Hkv, G * T, D]);
  const scores = scaleFirst ? q5.mul(scale).matmul(k.transpose(-2, -1)) : q5.matmul(k.transpose(-2, -1)).mul(scale);
  const m = mask.reshape([mask.shape[0]!, 1, 1, T, S]);
  return scores.reshape([B, Hkv, G, T, S]).add(m).softmax(-1).reshape([B, Hkv, G * T, S]);
}

function foldedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, scale: number): Tensor {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  return foldedProbs(q, k, mask, scale, false).matmul(v).reshape([B, H, T, D]);
}

const ATTENTION_RECOMPUTE = defineOp<{ scale: number }>({
  name: 'bench_attention_recompute',
  infer([q]) { return { shape: [...q!.shape], dtype: q!.dtype }; },
  lower: (g, [q, k, v, mask], a, node) => {
    const [B, H, T, D] = node.shape as [number, number, number, number];
    const [, Hkv, S] = node.inputs[1]!.shape as [number, number, number, number];
    const G = H / Hkv;
    const q5 = g.node('Reshape', [q!, g.constI64([B, Hkv, G * T, D])]);
    const kt = g.node('Transpose', [k!], { perm: [0, 1, 3, 2] });
    const s = g.node('Mul', [g.node('MatMul', [q5, kt]), g.constScalar(a.scale, 'float32')]);
    const m = g.node('Reshape', [mask!, g.constI64([node.inputs[3]!.shape[0]!, 1, 1, T, S])]);
    const p = g.node('Softmax', [g.node('Add', [g.node('Reshape', [s, g.constI64([B, Hkv, G, T, S])]), m])], { axis: -1 });
    const o = g.node('MatMul', [g.node('Reshape', [p, g.constI64([B, Hkv, G * T, S])]), v!]);
    return g.node('Reshape', [o, g.constI64([B, H, T, D])]);
  },
  vjp: (gOut, n) => {
    const [q, k, v, mask] = n.inputs as [Tensor, Tensor, Tensor, Tensor];
    const scale = n.attrs.scale as number;
    const [B, H, T, D] = q.shape as [number, number, number, number];
    const Hkv = k.shape[1]!;
    const GT = (H / Hkv) * T;
    const P = foldedProbs(q, k, mask, scale, true);
    const dO = gOut.reshape([B, Hkv, GT, D]);
    const dV = P.transpose(-2, -1).matmul(dO);
    const dP = dO.matmul(v.transpose(-2, -1));
    const delta = dO.mul(n.reshape([B, Hkv, GT, D])).sum(-1, true); // rowsum(dP ⊙ P) = rowsum(dO ⊙ O)
    const dS = P.mul(dP.sub(delta)).mul(scale);
    const dQ = dS.matmul(k).reshape([B, H, T, D]);
    const dK = dS.transpose(-2, -1).matmul(q.reshape([B, Hkv, GT, D]));
    return [dQ, dK, dV, null];
  },
});

export function installAttentionPrototype(model: Module, mode: AttentionProto): number {
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
      const out = mode === 'fold' ? foldedAttention(q, k, v, mask, att.scaling) : apply(ATTENTION_RECOMPUTE, [q, k, v, mask], { scale: att.scaling });
      return { output: att.o_proj.forward(out.transpose(1, 2).reshape([B, T, att.numHeads * att.headDim])), present: null };
    };
    n++;
  }
  return n;
}

const SWIGLU = defineOp({
  name: 'bench_swiglu',
  infer([a]) { return { shape: [...a!.shape], dtype: a!.dtype }; },
  lower: (g, [a, b]) => g.node('Mul', [g.node('Mul', [a!, g.node('Sigmoid', [a!])]), b!]),
  vjp: (gOut, n) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    const s = ops.sigmoid(a);
    const dB = gOut.mul(a.mul(s));
    const dA = gOut.mul(b).mul(s.mul(a.mul(ops.sub(1, s)).add(1)));
    return [dA, dB];
  },
});

export function installSwigluPrototype(model: Module): number {
  let n = 0;
  for (const [, m] of model.namedModules()) {
    if (!(m instanceof LlamaMLP)) continue;
    const mlp = m;
    mlp.forward = (x: Tensor) => mlp.down_proj.forward(apply(SWIGLU, [mlp.gate_proj.forward(x), mlp.up_proj.forward(x)], {}));
    n++;
  }
  return n;
}
