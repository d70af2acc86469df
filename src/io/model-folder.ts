/**
 * Hugging Face model folders, read and written as transformers' `from_pretrained` / `save_pretrained`
 * do: `config.json` plus `model.safetensors`, or shards listed by `model.safetensors.index.json`.
 * The folder is read through the core's FileSystem (a path on the default one, or a PathRef); in
 * Node a repository id (`HuggingFaceTB/SmolLM2-135M`) is found in the local Hugging Face cache
 * (src/node/hub-cache.ts).
 *
 * Loading checks the whole checkpoint against the model before reading any tensor data (missing,
 * unexpected and misshapen keys are reported together, each with its file), then reads one tensor at
 * a time: a bfloat16/float16 tensor's raw bytes are converted to float32 and dropped before the next
 * one is read, so the peak is the float32 model plus one raw tensor (docs/design.md, "Model weights
 * at load", has the measurements behind converting at load).
 *
 * Saving writes float32 weights with transformers' keys (tied embeddings once, as
 * `model.embed_tokens.weight`), `{"format": "pt"}` metadata, optional shards with transformers'
 * names and index, and a config.json that transformers reads; every file is written atomically.
 */
import { describeNonFinite, nonFinite, realize, Tensor } from '../engine/index.ts';
import { bf16ToF32, f16ToF32 } from '../engine/dtype.ts';
import type { Parameter } from '../nn/index.ts';
import { ConfigError, architectureFor, createModelFromConfig, type CausalLM } from '../models/index.ts';
import { defaultFileSystem, isNotFound, pathRef, PathRef, type HubCacheOptions, type PathLike } from './file-system.ts';
import {
  openSafetensors, writeSafetensors, type SafetensorsHeaderEntry, type SafetensorsReader, type SafetensorsTensor,
} from './safetensors.ts';
import { loadTokenizer, type LoadTokenizerOptions, type PretrainedTokenizer } from './tokenizer.ts';

export type { HubCacheOptions } from './file-system.ts';

/** A model folder that cannot be found, read or written; the message names the folder or file and the key at fault. */
export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

export const CONFIG_NAME = 'config.json';
export const WEIGHTS_NAME = 'model.safetensors';
export const WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

/**
 * Keys transformers drops without a word: older checkpoints carry each layer's rotary `inv_freq`
 * buffer, which is recomputed from the config (modeling_utils' _adjust_missing_and_unexpected_keys).
 */
const IGNORED_CHECKPOINT_KEYS = /(^|\.)rotary_emb\.inv_freq$/;

/** The dtypes a float32 model can be loaded from (transformers casts these too; integer tensors are refused). */
const LOADABLE_DTYPES = new Set(['F32', 'BF16', 'F16', 'F64']);

// ---- finding the folder ------------------------------------------------------------------------------

export interface LoadModelOptions extends HubCacheOptions {
  /**
   * Load weights that hold NaN or ±Infinity (default false: such a checkpoint is refused, naming the
   * tensor, since every output of the model would be NaN; true is for inspecting a broken file).
   */
  allowNonFinite?: boolean;
}

/**
 * The folder `pathOrRepoId` names on the default file system: an existing folder, else what the
 * platform finds for it (Node: when it looks like "org/name", the snapshot in the Hugging Face
 * cache). The error for neither lists every place that was looked at.
 */
export async function resolveModelFolder(pathOrRepoId: string, options: LoadModelOptions = {}): Promise<string> {
  return (await modelFolderRef(pathOrRepoId, options)).path;
}

/** The model folder a path, repository id (where the platform knows them) or PathRef names. */
export async function modelFolderRef(pathOrRepoId: PathLike, options: LoadModelOptions = {}): Promise<PathRef> {
  if (pathOrRepoId instanceof PathRef) {
    const kind = await pathOrRepoId.kind();
    if (kind === 'folder') return pathOrRepoId;
    throw new ModelFolderError(kind === 'file'
      ? `${pathOrRepoId} is a file; expected a model folder (with ${CONFIG_NAME} and ${WEIGHTS_NAME})`
      : `no model folder at ${pathOrRepoId}`);
  }
  const fs = defaultFileSystem();
  if (fs.resolveModelFolder) return new PathRef(fs, await fs.resolveModelFolder(pathOrRepoId, options));
  return modelFolderRef(new PathRef(fs, pathOrRepoId), options);
}

