/**
 * Model classes by config.json's `model_type` (transformers' AutoModelForCausalLM mapping, for
 * the families implemented here). The model-folder loader calls `createModelFromConfig` and then
 * `loadStateDict`.
 */
import type { CausalLM } from './causal-lm.ts';
import { resolveDecoderConfig, type ConfigJson, type ConfigSpec, type DecoderConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { LLAMA_CONFIG, LlamaForCausalLM } from './llama.ts';
import { MISTRAL_CONFIG, MistralForCausalLM } from './mistral.ts';
import { QWEN2_CONFIG, Qwen2ForCausalLM } from './qwen2.ts';
import { QWEN3_CONFIG, Qwen3ForCausalLM } from './qwen3.ts';

export interface ModelEntry {
  /** The transformers class name (config.json's `architectures`). */
  architecture: string;
  config: ConfigSpec;
  create(config: DecoderConfig): CausalLM;
}

const registry = new Map<string, ModelEntry>([
  ['llama', { architecture: 'LlamaForCausalLM', config: LLAMA_CONFIG, create: (c) => new LlamaForCausalLM(c) }],
  ['mistral', { architecture: 'MistralForCausalLM', config: MISTRAL_CONFIG, create: (c) => new MistralForCausalLM(c) }],
  ['qwen2', { architecture: 'Qwen2ForCausalLM', config: QWEN2_CONFIG, create: (c) => new Qwen2ForCausalLM(c) }],
  ['qwen3', { architecture: 'Qwen3ForCausalLM', config: QWEN3_CONFIG, create: (c) => new Qwen3ForCausalLM(c) }],
]);

export function supportedModelTypes(): string[] {
  return [...registry.keys()];
}

/** Add (or replace) a model type. */
export function registerModel(modelType: string, entry: ModelEntry): void {
  registry.set(modelType, entry);
}

function entryFor(json: ConfigJson): ModelEntry {
  const type = json.model_type;
  if (typeof type !== 'string') {
    throw new ConfigError(`config.json has no "model_type" (found ${JSON.stringify(type)}); supported model types: ${supportedModelTypes().join(', ')}`);
  }
  const entry = registry.get(type);
  if (!entry) throw new ConfigError(`unsupported model_type "${type}"; supported model types: ${supportedModelTypes().join(', ')}`);
  return entry;
}

/** The transformers class name for a model type (what config.json's `architectures` lists). */
export function architectureFor(modelType: string): string {
  return entryFor({ model_type: modelType }).architecture;
}

/** Resolve a config.json (defaults and derived keys of its model type). Idempotent. */
export function parseConfig(json: ConfigJson): DecoderConfig {
  return resolveDecoderConfig(json, entryFor(json).config);
}

/**
 * A model for a config.json (raw or already parsed), with placeholder weights that allocate
 * nothing: load a state dict (or call initWeights) before use.
 */
export function createModelFromConfig(json: ConfigJson): CausalLM {
  const entry = entryFor(json);
  return entry.create(resolveDecoderConfig(json, entry.config));
}
