/** Mistral: Llama without biases, with a sliding attention window on every layer (transformers' modeling_mistral). */
import type { ConfigSpec, DecoderConfig } from './config.ts';
import { requireInt } from './config.ts';
import { LlamaForCausalLM, type ArchitectureOptions } from './llama.ts';

/** MistralConfig's defaults (transformers 5.18). */
export const MISTRAL_CONFIG: ConfigSpec = {
  modelType: 'mistral',
  defaults: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: null, hidden_act: 'silu', max_position_embeddings: 4096 * 32, initializer_range: 0.02,
    rms_norm_eps: 1e-6, pad_token_id: null, bos_token_id: 1, eos_token_id: 2, tie_word_embeddings: false,
    sliding_window: 4096, attention_dropout: 0,
  },
  postInit(config) {
    if (config.sliding_window !== null && config.sliding_window !== undefined) requireInt(config, 'sliding_window');
  },
};

export function mistralArchitecture(config: DecoderConfig): ArchitectureOptions {
  return {
    qkvBias: false, oBias: false, mlpBias: false, qkNorm: false,
    slidingWindows: new Array<number | null>(config.num_hidden_layers).fill(config.sliding_window ?? null),
  };
}

export class MistralForCausalLM extends LlamaForCausalLM {
  constructor(config: DecoderConfig) {
    super(config, mistralArchitecture(config));
  }
}
