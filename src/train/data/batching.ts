/**
 * Batches for training: examples grouped by length, right-padded to a bucketed length, as int64
 * tensors.
 *
 * Every distinct batch shape compiles its own training graph (docs/design.md §2.3), so the
 * sequence length of a batch is rounded up to a multiple of `bucketMultiple` (capped at
 * `maxLength`), and batches are made of examples of similar lengths, which also keeps padding low.
 * The order is that of transformers' length-grouped sampler: a seeded permutation, cut into large
 * groups, each sorted by length (longest first); consecutive examples form batches; then the batch
 * order is shuffled, so that long and short batches alternate instead of running in groups.
 *
 * The batches of an epoch are a pure function of (seed, epoch): resuming needs only the position
 * `{epoch, batchIndex}` of the next batch. This class fits the Trainer's `TrainData` interface.
 */
import { Tensor } from '../../engine/index.ts';
import { DatasetError, type ExampleSource } from './errors.ts';
import { epochGenerator, permutation, shuffleInPlace } from './seeded-order.ts';
import { IGNORE_INDEX } from './tokenize.ts';

/** What batching needs of an example (TokenizedExample fits). */
export interface BatchableExample {
  readonly inputIds: readonly number[];
  readonly labels: readonly number[];
  readonly source?: ExampleSource;
}

/** One batch, right-padded: `[batch, sequence]` int64 tensors; labels are -100 on padding. */
export interface Batch {
  inputIds: Tensor;
  attentionMask: Tensor;
  labels: Tensor;
}

/** `[batch size, sequence length]`. */
export type BatchShape = readonly [number, number];

/** The place of a batch in the run: batch `batchIndex` of epoch `epoch`. Enough to resume. */
export interface DataPosition {
  readonly epoch: number;
  readonly batchIndex: number;
}

export interface PositionedBatch {
  readonly position: DataPosition;
  /** Where to continue after this batch (what a checkpoint taken after it should store). */
  readonly next: DataPosition;
  readonly batch: Batch;
}

export interface BatchingOptions {
  batchSize: number;
  /** The id put on padded positions (tokenizer.padTokenId); their attention mask is 0 and label -100. */
  padTokenId: number;
  /** Round each batch's sequence length up to a multiple of this. Default 64. */
  bucketMultiple?: number;
  /** The cap of the rounded length (the maxLength the examples were truncated to); longer examples are an error. */
  maxLength?: number;
  /** Seed of the data order. Default 0. */
  seed?: number;
  /**
   * Default true. False: every epoch is the examples sorted by length (longest first, ties in input
   * order) and batched in that order — the fewest shapes and the least padding, for evaluation.
   */
  shuffle?: boolean;
  /** Drop the last, smaller batch of an epoch (one shape fewer). Default false. */
  dropLast?: boolean;
  /**
   * Examples per length-sorted group, a multiple of batchSize. Larger groups give fewer shapes and
   * less padding but a less random order. Default as transformers' sampler: batchSize ×
   * min(50, max(1, ⌊examples / (4 · batchSize)⌋)).
   */
  groupSize?: number;
}

export const DEFAULT_BUCKET_MULTIPLE = 64;

const START: DataPosition = { epoch: 0, batchIndex: 0 };

/** Length-grouped, bucketed batches over examples; see the file comment. */
export class LengthGroupedBatches {
  readonly examples: readonly BatchableExample[];
  readonly batchSize: number;
  readonly padTokenId: number;
  readonly bucketMultiple: number;
  readonly maxLength: number | undefined;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly groupSize: number;
  /** The same in every epoch. */
  readonly batchesPerEpoch: number;

  // Plans (example indices per batch) are small; tensors are not, so only the latest epoch's are kept.
  readonly #plans = new Map<number, readonly (readonly number[])[]>();
  #cachedEpoch: { key: number; batches: readonly Batch[] } | undefined;

