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
    // Each session's arena keeps its peak for the next run: fastest for a run of one graph, but
    // sessions do not share it (setMemoryArena; Trainer.run turns it off for training).
    enableCpuMemArena: opts.memoryArena ?? true,
    // No memory pattern: with one, ORT plans a second, pattern-sized block after the first run while
    // the arena keeps what that run allocated, so a training step's memory nearly doubled
    // (SmolLM2-135M at 4 × 256: 3.35 GB peak with it, 2.07 GB without, the step as fast; docs/design.md).
    enableMemPattern: false,
    // Only for float64 graphs (float32 ones keep these fusions, which are faster):
    // MatMulScaleFusion folds `MatMul · c` into FusedMatMul, whose alpha is a float32 attribute,
    // silently rounding c (e.g. attention's 1/√d); QuickGeluFusion turns x·sigmoid(x) (silu) into
    // QuickGelu, which has no float64 kernel. The list separator is ';'.
    ...(opts.float64 ? { extra: { optimization: { disable_specified_optimizers: 'MatMulScaleFusion;QuickGeluFusion' } } } : {}),
  } as const;
}
