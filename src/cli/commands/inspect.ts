/**
 * `bone inspect PATH`: what a model folder or an adapter folder holds, read from its JSON files and
 * safetensors headers only (no tensor data is loaded, so a 7B model is inspected in milliseconds).
 *
 * Model: architecture and dimensions, the targets PEFT would adapt by default, every tensor with
 * dtype and shape, parameter counts. Adapter: peft_type, the PEFT version that wrote it, r, mode,
 * targets, base model, trainable parameter count, and the training step for a checkpoint folder.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../../io/safetensors.ts';
import type { JsonValue } from '../../io/json.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, PeftError, missingAdapterWeights, peftMethod, peftMethods } from '../../peft/index.ts';
import { TRAINER_STATE_NAME } from '../../train/trainer-checkpoint.ts';
import { UsageError, checkOptions, helpText, loadCommandLine, type CommandSyntax, type OptionSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { formatBytes, formatCount, formatShort, plural, println, processIO, type CliIO } from '../io.ts';
import { defaultTargetsFor } from '../method.ts';
import { checkModelPath, isFile } from '../paths.ts';

export const inspectSyntax = {
  name: 'inspect',
  summary: 'Show what a model folder or an adapter folder holds: architecture, tensors (dtype, shape), parameter counts.',
  usage: 'PATH [--json] [--summary]',
  positional: { name: 'PATH', description: 'a model folder, an adapter folder (also a training checkpoint), or a repo id in the hub cache' },
  options: {
    path: { kind: 'path', valueName: 'PATH', description: 'the folder to inspect, instead of the PATH argument (e.g. in a --config file)' },
    json: { kind: 'boolean', description: 'print the result as JSON' },
    summary: { kind: 'boolean', description: 'leave out the tensor list' },
  },
} as const satisfies CommandSyntax<OptionSpecs>;

export interface InspectOptions {
  path: string;
  json?: boolean;
  summary?: boolean;
  io?: CliIO;
}

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  parameters: number;
  /** The safetensors file it is in (sharded models have several). */
  file: string;
}

export interface ModelInspection {
  kind: 'model';
  path: string;
  architecture: string | null;
  modelType: string | null;
  /** The dimensions that matter for adapters and memory (from config.json). */
  dimensions: Record<string, number | boolean | null>;
  /** What `--targets` defaults to for this architecture (PEFT's table), or null when it has none. */
  defaultTargets: string[] | null;
  files: { name: string; bytes: number }[];
  tensors: TensorInfo[];
  parameters: number;
  dtypes: Record<string, number>;
  hasTokenizer: boolean;
}

export interface AdapterInspection {
  kind: 'adapter';
  path: string;
  peftType: string | null;
  peftVersion: string | null;
  r: number | null;
  /** The method's settings in a few words, as its registry record describes them ("default", "mini (mini_r 4)", "LoRA, alpha 16"). */
  mode: string | null;
  targets: string[] | string | null;
  baseModel: string | null;
  tensors: TensorInfo[];
  trainableParameters: number;
  /** A training checkpoint's step (trainer_state.json), else null. */
  checkpointStep: number | null;
  /** Number of adapter layers: modules with tensors under the method's prefix. */
  layers: number;
  /** Elements of the adapter layers' tensors (the rest of trainableParameters is modulesToSave's). */
  adapterParameters: number;
  /** Modules saved in full (modules_to_save copies): not adapter layers, trained and saved whole. */
  modulesToSave: { module: string; tensors: number; parameters: number }[];
  /** Other adapters of the same save, in subfolders named after them (PEFT's layout). */
  otherAdapters: { name: string; peftType: string | null; r: number | null }[];
  /** Training checkpoints in subfolders (bone train's --out), by folder name. */
  checkpoints: string[];
}

