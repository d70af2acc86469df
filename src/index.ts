/** bone-peft's public API. */
export * from './engine/index.ts';
export * from './nn/index.ts';
export * from './models/index.ts';
export { SafetensorsError, readSafetensors, readSafetensorsHeader, writeSafetensors, openSafetensors, type SafetensorsTensor, type SafetensorsDType } from './io/safetensors.ts';
export { loadModel, loadPretrained, savePretrained, resolveModelFolder, parseShardSize, ModelFolderError, HubCacheError, hubCacheLocation, type LoadModelOptions, type LoadPretrainedOptions, type Pretrained, type SavePretrainedOptions } from './io/model-folder.ts';
export { loadTokenizer, PretrainedTokenizer, TokenizerError, type ChatMessage } from './io/tokenizer.ts';
export * from './peft/index.ts';
export type { JsonObject } from './io/json.ts';
export { AdamW, SGD, clipGradNorm, type Trainable, type PendingUpdate } from './train/optim.ts';
export { lrMultiplier, type ScheduleName, type ScheduleOptions } from './train/schedule.ts';
export { Trainer, TrainingError, type TrainerOptions, type TrainerEvent, type TrainResult, type TrainBatch, type TrainData } from './train/trainer.ts';
export * from './train/data.ts';
