/**
 * The engine talks to ONNX Runtime only through this interface, so that onnxruntime-web (browser)
 * or another provider can replace onnxruntime-node without touching anything above it. The engine
 * knows no binding itself: a platform layer names the default one (src/node: onnxruntime-node,
 * src/web: onnxruntime-web), loaded on the first computation, and `setBackend` replaces it.
 */
import type { DType, TypedArray } from '../dtype.ts';
import { RuntimeUnavailableError } from '../errors.ts';

export interface FeedTensor {
  /** A runtime dtype (never float16/bfloat16: those are converted before feeding). */
  dtype: DType;
  dims: readonly number[];
  data: TypedArray;
}

export interface CompiledGraph {
  run(feeds: Record<string, FeedTensor>, outputNames: readonly string[]): Promise<TypedArray[]>;
  release(): Promise<void>;
}

export interface CompileOptions {
  /** The graph computes in float64: graph rewrites that only keep float32 precision must stay off. */
  float64?: boolean;
  /**
   * Keep the memory a run allocated for the session's next run (default true). Off, every run
   * allocates from and returns to the process's heap, which all sessions share.
   */
  memoryArena?: boolean;
}

export interface Backend {
  readonly name: string;
  compile(model: Uint8Array, opts?: CompileOptions): Promise<CompiledGraph>;
}

let backend: Backend | null = null;
let loading: Promise<Backend> | null = null;
let defaultBackend: (() => Promise<Backend>) | null = null;

export function setBackend(b: Backend): void {
  backend = b;
  loading = null;
}

/**
 * How to make the backend when none was set: a platform layer's binding, imported lazily so that
 * a broken install fails at the first computation with that binding's own message.
 */
export function setDefaultBackend(load: () => Promise<Backend>): void {
  defaultBackend = load;
}

export async function getBackend(): Promise<Backend> {
  if (backend) return backend;
  const load = defaultBackend;
  if (!load) {
    throw new RuntimeUnavailableError(
      'no ONNX Runtime binding is installed: import "bone-peft" in Node.js (onnxruntime-node) or "bone-peft/web" in a browser ' +
        '(onnxruntime-web), or pass a Backend to setBackend()',
    );
  }
  loading ??= load()
    .then((b) => (backend = b), (error: unknown) => {
      loading = null; // a later call (after the user fixed the install) tries again
      throw error;
    });
  return loading;
}
