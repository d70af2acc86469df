/**
 * Adapter folders in Python PEFT's format: `adapter_config.json` + `adapter_model.safetensors`
 * (float32, metadata {"format": "pt"}, keys `base_model.model.<path>.miss_block` /
 * `.bone_block` / `.lora_A.weight` — the in-memory name without the adapter name). The default
 * adapter lives in the folder itself, others in subfolders named after them. The tensors come from
 * and go to PeftModel.state() / loadState(); this file does the files: as named byte arrays
 * (`adapterFolderFiles`, `adapterFiles`: a download, a memory file system) and in folders of any
 * FileSystem (io/file-system.ts).
 */
import { Tensor, nonFiniteTensors, realize } from '../engine/index.ts';
import { fileDataBytes, pathRef, type FileData, type PathLike, type PathRef } from '../io/file-system.ts';
import type { JsonValue } from '../io/json.ts';
import { readSafetensors, serializeSafetensors, type SafetensorsTensor } from '../io/safetensors.ts';
import { PeftError } from './errors.ts';
import { MODEL_CARD_NAME, hasOthersCard, modelCardText, type ModelCardTraining } from './model-card.ts';
import { PeftModel, savedKey, type AdaptableModel } from './peft-model.ts';
import { configFromJSON, peftMethodOf, peftMethods } from './registry.ts';
import type { PeftConfig } from './config.ts';

export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';

/** Where one adapter of a saved PeftModel lives: the folder for the default adapter, a subfolder named after any other. */
export function adapterSubfolder(adapterName: string): string {
  return adapterName === 'default' ? '' : adapterName;
}

/** Where one adapter of a saved PeftModel lives. */
export function adapterDir(dir: PathLike, adapterName: string): PathRef {
  return adapterName === 'default' ? pathRef(dir) : pathRef(dir).child(adapterName);
}

