/**
 * Model configs as transformers reads config.json: snake_case keys, the config class's defaults
 * for absent keys, and the same derived values (`head_dim` = hidden_size // num_attention_heads,
 * `num_key_value_heads` = num_attention_heads, `rope_parameters` from either transformers 5's
 * `rope_parameters` or the older `rope_theta` + `rope_scaling`).
 *
 * The resolved config keeps every key of the file (so it can be written back), drops the legacy
 * `rope_theta`/`rope_scaling` in favour of `rope_parameters` (what transformers 5 saves), and adds
 * only keys that the model type's transformers config class has.
 */
import { ROPE_TYPES, type RopeParameters, type RopeType } from '../nn/index.ts';
import { ConfigError } from './errors.ts';

/** A config.json as parsed JSON. */
export type ConfigJson = Readonly<Record<string, unknown>>;

export type LayerType = 'full_attention' | 'sliding_attention';

/** The decoder-only (Llama family) config, resolved. Optional keys exist only for the model types that have them. */
export interface DecoderConfig {
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  hidden_act: string;
  max_position_embeddings: number;
  rms_norm_eps: number;
  tie_word_embeddings: boolean;
  attention_dropout: number;
  rope_parameters: RopeParameters;
  pad_token_id: number | null;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  /** Llama, Qwen3: bias on q/k/v/o projections. */
  attention_bias?: boolean;
  /** Llama: bias on the MLP projections. */
  mlp_bias?: boolean;
  /** Mistral (all layers), Qwen2/Qwen3 (layers marked sliding_attention). */
  sliding_window?: number | null;
  use_sliding_window?: boolean;
  max_window_layers?: number;
  layer_types?: LayerType[];
  [key: string]: unknown;
}

/** What a model type contributes: its config class's defaults, and its __post_init__. */
export interface ConfigSpec {
  modelType: string;
  /** Absent keys take these values (transformers' config class defaults). */
  defaults: Readonly<Record<string, unknown>>;
  /** Derivations beyond the common ones (e.g. Qwen's layer_types). Mutates the config. */
  postInit?: (config: DecoderConfig) => void;
}

const DEFAULT_THETA = 10000;

// ---- field readers ------------------------------------------------------------------------------------

function where(c: Record<string, unknown>): string {
  return `config (model_type "${String(c.model_type)}")`;
}

export function requireInt(c: Record<string, unknown>, key: string, min = 1): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ConfigError(`${where(c)}: "${key}" must be an integer ≥ ${min}, found ${JSON.stringify(v)}`);
  }
  return v;
}

function requireNumber(c: Record<string, unknown>, key: string, min: number): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ConfigError(`${where(c)}: "${key}" must be a number ≥ ${min}, found ${JSON.stringify(v)}`);
  }
  return v;
}

function requireBool(c: Record<string, unknown>, key: string): boolean {
  const v = c[key];
  if (typeof v !== 'boolean') throw new ConfigError(`${where(c)}: "${key}" must be true or false, found ${JSON.stringify(v)}`);
  return v;
}

function tokenId(c: Record<string, unknown>, key: string): number | null {
  const v = c[key];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`${where(c)}: "${key}" must be an integer or null, found ${JSON.stringify(v)}`);
  return v;
}

function tokenIds(c: Record<string, unknown>, key: string): number | number[] | null {
  const v = c[key];
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'number' && Number.isInteger(x))) throw new ConfigError(`${where(c)}: "${key}" must hold integers, found ${JSON.stringify(v)}`);
    return v as number[];
  }
  return tokenId(c, key);
}

// ---- rope ---------------------------------------------------------------------------------------------------

/**
 * transformers' convert_rope_params_to_dict + standardize_rope_params: `rope_scaling` wins over
 * `rope_parameters` when both exist, `rope_theta` fills in, `type` is the old name of `rope_type`, and
 * llama3 takes original_max_position_embeddings from max_position_embeddings when absent.
 */
