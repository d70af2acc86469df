/**
 * PeftConfig: the fields every PEFT tuner config shares (PeftConfig + the targeting fields of
 * BaseTuner configs), declared once in SHARED_FIELDS, and `defineAdapterConfig`, which makes a
 * method's config class from its own field declarations: properties, options type, defaults,
 * validation, and the conversion to and from PEFT's snake_case adapter_config.json all come from
 * the one declaration of each field.
 */
import type { JsonValue } from '../io/json.ts';
import {
  booleanField, checkUnsupported, customField, optionalStringField, parseField,
  type ConfigFields, type FieldContext, type FieldOptions, type FieldValues,
} from './config-fields.ts';
import { PeftError } from './errors.ts';
import { pythonRegexProblem } from './python-regex.ts';
import { layersPatternPattern, modulesToSavePattern } from './targets.ts';

export type { JsonValue } from '../io/json.ts';
/** A config's peft_type ("MISS", "BONE", "LORA", ...: one per registered method). */
export type PeftType = string;
export type TargetSpec = string | readonly string[];

/** The PEFT version whose behaviour and file format this implementation follows. */
export const PEFT_VERSION_WRITTEN = '0.21.0';

export const TASK_TYPES = ['SEQ_CLS', 'SEQ_2_SEQ_LM', 'CAUSAL_LM', 'TOKEN_CLS', 'QUESTION_ANS', 'FEATURE_EXTRACTION'] as const;

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
/** A string target is a Python regex (PEFT's re.fullmatch), except PEFT's keyword `all-linear`. */
const regexProblem = (v: string, keywords: readonly string[]): string | null => (keywords.includes(v.toLowerCase()) ? null : pythonRegexProblem(v));
/** The first entry that PEFT's regex around it (`wrap`) cannot run here, with why; null when all can. */
const entriesProblem = (entries: readonly string[], wrap: (e: string) => string): { entry: string; problem: string } | null => {
  for (const entry of entries) {
    const problem = pythonRegexProblem(wrap(entry), 'match');
    if (problem !== null) return { entry, problem };
  }
  return null;
};
const entriesInvalid = (wrap: (e: string) => string, how: string) => (v: unknown, ctx: FieldContext): string | null => {
  const found = typeof v === 'string' ? entriesProblem([v], wrap) : isStringList(v) ? entriesProblem(v, wrap) : null;
  return found === null ? null : `${ctx.label}: the entry ${JSON.stringify(found.entry)} cannot be used as a Python regex (${how}): ${found.problem}`;
};
/** PEFT turns list targets into sets: duplicates go, first occurrences keep their order. */
const targetSpec = (keywords: readonly string[]) => (v: unknown): { value: TargetSpec | null } | null =>
  v === null || v === undefined ? { value: null }
    : typeof v === 'string' ? (regexProblem(v, keywords) === null ? { value: v } : null)
      : isStringList(v) ? { value: [...new Set(v)] } : null;
/** A regex that cannot run here: which construct, in which option, and what to write instead (null for other values). */
const regexInvalid = (keywords: readonly string[]) => (v: unknown, ctx: FieldContext): string | null => {
  const problem = typeof v === 'string' ? regexProblem(v, keywords) : null;
  return problem === null ? null : `${ctx.label} ${JSON.stringify(v)} is a Python regex (PEFT matches it with re.fullmatch) that bone-peft cannot run: ${problem}`;
};
const listJSON = (v: string | readonly (string | number)[] | number | null): JsonValue => (v === null || typeof v !== 'object' ? v : [...v]);

