/**
 * Adapter checkpoints in Python PEFT's format: `adapter_config.json` + `adapter_model.safetensors`
 * (float32, metadata {"format": "pt"}, keys `base_model.model.<path>.miss_block` /
 * `.bone_block` / `.lora_A.weight` — the in-memory name without the adapter name). The default
 * adapter lives in the folder itself, others in subfolders named after them.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Tensor, realize } from '../engine/index.ts';
import { writeTextAtomically } from '../io/atomic.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../io/safetensors.ts';
import { BoneConfig, MissConfig } from './bone/config.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, readAdapterConfigJson } from './convert.ts';
import type { JsonValue } from './config.ts';
import { PeftError } from './errors.ts';
import { LoraConfig } from './lora/config.ts';
import { PeftModel, type AdaptableModel, type AdapterConfig } from './peft-model.ts';

/** Where one adapter of a saved PeftModel lives. */
export function adapterDir(dir: string, adapterName: string): string {
  return adapterName === 'default' ? dir : join(dir, adapterName);
}

/**
 * The saved key of an in-memory parameter name: the adapter-name component right after the
 * method's module (`miss_block.default` → `miss_block`, `lora_A.default.weight` → `lora_A.weight`).
 */
export function savedKey(name: string, prefix: string, adapterName: string): string | null {
  const parts = name.split('.');
  for (let i = 0; i < parts.length - 1; i++) {
    if (parts[i]!.startsWith(prefix) && parts[i + 1] === adapterName) return [...parts.slice(0, i + 1), ...parts.slice(i + 2)].join('.');
    // modules_to_save copies are saved under the module's own keys
    if (parts[i] === 'modules_to_save' && parts[i + 1] === adapterName) return [...parts.slice(0, i), ...parts.slice(i + 2)].join('.');
  }
  return null;
}

/**
 * The in-memory parameter name of a saved key (PEFT's set_peft_model_state_dict): the adapter name
 * goes back after the method's module, or after `modules_to_save` for keys under a wrapped module
 * (`wrapperPaths` are full paths such as `base_model.model.lm_head`).
 */
export function loadedName(key: string, prefix: string, adapterName: string, wrapperPaths: readonly string[] = []): string | null {
  const parts = key.split('.');
  for (let i = parts.length - 1; i >= 0; i--) {
    if (parts[i]!.startsWith(prefix)) return [...parts.slice(0, i + 1), adapterName, ...parts.slice(i + 1)].join('.');
  }
  const wrapper = wrapperPaths.find((w) => key.startsWith(`${w}.`));
  return wrapper ? `${wrapper}.modules_to_save.${adapterName}${key.slice(wrapper.length)}` : null;
}

/** The adapter's tensors keyed as PEFT saves them. */
export function adapterStateDict(peft: PeftModel, adapterName: string): Map<string, Tensor> {
  const config = peft.peftConfig.get(adapterName);
  if (!config) throw new PeftError(`Adapter ${adapterName} does not exist`);
  const out = new Map<string, Tensor>();
  for (const [name, p] of peft.namedParameters()) {
    const key = savedKey(name, config.prefix, adapterName);
    if (key !== null) out.set(key, p.value);
  }
  return out;
}

/** PEFT records the base model's class and the transformers module that defines it. */
function autoMapping(model: AdaptableModel): { [k: string]: JsonValue } | null {
  const type = model.config?.model_type;
  if (!type) return null;
  return { base_model_class: model.constructor.name, parent_library: `transformers.models.${type}.modeling_${type}` };
}

/** Write each adapter (default: all) as PEFT does. Returns the folders written. */
export async function savePeftModel(peft: PeftModel, dir: string, opts: { selectedAdapters?: readonly string[] } = {}): Promise<string[]> {
  const names = opts.selectedAdapters ?? [...peft.peftConfig.keys()];
  const written: string[] = [];
  for (const name of names) {
    const config = peft.peftConfig.get(name);
    if (!config) throw new PeftError(`Adapter ${name} does not exist (adapters: ${[...peft.peftConfig.keys()].join(', ')})`);
    const state = adapterStateDict(peft, name);
    await realize([...state.values()]);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [key, t] of state) {
      const f32 = t.dtype === 'float32' ? t : await t.cast('float32').realize();
      tensors.set(key, { dtype: 'F32', shape: [...f32.shape], data: f32.storage as Float32Array });
    }
    const out = adapterDir(dir, name);
    await mkdir(out, { recursive: true });
    const json = config.toJSON();
    json.inference_mode = true;
    if (json.base_model_name_or_path === null && peft.model.nameOrPath) json.base_model_name_or_path = peft.model.nameOrPath;
    if (config.taskType === null) json.auto_mapping = autoMapping(peft.model);
    const toWrite = configFromJSON(json, () => undefined);
    await writeSafetensors(join(out, ADAPTER_WEIGHTS_NAME), tensors, { format: 'pt' });
    await writeTextAtomically(join(out, ADAPTER_CONFIG_NAME), toWrite.toJSONString());
    written.push(out);
  }
  return written;
}

