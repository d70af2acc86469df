/**
 * Adapter methods by peft_type, one record each, registered from the method's own folder (PEFT's
 * `register_peft_method(name=..., config_cls=..., model_cls=...)` plus its tuner's `prefix` and
 * `tuner_layer_cls`). Everything that depends on which method an adapter uses — the layer that
 * wraps a Linear, the parameter-name prefix of its saved tensors, reading its adapter_config.json,
 * the command line's `--method` names and flags, what `bone inspect` shows, conversions — looks the
 * record up here, so adding a method is one folder and one `registerPeftMethod` call.
 */
import type { Linear } from '../nn/index.ts';
import type { JsonValue } from '../io/json.ts';
import type { ConfigClass, PeftConfig, PeftConfigOptions } from './config.ts';
import { PeftError } from './errors.ts';
import type { AdapterLayer } from './tuner-layer.ts';

/** A flag's default: a value, or one computed from the other flags given, with its --help wording ("2 × r"). */
export type CommandLineDefault = number | { readonly help: string; value(given: Readonly<Record<string, unknown>>): number };

/** One `--method NAME` of the command line: a method with some of its options fixed. */
export interface MethodVariant {
  readonly name: string;
  /** A few words for --help: what it is. */
  readonly help: string;
  /** Config options this variant sets (MiSS `bat`: initWeights 'bat'). */
  readonly fixed?: Readonly<Record<string, unknown>>;
  /** The flags it takes, each onto a config field (`dropout` → missDropout). Their help and range are the field's. */
  readonly flags: Readonly<Record<string, string>>;
  /** Defaults of the command line that differ from the config's fields' (LoRA: r 64 and alpha 2·r), by flag. */
  readonly defaults?: Readonly<Record<string, CommandLineDefault>>;
  /** Why another method's flag means nothing here (legacy Bone has no dropout), for the refusal. */
  readonly refused?: Readonly<Record<string, string>>;
}

/** What a conversion may take besides its folders (each conversion lists the ones it reads). */
export interface AdapterConversionOptions {
  /** The rank of a factored result: an integer, or `{ share }` of the squared singular values. */
  rank?: number | { share: number };
  /** The base model (folder or cached repo id), for a conversion that needs its shapes or weights. */
  model?: string;
  /** Replace an existing `dst`. */
  overwrite?: boolean;
}

/** A conversion of a saved adapter folder into another method's format (`bone convert`). */
export interface AdapterConversion {
  /** peft_type of the result. */
  readonly to: string;
  /** A few lines for --help: what the result is and how exact. */
  readonly help: string;
  /** The options it reads (the command line refuses the others for it). */
  readonly options?: readonly (keyof AdapterConversionOptions)[];
  /** Write the converted adapter of folder `src` to folder `dst` (which may equal `src` unless the conversion says otherwise). */
  convert(src: string, dst: string, options?: AdapterConversionOptions): Promise<{ tensors: number }>;
}

/** Every registered conversion with the method it converts from. */
export function adapterConversions(): { from: PeftMethod; conversion: AdapterConversion }[] {
  return peftMethods().flatMap((from) => (from.conversions ?? []).map((conversion) => ({ from, conversion })));
}

export interface PeftMethod {
  /** adapter_config.json's peft_type. */
  readonly peftType: string;
  /** The method's name as people write it ("MiSS"), for messages. */
  readonly name: string;
  /** PEFT's tuner class (MissModel), as PEFT's messages name it. */
  readonly modelName: string;
  readonly configClass: ConfigClass;
  /** The prefix of the adapter's parameter names and saved keys (`miss_` in `q_proj.miss_block`). */
  readonly prefix: string;
  /** The adapter layer put in place of a targeted Linear (PEFT's tuner_layer_cls, constructed). */
  createLayer(base: Linear): AdapterLayer;
  /** The method's settings in a few words ("default", "mini (mini_r 4)", "rsLoRA"), for inspect and reports. */
  describe(config: PeftConfig): string;
  /** Its command-line `--method` names; the first is the method itself. */
  readonly commandLine: readonly MethodVariant[];
  /** The method this one is an older form of (Bone of MiSS): --help lists it right after that one. */
  readonly legacyOf?: string;
  readonly conversions?: readonly AdapterConversion[];
  /** Tags PEFT's model card adds for this method (LoRA: "lora"), next to the ones every card has. */
  readonly modelCardTags?: readonly string[];
}

const methods = new Map<string, PeftMethod>();

/** Add a method (or replace the one with its peft_type). */
export function registerPeftMethod(method: PeftMethod): void {
  methods.set(method.peftType, method);
}

export function peftMethods(): PeftMethod[] {
  return [...methods.values()];
}

/** The record of a peft_type; `where` names the file or call the type came from. */
export function peftMethod(peftType: unknown, where = 'peft_type'): PeftMethod {
  const method = typeof peftType === 'string' ? methods.get(peftType) : undefined;
  if (!method) {
    throw new PeftError(`${where}: unsupported peft_type ${JSON.stringify(peftType)}; bone-peft reads ${[...methods.keys()].map((t) => `"${t}"`).join(', ')} adapters`);
  }
  return method;
}

export function peftMethodOf(config: PeftConfig): PeftMethod {
  return peftMethod(config.peftType, config.constructor.name);
}

/** The config class PEFT would pick from an adapter_config.json's peft_type. */
export function configFromJSON(o: Record<string, JsonValue>, warn: (m: string) => void = console.warn, where = 'adapter_config.json'): PeftConfig {
  return peftMethod(o.peft_type, where).configClass.fromJSON(o, warn, where);
}

/** Every `--method` name, each method's own first, its legacy forms next, then its variants. */
export function methodVariants(): { method: PeftMethod; variant: MethodVariant }[] {
  const out: { method: PeftMethod; variant: MethodVariant }[] = [];
  const all = peftMethods();
  for (const m of all.filter((x) => x.legacyOf === undefined)) {
    const [first, ...rest] = m.commandLine;
    if (first) out.push({ method: m, variant: first });
    for (const legacy of all.filter((x) => x.legacyOf === m.peftType)) for (const variant of legacy.commandLine) out.push({ method: legacy, variant });
    for (const variant of rest) out.push({ method: m, variant });
  }
  return out;
}

/** The record and variant behind `--method NAME`. */
export function methodVariant(name: string): { method: PeftMethod; variant: MethodVariant } {
  const found = methodVariants().find((v) => v.variant.name === name);
  if (!found) throw new PeftError(`unknown method ${JSON.stringify(name)}; known: ${methodVariants().map((v) => v.variant.name).join(', ')}`);
  return found;
}

/**
 * The config a variant makes from flag values (keyed by flag: r, dropout, ...) and shared options:
 * the variant's fixed options and command-line defaults under the values given.
 */
export function variantConfig(name: string, flags: Readonly<Record<string, unknown>>, shared: PeftConfigOptions = {}): PeftConfig {
  const { method, variant } = methodVariant(name);
  const given = Object.fromEntries(Object.entries(flags).filter(([k, v]) => v !== undefined && k in variant.flags));
  const defaults = Object.entries(variant.defaults ?? {}).map(([flag, d]) => [flag, typeof d === 'number' ? d : d.value(given)]);
  const values = { ...Object.fromEntries(defaults), ...given };
  const options: Record<string, unknown> = { ...shared, ...variant.fixed };
  for (const [flag, value] of Object.entries(values)) options[variant.flags[flag]!] = value;
  return method.configClass.fromOptions(options);
}
