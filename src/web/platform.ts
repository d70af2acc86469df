/**
 * What running in a browser (a page or a worker) means to the core: computations on
 * onnxruntime-web, made at the first one with these options, and string paths as URLs relative to
 * the page. Importing "bone-peft/web" installs it with the defaults; call it again before the first
 * computation to choose the execution provider, threads or where onnxruntime-web's files are.
 */
import { setDefaultBackend } from '../engine/runtime/backend.ts';
import { setDefaultFileSystem } from '../io/file-system.ts';
import { urlFileSystem } from './file-systems.ts';
import { createOrtWebBackend, type OrtWebOptions } from './ort-web.ts';

export function installWebPlatform(options: OrtWebOptions = {}): void {
  setDefaultBackend(async () => createOrtWebBackend(options));
  setDefaultFileSystem(urlFileSystem());
}
