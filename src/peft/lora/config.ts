/** LoraConfig: the baseline users compare Bone/MiSS against (plain LoRA and rsLoRA on Linear layers). */
import type { JsonValue } from '../../io/json.ts';
import { booleanField, choiceField, numberField, rankField, type FieldOptions } from '../config-fields.ts';
import { defineAdapterConfig, type PeftConfigOptions } from '../config.ts';

export const LORA_FIELDS = {
  r: rankField({ json: 'r', default: 8, help: 'The rank of the update: lora_A is [r, in_features], lora_B [out_features, r].' }),
  loraAlpha: numberField({ json: 'lora_alpha', default: 8, min: 0, minExclusive: true, help: 'The scaling numerator: the update B·A is scaled by lora_alpha / r (lora_alpha / √r with use_rslora).' }),
  loraDropout: numberField({ json: 'lora_dropout', default: 0, min: 0, max: 1, maxExclusive: true, float: true, help: "The dropout probability on the LoRA layers' input." }),
  useRslora: booleanField({ json: 'use_rslora', default: false, help: 'Rank-stabilized LoRA: scale by lora_alpha / √r instead of lora_alpha / r.' }),
  initLoraWeights: choiceField([true, false, 'gaussian'] as const, {
    json: 'init_lora_weights', default: true,
    help: "The initialization: true is PEFT's (lora_A kaiming-uniform, lora_B zeros, so the adapter starts as the identity), 'gaussian' draws lora_A from N(0, 1/r), false makes both random (tests only).",
  }),
};

/** Keys PEFT 0.21 writes for LoRA features this implementation does not have, with their defaults. */
const UNSUPPORTED_DEFAULTS: Record<string, JsonValue> = {
  alora_invocation_tokens: null, alpha_pattern: {}, arrow_config: null, corda_config: null,
  ensure_weight_tying: false, eva_config: null, fan_in_fan_out: false, kasa_config: null,
  layer_replication: null, loftq_config: {}, lora_bias: false, lora_ga_config: null, megatron_config: null,
  megatron_core: 'megatron.core', monteclora_config: null, qalora_group_size: 16, rank_pattern: {},
  target_parameters: null, trainable_token_indices: null, use_bdlora: null, use_dora: false, use_qalora: false,
  velora_config: null,
};

export type LoraConfigOptions = PeftConfigOptions & FieldOptions<typeof LORA_FIELDS>;

export class LoraConfig extends defineAdapterConfig({ peftType: 'LORA', className: 'LoraConfig', fields: LORA_FIELDS, unsupported: UNSUPPORTED_DEFAULTS }) {
  /** The factor applied to B·A: alpha/r, or alpha/√r with rsLoRA. */
  get scaling(): number {
    return this.useRslora ? this.loraAlpha / Math.sqrt(this.r) : this.loraAlpha / this.r;
  }
}
