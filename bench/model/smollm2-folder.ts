/**
 * A SmolLM2-135M-shaped Llama folder with random weights, written the way the Hub ships the real one
 * (bfloat16 model.safetensors, tied embeddings, its config.json), for the load / forward / generation
 * benchmarks. Nothing here is committed: the folder goes to a temporary directory.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, type SafetensorsTensor } from '../../src/io/safetensors.ts';
import { randomFloats } from '../util.ts';

/** HuggingFaceTB/SmolLM2-135M's config.json (transformers 4.40 keys), as the benchmark's model. */
export const SMOLLM2_135M_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  max_position_embeddings: 8192,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  vocab_size: 49152,
} as const;

export type WeightFormat = 'BF16' | 'F16' | 'F32';

/** The parameter shapes of a tied Llama with this config, in transformers' state-dict order. */
export function llamaShapes(c: typeof SMOLLM2_135M_CONFIG): [string, number[]][] {
  const h = c.hidden_size;
  const d = h / c.num_attention_heads;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab_size, h]]];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.self_attn.q_proj.weight`, [c.num_attention_heads * d, h]],
      [`${p}.self_attn.k_proj.weight`, [c.num_key_value_heads * d, h]],
      [`${p}.self_attn.v_proj.weight`, [c.num_key_value_heads * d, h]],
      [`${p}.self_attn.o_proj.weight`, [h, c.num_attention_heads * d]],
      [`${p}.mlp.gate_proj.weight`, [c.intermediate_size, h]],
      [`${p}.mlp.up_proj.weight`, [c.intermediate_size, h]],
      [`${p}.mlp.down_proj.weight`, [h, c.intermediate_size]],
      [`${p}.input_layernorm.weight`, [h]],
      [`${p}.post_attention_layernorm.weight`, [h]],
    );
  }
  shapes.push(['model.norm.weight', [h]]);
  return shapes;
}

/** float32 → bfloat16, round to nearest even (what torch's .to(bfloat16) does for finite values). */
function toBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < bits.length; i++) { const b = bits[i]!; out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; }
  return out;
}

/** float32 → float16 for values well inside float16's normal range (|x| < 1: the weights here). */
function toF16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    const exp = ((b >>> 23) & 0xff) - 127 + 15;
    if (exp <= 0) { out[i] = (b >>> 16) & 0x8000; continue; } // flush the tiny ones to ±0
    const m = b & 0x7fffff;
    const rounded = ((exp << 10) | (m >>> 13)) + (((m & 0x1fff) > 0x1000 || ((m & 0x1fff) === 0x1000 && (m >>> 13) & 1)) ? 1 : 0);
    out[i] = ((b >>> 16) & 0x8000) | rounded;
  }
  return out;
}

/**
 * Writes config.json and model.safetensors: linear weights uniform with std 0.02 from a fixed seed (a fast
 * JS generator: 135M numbers in about a second), norm weights 1. Returns the number of parameters.
 */
export async function writeSmolLM2Folder(dir: string, format: WeightFormat = 'BF16'): Promise<number> {
  await mkdir(dir, { recursive: true });
  const tensors = new Map<string, SafetensorsTensor>();
  let seed = 1;
  let params = 0;
  for (const [key, shape] of llamaShapes(SMOLLM2_135M_CONFIG)) {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    const values = key.endsWith('norm.weight') ? new Float32Array(n).fill(1) : randomFloats(n, 0.02 * Math.sqrt(3), seed++);
    tensors.set(key, format === 'F32' ? { dtype: 'F32', shape, data: values }
      : format === 'BF16' ? { dtype: 'BF16', shape, data: toBf16(values) } : { dtype: 'F16', shape, data: toF16(values) });
  }
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const torchDtype = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' }[format];
  await writeFile(join(dir, 'config.json'), `${JSON.stringify({ ...SMOLLM2_135M_CONFIG, torch_dtype: torchDtype }, null, 2)}\n`);
  return params;
}