export function resolveRopeParameters(c: Record<string, unknown>): RopeParameters {
  const source = c.rope_scaling ?? c.rope_parameters ?? {};
  if (typeof source !== 'object' || source === null || Array.isArray(source)) {
    throw new ConfigError(`${where(c)}: "rope_parameters"/"rope_scaling" must be an object or null, found ${JSON.stringify(source)}`);
  }
  const p: Record<string, unknown> = { ...(source as Record<string, unknown>) };
  if (typeof p.full_attention === 'object' || typeof p.sliding_attention === 'object') {
    throw new ConfigError(`${where(c)}: per-layer-type rope_parameters are not supported (found keys ${Object.keys(p).join(', ')})`);
  }
  p.rope_type ??= p.type ?? 'default';
  delete p.type;
  p.rope_theta ??= c.rope_theta ?? DEFAULT_THETA;
  const type = p.rope_type;
  if (typeof type !== 'string' || !(ROPE_TYPES as readonly string[]).includes(type)) {
    throw new ConfigError(`${where(c)}: unsupported rope_type ${JSON.stringify(type)} (supported: ${ROPE_TYPES.join(', ')})`);
  }
  const partial = p.partial_rotary_factor ?? c.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    throw new ConfigError(`${where(c)}: partial_rotary_factor ${JSON.stringify(partial)} is not supported (only 1.0)`);
  }
  if (type === 'llama3') p.original_max_position_embeddings ??= c.original_max_position_embeddings ?? c.max_position_embeddings;
  const num = (key: string, required: boolean): void => {
    const v = p[key];
    if (v === undefined && !required) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`${where(c)}: rope_type "${type}" needs a positive number "${key}" in rope_parameters, found ${JSON.stringify(v)}`);
    }
  };
  num('rope_theta', true);
  if (type !== 'default') num('factor', true);
  if (type === 'llama3') for (const k of ['low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']) num(k, true);
  return p as unknown as RopeParameters & { rope_type: RopeType };
}

// ---- resolution -------------------------------------------------------------------------------------------

/** Resolve a config.json for a model type: defaults, derived keys, validation. */
export function resolveDecoderConfig(json: ConfigJson, spec: ConfigSpec): DecoderConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`config must be a JSON object, found ${JSON.stringify(json)}`);
  const c: Record<string, unknown> = { ...spec.defaults };
  for (const [k, v] of Object.entries(json)) if (v !== undefined) c[k] = v;
  c.model_type = spec.modelType;

  for (const k of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'max_position_embeddings']) requireInt(c, k);
  c.num_key_value_heads ??= c.num_attention_heads;
  const heads = requireInt(c, 'num_attention_heads');
  const kvHeads = requireInt(c, 'num_key_value_heads');
  if (heads % kvHeads !== 0) {
    throw new ConfigError(`${where(c)}: num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads})`);
  }
  const derived = c.head_dim === null || c.head_dim === undefined;
  c.head_dim ??= Math.floor((c.hidden_size as number) / heads);
  const headDim = requireInt(c, 'head_dim');
  if (headDim % 2 !== 0) {
    const how = derived ? ` (no "head_dim" is given, so it is hidden_size ${String(c.hidden_size)} // num_attention_heads ${heads}${(c.hidden_size as number) % heads ? `, and ${heads} does not divide ${String(c.hidden_size)}` : ''})` : '';
    throw new ConfigError(`${where(c)}: rotary embeddings need an even head_dim, found ${headDim}${how}`);
  }
  requireNumber(c, 'rms_norm_eps', 0);
  requireNumber(c, 'attention_dropout', 0);
  requireBool(c, 'tie_word_embeddings');
  if (typeof c.hidden_act !== 'string') throw new ConfigError(`${where(c)}: "hidden_act" must be a string, found ${JSON.stringify(c.hidden_act)}`);
  for (const k of ['attention_bias', 'mlp_bias']) if (k in c) requireBool(c, k);
  c.pad_token_id = tokenId(c, 'pad_token_id');
  c.bos_token_id = tokenId(c, 'bos_token_id');
  c.eos_token_id = tokenIds(c, 'eos_token_id');

  c.rope_parameters = resolveRopeParameters(c);
  delete c.rope_scaling;
  delete c.rope_theta;

  const config = c as DecoderConfig;
  spec.postInit?.(config);
  return config;
}

/**
 * Qwen2/Qwen3's __post_init__: sliding_window only when use_sliding_window, and layer_types marking
 * layers from max_window_layers on as sliding when a window exists.
 */
export function qwenSlidingWindowPostInit(config: DecoderConfig): void {
  if (!config.use_sliding_window) config.sliding_window = null;
  if (config.sliding_window !== null && config.sliding_window !== undefined) requireInt(config, 'sliding_window');
  const maxWindowLayers = requireInt(config, 'max_window_layers', 0);
  if (config.layer_types === undefined || config.layer_types === null) {
    config.layer_types = Array.from({ length: config.num_hidden_layers }, (_, i) =>
      (config.sliding_window !== null && i >= maxWindowLayers ? 'sliding_attention' : 'full_attention'));
  }
  const types = config.layer_types as unknown;
  if (!Array.isArray(types) || types.length !== config.num_hidden_layers || !types.every((t) => t === 'full_attention' || t === 'sliding_attention')) {
    throw new ConfigError(`${where(config)}: "layer_types" must list ${config.num_hidden_layers} entries of "full_attention"/"sliding_attention", found ${JSON.stringify(types)}`);
  }
}