  constructor(examples: readonly BatchableExample[], options: BatchingOptions) {
    const { batchSize, padTokenId, bucketMultiple = DEFAULT_BUCKET_MULTIPLE, maxLength, seed = 0, shuffle = true, dropLast = false } = options;
    requirePositiveInteger('batchSize', batchSize);
    requirePositiveInteger('bucketMultiple', bucketMultiple);
    if (maxLength !== undefined) requirePositiveInteger('maxLength', maxLength);
    if (!Number.isInteger(padTokenId) || padTokenId < 0) {
      throw new DatasetError(`padTokenId must be a token id (an integer ≥ 0), found ${padTokenId}; the tokenizer names no pad or eos token?`);
    }
    if (examples.length === 0) throw new DatasetError('cannot batch an empty dataset');
    for (const example of examples) {
      const { inputIds, labels, source } = example;
      if (inputIds.length === 0) throw DatasetError.at(source, 'an example has no tokens');
      if (labels.length !== inputIds.length) {
        throw DatasetError.at(source, `an example has ${inputIds.length} input ids but ${labels.length} labels`);
      }
      if (maxLength !== undefined && inputIds.length > maxLength) {
        throw DatasetError.at(source, `an example is ${inputIds.length} tokens, longer than maxLength ${maxLength}: tokenize with the same maxLength`);
      }
    }
    const groupSize = options.groupSize ?? batchSize * Math.min(50, Math.max(1, Math.floor(examples.length / (4 * batchSize))));
    requirePositiveInteger('groupSize', groupSize);
    if (groupSize % batchSize !== 0) throw new DatasetError(`groupSize (${groupSize}) must be a multiple of batchSize (${batchSize})`);
    const batchesPerEpoch = dropLast ? Math.floor(examples.length / batchSize) : Math.ceil(examples.length / batchSize);
    if (batchesPerEpoch === 0) {
      throw new DatasetError(`an epoch has no batch: ${examples.length} examples, batchSize ${batchSize} and dropLast`);
    }
    epochGenerator(seed, 0); // validates the seed now rather than at the first epoch

    this.examples = examples;
    this.batchSize = batchSize;
    this.padTokenId = padTokenId;
    this.bucketMultiple = bucketMultiple;
    this.maxLength = maxLength;
    this.seed = seed;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.groupSize = groupSize;
    this.batchesPerEpoch = batchesPerEpoch;
  }