// ---- loading -----------------------------------------------------------------------------------------

/**
 * A model from a folder or a cached Hub repository, in eval mode, with float32 weights, and
 * `nameOrPath` set to `pathOrRepoId` (what PEFT writes as base_model_name_or_path).
 */
export async function loadModel(pathOrRepoId: PathLike, options: LoadModelOptions = {}): Promise<CausalLM> {
  const folder = await modelFolderRef(pathOrRepoId, options);
  const model = await loadModelFromFolder(folder, options.allowNonFinite ?? false);
  model.nameOrPath = String(pathOrRepoId);
  return model;
}

export interface LoadPretrainedOptions extends LoadModelOptions {
  tokenizer?: LoadTokenizerOptions;
}

export interface Pretrained {
  model: CausalLM;
  /** Loaded when the folder has tokenizer.json; null otherwise. */
  tokenizer: PretrainedTokenizer | null;
}

/** The model and, when the folder has one, its tokenizer. */
export async function loadPretrained(pathOrRepoId: PathLike, options: LoadPretrainedOptions = {}): Promise<Pretrained> {
  const folder = await modelFolderRef(pathOrRepoId, options);
  const model = await loadModelFromFolder(folder, options.allowNonFinite ?? false);
  model.nameOrPath = String(pathOrRepoId);
  const hasTokenizer = await folder.child('tokenizer.json').isFile();
  const tokenizer = hasTokenizer ? await loadTokenizer(folder, options.tokenizer) : null;
  return { model, tokenizer };
}

async function loadModelFromFolder(folder: PathRef, allowNonFinite: boolean): Promise<CausalLM> {
  const configPath = folder.child(CONFIG_NAME).path;
  const json = await readConfigJson(folder);
  const model = createModel(json, configPath);
  const checkpoint = await openCheckpoint(folder);
  try {
    const plan = planLoad(model, checkpoint, folder, json);
    const state = new Map<string, Tensor>();
    for (const { key, source } of plan) {
      state.set(key, Tensor.fromData(await readAsFloat32(key, source, folder, allowNonFinite), [...source.entry.shape], 'float32'));
    }
    model.loadStateDict(state, { strict: true });
  } finally {
    await checkpoint.close();
  }
  return model.eval();
}

async function readConfigJson(folder: PathRef): Promise<Record<string, unknown>> {
  const path = folder.child(CONFIG_NAME).path;
  let text: string;
  try {
    text = await folder.child(CONFIG_NAME).readText();
  } catch (err) {
    if (isNotFound(err)) {
      throw new ModelFolderError(`${folder}: no ${CONFIG_NAME}; a Hugging Face model folder needs one (found: ${await listFolder(folder)})`, { cause: err });
    }
    throw new ModelFolderError(`${path}: could not read: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFolderError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFolderError(`${path}: expected a JSON object, found ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`);
  }
  return json as Record<string, unknown>;
}

/** createModelFromConfig, with the config file's path in front of its message (it knows only the JSON). */
function createModel(json: Record<string, unknown>, configPath: string): CausalLM {
  try {
    return createModelFromConfig(json);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${configPath}: ${err.message}`, { cause: err });
    throw err;
  }
}

// ---- the checkpoint's files ----------------------------------------------------------------------------

/** Where one tensor lives. */
interface TensorSource {
  /** The safetensors file's name inside the folder. */
  file: string;
  reader: SafetensorsReader;
  entry: SafetensorsHeaderEntry;
}

interface Checkpoint {
  /** Every tensor of every file, by key. */
  tensors: Map<string, TensorSource>;
  /** The weight files, for messages ("model.safetensors", or the shard names). */
  files: string[];
  close(): Promise<void>;
}