export async function readAdapterConfigJson(dir: PathLike): Promise<Record<string, JsonValue>> {
  const file = pathRef(dir).child(ADAPTER_CONFIG_NAME);
  const path = file.path;
  let text: string;
  try {
    text = await file.readText();
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

export interface SaveAdapterOptions {
  selectedAdapters?: readonly string[];
  /** A training run's settings and results, for the README.md model card. */
  modelCard?: ModelCardTraining;
}

/**
 * The adapters' files (default: all) as save_pretrained writes them, by path in the folder: the
 * default adapter's at the top, each other one's in `<name>/`, and the README.md model card (unless
 * `card: false`). The weights are pieces that view the tensors' memory (serializeSafetensors).
 */
export async function adapterFolderFiles(peft: PeftModel, opts: SaveAdapterOptions & { card?: boolean } = {}): Promise<Map<string, FileData>> {
  const names = opts.selectedAdapters ?? [...peft.peftConfig.keys()];
  const files = new Map<string, FileData>();
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
    const prefix = adapterSubfolder(name) === '' ? '' : `${adapterSubfolder(name)}/`;
    files.set(`${prefix}${ADAPTER_WEIGHTS_NAME}`, serializeSafetensors(tensors, { format: 'pt' }, ADAPTER_WEIGHTS_NAME));
    files.set(`${prefix}${ADAPTER_CONFIG_NAME}`, savedConfig(peft, config).toJSONString());
  }
  // As PEFT, one card in the folder itself, describing the active adapter.
  const shown = names.includes(peft.activeAdapter) ? peft.activeAdapter : names[0];
  if (shown !== undefined && opts.card !== false) {
    const config = savedConfig(peft, peft.peftConfig.get(shown)!);
    const state = peft.state(shown);
    files.set(MODEL_CARD_NAME, modelCardText({
      method: peftMethodOf(config), config, parameters: [...state.values()].reduce((n, t) => n + t.size, 0),
      layers: peft.adapterLayers().filter(([, l]) => l.adapterNames().includes(shown)).length,
      otherAdapters: names.filter((n) => n !== 'default'), training: opts.modelCard,
    }));
  }
  return files;
}

/**
 * One adapter (default: the active one) as PEFT's two files, `adapter_model.safetensors` and
 * `adapter_config.json`, as byte arrays: what a browser offers for download.
 */
export async function adapterFiles(peft: PeftModel, adapterName: string = peft.activeAdapter): Promise<Map<string, Uint8Array>> {
  const files = await adapterFolderFiles(peft, { selectedAdapters: [adapterName], card: false });
  const prefix = adapterSubfolder(adapterName) === '' ? '' : `${adapterSubfolder(adapterName)}/`;
  return new Map([...files].map(([name, data]) => [name.slice(prefix.length), fileDataBytes(data)]));
}

/**
 * Write each adapter (default: all) as PEFT's save_pretrained does, in one atomic step: the folder
 * is the old adapter or the new one at every moment (FileSystem.writeFolder), and whatever else it
 * holds (a run's checkpoints, other adapters, the user's files) is kept. Returns the folders written.
 */
export async function savePeftModel(peft: PeftModel, dir: PathLike, opts: SaveAdapterOptions = {}): Promise<string[]> {
  const names = opts.selectedAdapters ?? [...peft.peftConfig.keys()];
  const folder = pathRef(dir);
  // A README.md the user wrote is not replaced: no card goes into the new folder, and keepOthers carries theirs over.
  const card = !(await hasOthersCard(folder));
  await folder.writeFolder(await adapterFolderFiles(peft, { ...opts, card }), { overwrite: true, keepOthers: true });
  return names.map((name) => adapterDir(folder, name).path);
}

export interface LoadAdapterOptions {
  adapterName?: string;
  /** Leave the loaded adapter trainable (default false, as PEFT ≥ 0.18). */
  isTrainable?: boolean;
  warn?: (m: string) => void;
  /**
   * Load an adapter whose tensors and adapter layers do not match one to one (a layer without its
   * tensor keeps its initial values; a tensor that fits no layer is ignored), with a warning, as
   * PEFT does. Default false: such a file is refused, naming the keys, since merging or generating
   * with it would silently use a different adapter than the one saved.
   */
  allowKeyMismatch?: boolean;
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

/**
 * An adapter file's tensors, keyed as saved. A tensor with NaN or ±Infinity is refused here, naming
 * it: such an adapter makes every output NaN (generation then prints nothing), so no caller may use it.
 */
export async function readAdapterTensors(file: PathLike): Promise<Map<string, Tensor>> {
  const { tensors } = await readSafetensors(file);
  const out = new Map([...tensors].map(([key, t]) => [key, adapterTensor(t, key, String(file))]));
  const bad = await nonFiniteTensors(out);
  if (bad.length) {
    throw new PeftError(`${file}: the adapter holds non-finite values, so every output it touches would be NaN:\n  ${bad.join('\n  ')}\nA training run that diverged writes such values: train again with a lower learning rate, or use an earlier checkpoint.`);
  }
  return out;
}

/** PEFT's weights file with safe_serialization=False: a PyTorch pickle. */
export const ADAPTER_PICKLE_NAME = 'adapter_model.bin';

/**
 * Why `dir` has no adapter weights to read, or null when adapter_model.safetensors is there. A
 * PyTorch pickle (PEFT's safe_serialization=False) gets the one-line conversion: unpickling can
 * run any code the file holds, so it is never read here.
 */
export async function missingAdapterWeights(path: PathLike): Promise<string | null> {
  const folder = pathRef(path);
  const dir = folder.path;
  if (await folder.child(ADAPTER_WEIGHTS_NAME).isFile()) return null;
  if (await folder.child(ADAPTER_PICKLE_NAME).isFile()) {
    const py = `'${dir.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    return [
      `${folder.child(ADAPTER_PICKLE_NAME)}: the adapter's weights are a PyTorch pickle (PEFT's save_pretrained with safe_serialization=False), and there is no ${ADAPTER_WEIGHTS_NAME}.`,
      'bone-peft does not read pickles: loading one can run any code it contains. Convert it to safetensors once, with Python (torch and safetensors installed):',
      `  python -c "import torch, safetensors.torch as st; d = ${py}; sd = torch.load(d + '/${ADAPTER_PICKLE_NAME}', weights_only=True); st.save_file({k: v.contiguous() for k, v in sd.items()}, d + '/${ADAPTER_WEIGHTS_NAME}', metadata={'format': 'pt'})"`,
    ].join('\n');
  }
  return `${dir}: no ${ADAPTER_WEIGHTS_NAME} next to ${ADAPTER_CONFIG_NAME}; an adapter folder needs both (PEFT's save_pretrained writes them)`;
}

/** Both files are read and checked before the model is touched. */
async function readAdapter(path: PathLike, isTrainable: boolean, warn: (m: string) => void): Promise<{ config: PeftConfig; tensors: Map<string, Tensor>; file: string }> {
  const dir = pathRef(path);
  // A writer killed while replacing this folder left the old and the new one beside it: finish that first.
  for (const line of await dir.recover().catch((e: Error) => [`could not finish an interrupted write of ${dir}: ${e.message}`])) warn(line);
  const config = configFromJSON(await readAdapterConfigJson(dir), warn, dir.child(ADAPTER_CONFIG_NAME).path);
  config.inferenceMode = !isTrainable;
  const missing = await missingAdapterWeights(dir);
  if (missing !== null) throw new PeftError(missing);
  const file = dir.child(ADAPTER_WEIGHTS_NAME);
  return { config, tensors: await readAdapterTensors(file), file: file.path };
}

async function loadTensors(peft: PeftModel, file: string, tensors: Map<string, Tensor>, adapterName: string, opts: { warn: (m: string) => void; allowKeyMismatch: boolean }): Promise<void> {
  const { missing, unexpected } = await peft.loadState(tensors, adapterName, { where: file });
  if (missing.length === 0 && unexpected.length === 0) return;
  if (!opts.allowKeyMismatch) throw new PeftError(keyMismatchMessage(peft, file, adapterName, missing, unexpected));
  if (missing.length) opts.warn(`Found missing adapter keys while loading the checkpoint: [${missing.map((m) => `'${m}'`).join(', ')}]`);
  if (unexpected.length) opts.warn(`${file}: ignored ${unexpected.length} tensor(s) that match no adapter layer of this model: ${unexpected.slice(0, 10).join(', ')}`);
}

const listed = (keys: readonly string[], max = 6): string => (keys.length > max ? `${keys.slice(0, max).join(', ')}, … (${keys.length} in all)` : keys.join(', '));

/** What a file whose keys do not fit its config's layers gets: which keys, the likely reason, and the way to load it anyway. */
function keyMismatchMessage(peft: PeftModel, file: string, adapterName: string, missing: readonly string[], unexpected: readonly string[]): string {
  const config = peft.peftConfig.get(adapterName)!;
  const method = peftMethodOf(config);
  // Another registered method's prefix in the unused keys: the file and its config disagree on the method.
  const named = peftMethods().find((m) => m !== method && unexpected.some((k) => k.split('.').some((part) => part.startsWith(m.prefix))));
  const lines = [`${file}: the tensors do not match the ${method.name} adapter layers that its adapter_config.json (peft_type "${config.peftType}") creates on this model:`];
  if (missing.length) lines.push(`  ${missing.length} adapter tensor(s) are not in the file: ${listed(missing.map((n) => savedKey(n, method.prefix, adapterName) ?? n))}`);
  if (unexpected.length) lines.push(`  ${unexpected.length} tensor(s) of the file fit no adapter layer: ${listed(unexpected)}`);
  if (named) lines.push(`The file's tensors are named as a ${named.name} adapter's (${named.prefix}…), but the config says peft_type "${config.peftType}": the two files do not belong together.`);
  else lines.push('The file may be incomplete, or made for another base model or another target_modules.');
  lines.push('Merging or generating with it would use a different adapter than the one saved. To load it anyway (layers without a tensor keep their initial values, as PEFT does with a warning), pass allowKeyMismatch: true.');
  return lines.join('\n');
}

/** Read an adapter folder into `peft` under `adapterName` (PEFT's load_adapter). */
export async function loadAdapterInto(peft: PeftModel, dir: PathLike, adapterName: string, opts: LoadAdapterOptions = {}): Promise<void> {
  const warn = opts.warn ?? peft.warn;
  const { config, tensors, file } = await readAdapter(dir, opts.isTrainable ?? false, warn);
  peft.addAdapter(adapterName, config);
  // As PEFT's load_adapter: the new adapter is inactive, and trainable only when asked for.
  if (opts.isTrainable) peft.setRequiresGrad(adapterName, true);
  try {
    await loadTensors(peft, file, tensors, adapterName, { warn, allowKeyMismatch: opts.allowKeyMismatch ?? false });
  } catch (e) {
    peft.deleteAdapter(adapterName); // a refused file leaves the model as it was
    throw e;
  }
}

/** PEFT's PeftModel.from_pretrained: wrap `model` with the adapter saved in `dir`. */
export async function peftFromPretrained<M extends AdaptableModel>(model: M, dir: PathLike, opts: LoadAdapterOptions = {}): Promise<PeftModel<M>> {
  const adapterName = opts.adapterName ?? 'default';
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const { config, tensors, file } = await readAdapter(dir, opts.isTrainable ?? false, warn);
  const peft = new PeftModel(model, config, adapterName, { warn });
  try {
    await loadTensors(peft, file, tensors, adapterName, { warn, allowKeyMismatch: opts.allowKeyMismatch ?? false });
  } catch (e) {
    peft.unload({ keepModulesToSave: false }); // a refused file leaves `model` as it was
    throw e;
  }
  return peft;
}
