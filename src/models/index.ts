/** Decoder-only language models (Llama family) with transformers' module names, configs, loss and generation. */
export { ModelError, ConfigError } from './errors.ts';
export {
  resolveDecoderConfig, resolveRopeParameters, qwenSlidingWindowPostInit,
  type ConfigJson, type ConfigSpec, type DecoderConfig, type LayerType,
} from './config.ts';
export type { CausalLM, CausalLMInput, CausalLMOutput } from './causal-lm.ts';
export { KVCache, type DecoderCache, type KVCacheShape, type LayerKV } from './cache.ts';
export { ConcatKVCache } from './concat-cache.ts';
export { causalLMLoss, causalLMLossFromHidden, type CausalLMLossOptions } from './loss.ts';
export { positionIdsFromMask, positionIdsRange, cacheKeyMask, rightPaddedRows } from './masking.ts';
export {
  LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, LLAMA_CONFIG, llamaArchitecture, setAttentionImplementation, setAttentionRecompute, setGradientCheckpointing,
  type ArchitectureOptions, type AttentionInputs, type BaseModelOutput,
} from './llama.ts';
export { MistralForCausalLM, MISTRAL_CONFIG, mistralArchitecture } from './mistral.ts';
export { Qwen2ForCausalLM, QWEN2_CONFIG, qwen2Architecture, qwenSlidingWindows } from './qwen2.ts';
export { Qwen3ForCausalLM, QWEN3_CONFIG, qwen3Architecture } from './qwen3.ts';
export { architectureFor, createModelFromConfig, parseConfig, registerModel, supportedModelTypes, type ModelEntry } from './registry.ts';
export { generate, sampleToken, type GenerateOptions, type GenerateOutput } from './generate.ts';
