/**
 * Qwen3: Llama with RMS norms over head_dim on queries and keys (self_attn.q_norm, k_norm, applied
 * before rotary), an explicit head_dim (default 128, independent of hidden_size / heads), optional
 * attention bias, and Qwen's sliding-window layers (transformers' modeling_qwen3).
 */
import { qwenSlidingWindowPostInit, type ConfigSpec, type DecoderConfig } from './config.ts';
import { LlamaForCausalLM, type ArchitectureOptions } from './llama.ts';
import { qwenSlidingWindows } from './qwen2.ts';

/** Qwen3Config's defaults (transformers 5.18). */
export const QWEN3_CONFIG: ConfigSpec = {
  modelType: 'qwen3',
  defaults: {
    vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, head_dim: 128, hidden_act: 'silu', max_position_embeddings: 32768, initializer_range: 0.02,
    rms_norm_eps: 1e-6, tie_word_embeddings: false, attention_bias: false, use_sliding_window: false, sliding_window: 4096,
    max_window_layers: 28, layer_types: null, attention_dropout: 0, pad_token_id: null, bos_token_id: null, eos_token_id: null,
  },
  postInit: qwenSlidingWindowPostInit,
};

export function qwen3Architecture(config: DecoderConfig): ArchitectureOptions {
  const bias = config.attention_bias ?? false;
  return { qkvBias: bias, oBias: bias, mlpBias: false, qkNorm: true, slidingWindows: qwenSlidingWindows(config) };
}

export class Qwen3ForCausalLM extends LlamaForCausalLM {
  constructor(config: DecoderConfig) {
    super(config, qwen3Architecture(config));
  }
}