/** Opens model.safetensors, or every shard the index names, and reads (only) their headers. */
async function openCheckpoint(folder: PathRef): Promise<Checkpoint> {
  const readers = new Map<string, SafetensorsReader>();
  const close = async (): Promise<void> => { await Promise.all([...readers.values()].map((r) => r.close().catch(() => undefined))); };
  try {
    const single = folder.child(WEIGHTS_NAME);
    const indexPath = folder.child(WEIGHTS_INDEX_NAME);
    // transformers prefers model.safetensors when both exist; so do we.
    let weightMap: Map<string, string> | undefined;
    if (await single.isFile()) {
      readers.set(WEIGHTS_NAME, await openSafetensors(single));
    } else if (await indexPath.isFile()) {
      weightMap = await readWeightMap(indexPath);
      for (const [key, file] of weightMap) {
        if (readers.has(file)) continue;
        const path = folder.child(file);
        if (!(await path.isFile())) {
          const count = [...weightMap.values()].filter((f) => f === file).length;
          throw new ModelFolderError(`${indexPath}: maps ${count} tensor(s) (first ${JSON.stringify(key)}) to ${file}, but ${path} does not exist`);
        }
        readers.set(file, await openSafetensors(path));
      }
    } else {
      const present = await listFolder(folder);
      const hint = /pytorch_model|\.bin\b|\.pt\b|\.pth\b/.test(present) ? '; only safetensors checkpoints are read (convert the PyTorch .bin with transformers: load it and save_pretrained)' : '';
      throw new ModelFolderError(`${folder}: no ${WEIGHTS_NAME} and no ${WEIGHTS_INDEX_NAME} (found: ${present})${hint}`);
    }

    const tensors = new Map<string, TensorSource>();
    for (const [file, reader] of readers) {
      for (const [key, entry] of reader.header.tensors) {
        const previous = tensors.get(key);
        if (previous) throw new ModelFolderError(`${folder}: tensor ${JSON.stringify(key)} is in both ${previous.file} and ${file}`);
        tensors.set(key, { file, reader, entry });
      }
    }
    if (weightMap) {
      for (const [key, file] of weightMap) {
        const found = tensors.get(key);
        if (found?.file !== file) {
          throw new ModelFolderError(`${indexPath}: maps ${JSON.stringify(key)} to ${file}, but ${file} has no such tensor${found ? ` (it is in ${found.file})` : ''}`);
        }
      }
    }
    return { tensors, files: [...readers.keys()], close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The index's weight_map: tensor key → shard file name (a plain name in the same folder). */
async function readWeightMap(indexPath: PathRef): Promise<Map<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await indexPath.readText());
  } catch (err) {
    throw new ModelFolderError(`${indexPath}: could not read it as JSON (${(err as Error).message})`, { cause: err });
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new ModelFolderError(`${indexPath}: expected an object with "weight_map": {tensor name: shard file}, found ${JSON.stringify(json)?.slice(0, 120)}`);
  }
  const map = new Map<string, string>();
  for (const [key, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string' || file === '' || /[/\\]/.test(file) || file === '.' || file === '..') {
      throw new ModelFolderError(`${indexPath}: weight_map[${JSON.stringify(key)}] must be a file name in the same folder, found ${JSON.stringify(file)}`);
    }
    map.set(key, file);
  }
  if (map.size === 0) throw new ModelFolderError(`${indexPath}: weight_map is empty`);
  return map;
}

// ---- matching the checkpoint to the model ------------------------------------------------------------------

interface LoadStep {
  /** The checkpoint key read for this parameter (for a tied pair, whichever of its names the checkpoint has). */
  key: string;
  source: TensorSource;
}

/**
 * One step per parameter of the model, after checking every key: all problems are collected and
 * thrown together, before a single tensor is read, so a wrong 10 GB checkpoint fails in milliseconds.
 */
