/** Adapters: Bone, BAT, MiSS (+ mini) and LoRA, in Python PEFT's behaviour and file format. */
export { PeftError } from './errors.ts';
export { PeftConfig, pythonJsonDumps, PEFT_VERSION_WRITTEN, type PeftConfigOptions, type TargetSpec, type JsonValue } from './config.ts';
export { BoneConfig, MissConfig, type BoneConfigOptions, type MissConfigOptions, type InitWeights } from './bone/config.ts';
export { LoraConfig, type LoraConfigOptions } from './lora/config.ts';
export { BoneLinear } from './bone/layer.ts';
export { LoraLinear } from './lora/layer.ts';
export { AdapterLayer } from './tuner-layer.ts';
export { PeftModel, getPeftModel, type AdaptableModel, type AdapterConfig } from './peft-model.ts';
export { adapterStateDict, savePeftModel, loadAdapterInto, configFromJSON, type LoadAdapterOptions } from './checkpoint.ts';
export { convertBoneToMiss, ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './convert.ts';
export { selectTargets, matchModule, DEFAULT_TARGET_MODULES } from './targets.ts';