/** Split an adapter file's keys: those under the method's prefix (by module), the others (modules_to_save copies, by module). */
function splitKeys(tensors: readonly TensorInfo[], prefix: string): { layers: Set<string>; adapterParameters: number; saved: Map<string, { tensors: number; parameters: number }> } {
  const layers = new Set<string>();
  const saved = new Map<string, { tensors: number; parameters: number }>();
  let adapterParameters = 0;
  for (const t of tensors) {
    const parts = t.name.split('.');
    const at = parts.findIndex((p) => p.startsWith(prefix));
    if (at > 0) {
      layers.add(parts.slice(0, at).join('.'));
      adapterParameters += t.parameters;
      continue;
    }
    // base_model.model.<module>.<param>: the module saved in full.
    const module = parts.slice(0, -1).join('.').replace(/^base_model\.model\./, '');
    const entry = saved.get(module) ?? { tensors: 0, parameters: 0 };
    entry.tensors += 1;
    entry.parameters += t.parameters;
    saved.set(module, entry);
  }
  return { layers, adapterParameters, saved };
}

/** Subfolders with an adapter_config.json: other adapters of a multi-adapter save, and training checkpoints. */
async function adapterSubfolders(dir: string): Promise<{ others: AdapterInspection['otherAdapters']; checkpoints: string[] }> {
  const others: AdapterInspection['otherAdapters'] = [];
  const checkpoints: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))) {
    const sub = join(dir, e.name);
    if (!(await isFile(join(sub, ADAPTER_CONFIG_NAME)))) continue;
    if (await isFile(join(sub, TRAINER_STATE_NAME))) { checkpoints.push(e.name); continue; }
    const config = await readJsonObject(join(sub, ADAPTER_CONFIG_NAME)).catch(() => ({} as JsonObject));
    others.push({ name: e.name, peftType: typeof config.peft_type === 'string' ? config.peft_type : null, r: typeof config.r === 'number' ? config.r : null });
  }
  return { others, checkpoints };
}

export type Inspection = ModelInspection | AdapterInspection;

type JsonObject = Record<string, unknown>;

async function readJsonObject(path: string): Promise<JsonObject> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read it as JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${path}: expected a JSON object, found ${Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  return parsed as JsonObject;
}

async function tensorsOf(dir: string, files: readonly string[]): Promise<{ tensors: TensorInfo[]; sizes: { name: string; bytes: number }[] }> {
  const tensors: TensorInfo[] = [];
  const sizes: { name: string; bytes: number }[] = [];
  for (const file of files) {
    const header = await readSafetensorsHeader(join(dir, file));
    let bytes = header.dataStart;
    for (const [name, entry] of header.tensors) {
      tensors.push({ name, dtype: entry.dtype, shape: [...entry.shape], parameters: entry.shape.reduce((p, d) => p * d, 1), file });
      bytes += entry.dataOffsets[1] - entry.dataOffsets[0];
    }
    sizes.push({ name: file, bytes });
  }
  return { tensors, sizes };
}

