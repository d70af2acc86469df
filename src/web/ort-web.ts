/**
 * The onnxruntime-web binding of the Backend interface: WebAssembly (SIMD always; threads when the
 * page is cross-origin isolated, since they need SharedArrayBuffer) or WebGPU where the browser
 * offers an adapter. The same ONNX graphs as in Node, other kernels.
 *
 * onnxruntime-web loads its WebAssembly runtime (ort-wasm-simd-threaded*.mjs and .wasm, from the
 * package's dist/) at the first session, from `wasmPaths` or else next to the script that imported
 * it: a page that bundles bone-peft must serve those files and say where (`wasmPaths`).
 */
import * as ort from 'onnxruntime-web';
import { ortBackend } from '../engine/runtime/ort-backend.ts';
import type { Backend, CompileOptions } from '../engine/runtime/backend.ts';
import { engineSessionOptions } from '../engine/runtime/session-options.ts';

export type WebExecutionProvider = 'wasm' | 'webgpu';

export interface OrtWebOptions {
  /** 'wasm' (default) or 'webgpu'; WebGPU needs `navigator.gpu` with an adapter. */
  executionProvider?: WebExecutionProvider;
  /** URL prefix (ending in '/') of onnxruntime-web's dist/ files: the .wasm and .mjs runtime. */
  wasmPaths?: string;
  /** WebAssembly threads; default: the logical cores when the page is cross-origin isolated, else 1. */
  numThreads?: number;
}

/** What a backend was set up with, for reports and benchmarks. */
export interface OrtWebSetup {
  executionProvider: WebExecutionProvider;
  numThreads: number;
  crossOriginIsolated: boolean;
  ortVersion: string;
}

interface BrowserGlobals {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number; gpu?: { requestAdapter(): Promise<unknown> } };
}

const browser = globalThis as BrowserGlobals;

export function defaultThreadCount(): number {
  return browser.crossOriginIsolated === true ? Math.max(1, browser.navigator?.hardwareConcurrency ?? 1) : 1;
}

/** Whether WebGPU can run here: the API exists and hands out an adapter (headless Chromium without a GPU has none). */
export async function webGpuAvailable(): Promise<boolean> {
  try {
    return (await browser.navigator?.gpu?.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/** Resolves after the event loop has run its pending tasks: a MessageChannel round trip (no 4 ms timer clamp). */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { channel.port1.close(); resolve(); };
    channel.port2.postMessage(null);
  });
}

/**
 * Each run first lets the event loop handle what is waiting. onnxruntime-web computes on the
 * calling thread and settles its promises as microtasks, so a training loop would otherwise never
 * give a message (the page's Stop) or a UI event its turn. Measured: 0.06 ms per yield in headless
 * Chromium on the project's machine, against tens of milliseconds for a demo training step.
 */
function yieldingBackend(backend: Backend): Backend {
  return {
    name: backend.name,
    async compile(model, opts) {
      const graph = await backend.compile(model, opts);
      return {
        run: async (feeds, outputNames) => { await nextTask(); return graph.run(feeds, outputNames); },
        release: () => graph.release(),
      };
    },
  };
}

/**
 * onnxruntime-web's settings are global and fixed at its first session (the WebAssembly module is
 * instantiated once), so this is called once per page or worker, before the first computation.
 */
export function createOrtWebBackend(options: OrtWebOptions = {}): Backend & { setup: OrtWebSetup } {
  const executionProvider = options.executionProvider ?? 'wasm';
  const numThreads = options.numThreads ?? defaultThreadCount();
  if (numThreads > 1 && browser.crossOriginIsolated !== true) {
    throw new Error(`onnxruntime-web: ${numThreads} threads need a cross-origin isolated page (COOP: same-origin and COEP: require-corp headers); this page is not, so use numThreads: 1`);
  }
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  ort.env.wasm.numThreads = numThreads;
  // Already in a worker (or the page chose the main thread): no second proxy worker.
  ort.env.wasm.proxy = false;
  const sessionOptions = (opts: CompileOptions): ort.InferenceSession.SessionOptions => ({
    executionProviders: [executionProvider],
    ...engineSessionOptions(opts),
  });
  const backend = yieldingBackend(ortBackend(`onnxruntime-web (${executionProvider}, ${numThreads} thread${numThreads === 1 ? '' : 's'})`, ort, sessionOptions));
  return { ...backend, setup: { executionProvider, numThreads, crossOriginIsolated: browser.crossOriginIsolated === true, ortVersion: ort.env.versions.web ?? 'unknown' } };
}
