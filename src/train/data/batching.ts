/**
 * Batches for training: examples grouped by length, right-padded to a bucketed length, as int64
 * tensors — or, with `packing`, examples packed into rows of up to `maxLength` tokens.
 *
 * Every distinct batch shape compiles its own training graph (docs/design.md §2.3), so the
 * sequence length of a batch is rounded up to a multiple of `bucketMultiple` (capped at
 * `maxLength`), and batches are made of examples of similar lengths, which also keeps padding low.
 * The order is that of transformers' length-grouped sampler: a seeded permutation, cut into large
 * groups, each sorted by length (longest first); consecutive examples form batches; then the batch
 * order is shuffled, so that long and short batches alternate instead of running in groups.
 *
 * Packing (TRL's padding-free packing, best-fit decreasing): examples are packed once, longest first,
 * each into the fullest row it still fits in; a row's documents keep their own causal attention
 * (per-token segment ids) and positions that restart at each document, and the first token of each
 * document is not predicted from the document before it. A packed row is then batched like one
 * example, so the same length-grouped order applies to rows.
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
  /** Packed rows only: positions restarting at each document. */
  positionIds?: Tensor;
  /** Packed rows only: the document of each token (1, 2, … within a row; 0 on padding). */
  segmentIds?: Tensor;
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
   * Pack examples into rows of up to maxLength tokens (required), each document attending only to
   * itself, instead of one padded example per row. Default false.
   */
  packing?: boolean;
  /**
   * Rows (examples, or packed rows) per length-sorted group, a multiple of batchSize. Larger groups
   * give fewer shapes and less padding but a less random order. Default as transformers' sampler:
   * batchSize × min(50, max(1, ⌊rows / (4 · batchSize)⌋)).
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
  readonly packing: boolean;
  /** What a batch is made of: each row's example indices (one example per row unless packing). */
  readonly rows: readonly (readonly number[])[];
  /** Tokens in each row. */
  readonly rowLengths: readonly number[];
  /** The same in every epoch. */
  readonly batchesPerEpoch: number;

  // Plans (row indices per batch) are small; tensors are not, so only the latest epoch's are kept.
  readonly #plans = new Map<number, readonly (readonly number[])[]>();
  #cachedEpoch: { key: number; batches: readonly Batch[] } | undefined;

  constructor(examples: readonly BatchableExample[], options: BatchingOptions) {
    const { batchSize, padTokenId, bucketMultiple = DEFAULT_BUCKET_MULTIPLE, maxLength, seed = 0, shuffle = true, dropLast = false, packing = false } = options;
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
    if (packing && maxLength === undefined) throw new DatasetError('packing needs maxLength: the length of the rows examples are packed into');
    const rows = packing ? packBestFitDecreasing(examples.map((e) => e.inputIds.length), maxLength!) : examples.map((_, i) => [i]);
    const rowLengths = rows.map((r) => r.reduce((n, i) => n + examples[i]!.inputIds.length, 0));
    const groupSize = options.groupSize ?? batchSize * Math.min(50, Math.max(1, Math.floor(rows.length / (4 * batchSize))));
    requirePositiveInteger('groupSize', groupSize);
    if (groupSize % batchSize !== 0) throw new DatasetError(`groupSize (${groupSize}) must be a multiple of batchSize (${batchSize})`);
    const batchesPerEpoch = dropLast ? Math.floor(rows.length / batchSize) : Math.ceil(rows.length / batchSize);
    if (batchesPerEpoch === 0) {
      throw new DatasetError(`an epoch has no batch: ${rows.length} ${packing ? 'packed rows' : 'examples'}, batchSize ${batchSize} and dropLast`);
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
    this.packing = packing;
    this.rows = rows;
    this.rowLengths = rowLengths;
    this.batchesPerEpoch = batchesPerEpoch;
  }

  /** The row indices of each batch of an epoch, in order (without packing a row is one example: example indices). */
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

  /** The padded sequence length of a batch of these rows: the longest, rounded up to the bucket, capped at maxLength. */
  sequenceLengthOf(rowIndices: readonly number[]): number {
    const longest = Math.max(...rowIndices.map((i) => this.rowLengths[i]!));
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
    const order = permutation(this.rows.length, generator);
    const grouped: number[] = [];
    for (let start = 0; start < order.length; start += this.groupSize) {
      grouped.push(...this.#longestFirst(order.slice(start, start + this.groupSize)));
    }
    return shuffleInPlace(this.#cutIntoBatches(grouped), generator);
  }

  #sortedPlan(): number[][] {
    return this.#cutIntoBatches(this.#longestFirst(this.rows.map((_, i) => i)));
  }

  /** Longest first (Array.prototype.sort is stable, so ties keep their order and the result is deterministic). */
  #longestFirst(indices: number[]): number[] {
    return indices.sort((a, b) => this.rowLengths[b]! - this.rowLengths[a]!);
  }

  #cutIntoBatches(order: readonly number[]): number[][] {
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += this.batchSize) batches.push(order.slice(start, start + this.batchSize));
    if (this.dropLast && batches[batches.length - 1]!.length < this.batchSize) batches.pop();
    return batches;
  }

  #collate(rowIndices: readonly number[]): Batch {
    const rows = rowIndices.length;
    const columns = this.sequenceLengthOf(rowIndices);
    const inputIds = new BigInt64Array(rows * columns).fill(BigInt(this.padTokenId));
    const attentionMask = new BigInt64Array(rows * columns);
    const labels = new BigInt64Array(rows * columns).fill(BigInt(IGNORE_INDEX));
    const positionIds = new BigInt64Array(this.packing ? rows * columns : 0);
    const segmentIds = new BigInt64Array(this.packing ? rows * columns : 0);
    rowIndices.forEach((rowIndex, row) => {
      let offset = row * columns;
      this.rows[rowIndex]!.forEach((exampleIndex, document) => {
        const example = this.examples[exampleIndex]!;
        for (let t = 0; t < example.inputIds.length; t += 1) {
          inputIds[offset + t] = BigInt(example.inputIds[t]!);
          attentionMask[offset + t] = 1n;
          // A packed document's first token is not predicted from the document before it (the loss
          // shifts labels left: the label at t is predicted at t − 1), as each example alone.
          labels[offset + t] = t === 0 && document > 0 ? BigInt(IGNORE_INDEX) : BigInt(example.labels[t]!);
          if (this.packing) {
            positionIds[offset + t] = BigInt(t);
            segmentIds[offset + t] = BigInt(document + 1);
          }
        }
        offset += example.inputIds.length;
      });
    });
    const shape = [rows, columns];
    const batch: Batch = {
      inputIds: Tensor.fromData(inputIds, shape, 'int64'),
      attentionMask: Tensor.fromData(attentionMask, shape, 'int64'),
      labels: Tensor.fromData(labels, shape, 'int64'),
    };
    if (this.packing) {
      batch.positionIds = Tensor.fromData(positionIds, shape, 'int64');
      batch.segmentIds = Tensor.fromData(segmentIds, shape, 'int64');
    }
    return batch;
  }

  #checkPosition(position: DataPosition): void {
    const { epoch, batchIndex } = position;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new DatasetError(`the epoch must be an integer ≥ 0, found ${epoch}`);
    if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= this.batchesPerEpoch) {
      throw new DatasetError(`batchIndex must be an integer in [0, ${this.batchesPerEpoch}), found ${batchIndex}`);
    }
  }
}

