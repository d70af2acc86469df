/**
 * The ONNX Runtime session options every engine graph runs with, whatever the binding (the Node
 * and web backends add their execution provider and threads; the benchmarks start from these too,
 * so that what they time is what the engine runs).
 */
import type { CompileOptions } from './backend.ts';

export function engineSessionOptions(opts: CompileOptions = {}) {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: true,
    // Only for float64 graphs (float32 ones keep these fusions, which are faster):
    // MatMulScaleFusion folds `MatMul · c` into FusedMatMul, whose alpha is a float32 attribute,
    // silently rounding c (e.g. attention's 1/√d); QuickGeluFusion turns x·sigmoid(x) (silu) into
    // QuickGelu, which has no float64 kernel. The list separator is ';'.
    ...(opts.float64 ? { extra: { optimization: { disable_specified_optimizers: 'MatMulScaleFusion;QuickGeluFusion' } } } : {}),
  } as const;
}
