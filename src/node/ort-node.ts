/** The onnxruntime-node binding of the Backend interface (CPU execution provider). */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import type { TypedArray } from '../engine/dtype.ts';
import { RuntimeUnavailableError } from '../engine/errors.ts';
import type { Backend, CompileOptions, CompiledGraph, FeedTensor } from '../engine/runtime/backend.ts';

type OrtModule = typeof Ort;

/**
 * The session options every engine graph runs with (the benchmarks start from these too, so that
 * what they time is what the engine runs). BONE_THREADS sets the intra-op thread count.
 */
export function ortSessionOptions(opts: CompileOptions = {}): Ort.InferenceSession.SessionOptions {
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

/**
 * Imports ONNX Runtime's Node.js binding. Loading it is the first thing that can fail on a broken
 * install (the package missing, or its native library not loadable on this platform), and a user
 * should then read what to do, not a stack trace from inside node_modules. `specifier` exists so
 * that a test can point the loader at a module that does not load.
 */
export async function loadOrtNode(specifier = 'onnxruntime-node'): Promise<OrtModule> {
  let mod: OrtModule & { default?: OrtModule };
  try {
    mod = (await import(specifier)) as OrtModule & { default?: OrtModule };
    // The binding loads its native library when the package is evaluated, and throws there.
    void (mod.default ?? mod).InferenceSession.create;
  } catch (error) {
    throw new RuntimeUnavailableError(ortLoadFailure(specifier, error));
  }
  return mod.default ?? mod;
}

function ortLoadFailure(specifier: string, error: unknown): string {
  const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  const missing = (error as { code?: string } | null)?.code === 'ERR_MODULE_NOT_FOUND' && reason.includes(`'${specifier}'`);
  return missing
    ? `ONNX Runtime's Node.js binding (${specifier}) is not installed, and bone-peft runs every computation on it: ` +
        `run \`npm install onnxruntime-node\` in your project (its postinstall script only downloads optional CUDA files; ` +
        `skip it as README.md's "Install" section says).`
    : `ONNX Runtime's Node.js binding (${specifier}) could not be loaded (${reason}), and bone-peft runs every computation on it: ` +
        `reinstall it with \`rm -rf node_modules/onnxruntime-node && npm install\` on a platform it ships binaries for ` +
        `(Linux x64 or arm64 with glibc, macOS on Apple silicon, Windows x64 or arm64).`;
}

export async function createOrtNodeBackend(ort?: OrtModule): Promise<Backend> {
  const runtime = ort ?? (await loadOrtNode());
  return {
    name: 'onnxruntime-node',
    async compile(model: Uint8Array, opts: CompileOptions = {}): Promise<CompiledGraph> {
      const session = await runtime.InferenceSession.create(model, ortSessionOptions(opts));
      return {
        async run(feeds: Record<string, FeedTensor>, outputNames: readonly string[]): Promise<TypedArray[]> {
          const ortFeeds: Record<string, Ort.Tensor> = {};
          for (const [name, f] of Object.entries(feeds)) {
            ortFeeds[name] = new runtime.Tensor(f.dtype as 'float32', f.data as Float32Array, f.dims);
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
