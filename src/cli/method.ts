/**
 * The adapter options that `bone train` and `bone bench` share (--method, --r, --mini-r,
 * --targets, --dropout, --lora-alpha) and the PEFT config they make.
 */
import { BoneConfig, DEFAULT_TARGET_MODULES, LoraConfig, MissConfig, type AdapterConfig } from '../peft/index.ts';
import type { OptionSpec } from './args.ts';

export const METHODS = ['miss', 'bone', 'bat', 'mini', 'lora'] as const;
export type Method = (typeof METHODS)[number];

export const ADAPTER_OPTIONS = {
  method: {
    kind: 'choice', choices: METHODS, default: 'miss', valueName: 'NAME',
    description: 'adapter: miss (MiSS, Bone\'s successor), bone (legacy PEFT "BONE"),\nbat (MiSS block-affine), mini (MiSS mini), lora (baseline)',
  },
  r: { kind: 'integer', min: 1, default: 64, valueName: 'N', description: 'block size (Bone/MiSS) or rank (LoRA)' },
  miniR: { kind: 'integer', min: 1, default: 1, valueName: 'N', description: 'mini_r for --method mini (must divide the targets\' out_features)' },
  targets: {
    kind: 'list', valueName: 'LIST',
    description: 'modules to adapt, e.g. q_proj,v_proj, or all-linear\n(default: PEFT\'s choice for the architecture, q_proj,v_proj for Llama/Qwen/Mistral)',
  },
  dropout: { kind: 'number', min: 0, max: 1, maxExclusive: true, default: 0, valueName: 'P', description: 'dropout on the adapter input (miss_dropout / lora_dropout)' },
  loraAlpha: { kind: 'number', min: 0, minExclusive: true, valueName: 'A', description: 'LoRA alpha (default: 2 × r)' },
} as const satisfies Record<string, OptionSpec>;

export interface AdapterChoice {
  method?: Method;
  r?: number;
  miniR?: number;
  targets?: readonly string[];
  dropout?: number;
  loraAlpha?: number;
}

/**
 * The PEFT config for the chosen method. `targets` absent: PEFT's default for the model type
 * (the config's targetModules stays null and PeftModel resolves it, as PEFT does). A single
 * `all-linear` is passed as the string PEFT expects.
 */
export function adapterConfigFor(choice: AdapterChoice, baseModelNameOrPath: string | null = null): AdapterConfig {
  const r = choice.r ?? 64;
  const targets = choice.targets === undefined ? null
    : choice.targets.length === 1 && choice.targets[0]!.toLowerCase() === 'all-linear' ? 'all-linear' : [...choice.targets];
  const shared = { targetModules: targets, baseModelNameOrPath };
  switch (choice.method ?? 'miss') {
    case 'lora': return new LoraConfig({ ...shared, r, loraAlpha: choice.loraAlpha ?? 2 * r, loraDropout: choice.dropout ?? 0 });
    case 'bone': return new BoneConfig({ ...shared, r });
    case 'bat': return new MissConfig({ ...shared, r, initWeights: 'bat', missDropout: choice.dropout ?? 0 });
    case 'mini': return new MissConfig({ ...shared, r, initWeights: 'mini', miniR: choice.miniR ?? 1, missDropout: choice.dropout ?? 0 });
    case 'miss': return new MissConfig({ ...shared, r, missDropout: choice.dropout ?? 0 });
  }
}

/** The targets PEFT would pick for a model type, for messages ("q_proj,v_proj (Llama default)"). */
export function defaultTargetsFor(modelType: string): readonly string[] | null {
  return DEFAULT_TARGET_MODULES[modelType] ?? null;
}

/** "default", "bat", "mini", "random init" from init_weights, as inspect and the report show the mode. */
export function modeName(initWeights: unknown): string {
  if (initWeights === true) return 'default';
  if (initWeights === false) return 'random init';
  return String(initWeights);
}