function planLoad(model: CausalLM, checkpoint: Checkpoint, folder: PathRef, json: Record<string, unknown>): LoadStep[] {
  const namesOf = new Map<Parameter, string[]>();
  for (const [name, p] of model.namedParameters({ removeDuplicate: false })) {
    const names = namesOf.get(p);
    if (names) names.push(name); else namesOf.set(p, [name]);
  }
  const where = (source: TensorSource): string => `${source.file}`;
  const missing: string[] = [];
  const misfits: string[] = [];
  const known = new Set<string>();
  const plan: LoadStep[] = [];
  for (const [p, names] of namesOf) {
    for (const n of names) known.add(n);
    // A tied pair (embed_tokens / lm_head) shares one Parameter: any of its names will do, as in transformers.
    const present = names.filter((n) => checkpoint.tensors.has(n));
    if (present.length === 0) {
      missing.push(`${names.join(' / ')} (expected shape [${p.shape.join(', ')}])`);
      continue;
    }
    let fits = true;
    for (const key of present) {
      const source = checkpoint.tensors.get(key)!;
      const found = source.entry.shape;
      if (found.length !== p.shape.length || found.some((d, i) => d !== p.shape[i])) {
        misfits.push(`${key} in ${where(source)}: expected shape [${p.shape.join(', ')}], found [${found.join(', ')}]`);
        fits = false;
      } else if (!LOADABLE_DTYPES.has(source.entry.dtype)) {
        misfits.push(`${key} in ${where(source)}: expected a float tensor (${[...LOADABLE_DTYPES].join(', ')}), found ${source.entry.dtype}`);
        fits = false;
      }
    }
    if (fits) plan.push({ key: present[0]!, source: checkpoint.tensors.get(present[0]!)! });
  }
  const unexpected = [...checkpoint.tensors]
    .filter(([key]) => !known.has(key) && !IGNORED_CHECKPOINT_KEYS.test(key))
    .map(([key, source]) => `${key} in ${where(source)} (shape [${source.entry.shape.join(', ')}])`);
  if (missing.length || unexpected.length || misfits.length) {
    // When config.json explains the misfit (a size left to its default, heads that do not divide), say that first: the lists follow from it.
    const causes = misfitCauses(json, model, checkpoint);
    const list = (title: string, items: string[]): string[] => (items.length ? [`${title} (${items.length}):`, ...limit(items, causes.length ? 5 : 20).map((s) => `  ${s}`)] : []);
    throw new ModelFolderError([
      `${folder}: the checkpoint (${checkpoint.files.join(', ')}) does not fit ${model.constructor.name} as config.json describes it`,
      ...causes.map((c) => `likely cause: ${folder.child(CONFIG_NAME)}: ${c}`),
      ...list('missing weights', missing),
      ...list('unexpected weights', unexpected),
      ...list('weights that do not fit', misfits),
    ].join('\n'));
  }
  return plan;
}

/** Dimensions a config.json must give for its checkpoint, and the checkpoint tensor (and axis) that shows the value. */
const SIZE_WITNESSES: readonly { key: string; tensor: string; axis: number }[] = [
  { key: 'hidden_size', tensor: 'model.embed_tokens.weight', axis: 1 },
  { key: 'vocab_size', tensor: 'model.embed_tokens.weight', axis: 0 },
  { key: 'intermediate_size', tensor: 'model.layers.0.mlp.gate_proj.weight', axis: 0 },
];

/**
 * What in config.json makes the model's shapes differ from the checkpoint's: a size missing from the
 * file (so the architecture's default was used) that the checkpoint contradicts, a layer count that
 * differs from the checkpoint's layers, or num_attention_heads that does not divide hidden_size
 * without a head_dim (transformers then floors the quotient).
 */
