/**
 * How a layer's parameters start. 'default' is torch's layer initialisation (realised, seeded).
 * 'empty' is torch's meta device: a lazy constant that allocates nothing, for models whose weights
 * are about to be loaded (a 1B-parameter model should not fill 4 GB with random numbers first).
 */
import { Tensor, ops, getDefaultGenerator, type Generator, type Shape } from '../engine/index.ts';

export type InitMode = 'default' | 'empty';

export interface InitOptions {
  init?: InitMode;
  /** Random source for 'default' (the engine's default generator unless given). */
  generator?: Generator;
}

/** A lazy constant tensor: no memory until a graph computes it. */
export function emptyTensor(shape: Shape, value = 0): Tensor {
  return ops.full(shape, value, 'float32');
}

/** U(-bound, bound), torch's kaiming_uniform_(a=√5) for a Linear weight and its bias (bound = 1/√fan_in). */
export function uniformTensor(shape: Shape, bound: number, generator?: Generator): Tensor {
  return Tensor.rand(shape, { low: -bound, high: bound, generator: generator ?? getDefaultGenerator() });
}
