/**
 * The fields every PEFT tuner config shares (PeftConfig + the targeting fields of BaseTuner
 * configs), and the conversion between camelCase objects here and PEFT's snake_case
 * adapter_config.json.
 */
import { PeftError } from './errors.ts';

export type PeftType = 'BONE' | 'MISS' | 'LORA';
export type TargetSpec = string | readonly string[];
export type { JsonValue } from '../io/json.ts';
import type { JsonValue } from '../io/json.ts';

/** The PEFT version whose behaviour and file format this implementation follows. */
export const PEFT_VERSION_WRITTEN = '0.21.0';

export const TASK_TYPES = ['SEQ_CLS', 'SEQ_2_SEQ_LM', 'CAUSAL_LM', 'TOKEN_CLS', 'QUESTION_ANS', 'FEATURE_EXTRACTION'] as const;

export interface PeftConfigOptions {
  targetModules?: TargetSpec | null;
  excludeModules?: TargetSpec | null;
  layersToTransform?: number | readonly number[] | null;
  layersPattern?: string | readonly string[] | null;
  bias?: string;
  modulesToSave?: readonly string[] | null;
  taskType?: string | null;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
  inferenceMode?: boolean;
  peftVersion?: string | null;
  autoMapping?: { [k: string]: JsonValue } | null;
}

export abstract class PeftConfig {
  abstract readonly peftType: PeftType;
  /** The prefix of this method's parameter names (`miss_`, `bone_`, `lora_`). */
  abstract readonly prefix: string;
  targetModules: TargetSpec | null;
  excludeModules: TargetSpec | null;
  layersToTransform: number | readonly number[] | null;
  layersPattern: string | readonly string[] | null;
  bias: string;
  modulesToSave: readonly string[] | null;
  taskType: string | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  inferenceMode: boolean;
  peftVersion: string | null;
  autoMapping: { [k: string]: JsonValue } | null;

  constructor(o: PeftConfigOptions) {
    this.targetModules = o.targetModules === undefined || o.targetModules === null ? null
      : typeof o.targetModules === 'string' ? o.targetModules : [...new Set(o.targetModules)];
    this.excludeModules = o.excludeModules === undefined || o.excludeModules === null ? null
      : typeof o.excludeModules === 'string' ? o.excludeModules : [...new Set(o.excludeModules)];
    this.layersToTransform = o.layersToTransform ?? null;
    this.layersPattern = o.layersPattern ?? null;
    this.bias = o.bias ?? 'none';
    this.modulesToSave = o.modulesToSave ?? null;
    this.taskType = o.taskType ?? null;
    this.baseModelNameOrPath = o.baseModelNameOrPath ?? null;
    this.revision = o.revision ?? null;
    this.inferenceMode = o.inferenceMode ?? false;
    this.peftVersion = o.peftVersion ?? PEFT_VERSION_WRITTEN;
    this.autoMapping = o.autoMapping ?? null;

    if (this.taskType !== null && !(TASK_TYPES as readonly string[]).includes(this.taskType)) {
      throw new PeftError(`Invalid task type: '${this.taskType}'. Must be one of the following task types: ${TASK_TYPES.join(', ')}.`);
    }
    if (typeof this.targetModules === 'string' && this.layersToTransform !== null) {
      throw new PeftError('`layers_to_transform` cannot be used when `target_modules` is a str. Give target_modules as a list of names instead.');
    }
    if (typeof this.targetModules === 'string' && this.layersPattern !== null) {
      throw new PeftError('`layers_pattern` cannot be used when `target_modules` is a str. Give target_modules as a list of names instead.');
    }
    if (this.bias !== 'none' && this.bias !== 'all' && !this.bias.endsWith('_only')) {
      throw new PeftError(`Requested bias: ${this.bias}, is not implemented. Use 'none', 'all' or '<method>_only' (e.g. 'miss_only').`);
    }
  }

  /** Method-specific JSON fields (snake_case), merged with the shared ones by `toJSON`. */
  protected abstract methodFields(): Record<string, JsonValue>;

