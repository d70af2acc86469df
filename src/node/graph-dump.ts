/**
 * BONE_DUMP_ONNX=dir: every graph the engine compiles is written to dir/graph-<hash>.onnx, to be
 * opened in Netron. The variable is read at each compile, so a program (or a test) can switch it
 * on and off while it runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashText } from '../engine/hash.ts';
import type { GraphListener } from '../engine/realize.ts';

export const dumpGraphToEnvFolder: GraphListener = (key, model) => {
  const dir = process.env.BONE_DUMP_ONNX;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `graph-${hashText(key).slice(0, 12)}.onnx`), model);
};
