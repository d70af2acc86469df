/**
 * The Node.js layer: node:fs file system with atomic writes, the Hugging Face hub cache, the
 * onnxruntime-node backend. Importing it installs them as the core's defaults (platform.ts).
 */
import { installNodePlatform } from './platform.ts';

installNodePlatform();

export { installNodePlatform } from './platform.ts';
export { nodeFileSystem } from './file-system.ts';
export { writeAtomically, writeTextAtomically } from './atomic.ts';
export {
  HubCacheError, hubCacheLocation, lookUpHubCache, looksLikeRepoId, repoFolderName, type HubCacheLocation, type HubCacheLookup,
} from './hub-cache.ts';
export { createOrtNodeBackend, loadOrtNode, ortSessionOptions } from './ort-node.ts';
