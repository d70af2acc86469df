/**
 * Bone → MiSS checkpoint conversion, as PEFT's scripts/convert-bone-to-miss.py does it: PEFT 0.19
 * removed Bone, and reads old Bone adapters only after this. The math is identical (MiSS true ≡ Bone
 * true, MiSS 'bat' ≡ Bone 'bat'); keys change `.bone_` → `.miss_` and peft_type becomes "MISS".
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTextAtomically } from '../io/atomic.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../io/safetensors.ts';
import { pythonJsonDumps, type JsonValue } from './config.ts';
import { PeftError } from './errors.ts';

export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';

export async function readAdapterConfigJson(dir: string): Promise<Record<string, JsonValue>> {
  const path = join(dir, ADAPTER_CONFIG_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new PeftError(`${path}: cannot read the adapter config (${(e as Error).message}); expected a PEFT adapter folder with ${ADAPTER_CONFIG_NAME} and ${ADAPTER_WEIGHTS_NAME}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new PeftError(`${path}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new PeftError(`${path}: expected a JSON object, found ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  return parsed as Record<string, JsonValue>;
}

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
