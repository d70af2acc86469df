/**
 * MiSS / Bone → LoRA, as PEFT 0.21's `peft.tuners.lora.conversion.convert_to_lora` and `save_as_lora`:
 *
 * - default and mini modes: the adapter already is a rank-r product, so the factors are exact (no
 *   SVD): lora_A [r, in] sums the input's r-wide shards (A[i mod r, i] = 1, which also covers a
 *   padded last shard) and lora_B [out, r] is the block transposed (the mini block tiled first);
 * - bat: ΔW = W_{a,c}B_a + B_a depends on the base weight, so it is factored by SVD: lora_B =
 *   U[:, :k]·S[:k], lora_A = Vᵀ[:k], with k the rank asked for, or the smallest k whose squared
 *   singular values reach a given share of the total;
 * - the LoRA scaling is folded into the factors: lora_alpha = r (rank_pattern/alpha_pattern hold the
 *   layers whose rank differs), so alpha/r = 1; modules_to_save, layers_to_transform/layers_pattern,
 *   base_model_name_or_path carry over; the config is PEFT's, inference_mode false as save_as_lora leaves it.
 *
 * Differences from PEFT, on purpose: the mode is the adapter's own, not the layer's last-added
 * (PEFT's per-layer miss_fn); a layer without the adapter is passed over (PEFT raises a KeyError);
 * a modules_to_save copy with nested parameters keeps their full paths (PEFT keeps the last name,
 * so nested ones collide).
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { Tensor, realize } from '../../engine/index.ts';
import { pathRef, type FileData, type PathLike } from '../../io/file-system.ts';
import type { JsonValue } from '../../io/json.ts';
import { loadModel, modelFolderRef } from '../../io/model-folder.ts';
import { serializeSafetensors, type SafetensorsTensor } from '../../io/safetensors.ts';
import { createModelFromConfig, type CausalLM } from '../../models/index.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, adapterDir, adapterSubfolder, readAdapterConfigJson } from '../adapter-folder.ts';
import { pythonJsonDumps, type PeftConfig } from '../config.ts';
import { PeftError } from '../errors.ts';
import { LoraConfig } from '../lora/config.ts';
import { PeftModel } from '../peft-model.ts';
import { BoneConfig, MissConfig } from './config.ts';
import { BoneLinear } from './layer.ts';
import { batDelta, tileMiniBlock } from './math.ts';

/** An integer rank, or `{ share }`: the smallest rank whose squared singular values reach that share of the total. */
export type LoraRank = number | { share: number };

export interface ToLoraOptions {
  /** Default: the adapter's own r (exact for default and mini); bat needs a rank. */
  rank?: LoraRank;
  /** Default: the active adapter. */
  adapterName?: string;
}

export interface ConvertedLoraLayer {
  /** The module's path in the base model (model.layers.0.self_attn.q_proj). */
  name: string;
  rank: number;
  /** ‖ΔW − B·A‖_F / ‖ΔW‖_F (0 for the exact modes; from the dropped singular values for bat). */
  relativeError: number;
}

export interface LoraConversion {
  /** adapter_config.json's object, as PEFT's save_as_lora writes it. */
  config: Record<string, JsonValue>;
  /** adapter_model.safetensors' tensors, keyed as PEFT saves them. */
  state: Map<string, Tensor>;
  layers: ConvertedLoraLayer[];
}

/** A rank as written on a command line: "8" → 8; "0.99" (any number with a point, or below 1) → a share. */
export function parseLoraRank(value: string | number): LoraRank {
  const text = String(value).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n <= 0 || (n >= 1 && !Number.isInteger(n)) || (n > 1 && text.includes('.'))) {
    throw new PeftError(`rank: expected an integer ≥ 1 or a share in (0, 1] such as 0.99, found ${JSON.stringify(value)}`);
  }
  return n < 1 || text.includes('.') ? { share: n } : n;
}

function checkRank(rank: LoraRank): void {
  if (typeof rank === 'number') {
    if (!Number.isInteger(rank) || rank < 1) throw new PeftError(`LoRA conversion: rank must be an integer ≥ 1 or a share in (0, 1], found ${rank}`);
  } else if (!(rank.share > 0 && rank.share <= 1)) {
    throw new PeftError(`LoRA conversion: if rank is a share of the squared singular values, it must be in (0, 1], found ${rank.share}`);
  }
}

/** PEFT's _find_cutoff_index: the smallest k with cumsum(S²)[k−1] ≥ share · Σ S². */
function cutoff(singular: readonly number[], share: number): number {
  const energy = singular.map((s) => s * s);
  const total = energy.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (let k = 0; k < energy.length; k++) {
    cum += energy[k]!;
    if (cum >= share * total) return k + 1;
  }
  return energy.length;
}

