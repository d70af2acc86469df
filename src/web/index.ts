/**
 * bone-peft in a browser ("bone-peft/web"): the platform-neutral library plus the browser layer:
 * onnxruntime-web (WebAssembly, or WebGPU), and folders from URLs, picked or dropped files and
 * directory handles. Importing it installs the browser platform with its defaults (platform.ts).
 */
import { installWebPlatform } from './platform.ts';

installWebPlatform();

export * from '../core.ts';
export { installWebPlatform } from './platform.ts';
export { createOrtWebBackend, defaultThreadCount, webGpuAvailable, type OrtWebOptions, type OrtWebSetup, type WebExecutionProvider } from './ort-web.ts';
export { fileRef, folderFromFiles, folderFromHandle, urlFileSystem, type PathedFile } from './file-systems.ts';
