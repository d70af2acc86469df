/** The onnxruntime-node binding of the Backend interface (CPU execution provider). */
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import type { TypedArray } from '../dtype.ts';
import type { Backend, CompileOptions, CompiledGraph, FeedTensor } from './backend.ts';

/**
 * The session options every engine graph runs with (the benchmarks start from these too, so that
 * what they time is what the engine runs). BONE_THREADS sets the intra-op thread count.
 */
export function ortSessionOptions(opts: CompileOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: Number(process.env.BONE_THREADS) || availableParallelism(),
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: true,
    // Only for float64 graphs (float32 ones keep these fusions, which are faster):
    // MatMulScaleFusion folds `MatMul · c` into FusedMatMul, whose alpha is a float32 attribute,
    // silently rounding c (e.g. attention's 1/√d); QuickGeluFusion turns x·sigmoid(x) (silu) into
    // QuickGelu, which has no float64 kernel. The list separator is ';'.
    ...(opts.float64 ? { extra: { optimization: { disable_specified_optimizers: 'MatMulScaleFusion;QuickGeluFusion' } } } : {}),
  };
}

export function createOrtNodeBackend(): Backend {
  return {
    name: 'onnxruntime-node',
    async compile(model: Uint8Array, opts: CompileOptions = {}): Promise<CompiledGraph> {
      const session = await ort.InferenceSession.create(model, ortSessionOptions(opts));
      return {
        async run(feeds: Record<string, FeedTensor>, outputNames: readonly string[]): Promise<TypedArray[]> {
          const ortFeeds: Record<string, ort.Tensor> = {};
          for (const [name, f] of Object.entries(feeds)) {
            ortFeeds[name] = new ort.Tensor(f.dtype as 'float32', f.data as Float32Array, f.dims);
          }
          const result = await session.run(ortFeeds, outputNames as string[]);
          return outputNames.map((n) => result[n]!.data as TypedArray);
        },
        async release(): Promise<void> {
          await session.release();
        },
      };
    },
  };
}
