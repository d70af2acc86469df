/** LoraConfig: the baseline users compare Bone/MiSS against (plain LoRA and rsLoRA on Linear layers). */
import {
  PeftConfig, sharedOptionsFromJSON, type JsonValue, type PeftConfigOptions,
} from '../config.ts';
import { PeftError } from '../errors.ts';
import { warnUnknown } from '../bone/config.ts';

export interface LoraConfigOptions extends PeftConfigOptions {
  r?: number;
  loraAlpha?: number;
  loraDropout?: number;
  useRslora?: boolean;
  /** true: A kaiming-uniform, B zeros (PEFT's default); 'gaussian': A ~ N(0, 1/r); false: both random (tests only). */
  initLoraWeights?: boolean | 'gaussian';
}

/** Keys PEFT 0.21 writes for LoRA features this implementation does not have, with their defaults. */
const UNSUPPORTED_DEFAULTS: Record<string, JsonValue> = {
  alora_invocation_tokens: null, alpha_pattern: {}, arrow_config: null, corda_config: null,
  ensure_weight_tying: false, eva_config: null, fan_in_fan_out: false, kasa_config: null,
  layer_replication: null, loftq_config: {}, lora_bias: false, lora_ga_config: null, megatron_config: null,
  megatron_core: 'megatron.core', monteclora_config: null, qalora_group_size: 16, rank_pattern: {},
  target_parameters: null, trainable_token_indices: null, use_bdlora: null, use_dora: false, use_qalora: false,
  velora_config: null,
};

export class LoraConfig extends PeftConfig {
  readonly peftType = 'LORA' as const;
  readonly prefix = 'lora_';
  r: number;
  loraAlpha: number;
  loraDropout: number;
  useRslora: boolean;
  initLoraWeights: boolean | 'gaussian';

  constructor(o: LoraConfigOptions = {}) {
    super(o);
    this.r = o.r ?? 8;
    this.loraAlpha = o.loraAlpha ?? 8;
    this.loraDropout = o.loraDropout ?? 0;
    this.useRslora = o.useRslora ?? false;
    this.initLoraWeights = o.initLoraWeights ?? true;
    if (!Number.isInteger(this.r) || this.r <= 0) throw new PeftError(`\`r\` should be a positive integer value but the value passed is ${this.r} (LoraConfig)`);
    if (!(this.loraDropout >= 0 && this.loraDropout < 1)) throw new PeftError(`LoraConfig: loraDropout must be in [0, 1), found ${this.loraDropout}`);
  }

  /** The factor applied to B·A: alpha/r, or alpha/√r with rsLoRA. */
  get scaling(): number {
    return this.useRslora ? this.loraAlpha / Math.sqrt(this.r) : this.loraAlpha / this.r;
  }

  protected methodFields(): Record<string, JsonValue> {
    return {
      ...UNSUPPORTED_DEFAULTS,
      init_lora_weights: this.initLoraWeights, lora_alpha: this.loraAlpha, lora_dropout: this.loraDropout,
      r: this.r, use_rslora: this.useRslora,
    };
  }

  protected override floatFields(): ReadonlySet<string> { return new Set(['lora_dropout']); }

  static fromJSON(o: Record<string, JsonValue>, warn: (msg: string) => void = console.warn): LoraConfig {
    warnUnknown(o, ['init_lora_weights', 'lora_alpha', 'lora_dropout', 'r', 'use_rslora', ...Object.keys(UNSUPPORTED_DEFAULTS)], 'LoraConfig', warn);
    for (const [k, def] of Object.entries(UNSUPPORTED_DEFAULTS)) {
      if (k in o && JSON.stringify(o[k]) !== JSON.stringify(def) && !(def === null && o[k] === null)) {
        throw new PeftError(`LoraConfig: '${k}' = ${JSON.stringify(o[k])} is not supported by bone-peft (only the default ${JSON.stringify(def)})`);
      }
    }
    return new LoraConfig({
      ...sharedOptionsFromJSON(o), r: o.r as number, loraAlpha: o.lora_alpha as number,
      loraDropout: (o.lora_dropout as number | undefined) ?? 0, useRslora: (o.use_rslora as boolean | undefined) ?? false,
      initLoraWeights: (o.init_lora_weights as boolean | 'gaussian' | undefined) ?? true,
    });
  }
}
