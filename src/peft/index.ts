/** Adapters: Bone, BAT, MiSS (+ mini) and LoRA, in Python PEFT's behaviour and file format. */
export { PeftError } from './errors.ts';
export { PeftConfig, defineAdapterConfig, SHARED_FIELDS, pythonJsonDumps, PEFT_VERSION_WRITTEN, type PeftConfigOptions, type TargetSpec, type JsonValue, type AdapterConfigClass, type ConfigClass } from './config.ts';
export { booleanField, choiceField, customField, integerField, numberField, optionalStringField, rankField } from './config-fields.ts';
export type { ConfigField, ConfigFields, FieldOptions, FieldValues, FlagKind } from './config-fields.ts';
export {
  registerPeftMethod, peftMethod, peftMethodOf, peftMethods, methodVariants, methodVariant, variantConfig, configFromJSON, adapterConversions,
  type PeftMethod, type MethodVariant, type AdapterConversion, type AdapterConversionOptions, type CommandLineDefault,
} from './registry.ts';
// Each method's folder registers its record when imported.
export * from './bone/index.ts';
export * from './lora/index.ts';
export { AdapterLayer } from './tuner-layer.ts';
export { PeftModel, getPeftModel, savedKey, loadedName, type AdaptableModel, type AdapterConfig } from './peft-model.ts';
export {
  savePeftModel, adapterFolderFiles, adapterFiles, loadAdapterInto, readAdapterConfigJson, readAdapterTensors, adapterDir, adapterSubfolder, missingAdapterWeights,
  ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, ADAPTER_PICKLE_NAME, type LoadAdapterOptions, type SaveAdapterOptions,
} from './adapter-folder.ts';
export { selectTargets, matchModule, DEFAULT_TARGET_MODULES } from './targets.ts';
export { modelCardText, writeModelCard, MODEL_CARD_NAME, type ModelCardTraining, type ModelCardFacts } from './model-card.ts';
export { pythonRegex, pythonRegexProblem, PythonRegexError } from './python-regex.ts';
