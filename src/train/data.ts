/**
 * Training data: JSONL files of text, prompt-completion or chat examples → token ids and labels
 * (TRL's SFTTrainer conventions) → length-grouped, bucketed, seeded batches that resume from a
 * position; plus a train/eval split. The pieces live in ./data/; this file is their entry point.
 *
 * ```ts
 * const tokenizer = await loadTokenizer(modelDir);
 * const { examples, summary } = await loadJsonlDataset('train.jsonl', tokenizer, { maxLength: 512 });
 * const { train, eval: held } = splitDataset(examples, { evalFraction: 0.05, seed: 42 });
 * const trainData = makeBatches(train, { batchSize: 8, padTokenId: tokenizer.padTokenId!, maxLength: 512, seed: 42 });
 * const evalData = makeBatches(held, { batchSize: 8, padTokenId: tokenizer.padTokenId!, maxLength: 512, shuffle: false });
 * ```
 */
import type { PathLike } from '../io/file-system.ts';
import { readExamples, type ExampleFormat } from './data/examples.ts';
import { tokenizeExamples, type DatasetTokenizer, type TokenizeOptions, type TokenizedDataset } from './data/tokenize.ts';

export { DatasetError, type ExampleSource } from './data/errors.ts';
export { parseJsonl, readJsonl, type JsonlRecord } from './data/jsonl.ts';
export {
  exampleFromJson, examplesFromRecords, parseExamples, readExamples,
  type ChatExample, type ExampleFormat, type PromptCompletionExample, type TextExample, type TrainingExample,
} from './data/examples.ts';
export {
  DEFAULT_MAX_LENGTH, IGNORE_INDEX, countTrainable, encodeExample, tokenizeExamples,
  type ChatEncodeOptions, type DatasetTokenizer, type ExampleEncoding, type SkippedExample, type TokenizationSummary,
  type TokenizeOptions, type TokenizedDataset, type TokenizedExample,
} from './data/tokenize.ts';
export {
  DEFAULT_BUCKET_MULTIPLE, LengthGroupedBatches, makeBatches, packBestFitDecreasing,
  type Batch, type BatchableExample, type BatchShape, type BatchingOptions, type DataPosition, type PositionedBatch,
} from './data/batching.ts';
export { splitDataset, type DatasetSplit, type SplitOptions } from './data/split.ts';
export { describeUnrepresentable, unrepresentableCharacters, type CoverageSummary, type CoverageTokenizer, type UnrepresentableCharacter } from './data/coverage.ts';

export interface LoadedDataset extends TokenizedDataset {
  file: string;
  format: ExampleFormat;
}

/** Reads a JSONL training file (one format per file) and tokenizes it; errors name the file and line. */
export async function loadJsonlDataset(file: PathLike, tokenizer: DatasetTokenizer, options: TokenizeOptions = {}): Promise<LoadedDataset> {
  const examples = await readExamples(file);
  return { file: String(file), format: examples[0]!.format, ...tokenizeExamples(examples, tokenizer, options) };
}