/** The exact factors of a default/mini adapter: A [r, in] sums the shards, B [out, r] is the block transposed. */
function exactFactors(layer: BoneLinear, name: string): { a: Tensor; b: Tensor; r: number } {
  const adapter = layer.adapters.get(name)!;
  const raw = layer.block.entries.get(name)!.value;
  const block = adapter.mode === 'mini' ? tileMiniBlock(raw, layer.outFeatures) : raw;
  const r = block.shape[0]!;
  const inF = layer.inFeatures;
  const a = new Float32Array(r * inF);
  for (let i = 0; i < inF; i++) a[(i % r) * inF + i] = 1;
  return { a: Tensor.fromData(a, [r, inF]), b: block.transpose(), r };
}

/** The SVD factors of a bat adapter's ΔW at the rank asked for. */
async function svdFactors(layer: BoneLinear, name: string, rank: LoraRank, where: string): Promise<{ a: Tensor; b: Tensor; r: number; error: number }> {
  const delta = await batDelta(layer.base_layer.weight.value, layer.block.entries.get(name)!.value).floats();
  const [out, inF] = [layer.outFeatures, layer.inFeatures];
  const rows = Array.from({ length: out }, (_, o) => Array.from(delta.subarray(o * inF, (o + 1) * inF)));
  const svd = new SingularValueDecomposition(new Matrix(rows), { autoTranspose: true });
  const s = svd.diagonal;
  const k = typeof rank === 'number' ? rank : cutoff(s, rank.share);
  if (k > s.length) throw new PeftError(`${where}: The chosen rank ${k} is larger than the weight shape (${s.length}), please choose a lower rank.`);
  const u = svd.leftSingularVectors;
  const v = svd.rightSingularVectors;
  const b = new Float32Array(out * k);
  const a = new Float32Array(k * inF);
  for (let o = 0; o < out; o++) for (let j = 0; j < k; j++) b[o * k + j] = u.get(o, j) * s[j]!;
  for (let j = 0; j < k; j++) for (let i = 0; i < inF; i++) a[j * inF + i] = v.get(i, j);
  const total = s.reduce((acc, x) => acc + x * x, 0);
  const dropped = s.slice(k).reduce((acc, x) => acc + x * x, 0);
  return { a: Tensor.fromData(a, [k, inF]), b: Tensor.fromData(b, [out, k]), r: k, error: total > 0 ? Math.sqrt(dropped / total) : 0 };
}

function copyList(spec: PeftConfig['targetModules']): JsonValue {
  return spec === null ? null : typeof spec === 'string' ? spec : [...spec];
}

/** PEFT's convert_to_lora on a model with a MiSS or Bone adapter: the LoRA config and tensors. */
export async function convertToLora(peft: PeftModel, opts: ToLoraOptions = {}): Promise<LoraConversion> {
  const adapterName = opts.adapterName ?? peft.activeAdapter;
  const source = peft.peftConfig.get(adapterName);
  if (!source) throw new PeftError(`LoRA conversion: adapter ${JSON.stringify(adapterName)} does not exist (adapters: ${[...peft.peftConfig.keys()].join(', ')})`);
  if (!(source instanceof MissConfig) && !(source instanceof BoneConfig)) {
    throw new PeftError(`LoRA conversion: adapter ${JSON.stringify(adapterName)} is ${source.peftType}; this conversion takes MiSS and Bone adapters`);
  }
  const rank = opts.rank ?? source.r;
  checkRank(rank);
  const layers = peft.adapterLayers().filter((e): e is [string, BoneLinear] => e[1] instanceof BoneLinear && e[1].adapters.has(adapterName));
  if (layers.length === 0) throw new PeftError(`LoRA conversion: no layer holds adapter ${JSON.stringify(adapterName)}`);
  if (source.initWeights === 'bat' && opts.rank === undefined) {
    throw new PeftError(`LoRA conversion: adapter ${JSON.stringify(adapterName)} is bat, whose update depends on the base weight and is factored by SVD: give a rank (an integer, or a share of the squared singular values such as 0.99)`);
  }

  const targets = copyList(source.targetModules);
  const targetList = Array.isArray(targets) ? [...targets] as string[] : null;
  const rankPattern: Record<string, JsonValue> = {};
  const state = new Map<string, Tensor>();
  const converted: ConvertedLoraLayer[] = [];
  for (const [path, layer] of layers) {
    const where = `${path} (adapter ${adapterName})`;
    const f = layer.adapters.get(adapterName)!.mode === 'bat' ? await svdFactors(layer, adapterName, rank, where) : { ...exactFactors(layer, adapterName), error: 0 };
    if (f.r !== rank || targetList === null) rankPattern[path] = f.r;
    else if (!targetList.includes(path)) targetList.push(path);
    state.set(`base_model.model.${path}.lora_A.weight`, f.a);
    state.set(`base_model.model.${path}.lora_B.weight`, f.b);
    converted.push({ name: path, rank: f.r, relativeError: f.error });
  }
  for (const [path, wrapper] of peft.savedModules()) {
    const copy = wrapper.copies.get(adapterName);
    if (!copy) continue;
    for (const [name, p] of copy.namedParameters()) state.set(`base_model.model.${path}.${name}`, p.value);
  }
  await realize([...state.values()]);

  const intRank = typeof rank === 'number' ? rank : 1;
  const lora = new LoraConfig({
    r: intRank, loraAlpha: intRank, baseModelNameOrPath: source.baseModelNameOrPath, revision: source.revision,
    layersPattern: source.layersPattern, layersToTransform: source.layersToTransform, modulesToSave: source.modulesToSave,
    targetModules: targetList ?? (targets as string | null), taskType: source.taskType,
  });
  const config = lora.toJSON();
  // What PEFT's save_as_lora writes: the patterns, an empty exclude set, a config never frozen by save_pretrained.
  Object.assign(config, { rank_pattern: rankPattern, alpha_pattern: { ...rankPattern }, exclude_modules: [], inference_mode: false, auto_mapping: null });
  return { config, state, layers: converted };
}

