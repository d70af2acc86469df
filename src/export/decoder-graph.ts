/**
 * A causal LM's decoding step as one ONNX graph with transformers.js's (and optimum's) interface:
 *
 *   inputs   input_ids           int64 [batch_size, sequence_length]
 *            attention_mask      int64 [batch_size, total_sequence_length]
 *            position_ids        int64 [batch_size, sequence_length]
 *            past_key_values.N.key / .value   float32 [batch_size, kv_heads, past_sequence_length, head_dim]
 *   outputs  logits              float32 [batch_size, sequence_length, vocab]
 *            present.N.key / .value          float32 [batch_size, kv_heads, total_sequence_length, head_dim]
 *
 * (total_sequence_length = past_sequence_length + sequence_length). The graph is the model's own
 * forward — the code `bone generate` runs — with a ConcatKVCache in place of the fixed-capacity
 * cache, traced by the engine's symbolic emitter so that every size runs in one graph; the first
 * step feeds past tensors with past_sequence_length 0.
 */
import { Tensor } from '../engine/index.ts';
import type { NamedTensor, SymbolicGraphSpec } from '../engine/onnx/symbolic.ts';
import { ConcatKVCache, type CausalLM } from '../models/index.ts';
import { ExportError } from './errors.ts';

export const DECODER_SYMBOLS = ['batch_size', 'sequence_length', 'past_sequence_length'] as const;

export interface DecoderGraphOptions {
  /** Store the weights as float16 (cast to float32 in the graph). */
  float16Weights?: boolean;
}

export function decoderGraphSpec(model: CausalLM, opts: DecoderGraphOptions = {}): SymbolicGraphSpec {
  const c = model.config;
  if (c.rope_parameters.rope_type === 'dynamic') {
    throw new ExportError(`${c.model_type}: rope_type "dynamic" rescales the rotary frequencies from the sequence length at run time, which one exported graph cannot do; export is supported for rope types default, linear and llama3`);
  }
  if (model.training) throw new ExportError('export: the model is in training mode (dropout on); call model.eval() first');
  const names = new Map<Tensor, string>();
  for (const [key, t] of model.stateDict()) names.set(t, key);
  const L = c.num_hidden_layers;
  const Hkv = c.num_key_value_heads;
  const D = c.head_dim;
  return {
    symbols: DECODER_SYMBOLS,
    dimNames: { 'sequence_length + past_sequence_length': 'total_sequence_length' },
    weightName: (t) => names.get(t),
    storeWeightsAs: opts.float16Weights ? 'float16' : 'float32',
    build: (sizes) => {
      const B = sizes.batch_size!;
      const T = sizes.sequence_length!;
      const P = sizes.past_sequence_length!;
      const inputIds = Tensor.zeros([B, T], 'int64');
      const attentionMask = Tensor.ones([B, P + T], 'int64');
      const positionIds = Tensor.zeros([B, T], 'int64');
      const past = Array.from({ length: L }, () => ({ key: Tensor.zeros([B, Hkv, P, D]), value: Tensor.zeros([B, Hkv, P, D]) }));
      const out = model.forward({ inputIds, attentionMask, positionIds, pastKeyValues: ConcatKVCache.from(past) });
      const present = out.pastKeyValues!.layers;
      const inputs: NamedTensor[] = [
        { name: 'input_ids', tensor: inputIds },
        { name: 'attention_mask', tensor: attentionMask },
        { name: 'position_ids', tensor: positionIds },
        ...past.flatMap((l, i) => [{ name: `past_key_values.${i}.key`, tensor: l.key }, { name: `past_key_values.${i}.value`, tensor: l.value }]),
      ];
      const outputs: NamedTensor[] = [
        { name: 'logits', tensor: out.logits },
        ...present.flatMap((l, i) => [{ name: `present.${i}.key`, tensor: l.key }, { name: `present.${i}.value`, tensor: l.value }]),
      ];
      return { inputs, outputs };
    },
  };
}