  /** The example indices of each batch of an epoch, in order. */
  epochPlan(epoch: number): readonly (readonly number[])[] {
    const key = this.#planKey(epoch);
    let plan = this.#plans.get(key);
    if (plan === undefined) {
      plan = this.shuffle ? this.#shuffledPlan(epoch) : this.#sortedPlan();
      if (this.#plans.size >= 4) this.#plans.delete(this.#plans.keys().next().value!);
      this.#plans.set(key, plan);
    }
    return plan;
  }

  /** The padded sequence length of a batch of these examples: the longest, rounded up to the bucket, capped at maxLength. */
  sequenceLengthOf(exampleIndices: readonly number[]): number {
    const longest = Math.max(...exampleIndices.map((i) => this.examples[i]!.inputIds.length));
    const bucketed = Math.ceil(longest / this.bucketMultiple) * this.bucketMultiple;
    return this.maxLength === undefined ? bucketed : Math.min(bucketed, this.maxLength);
  }

  /** The distinct `[batch, sequence]` shapes of an epoch's batches, sorted. */
  shapesOfEpoch(epoch: number): BatchShape[] {
    const keys = new Map<string, BatchShape>();
    for (const indices of this.epochPlan(epoch)) {
      const shape: BatchShape = [indices.length, this.sequenceLengthOf(indices)];
      keys.set(shape.join('x'), shape);
    }
    return [...keys.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /** The batch at a position, built on demand. */
  batchAt(position: DataPosition): Batch {
    this.#checkPosition(position);
    return this.#collate(this.epochPlan(position.epoch)[position.batchIndex]!);
  }

  /**
   * All batches of an epoch (the Trainer's TrainData). The latest epoch's tensors are cached, since
   * the Trainer asks once per micro-batch; one epoch's tensors (3 × 8 bytes per padded token) are
   * held at a time. batchAt and batchesFrom build one batch at a time instead.
   */
  epochBatches(epoch: number): readonly Batch[] {
    this.#checkPosition({ epoch, batchIndex: 0 });
    const key = this.#planKey(epoch);
    if (this.#cachedEpoch?.key !== key) {
      this.#cachedEpoch = { key, batches: this.epochPlan(epoch).map((indices) => this.#collate(indices)) };
    }
    return this.#cachedEpoch.batches;
  }

  /** The position after `position`: the next batch of the epoch, or the first of the next epoch. */
  nextPosition(position: DataPosition): DataPosition {
    this.#checkPosition(position);
    return position.batchIndex + 1 < this.batchesPerEpoch
      ? { epoch: position.epoch, batchIndex: position.batchIndex + 1 }
      : { epoch: position.epoch + 1, batchIndex: 0 };
  }

  /**
   * Batches from a position on (the start by default), across epochs, each built when reached;
   * endless unless `epochs` says how many epochs the run has.
   */
  *batchesFrom(start: DataPosition = START, options: { epochs?: number } = {}): IterableIterator<PositionedBatch> {
    this.#checkPosition(start);
    for (let position = start; options.epochs === undefined || position.epoch < options.epochs;) {
      const next = this.nextPosition(position);
      yield { position, next, batch: this.batchAt(position) };
      position = next;
    }
  }

  /** Unshuffled batches are the same in every epoch, so they share one plan and one set of tensors. */
  #planKey(epoch: number): number {
    return this.shuffle ? epoch : 0;
  }

  #shuffledPlan(epoch: number): number[][] {
    const generator = epochGenerator(this.seed, epoch);
    const order = permutation(this.examples.length, generator);
    const grouped: number[] = [];
    for (let start = 0; start < order.length; start += this.groupSize) {
      grouped.push(...this.#longestFirst(order.slice(start, start + this.groupSize)));
    }
    return shuffleInPlace(this.#cutIntoBatches(grouped), generator);
  }

  #sortedPlan(): number[][] {
    return this.#cutIntoBatches(this.#longestFirst(this.examples.map((_, i) => i)));
  }

  /** Longest first (Array.prototype.sort is stable, so ties keep their order and the result is deterministic). */
  #longestFirst(indices: number[]): number[] {
    return indices.sort((a, b) => this.examples[b]!.inputIds.length - this.examples[a]!.inputIds.length);
  }

  #cutIntoBatches(order: readonly number[]): number[][] {
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += this.batchSize) batches.push(order.slice(start, start + this.batchSize));
    if (this.dropLast && batches[batches.length - 1]!.length < this.batchSize) batches.pop();
    return batches;
  }

  #collate(exampleIndices: readonly number[]): Batch {
    const rows = exampleIndices.length;
    const columns = this.sequenceLengthOf(exampleIndices);
    const inputIds = new BigInt64Array(rows * columns).fill(BigInt(this.padTokenId));
    const attentionMask = new BigInt64Array(rows * columns);
    const labels = new BigInt64Array(rows * columns).fill(BigInt(IGNORE_INDEX));
    exampleIndices.forEach((exampleIndex, row) => {
      const example = this.examples[exampleIndex]!;
      const offset = row * columns;
      for (let t = 0; t < example.inputIds.length; t += 1) {
        inputIds[offset + t] = BigInt(example.inputIds[t]!);
        attentionMask[offset + t] = 1n;
        labels[offset + t] = BigInt(example.labels[t]!);
      }
    });
    const shape = [rows, columns];
    return {
      inputIds: Tensor.fromData(inputIds, shape, 'int64'),
      attentionMask: Tensor.fromData(attentionMask, shape, 'int64'),
      labels: Tensor.fromData(labels, shape, 'int64'),
    };
  }

  #checkPosition(position: DataPosition): void {
    const { epoch, batchIndex } = position;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new DatasetError(`the epoch must be an integer ≥ 0, found ${epoch}`);
    if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= this.batchesPerEpoch) {
      throw new DatasetError(`batchIndex must be an integer in [0, ${this.batchesPerEpoch}), found ${batchIndex}`);
    }
  }
}

/** Length-grouped, bucketed batches; see {@link LengthGroupedBatches}. */
export function makeBatches(examples: readonly BatchableExample[], options: BatchingOptions): LengthGroupedBatches {
  return new LengthGroupedBatches(examples, options);
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new DatasetError(`${name} must be an integer ≥ 1, found ${value}`);
}