export interface ConvertFolderOptions {
  rank?: LoraRank;
  /** The base model (folder or cached repo id); default the adapter's base_model_name_or_path. Its weights are read only for bat. */
  model?: string;
  overwrite?: boolean;
}

export interface ConvertFolderResult {
  tensors: number;
  /** Per adapter (default first): its layers. */
  adapters: { name: string; layers: ConvertedLoraLayer[] }[];
}

/** The adapters of a saved folder: the default one in it, others in subfolders (PEFT's layout). */
async function adapterNames(dir: PathLike): Promise<string[]> {
  const names = ['default'];
  const folder = pathRef(dir);
  for (const entry of await folder.list()) {
    if (await folder.child(entry, ADAPTER_CONFIG_NAME).isFile()) names.push(entry);
  }
  return names;
}

/**
 * A MiSS or Bone adapter folder (every adapter in it) as a PEFT LoRA folder at `dst`, written
 * atomically; `dst` must not be `src` (a bat conversion loses what SVD drops).
 */
export async function convertAdapterFolderToLora(src: PathLike, dst: PathLike, opts: ConvertFolderOptions = {}): Promise<ConvertFolderResult> {
  const config = await readAdapterConfigJson(src);
  const modelPath = opts.model ?? (typeof config.base_model_name_or_path === 'string' ? config.base_model_name_or_path : undefined);
  if (modelPath === undefined) {
    throw new PeftError(`${pathRef(src).child(ADAPTER_CONFIG_NAME)}: base_model_name_or_path is null, and converting to LoRA needs the base model (its layer shapes; for bat its weights): pass it (bone convert --model DIR)`);
  }
  const names = await adapterNames(src);
  const configs = await Promise.all(names.map((n) => readAdapterConfigJson(adapterDir(src, n))));
  const needsWeights = configs.some((c) => c.init_weights === 'bat');
  const folder = await modelFolderRef(modelPath);
  // Only bat reads the base weights; the other modes need the layer shapes, which the config gives.
  const model: CausalLM = needsWeights ? await loadModel(folder)
    : createModelFromConfig(JSON.parse(await folder.child('config.json').readText()) as Record<string, unknown>);
  model.eval();
  const peft = await PeftModel.fromPretrained(model, src, { warn: () => undefined });
  for (const name of names.slice(1)) await peft.loadAdapter(adapterDir(src, name), name);
  const results: ConvertFolderResult = { tensors: 0, adapters: [] };
  const conversions: { name: string; c: LoraConversion }[] = [];
  for (const name of names) {
    const c = await convertToLora(peft, { adapterName: name, ...(opts.rank === undefined ? {} : { rank: opts.rank }) });
    conversions.push({ name, c });
    results.adapters.push({ name, layers: c.layers });
    results.tensors += c.state.size;
  }
  const files = new Map<string, FileData>();
  for (const { name, c } of conversions) {
    const prefix = adapterSubfolder(name) === '' ? '' : `${adapterSubfolder(name)}/`;
    for (const [file, data] of await loraFiles(c)) files.set(`${prefix}${file}`, data);
  }
  await pathRef(dst).writeFolder(files, { overwrite: opts.overwrite ?? false });
  return results;
}

/** adapter_config.json + adapter_model.safetensors (float32, {"format": "pt"}) of one LoRA adapter, as files. */
export async function loraFiles(c: LoraConversion): Promise<Map<string, FileData>> {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [key, t] of c.state) tensors.set(key, { dtype: 'F32', shape: [...t.shape], data: (t.dtype === 'float32' ? t : await t.cast('float32').realize()).storage as Float32Array });
  return new Map<string, FileData>([
    [ADAPTER_WEIGHTS_NAME, serializeSafetensors(tensors, { format: 'pt' }, ADAPTER_WEIGHTS_NAME)],
    [ADAPTER_CONFIG_NAME, pythonJsonDumps(c.config, new Set(['lora_dropout']))],
  ]);
}

/** Writes one LoRA adapter's two files into `dir` (each atomically). */
export async function writeLoraFolder(dir: PathLike, c: LoraConversion): Promise<void> {
  const folder = pathRef(dir);
  await folder.makeFolder();
  for (const [file, data] of await loraFiles(c)) await folder.child(file).write(data);
}
