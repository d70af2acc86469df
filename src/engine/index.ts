export { Tensor, numel, MAX_EMBEDDED_CONSTANT, type Shape, type Scalar, type NestedArray } from './tensor.ts';
export type { DType, TypedArray } from './dtype.ts';
export { grad, type GradOptions } from './autograd.ts';
export { realize, engineStats, clearCompiledGraphs } from './realize.ts';
export { setBackend, getBackend, type Backend, type CompiledGraph, type FeedTensor } from './runtime/backend.ts';
export { Generator, manualSeed, getDefaultGenerator } from './random.ts';
export { EngineError, ShapeError, RuntimeFailure } from './errors.ts';
export { checkFinite } from './debug.ts';
export * as ops from './ops/index.ts';
