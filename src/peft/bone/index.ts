/**
 * Bone and MiSS (PEFT's tuners/bone and tuners/miss): their configs, their layer, and the two
 * method records. MiSS is Bone's successor (PEFT 0.19 removed Bone), so the Bone record is marked
 * as its legacy form and converts to it.
 */
import { registerPeftMethod, type AdapterConversion, type PeftMethod } from '../registry.ts';
import { BoneConfig, MissConfig } from './config.ts';
import { convertAdapterFolderToLora } from './convert-to-lora.ts';
import { convertBoneToMiss } from './convert-to-miss.ts';
import { BoneLinear } from './layer.ts';

export { BoneConfig, MissConfig, BONE_FIELDS, MISS_FIELDS, type BoneConfigOptions, type MissConfigOptions, type InitWeights } from './config.ts';
export { BoneLinear } from './layer.ts';
export { convertBoneToMiss } from './convert-to-miss.ts';
export {
  convertToLora, convertAdapterFolderToLora, writeLoraFolder, parseLoraRank,
  type LoraRank, type ToLoraOptions, type LoraConversion, type ConvertedLoraLayer, type ConvertFolderOptions, type ConvertFolderResult,
} from './convert-to-lora.ts';

/** MiSS and Bone → LoRA (PEFT's convert_to_lora), for LoRA-only servers: the same record entry for both. */
const TO_LORA: AdapterConversion = {
  to: 'LORA',
  options: ['rank', 'model', 'overwrite'],
  help: 'as PEFT 0.21\'s convert_to_lora, for LoRA-only servers (vLLM, SGLang, llama.cpp): default and mini\nadapters are exact at their own r (no SVD); bat is an SVD of ΔW at --rank (an integer, or a share\nsuch as 0.99 of the squared singular values); alpha = r; needs the base model (--model, default\nthe adapter\'s base_model_name_or_path); --out must be a new folder (or --overwrite)',
  convert: (src, dst, options = {}) => convertAdapterFolderToLora(src, dst, options),
};

/** "default", "bat", "mini (mini_r 4)", "random init": init_weights as inspect and reports show it. */
export function modeName(initWeights: unknown, miniR?: number): string {
  if (initWeights === true) return 'default';
  if (initWeights === false) return 'random init';
  return initWeights === 'mini' && miniR !== undefined ? `mini (mini_r ${miniR})` : String(initWeights);
}

export const MISS_METHOD: PeftMethod = {
  peftType: 'MISS',
  name: 'MiSS',
  modelName: 'MissModel',
  configClass: MissConfig,
  prefix: 'miss_',
  createLayer: (base) => new BoneLinear(base, 'miss_'),
  describe: (c) => (c instanceof MissConfig ? modeName(c.initWeights, c.miniR) : '?'),
  commandLine: [
    { name: 'miss', help: 'MiSS, Bone\'s successor', flags: { r: 'r', dropout: 'missDropout' } },
    { name: 'bat', help: 'MiSS block-affine', fixed: { initWeights: 'bat' }, flags: { r: 'r', dropout: 'missDropout' } },
    { name: 'mini', help: 'MiSS mini', fixed: { initWeights: 'mini' }, flags: { r: 'r', miniR: 'miniR', dropout: 'missDropout' } },
  ],
  conversions: [TO_LORA],
};

export const BONE_METHOD: PeftMethod = {
  peftType: 'BONE',
  name: 'Bone',
  modelName: 'BoneModel',
  configClass: BoneConfig,
  prefix: 'bone_',
  createLayer: (base) => new BoneLinear(base, 'bone_'),
  describe: (c) => (c instanceof BoneConfig ? modeName(c.initWeights) : '?'),
  commandLine: [
    { name: 'bone', help: 'legacy PEFT "BONE"', flags: { r: 'r' }, refused: { dropout: 'legacy Bone has no dropout; use --method miss, its successor with miss_dropout' } },
  ],
  legacyOf: 'MISS',
  conversions: [{
    to: 'MISS', convert: convertBoneToMiss,
    help: 'PEFT 0.19 removed Bone; the MiSS adapter is the same math (MiSS default ≡ Bone default,\nMiSS bat ≡ Bone bat): tensor keys change .bone_ → .miss_ and peft_type becomes "MISS"',
  }, TO_LORA],
};

registerPeftMethod(MISS_METHOD);
registerPeftMethod(BONE_METHOD);
