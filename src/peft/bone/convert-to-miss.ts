/**
 * Bone → MiSS checkpoint conversion, as PEFT's scripts/convert-bone-to-miss.py does it: PEFT 0.19
 * removed Bone, and reads old Bone adapters only after this. The math is identical (MiSS true ≡ Bone
 * true, MiSS 'bat' ≡ Bone 'bat'); keys change `.bone_` → `.miss_` and peft_type becomes "MISS".
 */
import { pathRef, type FileData, type PathLike } from '../../io/file-system.ts';
import { readSafetensors, serializeSafetensors, type SafetensorsTensor } from '../../io/safetensors.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, missingAdapterWeights, readAdapterConfigJson } from '../adapter-folder.ts';
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
  const missing = await missingAdapterWeights(src);
  if (missing !== null) throw new PeftError(missing);
  const { tensors } = await readSafetensors(src.child(ADAPTER_WEIGHTS_NAME));
  const renamed = new Map<string, SafetensorsTensor>();
  for (const [key, t] of tensors) renamed.set(key.replaceAll('.bone_', '.miss_'), t);
  // One atomic step, in place too: the folder is the Bone adapter or the MiSS one, never half of each.
  await dst.writeFolder(new Map<string, FileData>([
    [ADAPTER_WEIGHTS_NAME, serializeSafetensors(renamed, { format: 'pt' }, dst.child(ADAPTER_WEIGHTS_NAME).path)],
    [ADAPTER_CONFIG_NAME, pythonJsonDumps({ ...config, peft_type: 'MISS' }, new Set(), '', false)],
  ]), { overwrite: true, keepOthers: true });
  return { tensors: renamed.size };
}
