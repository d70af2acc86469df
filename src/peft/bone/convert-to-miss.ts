/**
 * Bone → MiSS checkpoint conversion, as PEFT's scripts/convert-bone-to-miss.py does it: PEFT 0.19
 * removed Bone, and reads old Bone adapters only after this. The math is identical (MiSS true ≡ Bone
 * true, MiSS 'bat' ≡ Bone 'bat'); keys change `.bone_` → `.miss_` and peft_type becomes "MISS".
 */
import { pathRef, type PathLike } from '../../io/file-system.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../../io/safetensors.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, readAdapterConfigJson } from '../adapter-folder.ts';
import { pythonJsonDumps } from '../config.ts';
import { PeftError } from '../errors.ts';

/** Convert the Bone adapter folder `src` into a MiSS adapter folder `dst` (which may equal `src`). */
export async function convertBoneToMiss(srcPath: PathLike, dstPath: PathLike): Promise<{ tensors: number }> {
  const src = pathRef(srcPath);
  const dst = pathRef(dstPath);
  const config = await readAdapterConfigJson(src);
  if (config.peft_type !== 'BONE') {
    throw new PeftError(`${src.child(ADAPTER_CONFIG_NAME)}: expected peft_type "BONE" to convert, found ${JSON.stringify(config.peft_type)}`);
  }
  const { tensors } = await readSafetensors(src.child(ADAPTER_WEIGHTS_NAME));
  const renamed = new Map<string, SafetensorsTensor>();
  for (const [key, t] of tensors) renamed.set(key.replaceAll('.bone_', '.miss_'), t);
  await dst.makeFolder();
  // Weights first: a half-converted folder then still has its Bone config and fails loudly, not silently.
  await writeSafetensors(dst.child(ADAPTER_WEIGHTS_NAME), renamed, { format: 'pt' });
  await dst.child(ADAPTER_CONFIG_NAME).write(pythonJsonDumps({ ...config, peft_type: 'MISS' }, new Set(), '', false));
  return { tensors: renamed.size };
}
