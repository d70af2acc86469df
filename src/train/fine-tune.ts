/**
 * The fine-tuning job `bone train` runs, as two library calls next to the Trainer:
 * `prepareTrainingData` reads the JSONL files, tokenizes them, splits off an evaluation share and
 * makes the length-grouped batches; `fineTune` runs the Trainer into an output folder, which ends
 * with a checkpoint (so that a longer run can resume it) and the adapter in PEFT's format.
 */
import { pathRef, type PathLike } from '../io/file-system.ts';
import type { CausalLM } from '../models/index.ts';
import type { ModelCardTraining, PeftModel } from '../peft/index.ts';
import {
  loadJsonlDataset, makeBatches, splitDataset, type DatasetTokenizer, type LengthGroupedBatches, type LoadedDataset, type TokenizedExample,
} from './data.ts';
import { Trainer, type TrainData, type TrainerOptions, type TrainResult } from './trainer.ts';

export interface TrainingDataOptions {
  /** The training JSONL file. */
  data: PathLike;
  /** An evaluation JSONL file (or evalFraction). */
  eval?: PathLike;
  /** Hold out this share of `data` for evaluation instead. */
  evalFraction?: number;
  maxLength: number;
  batchSize: number;
  padTokenId: number;
  /** Seed of the batch order and the evaluation split. */
  seed: number;
  /** Skip examples with no token to learn from instead of stopping at them. */
  skipUntrainable?: boolean;
  /** Pack the training examples into rows of maxLength tokens (makeBatches' packing); evaluation stays one example per row. */
  packing?: boolean;
}

export interface TrainingData {
  trainFile: LoadedDataset;
  evalFile: LoadedDataset | null;
  trainExamples: TokenizedExample[];
  evalExamples: TokenizedExample[];
  trainBatches: LengthGroupedBatches;
  /** Evaluation batches in length order (the fewest shapes, so the fewest graphs to compile); undefined without evaluation data. */
  evalBatches: LengthGroupedBatches | undefined;
}

export async function prepareTrainingData(tokenizer: DatasetTokenizer, o: TrainingDataOptions): Promise<TrainingData> {
  const tokenizeOptions = { maxLength: o.maxLength, skipUntrainable: o.skipUntrainable ?? false };
  const trainFile = await loadJsonlDataset(o.data, tokenizer, tokenizeOptions);
  const evalFile = o.eval !== undefined ? await loadJsonlDataset(o.eval, tokenizer, tokenizeOptions) : null;
  let trainExamples: TokenizedExample[] = trainFile.examples;
  let evalExamples: TokenizedExample[] = evalFile?.examples ?? [];
  if (o.evalFraction !== undefined) ({ train: trainExamples, eval: evalExamples } = splitDataset(trainFile.examples, { evalFraction: o.evalFraction, seed: o.seed }));
  const batching = { batchSize: o.batchSize, padTokenId: o.padTokenId, maxLength: o.maxLength };
  const trainBatches = makeBatches(trainExamples, { ...batching, seed: o.seed, packing: o.packing ?? false });
  const evalBatches = evalExamples.length > 0 ? makeBatches(evalExamples, { ...batching, shuffle: false }) : undefined;
  return { trainFile, evalFile, trainExamples, evalExamples, trainBatches, evalBatches };
}

/** The model card's results of a run: how far it got and its last losses. */
function runResults(run: TrainResult): [string, string][] {
  const last = run.history.at(-1);
  const lastEval = [...run.history].reverse().find((h) => h.evalLoss !== undefined)?.evalLoss ?? run.finalEvalLoss;
  const number = (x: number): string => String(Number(x.toPrecision(4)));
  return [
    ['steps', `${run.step} (${run.reason})`],
    ['first train loss', run.history[0] ? number(run.history[0].loss) : '-'],
    ['final train loss', last ? number(last.loss) : '-'],
    ['final eval loss', lastEval === null || lastEval === undefined ? '-' : number(lastEval)],
  ];
}

/**
 * Train `peft` on `train` with checkpoints in `outputDir`, then write a final checkpoint (a run
 * that completed can be resumed with a larger maxSteps) and the adapter itself into `outputDir`,
 * with a model card that records `modelCard` (the run's data and settings) and the results.
 * The folder is checked for writing before the first step, and locked for the run: a second
 * fineTune or `bone train` on it, in any process, is refused while this one runs.
 */
export async function fineTune(
  peft: PeftModel<CausalLM>, train: TrainData,
  options: TrainerOptions & { outputDir: PathLike; modelCard?: Omit<ModelCardTraining, 'results'> },
): Promise<TrainResult> {
  // The file system checks the folder can be written and locks it (Node: folder-lock.ts), where it can.
  const release = await pathRef(options.outputDir).claim('fineTune');
  try {
    const trainer = new Trainer(peft, train, options);
    const run = await trainer.run();
    if (run.reason === 'completed' && run.step > 0) await trainer.saveCheckpoint();
    await peft.savePretrained(options.outputDir, { modelCard: { ...options.modelCard, settings: options.modelCard?.settings ?? [], results: runResults(run) } });
    return run;
  } finally {
    await release();
  }
}
