/**
 * The demo model's folder: config.json, generation_config.json and model.safetensors in
 * transformers' layout (a Llama with tied embeddings, float32), plus the character tokenizer.
 * loadModel / loadPretrained (src/io/model-folder.ts) read it like any Hugging Face model folder.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { savePretrained } from '../src/io/index.ts';
import { writeTextAtomically } from '../src/node/index.ts';
import type { CausalLM } from '../src/models/index.ts';
import { characterVocabulary } from './char-tokenizer.ts';

export const DEMO_MODEL_DIR = fileURLToPath(new URL('./model/', import.meta.url));

/** Positions the model is trained on (pretraining sequences are this long). */
export const MAX_POSITIONS = 128;

/**
 * The demo architecture: a 4-layer Llama, hidden 192, 4 query heads sharing 2 key/value heads
 * (GQA, as the real models the library targets), one token per character. About 1.6 M
 * parameters: big enough to learn the tiny world's arithmetic and spelling, small enough to
 * pretrain in about 20 minutes and fine-tune in about half a minute on 2 free CPU cores.
 */
export function demoModelConfig(): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: characterVocabulary().size,
    hidden_size: 192,
    intermediate_size: 512,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 48,
    hidden_act: 'silu',
    max_position_embeddings: MAX_POSITIONS,
    initializer_range: 0.02,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: true,
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    bos_token_id: null,
    eos_token_id: 0,
    pad_token_id: 0,
  };
}

/**
 * Save the model as transformers does (src/io/model-folder.ts: config.json, float32
 * model.safetensors with the state dict's keys), plus generation_config.json, which names the end
 * token that generation stops at.
 */
export async function saveDemoModel(model: CausalLM, dir: string): Promise<void> {
  await savePretrained(model, dir);
  const { bos_token_id, eos_token_id, pad_token_id } = model.config;
  await writeTextAtomically(join(dir, 'generation_config.json'), `${JSON.stringify({ bos_token_id, eos_token_id, pad_token_id }, null, 2)}\n`);
}
