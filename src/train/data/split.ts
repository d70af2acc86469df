/** A seeded train/eval split, like Hugging Face datasets' `train_test_split`. */
import { Generator } from '../../engine/random.ts';
import { DatasetError } from './errors.ts';
import { permutation } from './seeded-order.ts';

export interface SplitOptions {
  /** The share of examples held out for evaluation, in (0, 1); rounded up, as `train_test_split` does. */
  evalFraction?: number;
  /** The number of examples held out for evaluation (instead of evalFraction). */
  evalCount?: number;
  /** Default 0. */
  seed?: number;
}

export interface DatasetSplit<T> {
  train: T[];
  eval: T[];
}

/**
 * Holds out a seeded random subset for evaluation. Both parts keep the input's order (only the
 * choice is random): the training batcher shuffles anyway, and file order makes the evaluation set
 * easy to inspect. Both parts must be non-empty.
 */
export function splitDataset<T>(items: readonly T[], options: SplitOptions): DatasetSplit<T> {
  const n = items.length;
  const { evalFraction, evalCount, seed = 0 } = options;
  if ((evalFraction === undefined) === (evalCount === undefined)) {
    throw new DatasetError('splitDataset: give exactly one of evalFraction and evalCount');
  }
  let count: number;
  if (evalFraction !== undefined) {
    if (!(evalFraction > 0 && evalFraction < 1)) throw new DatasetError(`splitDataset: evalFraction must be in (0, 1), found ${evalFraction}`);
    count = Math.ceil(evalFraction * n);
  } else {
    count = evalCount!;
    if (!Number.isInteger(count) || count < 1) throw new DatasetError(`splitDataset: evalCount must be an integer ≥ 1, found ${count}`);
  }
  if (count >= n) {
    throw new DatasetError(`splitDataset: holding out ${count} of ${n} examples for evaluation leaves none to train on`);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) throw new DatasetError(`splitDataset: the seed must be an integer ≥ 0, found ${seed}`);
  const isEval = new Uint8Array(n);
  for (const index of permutation(n, new Generator(seed)).slice(0, count)) isEval[index] = 1;
  return {
    train: items.filter((_, i) => isEval[i] === 0),
    eval: items.filter((_, i) => isEval[i] === 1),
  };
}
