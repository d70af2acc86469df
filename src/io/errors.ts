/** Errors the file readers and writers throw. Each message names the file, the entry where there is one, what was expected and what was found. */

/**
 * A safetensors file could not be read or written: its bytes break the format, the tensors handed to the
 * writer do not describe themselves consistently, or the file system refused. In the last case the
 * operating system's error is kept as `cause` (so `err.cause.code === 'ENOENT'` still works).
 */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}