export const SHARED_FIELDS = {
  targetModules: customField<TargetSpec | null>({
    json: 'target_modules', default: null, expects: 'a list of module names, a regex string, "all-linear" or null', toJSON: listJSON,
    parse: targetSpec(['all-linear']), invalid: regexInvalid(['all-linear']),
    help: 'The modules to apply the adapter to: a list matches exact names or `.`-suffixes, a string is a full-match regex, "all-linear" takes every Linear but the output layer; null takes the architecture\'s default.',
  }),
  excludeModules: customField<TargetSpec | null>({
    json: 'exclude_modules', default: null, expects: 'a list of module names, a regex string or null', toJSON: listJSON,
    parse: targetSpec([]), invalid: regexInvalid([]),
    help: 'The modules not to apply the adapter to, matched as target_modules is.',
  }),
  layersToTransform: customField<number | readonly number[] | null>({
    json: 'layers_to_transform', default: null, expects: 'a layer index, a list of them, or null', toJSON: listJSON,
    parse: (v) => (v === null || v === undefined ? { value: null } : Number.isInteger(v) ? { value: v as number } : Array.isArray(v) && v.every(Number.isInteger) ? { value: [...v] as number[] } : null),
    help: 'The layer indices to adapt (one index or a list); null adapts every layer.',
  }),
  layersPattern: customField<string | readonly string[] | null>({
    json: 'layers_pattern', default: null, expects: 'a module name, a list of them, or null', toJSON: listJSON,
    parse: (v) => (v === null || v === undefined ? { value: null } : typeof v === 'string' ? (entriesProblem([v], layersPatternPattern) ? null : { value: v })
      : isStringList(v) && !entriesProblem(v, layersPatternPattern) ? { value: [...v] } : null),
    invalid: entriesInvalid(layersPatternPattern, 'PEFT matches it inside the regex .*\\.<layers_pattern>\\.(\\d+)\\.'),
    help: 'The name of the module list that holds the layers (e.g. "layers"), used only with layers_to_transform.',
  }),
  bias: customField<string>({
    json: 'bias', default: 'none', expects: "'none', 'all' or '<method>_only'",
    invalid: (v) => `Requested bias: ${String(v)}, is not implemented. Use 'none', 'all' or '<method>_only' (e.g. 'miss_only').`,
    parse: (v) => (typeof v === 'string' && (v === 'none' || v === 'all' || v.endsWith('_only')) ? { value: v } : null),
    help: "Which biases to train: 'none', 'all' or '<method>_only' (bone-peft supports 'none').",
  }),
  modulesToSave: customField<readonly string[] | null>({
    json: 'modules_to_save', default: null, expects: 'a list of module names or null', toJSON: listJSON,
    parse: (v) => (v === null || v === undefined ? { value: null } : isStringList(v) && !entriesProblem(v, modulesToSavePattern) ? { value: [...v] } : null),
    invalid: entriesInvalid(modulesToSavePattern, 'PEFT matches each entry inside the regex (^|.*\\.)<entry>($|\\..*)'),
    help: 'Modules apart from the adapter layers to train in full and save in the adapter (a classifier head, a resized embedding).',
  }),
  taskType: customField<string | null>({
    json: 'task_type', default: null, expects: `one of ${TASK_TYPES.join(', ')} or null`,
    invalid: (v) => `Invalid task type: '${String(v)}'. Must be one of the following task types: ${TASK_TYPES.join(', ')}.`,
    parse: (v) => (v === null || v === undefined ? { value: null } : typeof v === 'string' && (TASK_TYPES as readonly string[]).includes(v) ? { value: v } : null),
    help: 'The task (PEFT\'s TaskType), e.g. CAUSAL_LM; null for a plain base model.',
  }),
  baseModelNameOrPath: optionalStringField({ json: 'base_model_name_or_path', default: null, help: 'The name or path of the base model the adapter was trained on.' }),
  revision: optionalStringField({ json: 'revision', default: null, help: 'The revision of the base model.' }),
  inferenceMode: booleanField({ json: 'inference_mode', default: false, help: 'Whether the adapter is loaded for inference only (frozen).' }),
  peftVersion: optionalStringField({ json: 'peft_version', default: PEFT_VERSION_WRITTEN, absentInFile: null, help: 'The PEFT version whose format the config follows.' }),
  autoMapping: customField<{ [k: string]: JsonValue } | null>({
    json: 'auto_mapping', default: null, expects: 'an object or null',
    parse: (v) => (v === null || v === undefined ? { value: null } : typeof v === 'object' && !Array.isArray(v) ? { value: v as { [k: string]: JsonValue } } : null),
    help: 'The base model\'s class and library, recorded when the adapter is not on a PEFT task model.',
  }),
} as const satisfies ConfigFields;

export type PeftConfigOptions = FieldOptions<typeof SHARED_FIELDS>;

/** Give `target` every field of `fields`: the option when given, else the default; each checked. */
function assignFields(target: object, fields: ConfigFields, options: Record<string, unknown>, ctx: FieldContext): void {
  for (const [name, field] of Object.entries(fields)) {
    const given = options[name];
    (target as Record<string, unknown>)[name] = given === undefined ? field.default : parseField(name, field, given, ctx);
  }
}

/** The options a file's keys give, for the fields declared; absent keys stay absent (their default applies). */
function optionsFromJSON(fields: ConfigFields, o: Record<string, JsonValue>, ctx: FieldContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    if (field.json in o) out[name] = parseField(name, field, o[field.json], ctx);
    else if (field.absentInFile !== undefined) out[name] = field.absentInFile;
  }
  return out;
}

function fieldsToJSON(fields: ConfigFields, values: object): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [name, field] of Object.entries(fields)) {
    const v = (values as Record<string, unknown>)[name];
    out[field.json] = field.toJSON ? field.toJSON(v) : v as JsonValue;
  }
  return out;
}

/** The shared fields as typed properties of the base class, without writing each one again. */
const SharedFieldsBase = class {
  constructor(o: PeftConfigOptions, className: string) {
    assignFields(this, SHARED_FIELDS, o, { className });
  }
} as unknown as abstract new (o: PeftConfigOptions, className: string) => FieldValues<typeof SHARED_FIELDS>;

export abstract class PeftConfig extends SharedFieldsBase {
  /** Set by each method's class (defineAdapterConfig). */
  declare readonly peftType: PeftType;

