/**
 * Bone → MiSS checkpoint conversion, as PEFT's scripts/convert-bone-to-miss.py does it: PEFT 0.19
 * removed Bone, and reads old Bone adapters only after this. The math is identical (MiSS true ≡ Bone
 * true, MiSS 'bat' ≡ Bone 'bat'); keys change `.bone_` → `.miss_` and peft_type becomes "MISS".
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTextAtomically } from '../../io/atomic.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../../io/safetensors.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, readAdapterConfigJson } from '../adapter-folder.ts';
import { pythonJsonDumps } from '../config.ts';
import { PeftError } from '../errors.ts';

/** Convert the Bone adapter folder `src` into a MiSS adapter folder `dst` (which may equal `src`). */
export async function convertBoneToMiss(src: string, dst: string): Promise<{ tensors: number }> {
  const config = await readAdapterConfigJson(src);
  if (config.peft_type !== 'BONE') {
    throw new PeftError(`${join(src, ADAPTER_CONFIG_NAME)}: expected peft_type "BONE" to convert, found ${JSON.stringify(config.peft_type)}`);
  }
  const { tensors } = await readSafetensors(join(src, ADAPTER_WEIGHTS_NAME));
  const renamed = new Map<string, SafetensorsTensor>();
  for (const [key, t] of tensors) renamed.set(key.replaceAll('.bone_', '.miss_'), t);
  await mkdir(dst, { recursive: true });
  // Weights first: a half-converted folder then still has its Bone config and fails loudly, not silently.
  await writeSafetensors(join(dst, ADAPTER_WEIGHTS_NAME), renamed, { format: 'pt' });
  await writeTextAtomically(join(dst, ADAPTER_CONFIG_NAME), pythonJsonDumps({ ...config, peft_type: 'MISS' }, new Set(), '', false));
  return { tensors: renamed.size };
}