/** The config class PEFT would pick from peft_type. */
export function configFromJSON(o: Record<string, JsonValue>, warn: (m: string) => void = console.warn, where = ADAPTER_CONFIG_NAME): AdapterConfig {
  switch (o.peft_type) {
    case 'MISS': return MissConfig.fromJSON(o, warn);
    case 'BONE': return BoneConfig.fromJSON(o, warn);
    case 'LORA': return LoraConfig.fromJSON(o, warn);
    default:
      throw new PeftError(`${where}: unsupported peft_type ${JSON.stringify(o.peft_type)}; bone-peft reads "MISS", "BONE" and "LORA" adapters`);
  }
}

export interface LoadAdapterOptions {
  adapterName?: string;
  /** Leave the loaded adapter trainable (default false, as PEFT ≥ 0.18). */
  isTrainable?: boolean;
  warn?: (m: string) => void;
}

function toFloat32Tensor(t: SafetensorsTensor, key: string, file: string): Tensor {
  switch (t.dtype) {
    case 'F32': return Tensor.fromData(t.data, t.shape);
    case 'F64': return Tensor.fromData(Float32Array.from(t.data), t.shape);
    case 'BF16': return Tensor.fromData(t.data, t.shape, 'bfloat16');
    case 'F16': return Tensor.fromData(t.data, t.shape, 'float16');
    default: throw new PeftError(`${file}: tensor ${key} has dtype ${t.dtype}; adapter tensors must be floating point`);
  }
}

/** Read an adapter folder into `peft` under `adapterName` (PEFT's load_adapter). */
export async function loadAdapterInto(peft: PeftModel, dir: string, adapterName: string, opts: LoadAdapterOptions = {}): Promise<void> {
  const warn = opts.warn ?? peft.warn;
  const { config, tensors, file } = await readAdapter(dir, opts.isTrainable ?? false, warn);
  peft.addAdapter(adapterName, config);
  await assignWeights(peft, file, tensors, adapterName, config, warn);
}

/** PEFT's PeftModel.from_pretrained: wrap `model` with the adapter saved in `dir`. */
export async function peftFromPretrained<M extends AdaptableModel>(model: M, dir: string, opts: LoadAdapterOptions = {}): Promise<PeftModel<M>> {
  const adapterName = opts.adapterName ?? 'default';
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const { config, tensors, file } = await readAdapter(dir, opts.isTrainable ?? false, warn);
  const peft = new PeftModel(model, config, adapterName, { warn });
  await assignWeights(peft, file, tensors, adapterName, config, warn);
  return peft;
}

/** Both files are read and checked before the model is touched. */
async function readAdapter(dir: string, isTrainable: boolean, warn: (m: string) => void): Promise<{ config: AdapterConfig; tensors: Map<string, SafetensorsTensor>; file: string }> {
  const config = configFromJSON(await readAdapterConfigJson(dir), warn, join(dir, ADAPTER_CONFIG_NAME));
  config.inferenceMode = !isTrainable;
  const file = join(dir, ADAPTER_WEIGHTS_NAME);
  const { tensors } = await readSafetensors(file);
  return { config, tensors, file };
}

async function assignWeights(peft: PeftModel, file: string, tensors: Map<string, SafetensorsTensor>, adapterName: string, config: AdapterConfig, warn: (m: string) => void): Promise<void> {
  const params = new Map(peft.namedParameters());
  const loaded = new Set<string>();
  const unexpected: string[] = [];
  const assignments: [string, Tensor][] = [];
  for (const [key, t] of tensors) {
    const name = loadedName(key, config.prefix, adapterName, peft.savedModules().map(([p]) => `base_model.model.${p}`));
    const param = name === null ? undefined : params.get(name);
    if (!param || name === null) { unexpected.push(key); continue; }
    if (param.shape.join(',') !== t.shape.join(',')) {
      throw new PeftError(`${file}: tensor ${key} has shape [${t.shape.join(', ')}], but the adapter layer expects [${param.shape.join(', ')}] (r, mini_r or the model's dimensions differ from the checkpoint's)`);
    }
    const value = toFloat32Tensor(t, key, file);
    assignments.push([name, value.dtype === 'float32' ? value : (await value.cast('float32').realize()).detach()]);
    loaded.add(name);
  }
  for (const [name, value] of assignments) params.get(name)!.value = value;
  const missing = [...params.keys()].filter((n) => savedKey(n, config.prefix, adapterName) !== null && !loaded.has(n));
  if (missing.length) warn(`Found missing adapter keys while loading the checkpoint: [${missing.map((m) => `'${m}'`).join(', ')}]`);
  if (unexpected.length) warn(`${file}: ignored ${unexpected.length} tensor(s) that match no adapter layer of this model: ${unexpected.slice(0, 10).join(', ')}`);
}
