/** LoRA (PEFT's tuners/lora), the baseline: its config, its layer and its method record. */
import { registerPeftMethod, type PeftMethod } from '../registry.ts';
import { LoraConfig } from './config.ts';
import { LoraLinear } from './layer.ts';

export { LoraConfig, LORA_FIELDS, type LoraConfigOptions } from './config.ts';
export { LoraLinear } from './layer.ts';

export const LORA_METHOD: PeftMethod = {
  peftType: 'LORA',
  name: 'LoRA',
  modelName: 'LoraModel',
  configClass: LoraConfig,
  prefix: 'lora_',
  modelCardTags: ['lora'],
  createLayer: (base) => new LoraLinear(base),
  describe: (c) => (c instanceof LoraConfig ? `${c.useRslora ? 'rsLoRA' : 'LoRA'}, alpha ${c.loraAlpha}` : '?'),
  commandLine: [{
    name: 'lora', help: 'baseline', flags: { r: 'r', loraAlpha: 'loraAlpha', dropout: 'loraDropout' },
    // bone train gives LoRA the r of the Bone runs it is compared with, and alpha 2·r.
    defaults: { r: 64, loraAlpha: { help: '2 × r', value: (given) => 2 * (typeof given.r === 'number' ? given.r : 64) } },
  }],
};

registerPeftMethod(LORA_METHOD);