/** The weight files of a model folder: the shards an index names, else every *.safetensors but adapters'. */
async function weightFiles(dir: string): Promise<string[]> {
  const index = join(dir, 'model.safetensors.index.json');
  if (await isFile(index)) {
    const map = (await readJsonObject(index)).weight_map;
    if (typeof map !== 'object' || map === null) throw new Error(`${index}: expected a "weight_map" object`);
    return [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  }
  return (await readdir(dir)).filter((f) => f.endsWith('.safetensors') && f !== ADAPTER_WEIGHTS_NAME).sort();
}

const DIMENSION_KEYS = [
  'num_hidden_layers', 'hidden_size', 'intermediate_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'vocab_size', 'max_position_embeddings', 'tie_word_embeddings',
] as const;

async function inspectModel(dir: string): Promise<ModelInspection> {
  const config = await readJsonObject(join(dir, 'config.json'));
  const files = await weightFiles(dir);
  if (files.length === 0) throw new Error(`${dir}: a model folder needs *.safetensors weights, found none (PyTorch .bin checkpoints are not read; convert them with safetensors)`);
  const { tensors, sizes } = await tensorsOf(dir, files);
  const dimensions: Record<string, number | boolean | null> = {};
  for (const key of DIMENSION_KEYS) {
    const v = config[key];
    dimensions[key] = typeof v === 'number' || typeof v === 'boolean' ? v : null;
  }
  if (dimensions.head_dim === null && typeof dimensions.hidden_size === 'number' && typeof dimensions.num_attention_heads === 'number') {
    dimensions.head_dim = dimensions.hidden_size / dimensions.num_attention_heads;
  }
  const dtypes: Record<string, number> = {};
  for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + t.parameters;
  const architectures = config.architectures;
  const modelType = typeof config.model_type === 'string' ? config.model_type : null;
  const defaults = modelType === null ? null : defaultTargetsFor(modelType);
  return {
    kind: 'model', path: dir,
    architecture: Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : null,
    modelType, dimensions, defaultTargets: defaults ? [...defaults] : null,
    files: sizes, tensors, parameters: tensors.reduce((n, t) => n + t.parameters, 0), dtypes,
    hasTokenizer: (await isFile(join(dir, 'tokenizer.json'))),
  };
}

async function inspectAdapter(dir: string): Promise<AdapterInspection> {
  const config = await readJsonObject(join(dir, ADAPTER_CONFIG_NAME));
  const missing = await missingAdapterWeights(dir);
  if (missing !== null) throw new PeftError(missing);
  const { tensors } = await tensorsOf(dir, [ADAPTER_WEIGHTS_NAME]);
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const peftType = str(config.peft_type);
  const method = peftMethod(peftType, join(dir, ADAPTER_CONFIG_NAME));
  const parsed = method.configClass.fromJSON(config as Record<string, JsonValue>, () => undefined, join(dir, ADAPTER_CONFIG_NAME));
  let checkpointStep: number | null = null;
  if (await isFile(join(dir, TRAINER_STATE_NAME))) checkpointStep = num((await readJsonObject(join(dir, TRAINER_STATE_NAME))).step);
  const targets = config.target_modules;
  const { layers, adapterParameters, saved } = splitKeys(tensors, method.prefix);
  const { others, checkpoints } = await adapterSubfolders(dir);
  return {
    kind: 'adapter', path: dir, peftType, peftVersion: str(config.peft_version), r: num(config.r),
    mode: method.describe(parsed),
    targets: Array.isArray(targets) ? targets.map(String) : typeof targets === 'string' ? targets : null,
    baseModel: str(config.base_model_name_or_path),
    tensors, trainableParameters: tensors.reduce((n, t) => n + t.parameters, 0), checkpointStep,
    layers: layers.size, adapterParameters,
    modulesToSave: [...saved].map(([module, e]) => ({ module, ...e })),
    otherAdapters: others, checkpoints,
  };
}

/** Inspect a model or adapter folder (a repo id is looked up in the hub cache). */
export async function runInspect(options: InspectOptions): Promise<Inspection> {
  checkOptions(inspectSyntax, options, 'runInspect options');
  const io = options.io ?? processIO();
  const isAdapter = await isFile(join(options.path, ADAPTER_CONFIG_NAME));
  // Anything else must be a model: a folder, or a repo id in the hub cache; the check says what is missing.
  const dir = isAdapter ? options.path : await checkModelPath('inspect', 'PATH', options.path).catch((e: unknown) => {
    throw e instanceof UsageError ? new UsageError('inspect', e.message.replace('expects a model folder', 'expects a model folder, an adapter folder')) : e;
  });
  const result = isAdapter ? await inspectAdapter(dir) : await inspectModel(dir);
  if (options.json) println(io.stdout, JSON.stringify(options.summary ? { ...result, tensors: undefined } : result, null, 2));
  else printInspection(io, result, options.summary ?? false);
  return result;
}

function printTensors(io: CliIO, tensors: readonly TensorInfo[], showFile: boolean): void {
  const nameWidth = Math.min(64, Math.max(6, ...tensors.map((t) => t.name.length)));
  const shapeWidth = Math.max(5, ...tensors.map((t) => `[${t.shape.join(', ')}]`.length));
  println(io.stdout, `  ${'tensor'.padEnd(nameWidth)}  dtype  ${'shape'.padEnd(shapeWidth)}  ${'params'.padStart(12)}${showFile ? '  file' : ''}`);
  for (const t of tensors) {
    println(io.stdout, `  ${t.name.padEnd(nameWidth)}  ${t.dtype.padEnd(5)}  ${`[${t.shape.join(', ')}]`.padEnd(shapeWidth)}  ${formatCount(t.parameters).padStart(12)}${showFile ? `  ${t.file}` : ''}`);
  }
}

function printInspection(io: CliIO, r: Inspection, summary: boolean): void {
  const line = (label: string, value: string): void => println(io.stdout, `  ${`${label}:`.padEnd(24)}${value}`);
  if (r.kind === 'model') {
    println(io.stdout, `model folder ${r.path}`);
    line('architecture', `${r.architecture ?? '(not given)'} (model_type ${r.modelType ?? '?'})`);
    const d = r.dimensions;
    line('layers', String(d.num_hidden_layers));
    line('hidden / intermediate', `${d.hidden_size} / ${d.intermediate_size}`);
    line('attention heads', `${d.num_attention_heads} (key/value ${d.num_key_value_heads ?? d.num_attention_heads}), head_dim ${d.head_dim}`);
    line('vocabulary', `${d.vocab_size}${d.tie_word_embeddings ? ' (tied input/output embeddings)' : ''}`);
    line('max positions', String(d.max_position_embeddings));
    line('default targets', r.defaultTargets ? `${r.defaultTargets.join(', ')} (PEFT's default for ${r.modelType})` : `none for model_type ${r.modelType}: pass --targets`);
    line('files', r.files.map((f) => `${f.name} (${formatBytes(f.bytes)})`).join(', '));
    line('parameters', `${formatCount(r.parameters)} (${formatShort(r.parameters)}) in ${r.tensors.length} tensors`);
    line('dtypes', Object.entries(r.dtypes).map(([k, n]) => `${k} ${formatShort(n)}`).join(', '));
    line('tokenizer', r.hasTokenizer ? 'tokenizer.json' : 'none in this folder');
    if (!summary) { println(io.stdout); printTensors(io, r.tensors, r.files.length > 1); }
    return;
  }
  println(io.stdout, `adapter folder ${r.path}${r.checkpointStep !== null ? ` (training checkpoint at step ${r.checkpointStep})` : ''}`);
  const legacyOf = r.peftType === null ? undefined : peftMethods().find((m) => m.peftType === r.peftType)?.legacyOf;
  line('peft_type', `${r.peftType ?? '?'}${legacyOf ? ` (legacy: \`bone convert\` makes the ${legacyOf} adapter current PEFT reads)` : ''}`);
  line('PEFT version', r.peftVersion ?? '(not recorded)');
  line('r', String(r.r));
  line('mode', r.mode ?? '?');
  line('targets', Array.isArray(r.targets) ? r.targets.join(', ') : String(r.targets));
  line('adapted layers', `${r.layers} (${formatCount(r.adapterParameters)} parameters)`);
  if (r.modulesToSave.length) {
    line('modules_to_save', r.modulesToSave.map((m) => `${m.module} (saved in full: ${plural(m.tensors, 'tensor')}, ${formatCount(m.parameters)} parameters)`).join(', '));
  }
  line('base model', r.baseModel ?? '(not recorded)');
  const short = formatShort(r.trainableParameters);
  line('trainable parameters', `${formatCount(r.trainableParameters)}${short === formatCount(r.trainableParameters) ? '' : ` (${short})`} in ${plural(r.tensors.length, 'tensor')}`);
  if (r.otherAdapters.length) {
    line('other adapters', r.otherAdapters.map((a) => `${a.name}/ (${a.peftType ?? '?'}, r ${String(a.r)})`).join(', '));
  }
  if (r.checkpoints.length) line('checkpoints', r.checkpoints.join(', '));
  if (!summary) { println(io.stdout); printTensors(io, r.tensors, false); }
}

export const inspectCommand: Command = {
  syntax: inspectSyntax,
  async main(argv, io) {
    const { help, values, positional } = await loadCommandLine(inspectSyntax, argv);
    if (help) { println(io.stdout, helpText(inspectSyntax)); return 0; }
    if (positional !== null && values.path !== undefined) {
      throw new UsageError('inspect', `expected one folder to inspect, found both PATH ${JSON.stringify(positional)} and --path ${JSON.stringify(values.path)}`);
    }
    const path = positional ?? values.path;
    if (path === undefined) throw new UsageError('inspect', 'missing PATH: expected a model folder or an adapter folder, e.g. bone inspect ./SmolLM2-135M');
    await runInspect({ path, json: values.json, summary: values.summary, io });
    return 0;
  },
};
