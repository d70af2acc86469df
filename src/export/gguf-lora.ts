/**
 * An adapter as a llama.cpp LoRA adapter GGUF (`llama-cli --lora`, ollama's ADAPTER, LM Studio,
 * node-llama-cpp's `lora`), as llama.cpp's convert_lora_to_gguf.py writes it: general.type
 * "adapter", adapter.type "lora", adapter.lora.alpha, and for every adapted weight `<name>.lora_a`
 * (lora_A, [r, in]) and `<name>.lora_b` (lora_B, [out, r]) under the base tensor's llama.cpp name,
 * lora_B's rows permuted as the base's q/k rows are (llama architecture).
 *
 * A MiSS or Bone adapter is converted to LoRA first (PEFT's convert_to_lora: exact for default and
 * mini, SVD at a rank for bat). llama.cpp scales each pair by alpha / rank, one alpha for the whole
 * file, so each pair's own scaling (lora_alpha / r, or the patterns) is folded into lora_B here and
 * alpha is written as the common rank — or 0, which llama.cpp reads as "scale 1", when ranks differ.
 */
import { basename } from 'node:path';
import type { Tensor } from '../engine/index.ts';
import { gguf, writeGguf, type GgmlType, type GgufTensor, type GgufValue } from '../node/gguf.ts';
import {
  BoneConfig, LoraConfig, MissConfig, PeftModel, convertToLora, type LoraRank,
} from '../peft/index.ts';
import { ExportError } from './errors.ts';
import { ggufArchitecture, ggufTensorName, permuteRows, qkPermutation } from './gguf.ts';
import type { CausalLM } from '../models/index.ts';

export interface GgufLoraOptions {
  /** For a bat adapter: the LoRA rank (an integer, or a share of the squared singular values). */
  rank?: LoraRank;
  dtype?: 'f32' | 'f16';
  overwrite?: boolean;
  name?: string;
}

export interface GgufLoraResult {
  bytes: number;
  pairs: number;
  alpha: number;
  /** Where the adapter was converted from MiSS/Bone: each layer's rank and reconstruction error. */
  converted: { name: string; rank: number; relativeError: number }[];
}

interface Pair { path: string; a: Tensor; b: Tensor; scale: number }

/** The LoRA pairs of a LoRA adapter loaded into `peft`, with each one's scaling. */
function loraPairs(peft: PeftModel, config: LoraConfig, adapterName: string): Pair[] {
  const pairs: Pair[] = [];
  for (const [key, t] of peft.state(adapterName)) {
    const m = /^base_model\.model\.(.+)\.lora_A\.weight$/.exec(key);
    if (!m) continue;
    const b = peft.state(adapterName).get(`base_model.model.${m[1]}.lora_B.weight`);
    if (!b) throw new ExportError(`adapter ${adapterName}: ${key} has no lora_B`);
    pairs.push({ path: m[1]!, a: t, b, scale: config.scaling });
  }
  return pairs;
}

/** The adapter of `peft` (LoRA, MiSS or Bone) as a llama.cpp LoRA GGUF at `path`. */
export async function writeGgufLora(peft: PeftModel<CausalLM>, sourceFolder: string, path: string, opts: GgufLoraOptions = {}): Promise<GgufLoraResult> {
  const model = peft.model;
  const { arch, permuteQK } = ggufArchitecture(model.config);
  const adapterName = peft.activeAdapter;
  const config = peft.peftConfig.get(adapterName)!;
  if (config.modulesToSave && config.modulesToSave.length > 0) {
    throw new ExportError(`adapter ${adapterName}: modules_to_save (${config.modulesToSave.join(', ')}) are whole trained copies of modules, which a llama.cpp LoRA adapter cannot carry; export the merged model instead (bone export --format gguf --adapter DIR)`);
  }
  let pairs: Pair[];
  let converted: GgufLoraResult['converted'] = [];
  if (config instanceof LoraConfig) {
    pairs = loraPairs(peft, config, adapterName);
  } else if (config instanceof MissConfig || config instanceof BoneConfig) {
    const c = await convertToLora(peft, { adapterName, ...(opts.rank === undefined ? {} : { rank: opts.rank }) });
    converted = c.layers;
    pairs = c.layers.map((l) => ({
      path: l.name, a: c.state.get(`base_model.model.${l.name}.lora_A.weight`)!, b: c.state.get(`base_model.model.${l.name}.lora_B.weight`)!, scale: 1,
    }));
  } else {
    throw new ExportError(`adapter ${adapterName}: a ${String((config as { peftType: string }).peftType)} adapter has no llama.cpp LoRA form`);
  }
  if (pairs.length === 0) throw new ExportError(`adapter ${adapterName}: no LoRA pairs to write`);
  const ranks = new Set(pairs.map((p) => p.a.shape[0]!));
  const alpha = ranks.size === 1 ? [...ranks][0]! : 0;
  const type: GgmlType = opts.dtype === 'f16' ? 'F16' : 'F32';
  const tensors: GgufTensor[] = [];
  for (const p of pairs) {
    const name = ggufTensorName(`${p.path}.weight`);
    if (name === null) throw new ExportError(`adapter ${adapterName}: ${p.path} has no llama.cpp tensor for the "${arch}" architecture (LoRA on embeddings or the output head is not supported by llama.cpp's converter either)`);
    const order = permuteQK ? qkPermutation(`${p.path}.weight`, model.config, p.b.shape[0]!) : null;
    tensors.push({ name: `${name}.lora_a`, shape: p.a.shape, type, values: async () => await p.a.floats() as Float32Array });
    tensors.push({
      name: `${name}.lora_b`, shape: p.b.shape, type,
      values: async () => {
        const b = await p.b.floats() as Float32Array;
        const scaled = p.scale === 1 ? b : b.map((x) => x * p.scale);
        return order ? permuteRows(scaled, order) : scaled;
      },
    });
  }
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gguf.str(arch)],
    ['general.type', gguf.str('adapter')],
    ['general.name', gguf.str(opts.name ?? basename(sourceFolder))],
    ['adapter.type', gguf.str('lora')],
    ['adapter.lora.alpha', gguf.f32(alpha)],
    ['general.quantization_version', gguf.u32(2)],
  ]);
  const bytes = await writeGguf(path, metadata, tensors, { overwrite: opts.overwrite ?? false });
  return { bytes, pairs: pairs.length, alpha, converted };
}
