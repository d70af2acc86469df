/** Training: optimizers, schedules, the Trainer and its checkpoints, the data pipeline, and the whole fine-tuning job. */
export { AdamW, SGD, clipGradNorm, type Trainable, type PendingUpdate, type ParamGroup, type OptimizerState, type AdamWOptions, type SGDOptions } from './optim.ts';
export { lrMultiplier, type ScheduleName, type ScheduleOptions } from './schedule.ts';
export { Trainer, TrainingError, countLossTokens, type TrainerOptions, type TrainerEvent, type TrainResult, type TrainBatch, type TrainData } from './trainer.ts';
export { TRAINER_STATE_NAME, OPTIMIZER_NAME, latestCheckpoint, checkpointFiles, writeCheckpoint, readCheckpoint, type TrainerState, type HistoryRecord } from './trainer-checkpoint.ts';
export { fineTune, prepareTrainingData, type TrainingData, type TrainingDataOptions } from './fine-tune.ts';
export {
  CLOSE_SHARE, checkTrainingMemory, estimateTrainingStep, estimateWithCheckpointing, type HostMemory, type MemoryCheck, type StepMemoryEstimate, type EstimateOptions,
} from './memory-check.ts';
export * from './data.ts';
