/**
 * Seeded permutations for data order, built on the engine's PCG32 Generator so that a run's data
 * order depends on nothing but its seed.
 */
import { Generator } from '../../engine/random.ts';
import { DatasetError } from './errors.ts';

/**
 * The generator for one epoch: a pure function of (seed, epoch), so that an epoch's order can be
 * rebuilt on resume without replaying earlier epochs. The seed goes into the high 32 bits and the
 * epoch into the low ones, rather than adding them, so that seed 1's epoch 0 is not seed 0's epoch 1.
 */
export function epochGenerator(seed: number, epoch: number): Generator {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new DatasetError(`the seed must be an integer in [0, 2^32), found ${seed}`);
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch >= 2 ** 32) throw new DatasetError(`the epoch must be an integer in [0, 2^32), found ${epoch}`);
  return new Generator((BigInt(seed) << 32n) | BigInt(epoch));
}

/** A uniform integer in [0, n), without the modulo bias of `nextUint32() % n`. */
export function randomBelow(generator: Generator, n: number): number {
  const limit = 2 ** 32 - (2 ** 32 % n);
  let x = generator.nextUint32();
  while (x >= limit) x = generator.nextUint32();
  return x % n;
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[], generator: Generator): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomBelow(generator, i + 1);
    const held = items[i]!;
    items[i] = items[j]!;
    items[j] = held;
  }
  return items;
}

/** The indices 0..n-1 in a seeded random order. */
export function permutation(n: number, generator: Generator): number[] {
  return shuffleInPlace(Array.from({ length: n }, (_, i) => i), generator);
}
