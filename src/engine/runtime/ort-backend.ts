/**
 * The Backend over any ONNX Runtime JavaScript binding: onnxruntime-node and onnxruntime-web share
 * onnxruntime-common's API (InferenceSession, Tensor), so one adapter serves both; each platform
 * layer passes its module, a name and its session options. Typed structurally, so the engine
 * imports neither binding.
 */
import type { TypedArray } from '../dtype.ts';
import type { Backend, CompileOptions, CompiledGraph, FeedTensor } from './backend.ts';

/** The part of an onnxruntime binding the engine uses. */
export interface OrtBinding {
  InferenceSession: { create(model: Uint8Array, options: object): Promise<OrtSessionLike> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}

interface OrtSessionLike {
  run(feeds: Record<string, unknown>, fetches: string[]): Promise<Record<string, { data: unknown }>>;
  release(): Promise<void>;
}

export function ortBackend(name: string, ort: OrtBinding, sessionOptions: (opts: CompileOptions) => object): Backend {
  return {
    name,
    async compile(model: Uint8Array, opts: CompileOptions = {}): Promise<CompiledGraph> {
      const session = await ort.InferenceSession.create(model, sessionOptions(opts));
      return {
        async run(feeds: Record<string, FeedTensor>, outputNames: readonly string[]): Promise<TypedArray[]> {
          const ortFeeds: Record<string, unknown> = {};
          // Every runtime dtype: the binding reads the typed array's kind, the name only has to match it.
          for (const [feedName, f] of Object.entries(feeds)) ortFeeds[feedName] = new ort.Tensor(f.dtype as 'float32', f.data as Float32Array, f.dims);
          const result = await session.run(ortFeeds, [...outputNames]);
          return outputNames.map((n) => result[n]!.data as TypedArray);
        },
        async release(): Promise<void> {
          await session.release();
        },
      };
    },
  };
}
