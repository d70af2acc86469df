/**
 * A model as a llama.cpp GGUF file, as llama.cpp's convert_hf_to_gguf.py writes it (LlamaModel,
 * Qwen2Model, Qwen3Model in its conversion/ folder, at the llama.cpp release node-llama-cpp 3.21.1
 * is built from):
 *
 *   architecture   llama (Llama and Mistral), qwen2, qwen3; the hyper-parameters llama.cpp reads
 *                  ({arch}.context_length, embedding_length, feed_forward_length, block_count,
 *                  attention.head_count(_kv), key/value_length, layer_norm_rms_epsilon,
 *                  rope.freq_base, rope.dimension_count and rope.scaling.* for llama)
 *   tensors        transformers' names mapped to llama.cpp's (token_embd, blk.N.attn_q, ...), the
 *                  output head only when it is not tied; for llama, q_proj/k_proj rows permuted from
 *                  transformers' rotate-half layout to the interleaved pairs llama.cpp rotates
 *                  (the converter's LlamaModel.permute); Qwen keeps the layout (NeoX rotation)
 *   encodings      f32, f16 or q8_0 for matrices; vectors and norms stay f32; a matrix whose rows are
 *                  not a multiple of 32 falls back to f16 in q8_0, as the converter does
 *   tokenizer      gguf-vocab.ts
 */
import { basename } from 'node:path';
import { loadTokenizer } from '../io/tokenizer.ts';
import { gguf, writeGguf, type GgmlType, type GgufTensor, type GgufValue } from '../node/gguf.ts';
import { computeInvFreq } from '../nn/index.ts';
import type { CausalLM, DecoderConfig } from '../models/index.ts';
import { ExportError } from './errors.ts';
import { ggufTokenizerMetadata } from './gguf-vocab.ts';
import type { ExportSource } from './source.ts';

export type GgufDType = 'f32' | 'f16' | 'q8_0';

/** general.file_type (gguf-py's LlamaFileType). */
const FILE_TYPE: Record<GgufDType, number> = { f32: 0, f16: 1, q8_0: 7 };
const MATRIX_TYPE: Record<GgufDType, GgmlType> = { f32: 'F32', f16: 'F16', q8_0: 'Q8_0' };
const GGML_QUANT_VERSION = 2;

/** llama.cpp's architecture for each supported model_type, and whether its q/k rows are permuted. */
const ARCHITECTURES: Readonly<Record<string, { arch: string; permuteQK: boolean }>> = {
  llama: { arch: 'llama', permuteQK: true },
  mistral: { arch: 'llama', permuteQK: true },
  qwen2: { arch: 'qwen2', permuteQK: false },
  qwen3: { arch: 'qwen3', permuteQK: false },
};

export function ggufArchitecture(config: DecoderConfig): { arch: string; permuteQK: boolean } {
  const entry = ARCHITECTURES[config.model_type];
  if (!entry) throw new ExportError(`GGUF export supports model types ${Object.keys(ARCHITECTURES).join(', ')}; found "${config.model_type}"`);
  // llama.cpp's llama and qwen2/qwen3 graphs attend over the whole context: a narrower window would be ignored.
  const windows = [config.sliding_window].filter((w): w is number => typeof w === 'number' && (config.model_type === 'mistral' || config.use_sliding_window === true));
  for (const w of windows) {
    if (w < config.max_position_embeddings) {
      throw new ExportError(`${config.model_type}: sliding_window ${w} is smaller than max_position_embeddings ${config.max_position_embeddings}, and llama.cpp's "${entry.arch}" architecture has no sliding window (it would attend over every token); export to onnx instead, which keeps the window`);
    }
  }
  if (config.rope_parameters.rope_type === 'dynamic') {
    throw new ExportError(`${config.model_type}: rope_type "dynamic" has no llama.cpp equivalent for the "${entry.arch}" architecture`);
  }
  return entry;
}

/**
 * transformers' parameter name → llama.cpp's tensor name (gguf-py's tensor_mapping), or null for a
 * parameter llama.cpp does not take.
 */
export function ggufTensorName(key: string): string | null {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight',
  };
  if (key in fixed) return fixed[key]!;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(key);
  if (!m) return null;
  const names: Record<string, string> = {
    input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm',
    'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
    'self_attn.q_norm': 'attn_q_norm', 'self_attn.k_norm': 'attn_k_norm',
    'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
  };
  const name = names[m[2]!];
  return name ? `blk.${m[1]}.${name}.${m[3]}` : null;
}

/**
 * The row order llama.cpp's llama graph expects for q_proj/k_proj (weights and biases):
 * convert_hf_to_gguf's LlamaModel.permute reshapes [heads, 2, head_dim/2, ...], swaps the middle
 * axes, and flattens: new row h·d + 2i + j is old row h·d + j·d/2 + i. Returns old row per new row.
 */
export function llamaRowPermutation(rows: number, heads: number): Int32Array {
  const d = rows / heads;
  const order = new Int32Array(rows);
  for (let h = 0; h < heads; h++) for (let i = 0; i < d / 2; i++) for (let j = 0; j < 2; j++) order[h * d + 2 * i + j] = h * d + j * (d / 2) + i;
  return order;
}

/** `values` ([rows, cols], row-major) with its rows reordered. */
export function permuteRows(values: Float32Array, order: Int32Array): Float32Array {
  const cols = values.length / order.length;
  const out = new Float32Array(values.length);
  order.forEach((from, to) => out.set(values.subarray(from * cols, (from + 1) * cols), to * cols));
  return out;
}

