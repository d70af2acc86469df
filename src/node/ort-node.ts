/** The onnxruntime-node binding of the Backend interface (CPU execution provider). */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { RuntimeUnavailableError } from '../engine/errors.ts';
import type { Backend, CompileOptions } from '../engine/runtime/backend.ts';
import { ortBackend } from '../engine/runtime/ort-backend.ts';
import { engineSessionOptions } from '../engine/runtime/session-options.ts';

type OrtModule = typeof Ort;

/**
 * The session options every engine graph runs with in Node (engineSessionOptions, on the CPU
 * provider). BONE_THREADS sets the intra-op thread count.
 */
export function ortSessionOptions(opts: CompileOptions = {}): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(process.env.BONE_THREADS) || availableParallelism(),
    ...engineSessionOptions(opts),
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
  return ortBackend('onnxruntime-node', ort ?? (await loadOrtNode()), ortSessionOptions);
}