function misfitCauses(json: Record<string, unknown>, model: CausalLM, checkpoint: Checkpoint): string[] {
  const c = model.config;
  const causes: string[] = [];
  for (const { key, tensor, axis } of SIZE_WITNESSES) {
    const found = checkpoint.tensors.get(tensor)?.entry.shape[axis];
    if (key in json || found === undefined || found === c[key]) continue;
    causes.push(`"${key}" is missing, so ${c.model_type}'s default ${String(c[key])} was used, but the checkpoint's ${tensor} [${checkpoint.tensors.get(tensor)!.entry.shape.join(', ')}] has ${key} ${found}: add "${key}": ${found}`);
  }
  const layers = new Set([...checkpoint.tensors.keys()].map((k) => /^model\.layers\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined));
  if (layers.size > 0 && layers.size !== c.num_hidden_layers) {
    causes.push(`"num_hidden_layers" is ${'num_hidden_layers' in json ? '' : `missing (so ${c.model_type}'s default `}${c.num_hidden_layers}${'num_hidden_layers' in json ? '' : ' was used)'}, but the checkpoint has ${layers.size} layers: set "num_hidden_layers": ${layers.size}`);
  }
  if (!('head_dim' in json) && c.hidden_size % c.num_attention_heads !== 0) {
    causes.push(`"num_attention_heads" ${c.num_attention_heads} does not divide "hidden_size" ${c.hidden_size}, and there is no "head_dim", so head_dim is ${c.hidden_size} // ${c.num_attention_heads} = ${c.head_dim} (transformers' rule): fix num_attention_heads, or give "head_dim"`);
  }
  return causes;
}

function limit(items: string[], max = 20): string[] {
  return items.length > max ? [...items.slice(0, max), `… and ${items.length - max} more`] : items;
}

// ---- reading one tensor as float32 --------------------------------------------------------------------------

/** A weight with NaN or ±Infinity is refused here, naming it: every output of the model would be NaN. */
async function readAsFloat32(key: string, source: TensorSource, folder: PathRef, allowNonFinite: boolean): Promise<Float32Array> {
  const tensor = await source.reader.load(key);
  const data = toFloat32(tensor, key, source.file);
  const bad = allowNonFinite ? null : nonFinite(data);
  if (bad) throw new ModelFolderError(`${folder.child(source.file)}: tensor ${JSON.stringify(key)} [${source.entry.shape.join(', ')}] holds ${describeNonFinite(bad)}: the checkpoint is broken, and every output of the model would be NaN`);
  return data;
}

/** The raw array is dropped by the caller right after this returns, so at most one raw tensor is alive. */
function toFloat32(tensor: SafetensorsTensor, key: string, file: string): Float32Array {
  switch (tensor.dtype) {
    case 'F32': return tensor.data;
    case 'BF16': return bf16ToF32(tensor.data);
    case 'F16': return f16ToF32(tensor.data);
    // Rounds to nearest, as torch's .to(float32) does.
    case 'F64': return Float32Array.from(tensor.data);
    default: throw new ModelFolderError(`${file}: tensor ${JSON.stringify(key)} is ${tensor.dtype}; expected a float tensor`);
  }
}

// ---- saving -----------------------------------------------------------------------------------------------

export interface SavePretrainedOptions {
  /**
   * Split the weights into shards of at most this many bytes (a tensor larger than that gets a shard of
   * its own), named and indexed as transformers does. A number of bytes or a string such as "500MB" or
   * "2GB" (decimal units, as huggingface_hub). Default: one model.safetensors.
   */
  maxShardSize?: number | string;
}

/**
 * Writes `config.json` and float32 `model.safetensors` (or shards + index) that transformers'
 * from_pretrained reads. Each file is written atomically; weight files of an earlier save that this
 * save does not rewrite are removed afterwards, so a stale model.safetensors cannot shadow new shards.
 */
export async function savePretrained(model: CausalLM, path: PathLike, options: SavePretrainedOptions = {}): Promise<void> {
  const maxShardBytes = options.maxShardSize === undefined ? Infinity : parseShardSize(options.maxShardSize);
  const dir = pathRef(path);
  await dir.makeFolder().catch((err: unknown) => {
    throw new ModelFolderError(`${dir}: could not create the folder: ${(err as Error).message}`, { cause: err });
  });

  // stateDict lists a tied parameter once, under its first name (model.embed_tokens.weight): transformers' keys.
  const state = [...model.stateDict()];
  await realize(state.map(([, t]) => t).filter((t) => !t.isRealized));
  const weights: [string, SafetensorsTensor][] = [];
  for (const [key, t] of state) weights.push([key, { dtype: 'F32', shape: [...t.shape], data: await float32Data(key, t) }]);

  const shards = splitIntoShards(weights, maxShardBytes);
  const written = new Set<string>();
  const metadata = { format: 'pt' };
  if (shards.length === 1) {
    await writeSafetensors(dir.child(WEIGHTS_NAME), new Map(shards[0]), metadata);
    written.add(WEIGHTS_NAME);
  } else {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, shard] of shards.entries()) {
      const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      await writeSafetensors(dir.child(file), new Map(shard), metadata);
      written.add(file);
      for (const [key, t] of shard) { weightMap[key] = file; totalSize += t.data.byteLength; }
    }
    const index = { metadata: { total_parameters: model.numParameters(), total_size: totalSize }, weight_map: weightMap };
    await dir.child(WEIGHTS_INDEX_NAME).write(pythonStyleJson(index));
    written.add(WEIGHTS_INDEX_NAME);
  }
  await dir.child(CONFIG_NAME).write(configJsonText(model));
  await removeStaleWeightFiles(dir, written);
}

