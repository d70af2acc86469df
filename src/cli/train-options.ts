/**
 * `bone train`'s options, declared once (kind, range, default, help): the flags, --config files,
 * runTrain's checks and --help come from here, and so do the form-field checks of the page of
 * `npm run demo:web`, which is why this file needs no Node.js.
 */
import { MEMORY_OPTIONS } from './memory.ts';
import { ADAPTER_OPTIONS } from './method.ts';
import { OVERWRITE_OPTION, type OptionSpecs } from './options.ts';

export const TRAIN_OPTIONS = {
  model: { kind: 'path', required: true, valueName: 'DIR', description: 'the base model folder (or a Hugging Face repo id in the local cache)' },
  data: { kind: 'path', required: true, valueName: 'FILE', description: 'the training data: JSONL, one {"text"}, {"prompt","completion"} or {"messages"} per line' },
  out: { kind: 'path', required: true, valueName: 'DIR', description: 'the folder for the adapter, checkpoints and report.html' },
  eval: { kind: 'path', valueName: 'FILE', description: 'evaluation data (JSONL, same formats)' },
  evalFraction: { kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true, valueName: 'F', description: 'hold out this share of --data for evaluation instead of --eval' },
  tokenizer: { kind: 'path', valueName: 'DIR', description: 'tokenizer folder (default: the model folder)' },
  ...ADAPTER_OPTIONS,
  lr: { kind: 'number', min: 0, minExclusive: true, default: 2e-4, valueName: 'LR', description: 'peak learning rate (AdamW)' },
  epochs: { kind: 'integer', min: 1, valueName: 'N', description: 'passes over the data (default 1; or give --max-steps)' },
  maxSteps: { kind: 'integer', min: 1, valueName: 'N', description: 'optimizer steps to train for, instead of --epochs' },
  batchSize: { kind: 'integer', min: 1, default: 4, valueName: 'N', description: 'examples per micro-batch' },
  gradAccum: { kind: 'integer', min: 1, default: 1, valueName: 'N', description: 'micro-batches per optimizer step (gradient accumulation)' },
  maxLength: { kind: 'integer', min: 2, default: 512, valueName: 'N', description: 'longer examples are truncated to this many tokens' },
  packing: { kind: 'boolean', description: 'pack examples into rows of --max-length tokens (each attends only to itself,\npositions restart per example) instead of one padded example per row' },
  warmupSteps: { kind: 'integer', min: 0, default: 0, valueName: 'N', description: 'linear learning-rate warmup steps' },
  schedule: { kind: 'choice', choices: ['linear', 'cosine', 'constant'], default: 'linear', valueName: 'NAME', description: 'learning-rate schedule after warmup: linear, cosine or constant' },
  weightDecay: { kind: 'number', min: 0, default: 0, valueName: 'W', description: 'AdamW weight decay' },
  maxGradNorm: { kind: 'number', min: 0, default: 1, valueName: 'N', description: 'clip the gradient norm to this (0: no clipping)' },
  saveEvery: { kind: 'integer', min: 0, default: 100, valueName: 'N', description: 'write a checkpoint every N steps (0: only at the end and on Ctrl-C)' },
  keepCheckpoints: { kind: 'integer', min: 1, default: 2, valueName: 'N', description: 'keep only the newest N checkpoints' },
  evalEvery: { kind: 'integer', min: 0, valueName: 'N', description: 'evaluate every N steps (default: 10 times per run; 0: only at the end)' },
  logEvery: { kind: 'integer', min: 0, default: 10, valueName: 'N', description: 'without a terminal, print a progress line every N steps (0: none)' },
  seed: { kind: 'integer', min: 0, default: 42, valueName: 'N', description: 'seed of the data order, the eval split and dropout' },
  resume: { kind: 'boolean', description: 'continue from the newest checkpoint in --out (and train up to the new --max-steps)' },
  quiet: { kind: 'boolean', description: 'no progress output, only the summary' },
  skipUntrainable: { kind: 'boolean', description: 'skip examples with no token to learn from instead of stopping at them' },
  skipMemoryCheck: { kind: 'boolean', description: 'train even when the estimate before the first step says a step will not fit in memory' },
  ...MEMORY_OPTIONS,
  ...OVERWRITE_OPTION,
} as const satisfies OptionSpecs;
