/**
 * Adapter folders in Python PEFT's format: `adapter_config.json` + `adapter_model.safetensors`
 * (float32, metadata {"format": "pt"}, keys `base_model.model.<path>.miss_block` /
 * `.bone_block` / `.lora_A.weight` — the in-memory name without the adapter name). The default
 * adapter lives in the folder itself, others in subfolders named after them. The tensors come from
 * and go to PeftModel.state() / loadState(); this file does the files.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tensor, realize } from '../engine/index.ts';
import { writeTextAtomically } from '../io/atomic.ts';
import type { JsonValue } from '../io/json.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../io/safetensors.ts';
import { PeftError } from './errors.ts';
import { PeftModel, type AdaptableModel } from './peft-model.ts';
import { configFromJSON } from './registry.ts';
import type { PeftConfig } from './config.ts';

export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';

/** Where one adapter of a saved PeftModel lives. */
export function adapterDir(dir: string, adapterName: string): string {
  return adapterName === 'default' ? dir : join(dir, adapterName);
}

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

/** PEFT records the base model's class and the transformers module that defines it. */
function autoMapping(model: AdaptableModel): { [k: string]: JsonValue } | null {
  const type = model.config?.model_type;
  if (!type) return null;
  return { base_model_class: model.constructor.name, parent_library: `transformers.models.${type}.modeling_${type}` };
}

/** The config as `save_pretrained` writes it: frozen, with the base model and auto_mapping filled in. */
function savedConfig(peft: PeftModel, config: PeftConfig): PeftConfig {
  const json = config.toJSON();
  json.inference_mode = true;
  if (json.base_model_name_or_path === null && peft.model.nameOrPath) json.base_model_name_or_path = peft.model.nameOrPath;
  if (config.taskType === null) json.auto_mapping = autoMapping(peft.model);
  return configFromJSON(json, () => undefined);
}

/** Write each adapter (default: all) as PEFT does. Returns the folders written. */
export async function savePeftModel(peft: PeftModel, dir: string, opts: { selectedAdapters?: readonly string[] } = {}): Promise<string[]> {
  const names = opts.selectedAdapters ?? [...peft.peftConfig.keys()];
  const written: string[] = [];
  for (const name of names) {
    const config = peft.peftConfig.get(name);
    if (!config) throw new PeftError(`Adapter ${name} does not exist (adapters: ${[...peft.peftConfig.keys()].join(', ')})`);
    const state = peft.state(name);
    await realize([...state.values()]);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [key, t] of state) {
      const f32 = t.dtype === 'float32' ? t : await t.cast('float32').realize();
      tensors.set(key, { dtype: 'F32', shape: [...f32.shape], data: f32.storage as Float32Array });
    }
    const out = adapterDir(dir, name);
    await mkdir(out, { recursive: true });
    await writeSafetensors(join(out, ADAPTER_WEIGHTS_NAME), tensors, { format: 'pt' });
    await writeTextAtomically(join(out, ADAPTER_CONFIG_NAME), savedConfig(peft, config).toJSONString());
    written.push(out);
  }
  return written;
}

export interface LoadAdapterOptions {
  adapterName?: string;
  /** Leave the loaded adapter trainable (default false, as PEFT ≥ 0.18). */
  isTrainable?: boolean;
  warn?: (m: string) => void;
}

/** A saved tensor as an engine tensor, in the dtype it was saved in (loadState casts to the parameter's). */
export function adapterTensor(t: SafetensorsTensor, key: string, file: string): Tensor {
  switch (t.dtype) {
    case 'F32': return Tensor.fromData(t.data, t.shape);
    case 'F64': return Tensor.fromData(Float32Array.from(t.data), t.shape);
    case 'BF16': return Tensor.fromData(t.data, t.shape, 'bfloat16');
    case 'F16': return Tensor.fromData(t.data, t.shape, 'float16');
    default: throw new PeftError(`${file}: tensor ${key} has dtype ${t.dtype}; adapter tensors must be floating point`);
  }
}

/** An adapter file's tensors, keyed as saved. */
export async function readAdapterTensors(file: string): Promise<Map<string, Tensor>> {
  const { tensors } = await readSafetensors(file);
  return new Map([...tensors].map(([key, t]) => [key, adapterTensor(t, key, file)]));
}

/** Both files are read and checked before the model is touched. */
async function readAdapter(dir: string, isTrainable: boolean, warn: (m: string) => void): Promise<{ config: PeftConfig; tensors: Map<string, Tensor>; file: string }> {
  const config = configFromJSON(await readAdapterConfigJson(dir), warn, join(dir, ADAPTER_CONFIG_NAME));
  config.inferenceMode = !isTrainable;
  const file = join(dir, ADAPTER_WEIGHTS_NAME);
  return { config, tensors: await readAdapterTensors(file), file };
}

async function loadTensors(peft: PeftModel, file: string, tensors: Map<string, Tensor>, adapterName: string, warn: (m: string) => void): Promise<void> {
  const { missing, unexpected } = await peft.loadState(tensors, adapterName, { where: file });
  if (missing.length) warn(`Found missing adapter keys while loading the checkpoint: [${missing.map((m) => `'${m}'`).join(', ')}]`);
  if (unexpected.length) warn(`${file}: ignored ${unexpected.length} tensor(s) that match no adapter layer of this model: ${unexpected.slice(0, 10).join(', ')}`);
}

/** Read an adapter folder into `peft` under `adapterName` (PEFT's load_adapter). */
export async function loadAdapterInto(peft: PeftModel, dir: string, adapterName: string, opts: LoadAdapterOptions = {}): Promise<void> {
  const warn = opts.warn ?? peft.warn;
  const { config, tensors, file } = await readAdapter(dir, opts.isTrainable ?? false, warn);
  peft.addAdapter(adapterName, config);
  await loadTensors(peft, file, tensors, adapterName, warn);
}

/** PEFT's PeftModel.from_pretrained: wrap `model` with the adapter saved in `dir`. */
export async function peftFromPretrained<M extends AdaptableModel>(model: M, dir: string, opts: LoadAdapterOptions = {}): Promise<PeftModel<M>> {
  const adapterName = opts.adapterName ?? 'default';
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const { config, tensors, file } = await readAdapter(dir, opts.isTrainable ?? false, warn);
  const peft = new PeftModel(model, config, adapterName, { warn });
  await loadTensors(peft, file, tensors, adapterName, warn);
  return peft;
}
