/**
 * What running in Node.js means to the core: computations on onnxruntime-node (imported at the
 * first one, so a broken install is one clear error then), paths on node:fs (with the Hugging Face
 * hub cache for repository ids), and BONE_DUMP_ONNX. Importing "bone-peft", the `bone` command or
 * src/node/install.ts installs it; a program that replaced a part (setBackend) keeps its own.
 */
import { setGraphListener } from '../engine/realize.ts';
import { setDefaultBackend } from '../engine/runtime/backend.ts';
import { setDefaultFileSystem } from '../io/file-system.ts';
import { nodeFileSystem } from './file-system.ts';
import { dumpGraphToEnvFolder } from './graph-dump.ts';

export function installNodePlatform(): void {
  setDefaultBackend(async () => (await import('./ort-node.ts')).createOrtNodeBackend());
  setDefaultFileSystem(nodeFileSystem);
  setGraphListener(dumpGraphToEnvFolder);
}