/** The config.json text: the model's resolved config with transformers' bookkeeping keys, keys sorted as transformers writes them. */
export function configJsonText(model: CausalLM): string {
  const json: Record<string, unknown> = { ...model.config };
  json.architectures = [architectureFor(model.config.model_type)];
  // transformers 5 writes "dtype"; "torch_dtype" is its older name and would contradict it.
  delete json.torch_dtype;
  json.dtype = 'float32';
  return pythonStyleJson(json);
}

async function float32Data(key: string, t: Tensor): Promise<Float32Array> {
  const data = await t.floats();
  if (data instanceof Float32Array) return data;
  // A float64 parameter (gradient checks) is rounded; transformers' float32 checkpoints hold float32.
  if (t.dtype === 'float64') return Float32Array.from(data);
  throw new ModelFolderError(`savePretrained: parameter ${JSON.stringify(key)} is ${t.dtype}; expected a float tensor`);
}

/** huggingface_hub's split_state_dict_into_shards: in key order, a new shard when the next tensor would overflow. */
function splitIntoShards(weights: [string, SafetensorsTensor][], maxBytes: number): [string, SafetensorsTensor][][] {
  const shards: [string, SafetensorsTensor][][] = [];
  let current: [string, SafetensorsTensor][] = [];
  let currentBytes = 0;
  for (const entry of weights) {
    const bytes = entry[1].data.byteLength;
    if (bytes > maxBytes) { shards.push([entry]); continue; }
    if (currentBytes + bytes > maxBytes) { shards.push(current); current = []; currentBytes = 0; }
    current.push(entry);
    currentBytes += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** A byte count, or huggingface_hub's parse_size_to_int ("5GB" = 5·10⁹ bytes). */
export function parseShardSize(size: number | string): number {
  if (typeof size === 'number') {
    if (!(size > 0)) throw new ModelFolderError(`maxShardSize must be a positive number of bytes, found ${size}`);
    return size;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]B)\s*$/i.exec(size);
  const unit = match ? SIZE_UNITS[match[2]!.toUpperCase()] : undefined;
  if (!match || unit === undefined || !(Number(match[1]) > 0)) {
    throw new ModelFolderError(`maxShardSize must be a number of bytes or a size like "500MB" (units KB, MB, GB, TB), found ${JSON.stringify(size)}`);
  }
  return Math.floor(Number(match[1]) * unit);
}

const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors$|^model\.safetensors\.index\.json$/;

async function removeStaleWeightFiles(dir: PathRef, written: ReadonlySet<string>): Promise<void> {
  for (const name of await dir.list()) {
    const file = dir.child(name);
    if (WEIGHT_FILE.test(name) && !written.has(name) && await file.isFile()) {
      await file.remove().catch((err: unknown) => {
        throw new ModelFolderError(`${file}: could not remove this weight file of an earlier save: ${(err as Error).message}`, { cause: err });
      });
    }
  }
}

/** Python's json.dumps(obj, indent=2, sort_keys=True) + "\n" for the JSON these files hold (floats print as JavaScript prints them). */
function pythonStyleJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

// ---- companion files ------------------------------------------------------------------------------------

/** What a model folder has besides config.json and the weights, that a folder made from it should carry. */
export const COMPANION_FILES: readonly string[] = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json', 'vocab.json', 'merges.txt',
  'tokenizer.model', 'chat_template.jinja', 'chat_template.json', 'generation_config.json',
];

/** Copies the companion files that `from` has into `to`; returns their names. */
export async function copyCompanionFiles(fromPath: PathLike, toPath: PathLike, names: readonly string[] = COMPANION_FILES): Promise<string[]> {
  const [from, to] = [pathRef(fromPath), pathRef(toPath)];
  const copied: string[] = [];
  for (const name of names) {
    if (await from.child(name).isFile()) {
      await from.child(name).readBytes().then((bytes) => to.child(name).write(bytes)).catch((err: unknown) => {
        throw new ModelFolderError(`${to.child(name)}: could not copy ${from.child(name)}: ${(err as Error).message}`, { cause: err });
      });
      copied.push(name);
    }
  }
  return copied;
}

// ---- small helpers -----------------------------------------------------------------------------------------

async function listFolder(folder: PathRef): Promise<string> {
  const names = await folder.list().catch(() => [] as string[]);
  if (names.length === 0) return 'nothing';
  names.sort();
  return names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length} in all)` : names.join(', ');
}
