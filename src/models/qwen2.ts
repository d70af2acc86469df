/**
 * Qwen2: Llama with biases on q/k/v (not o), no MLP bias, and sliding windows on the layers
 * layer_types marks (transformers' modeling_qwen2).
 */
import { qwenSlidingWindowPostInit, type ConfigSpec, type DecoderConfig } from './config.ts';
import { LlamaForCausalLM, type ArchitectureOptions } from './llama.ts';

/** Qwen2Config's defaults (transformers 5.18). */
export const QWEN2_CONFIG: ConfigSpec = {
  modelType: 'qwen2',
  defaults: {
    vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, hidden_act: 'silu', max_position_embeddings: 32768, initializer_range: 0.02, rms_norm_eps: 1e-6,
    tie_word_embeddings: false, use_sliding_window: false, sliding_window: 4096, max_window_layers: 28, layer_types: null,
    attention_dropout: 0, pad_token_id: null, bos_token_id: null, eos_token_id: null,
  },
  postInit: qwenSlidingWindowPostInit,
};

/** Each layer's window: config.sliding_window on layers typed sliding_attention. */
export function qwenSlidingWindows(config: DecoderConfig): (number | null)[] {
  return (config.layer_types ?? []).map((t) => (t === 'sliding_attention' ? config.sliding_window ?? null : null));
}

export function qwen2Architecture(config: DecoderConfig): ArchitectureOptions {
  return { qkvBias: true, oBias: false, mlpBias: false, qkNorm: false, slidingWindows: qwenSlidingWindows(config) };
}

export class Qwen2ForCausalLM extends LlamaForCausalLM {
  constructor(config: DecoderConfig) {
    super(config, qwen2Architecture(config));
  }
}