/**
 * Best-fit decreasing bin packing (TRL's `bfd` packing strategy): lengths longest first (ties in
 * input order), each into the bin whose free space is the smallest that still holds it (on ties,
 * the bin that has had that free space longest), a new bin when none does. Returns each bin's item indices in packing
 * order. A segment tree over free space finds the bin in O(log capacity).
 */
export function packBestFitDecreasing(lengths: readonly number[], capacity: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const bins: number[][] = [];
  // byFree[f]: bins with exactly f tokens free, oldest first; tree[node]: whether its range has any.
  const byFree: number[][] = Array.from({ length: capacity + 1 }, () => []);
  let size = 1;
  while (size < capacity + 1) size *= 2;
  const tree = new Uint8Array(2 * size);
  const mark = (free: number): void => {
    for (let node = free + size, on = byFree[free]!.length > 0 ? 1 : 0; node >= 1; node >>= 1) {
      tree[node] = node >= size ? on : tree[2 * node]! | tree[2 * node + 1]!;
    }
  };
  /** The smallest free space ≥ need that some bin has, or −1. */
  const smallestAtLeast = (need: number): number => {
    const search = (node: number, lo: number, hi: number): number => {
      if (hi < need || !tree[node]) return -1;
      if (lo === hi) return lo;
      const mid = (lo + hi) >> 1;
      const left = search(2 * node, lo, mid);
      return left >= 0 ? left : search(2 * node + 1, mid + 1, hi);
    };
    return search(1, 0, size - 1);
  };
  for (const item of order) {
    const length = lengths[item]!;
    if (length > capacity) throw new DatasetError(`cannot pack an example of ${length} tokens into rows of ${capacity}`);
    const free = smallestAtLeast(length);
    let bin: number;
    if (free < 0) {
      bin = bins.push([]) - 1;
    } else {
      bin = byFree[free]!.shift()!;
      mark(free);
    }
    bins[bin]!.push(item);
    const left = (free < 0 ? capacity : free) - length;
    byFree[left]!.push(bin);
    mark(left);
  }
  return bins;
}

/** Length-grouped, bucketed batches; see {@link LengthGroupedBatches}. */
export function makeBatches(examples: readonly BatchableExample[], options: BatchingOptions): LengthGroupedBatches {
  return new LengthGroupedBatches(examples, options);
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new DatasetError(`${name} must be an integer ≥ 1, found ${value}`);
}
