/**
 * Adapter config fields, each declared once: its adapter_config.json key, default, what a valid
 * value is, and PEFT's help text — the way PEFT's dataclasses keep all of it in one
 * `field(default=..., metadata={"help": ...})` line. Everything else is derived from the
 * declaration: the config classes' properties and option types, reading and writing
 * adapter_config.json, the validation messages, the command line's method flags and the generated
 * reference (docs/adapter-configs.md).
 */
import type { JsonValue } from '../io/json.ts';
import { PeftError } from './errors.ts';

/** How a field maps onto a command-line option (bone train's --r, --mini-r, ...). */
export type FlagKind =
  | { kind: 'integer'; min?: number }
  | { kind: 'number'; min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean }
  | { kind: 'boolean' };

export interface ConfigField<T> {
  /** The key in adapter_config.json (PEFT's snake_case attribute name). */
  readonly json: string;
  readonly default: T;
  /** The value when a file lacks the key, where that differs from `default` (files predating the field). */
  readonly absentInFile?: T;
  /** PEFT's help text for the field. */
  readonly help: string;
  /** What a valid value is, completing "must be …": "a positive integer", "in [0, 1)". */
  readonly expects: string;
  /** The value, normalised, or null when it is not valid. */
  parse(value: unknown): { value: T } | null;
  /** The message for an invalid value, where PEFT words it its own way (`r`) or there is more to say; null: the usual one. */
  invalid?(value: unknown, ctx: FieldContext): string | null;
  /** Python's json.dumps writes this number as a float (`0.0`). */
  readonly float?: boolean;
  /** Command-line form, for the fields a method exposes as flags. */
  readonly flag?: FlagKind;
  toJSON?(value: T): JsonValue;
}

/** Where a value came from, for messages: the class and whether it was a file's key or an option. */
export interface FieldContext {
  className: string;
  /** The adapter_config.json being read, when the value comes from one. */
  file?: string;
  /** How messages name the field: `"target_modules"` in a file, `MissConfig: targetModules` for an option (set for `invalid`). */
  label?: string;
}

export type ConfigFields = Readonly<Record<string, ConfigField<unknown>>>;
type ValueOf<F> = F extends ConfigField<infer T> ? T : never;
/** The properties a config class gets from its fields. */
export type FieldValues<F extends ConfigFields> = { -readonly [K in keyof F]: ValueOf<F[K]> };
/** The options a config's constructor takes: any field, each optional. */
export type FieldOptions<F extends ConfigFields> = { [K in keyof F]?: ValueOf<F[K]> };

// ---- shown values -------------------------------------------------------------------------------

/** A value as a message shows it, with its JSON type when that is the point (`"16" (a string)`). */
export function shownValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `${JSON.stringify(value)} (a string)`;
  if (Array.isArray(value)) return `${JSON.stringify(value)} (a list)`;
  if (value !== null && typeof value === 'object') return `${JSON.stringify(value)} (an object)`;
  return JSON.stringify(value) ?? String(value);
}

const literal = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : String(v));
const orList = (items: readonly string[]): string => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`);

/** Parse (and check) one field's value, throwing PEFT-style messages that name the field and, for files, the key. */
export function parseField<T>(name: string, field: ConfigField<T>, value: unknown, ctx: FieldContext): T {
  const parsed = field.parse(value);
  if (parsed !== null) return parsed.value;
  const where = ctx.file ? `${ctx.file}: ` : '';
  const label = ctx.file ? `"${field.json}"` : `${ctx.className}: ${name}`;
  const own = field.invalid?.(value, { ...ctx, label });
  if (own) throw new PeftError(`${where}${own}`);
  throw new PeftError(`${where}${label} must be ${field.expects}, found ${shownValue(value)} (${field.json}: ${field.help})`);
}

// ---- field kinds --------------------------------------------------------------------------------

interface Declared<T> { json: string; default: T; help: string; absentInFile?: T }

export function integerField(d: Declared<number> & { min?: number; invalid?: ConfigField<number>['invalid'] }): ConfigField<number> {
  const min = d.min;
  return {
    ...d,
    expects: min === 1 ? 'a positive integer' : min === undefined ? 'an integer' : `an integer ≥ ${min}`,
    parse: (v) => (typeof v === 'number' && Number.isInteger(v) && (min === undefined || v >= min) ? { value: v } : null),
    flag: { kind: 'integer', ...(min === undefined ? {} : { min }) },
  };
}

export function numberField(d: Declared<number> & { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; float?: boolean }): ConfigField<number> {
  const { min, max, minExclusive = false, maxExclusive = false } = d;
  const inRange = (v: number): boolean => (min === undefined || (minExclusive ? v > min : v >= min)) && (max === undefined || (maxExclusive ? v < max : v <= max));
  const range = min !== undefined && max !== undefined ? `in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`
    : min !== undefined ? `a number ${minExclusive ? '>' : '≥'} ${min}` : max !== undefined ? `a number ${maxExclusive ? '<' : '≤'} ${max}` : 'a number';
  return {
    ...d,
    expects: range,
    parse: (v) => (typeof v === 'number' && Number.isFinite(v) && inRange(v) ? { value: v } : null),
    flag: { kind: 'number', min, max, minExclusive, maxExclusive },
  };
}

export function booleanField(d: Declared<boolean>): ConfigField<boolean> {
  return { ...d, expects: 'true or false', parse: (v) => (typeof v === 'boolean' ? { value: v } : null), flag: { kind: 'boolean' } };
}

/** One of a few literal values (PEFT's `bool | Literal["bat", "mini"]`). */
export function choiceField<const C extends readonly (string | boolean)[]>(choices: C, d: Declared<C[number]>): ConfigField<C[number]> {
  return {
    ...d,
    expects: orList(choices.map(literal)),
    parse: (v) => (choices.includes(v as C[number]) ? { value: v as C[number] } : null),
  };
}

/** A string, or null when unset (paths, revisions, versions). */
export function optionalStringField(d: Declared<string | null>): ConfigField<string | null> {
  return { ...d, expects: 'a string or null', parse: (v) => (v === null || v === undefined ? { value: null } : typeof v === 'string' ? { value: v } : null) };
}

/** A value whose shape is its own (target lists, layer indices): `parse` says what it accepts. */
export function customField<T>(d: Declared<T> & { expects: string; parse: (v: unknown) => { value: T } | null; invalid?: ConfigField<T>['invalid']; toJSON?: (v: T) => JsonValue }): ConfigField<T> {
  return d;
}

/**
 * JSON keys of PEFT's that bone-peft writes with PEFT's defaults but cannot honour otherwise (LoRA's
 * DoRA, ...), with those defaults. Throws when a file sets one to anything else.
 */
export function checkUnsupported(className: string, keys: Readonly<Record<string, JsonValue>>, o: Record<string, JsonValue>): void {
  for (const [k, def] of Object.entries(keys)) {
    if (k in o && JSON.stringify(o[k]) !== JSON.stringify(def) && !(def === null && o[k] === null)) {
      throw new PeftError(`${className}: '${k}' = ${JSON.stringify(o[k])} is not supported by bone-peft (only the default ${JSON.stringify(def)})`);
    }
  }
}

/** `r`, the one field every method has; PEFT refuses a bad one in its own words. */
export function rankField(d: Declared<number>): ConfigField<number> {
  return integerField({
    ...d, min: 1,
    invalid: (v, ctx) => `\`r\` should be a positive integer value but the value passed is ${shownValue(v)} (${ctx.className})`,
  });
}