  constructor(o: PeftConfigOptions, className: string) {
    super(o, className);
    if (typeof this.targetModules === 'string' && this.layersToTransform !== null) {
      throw new PeftError('`layers_to_transform` cannot be used when `target_modules` is a str. Give target_modules as a list of names instead.');
    }
    if (typeof this.targetModules === 'string' && this.layersPattern !== null) {
      throw new PeftError('`layers_pattern` cannot be used when `target_modules` is a str. Give target_modules as a list of names instead.');
    }
  }

  /** The method's own fields (r, init_weights, ...). */
  protected get methodFields(): ConfigFields { return {}; }
  /** JSON keys PEFT writes for features bone-peft does not have, with the defaults it writes. */
  protected get unsupportedKeys(): Readonly<Record<string, JsonValue>> { return {}; }

  /** adapter_config.json's object, with PEFT's keys. */
  toJSON(): Record<string, JsonValue> {
    return { ...fieldsToJSON(SHARED_FIELDS, this), peft_type: this.peftType, ...this.unsupportedKeys, ...fieldsToJSON(this.methodFields, this) };
  }

  /** The file text as PEFT writes it: `json.dumps(indent=2, sort_keys=True)`, floats kept as floats. */
  toJSONString(): string {
    const floats = Object.values(this.methodFields).filter((f) => f.float).map((f) => f.json);
    return pythonJsonDumps(this.toJSON(), new Set(floats));
  }
}

/** A method's config class as the registry sees it: its fields, and construction from untyped values. */
export interface ConfigClass {
  /** The class's name (MissConfig), for messages and docs. */
  readonly className: string;
  readonly fields: ConfigFields;
  /** Read an adapter_config.json object (PEFT's from_pretrained): unknown keys are warned about, as PEFT does. */
  fromJSON(o: Record<string, JsonValue>, warn?: (message: string) => void, file?: string): PeftConfig;
  /** A config from options that no type checked (the command line's): each is checked as it is assigned. */
  fromOptions(options: Readonly<Record<string, unknown>>): PeftConfig;
}

/** What `defineAdapterConfig` makes: a config class whose properties and options are its fields. */
export interface AdapterConfigClass<F extends ConfigFields> extends ConfigClass {
  new (options?: PeftConfigOptions & FieldOptions<F>): PeftConfig & FieldValues<F>;
  readonly fields: F;
  fromJSON(o: Record<string, JsonValue>, warn?: (message: string) => void, file?: string): PeftConfig & FieldValues<F>;
  fromOptions(options: Readonly<Record<string, unknown>>): PeftConfig & FieldValues<F>;
}

/**
 * The config class of one method: `class MissConfig extends defineAdapterConfig({ peftType: 'MISS',
 * className: 'MissConfig', fields: MISS_FIELDS }) {}`. `unsupported` lists PEFT keys that are
 * written with their defaults and refused otherwise.
 */
export function defineAdapterConfig<F extends ConfigFields>(spec: { peftType: PeftType; className: string; fields: F; unsupported?: Readonly<Record<string, JsonValue>> }): AdapterConfigClass<F> {
  const { peftType, className, fields, unsupported = {} } = spec;
  class AdapterConfig extends PeftConfig {
    static readonly fields = fields;
    static readonly className = className;
    override readonly peftType = peftType;

    constructor(options: PeftConfigOptions & FieldOptions<F> = {}) {
      super(options, className);
      assignFields(this, fields, options, { className });
    }

    protected override get methodFields(): ConfigFields { return fields; }
    protected override get unsupportedKeys(): Readonly<Record<string, JsonValue>> { return unsupported; }

    static fromJSON(o: Record<string, JsonValue>, warn: (message: string) => void = console.warn, file?: string): PeftConfig {
      const ctx = { className, file: file ?? 'adapter_config.json' };
      const known = new Set(['peft_type', ...Object.keys(unsupported), ...[SHARED_FIELDS, fields].flatMap((f) => Object.values(f).map((x) => x.json))]);
      const unknown = Object.keys(o).filter((k) => !known.has(k));
      if (unknown.length) {
        warn(`Unexpected keyword arguments [${unknown.map((k) => `'${k}'`).join(', ')}] for class ${className}, these are ignored. This probably means that you're loading a configuration file that was saved using a higher version of the library and additional parameters have been introduced since.`);
      }
      checkUnsupported(className, unsupported, o);
      return new this({ ...optionsFromJSON(SHARED_FIELDS, o, ctx), ...optionsFromJSON(fields, o, ctx) } as PeftConfigOptions & FieldOptions<F>);
    }

    static fromOptions(options: Readonly<Record<string, unknown>>): PeftConfig {
      const known = new Set([...Object.keys(SHARED_FIELDS), ...Object.keys(fields)]);
      const unknown = Object.keys(options).filter((k) => !known.has(k));
      if (unknown.length) throw new PeftError(`${className}: unknown option(s) ${unknown.join(', ')}; its options are ${[...known].join(', ')}`);
      return new this(options as PeftConfigOptions & FieldOptions<F>);
    }
  }
  return AdapterConfig as unknown as AdapterConfigClass<F>;
}

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
