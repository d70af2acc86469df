/**
 * The Node.js layer: node:fs file system with atomic writes, the Hugging Face hub cache, the
 * onnxruntime-node backend. Importing it installs them as the core's defaults (platform.ts).
 */
import { installNodePlatform } from './platform.ts';

installNodePlatform();

export { installNodePlatform } from './platform.ts';
export { nodeFileSystem } from './file-system.ts';
export {
  writeAtomically, writeTextAtomically, writeFolderAtomically, recoverFolderWrites, recoverFolderWritesIn, removeFolderAtomically, type AtomicFolderOptions,
} from './atomic.ts';
export { lockFolder, FolderLockedError } from './folder-lock.ts';
export { checkWritable, NotWritableError } from './writable.ts';
export { writeOnnxModel, INLINE_LIMIT_BYTES, type WriteOnnxOptions, type WrittenOnnx } from './onnx-file.ts';
export {
  writeGguf, ggufHeader, gguf, encodeGgmlTensor, quantizeQ8_0, ggmlTensorBytes, GgufError, GGUF_VERSION, GGUF_ALIGNMENT, GGML_TYPES,
  type GgufValue, type GgufTensor, type GgmlType, type WriteGgufOptions,
} from './gguf.ts';
export {
  HubCacheError, hubCacheLocation, lookUpHubCache, looksLikeRepoId, repoFolderName, type HubCacheLocation, type HubCacheLookup,
} from './hub-cache.ts';
export { createOrtNodeBackend, loadOrtNode, ortSessionOptions } from './ort-node.ts';
export { hostMemory } from './host-memory.ts';