/** The permutation for a q/k parameter of the llama architecture, or null for any other parameter. */
export function qkPermutation(key: string, config: DecoderConfig, rows: number): Int32Array | null {
  if (/\.self_attn\.q_proj\.(weight|bias)$/.test(key)) return llamaRowPermutation(rows, config.num_attention_heads);
  if (/\.self_attn\.k_proj\.(weight|bias)$/.test(key)) return llamaRowPermutation(rows, config.num_key_value_heads);
  return null;
}

/** general.* and {arch}.* metadata, as convert_hf_to_gguf's TextModel.set_gguf_parameters (+ LlamaModel's). */
function modelMetadata(model: CausalLM, arch: string, dtype: GgufDType, name: string): Map<string, GgufValue> {
  const c = model.config;
  const meta = new Map<string, GgufValue>([
    ['general.architecture', gguf.str(arch)],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(name)],
    [`${arch}.block_count`, gguf.u32(c.num_hidden_layers)],
    [`${arch}.context_length`, gguf.u32(c.max_position_embeddings)],
    [`${arch}.embedding_length`, gguf.u32(c.hidden_size)],
    [`${arch}.feed_forward_length`, gguf.u32(c.intermediate_size)],
    [`${arch}.attention.head_count`, gguf.u32(c.num_attention_heads)],
    [`${arch}.attention.head_count_kv`, gguf.u32(c.num_key_value_heads)],
    [`${arch}.rope.freq_base`, gguf.f32(c.rope_parameters.rope_theta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(c.rms_norm_eps)],
    [`${arch}.attention.key_length`, gguf.u32(c.head_dim)],
    [`${arch}.attention.value_length`, gguf.u32(c.head_dim)],
    ['general.file_type', gguf.u32(FILE_TYPE[dtype])],
  ]);
  if (arch === 'llama') {
    meta.set('llama.vocab_size', gguf.u32(c.vocab_size));
    meta.set('llama.rope.dimension_count', gguf.u32(c.head_dim));
  }
  if (c.rope_parameters.rope_type === 'linear') {
    meta.set(`${arch}.rope.scaling.type`, gguf.str('linear'));
    meta.set(`${arch}.rope.scaling.factor`, gguf.f32(c.rope_parameters.factor!));
  }
  meta.set('general.quantization_version', gguf.u32(GGML_QUANT_VERSION));
  return meta;
}

/**
 * llama3 rope scaling as the per-frequency factors llama.cpp multiplies (the rope_freqs tensor of
 * convert_hf_to_gguf's LlamaModel.generate_extra_tensors): inv_freq(default) / inv_freq(llama3).
 */
function llama3RopeFactors(config: DecoderConfig): Float32Array {
  const rope = { headDim: config.head_dim, maxPositionEmbeddings: config.max_position_embeddings };
  const base = computeInvFreq({ ...rope, rope: { rope_type: 'default', rope_theta: config.rope_parameters.rope_theta } });
  const scaled = computeInvFreq({ ...rope, rope: config.rope_parameters });
  return base.map((b, i) => b / scaled[i]!);
}

export interface GgufExportOptions {
  dtype?: GgufDType;
  overwrite?: boolean;
  /** general.name (default: the model folder's name). */
  name?: string;
  warn?: (message: string) => void;
}

export interface GgufExportResult {
  bytes: number;
  tensors: number;
  /** Matrices stored as f16 in a q8_0 file because their rows are not a multiple of 32. */
  f16Fallbacks: string[];
}

/** The model (merged, in eval mode) as a GGUF file at `path`. */
export async function writeGgufModel(source: ExportSource, path: string, opts: GgufExportOptions = {}): Promise<GgufExportResult> {
  const { model } = source;
  const c = model.config;
  const dtype = opts.dtype ?? 'f16';
  const { arch, permuteQK } = ggufArchitecture(c);
  const tokenizer = await loadTokenizer(source.folder).catch((e: unknown) => {
    throw new ExportError(`${source.folder}: a GGUF file carries the tokenizer, and it could not be loaded: ${(e as Error).message}`);
  });
  const metadata = modelMetadata(model, arch, dtype, opts.name ?? basename(source.folder));
  for (const [k, v] of await ggufTokenizerMetadata(source.folder, tokenizer, c.vocab_size)) metadata.set(k, v);

  const tensors: GgufTensor[] = [];
  const f16Fallbacks: string[] = [];
  if (arch === 'llama' && c.rope_parameters.rope_type === 'llama3') {
    const factors = llama3RopeFactors(c);
    tensors.push({ name: 'rope_freqs.weight', shape: [factors.length], type: 'F32', values: () => factors });
  }
  for (const [key, t] of model.stateDict()) {
    const name = ggufTensorName(key);
    if (name === null) throw new ExportError(`parameter ${key} has no llama.cpp tensor for the "${arch}" architecture`);
    const matrix = t.ndim === 2 && !name.endsWith('_norm.weight');
    let type: GgmlType = matrix ? MATRIX_TYPE[dtype] : 'F32';
    if (type === 'Q8_0' && t.shape[1]! % 32 !== 0) { type = 'F16'; f16Fallbacks.push(name); }
    const order = permuteQK ? qkPermutation(key, c, t.shape[0]!) : null;
    tensors.push({
      name, shape: t.shape, type,
      values: async () => {
        const data = await t.floats() as Float32Array;
        return order ? permuteRows(data, order) : data;
      },
    });
  }
  if (f16Fallbacks.length) opts.warn?.(`q8_0 needs rows that are a multiple of 32: ${f16Fallbacks.join(', ')} stored as f16`);
  const bytes = await writeGguf(path, metadata, tensors, { overwrite: opts.overwrite ?? false });
  return { bytes, tensors: tensors.length, f16Fallbacks };
}