  /** adapter_config.json's object, with PEFT's keys. */
  toJSON(): Record<string, JsonValue> {
    const list = (v: TargetSpec | null): JsonValue => (v === null ? null : typeof v === 'string' ? v : [...v]);
    return {
      auto_mapping: this.autoMapping,
      base_model_name_or_path: this.baseModelNameOrPath,
      bias: this.bias,
      exclude_modules: list(this.excludeModules),
      inference_mode: this.inferenceMode,
      layers_pattern: this.layersPattern === null ? null : typeof this.layersPattern === 'string' ? this.layersPattern : [...this.layersPattern],
      layers_to_transform: this.layersToTransform === null ? null : typeof this.layersToTransform === 'number' ? this.layersToTransform : [...this.layersToTransform],
      modules_to_save: this.modulesToSave === null ? null : [...this.modulesToSave],
      peft_type: this.peftType,
      peft_version: this.peftVersion,
      revision: this.revision,
      target_modules: list(this.targetModules),
      task_type: this.taskType,
      ...this.methodFields(),
    };
  }

  /** The file text as PEFT writes it: `json.dumps(indent=2, sort_keys=True)`, floats kept as floats. */
  toJSONString(): string {
    return pythonJsonDumps(this.toJSON(), this.floatFields());
  }

  /** Keys whose numbers Python writes as floats (`0.0`, not `0`). */
  protected floatFields(): ReadonlySet<string> { return new Set(); }
}

/** The camelCase options shared by every config, read from a snake_case adapter_config.json object. */
export function sharedOptionsFromJSON(o: Record<string, JsonValue>): PeftConfigOptions {
  return {
    targetModules: o.target_modules as TargetSpec | null,
    excludeModules: o.exclude_modules as TargetSpec | null,
    layersToTransform: o.layers_to_transform as number | number[] | null,
    layersPattern: o.layers_pattern as string | string[] | null,
    bias: (o.bias as string | undefined) ?? 'none',
    modulesToSave: o.modules_to_save as string[] | null,
    taskType: o.task_type as string | null,
    baseModelNameOrPath: o.base_model_name_or_path as string | null,
    revision: o.revision as string | null,
    inferenceMode: (o.inference_mode as boolean | undefined) ?? false,
    peftVersion: (o.peft_version as string | undefined) ?? null,
    autoMapping: o.auto_mapping as { [k: string]: JsonValue } | null,
  };
}

export const SHARED_JSON_KEYS = [
  'auto_mapping', 'base_model_name_or_path', 'bias', 'exclude_modules', 'inference_mode', 'layers_pattern',
  'layers_to_transform', 'modules_to_save', 'peft_type', 'peft_version', 'revision', 'target_modules', 'task_type',
] as const;

/** Python's json.dumps(obj, indent=2, sort_keys=True) (ensure_ascii included); `sortKeys: false` keeps insertion order. */
export function pythonJsonDumps(value: JsonValue, floatKeys: ReadonlySet<string> = new Set(), indent = '', sortKeys = true): string {
  const inner = `${indent}  `;
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatPythonNumber(value, false);
  if (typeof value === 'string') return asciiJsonString(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + pythonJsonDumps(v, floatKeys, inner, sortKeys)).join(',\n')}\n${indent}]`;
  }
  const keys = sortKeys ? Object.keys(value).sort() : Object.keys(value);
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => {
    const v = value[k]!;
    const text = typeof v === 'number' ? formatPythonNumber(v, floatKeys.has(k)) : pythonJsonDumps(v, floatKeys, inner, sortKeys);
    return `${inner}${asciiJsonString(k)}: ${text}`;
  }).join(',\n')}\n${indent}}`;
}

function formatPythonNumber(v: number, asFloat: boolean): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  const s = String(v);
  return asFloat && Number.isInteger(v) && !s.includes('e') ? `${s}.0` : s;
}

function asciiJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
