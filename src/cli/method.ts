/**
 * The adapter options that `bone train` and `bone bench` share: `--method NAME` (every variant the
 * registered methods declare), `--targets`, and each method's own flags (`--r`, `--mini-r`,
 * `--dropout`, `--lora-alpha`, ...), whose help text, range and default come from the config field
 * each sets (src/peft/registry.ts, src/peft/*\/config.ts). Nothing here knows a method by name.
 */
import {
  DEFAULT_TARGET_MODULES, methodVariant, methodVariants, variantConfig,
  type ConfigField, type FlagKind, type MethodVariant, type PeftConfig,
} from '../peft/index.ts';
import { UsageError, flagName, type OptionSpec } from './options.ts';

/** The `--method` names, in --help's order. */
export const METHODS: readonly string[] = methodVariants().map((v) => v.variant.name);
export type Method = string;

interface FlagUse { variant: MethodVariant; field: ConfigField<unknown> }

/** Every method flag with the variants that take it and the field it sets for each. */
function flagUses(): Map<string, FlagUse[]> {
  const uses = new Map<string, FlagUse[]>();
  for (const { method, variant } of methodVariants()) {
    for (const [flag, fieldName] of Object.entries(variant.flags)) {
      const field = method.configClass.fields[fieldName];
      if (!field?.flag) throw new Error(`--method ${variant.name}: flag --${flagName(flag)} names ${method.configClass.fields[fieldName] ? 'a field with no command-line form' : 'no field'} (${fieldName})`);
      uses.set(flag, [...(uses.get(flag) ?? []), { variant, field }]);
    }
  }
  return uses;
}

const defaultHelp = (variant: MethodVariant, flag: string, field: ConfigField<unknown>): string => {
  const d = variant.defaults?.[flag];
  return d === undefined ? String(field.default) : typeof d === 'number' ? String(d) : d.help;
};

/** One option spec per flag: the fields' range, their help lines (grouped by the variants that share them), and a default when all agree. */
function methodFlagOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const [flag, uses] of flagUses()) {
    const kind: FlagKind = uses[0]!.field.flag!;
    const lines = new Map<string, string[]>();
    for (const { variant, field } of uses) {
      const line = `${field.json === flagName(flag).replaceAll('-', '_') ? '' : ` (${field.json})`}: ${field.help}`;
      lines.set(line, [...(lines.get(line) ?? []), variant.name]);
    }
    const defaults = new Set(uses.map((u) => defaultHelp(u.variant, flag, u.field)));
    const shared = defaults.size === 1 ? [...defaults][0]! : null;
    const description = [...lines].map(([line, names]) => `${names.join(', ')}${line}`).join('\n')
      + (shared !== null && Number.isNaN(Number(shared)) ? ` (default: ${shared})` : '');
    const value = shared !== null && !Number.isNaN(Number(shared)) ? { default: Number(shared) } : {};
    out[flag] = { ...kind, ...value, valueName: kind.kind === 'integer' ? 'N' : 'X', description } as OptionSpec;
  }
  return out;
}

const methodDescription = (): string => `adapter: ${methodVariants().map(({ variant }) => `${variant.name} (${variant.help})`).join(', ')}`;

/**
 * The method flags' values in a command's options (`r`, `miniR`, ...): they come from the registry
 * at run time, so the type system knows them only by name (and runTrain checks every key).
 */
export interface MethodFlagValues { [flag: string]: unknown }

export const ADAPTER_OPTIONS = {
  method: { kind: 'choice', choices: METHODS, default: METHODS[0]!, valueName: 'NAME', description: methodDescription() },
  targets: {
    kind: 'list', valueName: 'LIST',
    description: 'modules to adapt, e.g. q_proj,v_proj, or all-linear\n(default: PEFT\'s choice for the architecture, q_proj,v_proj for Llama/Qwen/Mistral)',
  },
  ...methodFlagOptions(),
} as const satisfies Record<string, OptionSpec>;

/** The adapter options as given: a method name, targets, and the method's flags by key. */
export interface AdapterChoice {
  method?: Method;
  targets?: readonly string[];
  [flag: string]: unknown;
}

/**
 * Refuse flags the chosen method does not take (`--mini-r` with `--method miss`), naming the
 * methods that do. `given` holds only what the user gave (no defaults).
 */
export function checkMethodFlags(command: string, given: AdapterChoice): void {
  const name = given.method ?? METHODS[0]!;
  const { variant } = methodVariant(name);
  for (const [flag, uses] of flagUses()) {
    if (given[flag] === undefined || flag in variant.flags) continue;
    const why = variant.refused?.[flag];
    throw new UsageError(command, why
      ? `--${flagName(flag)} is not available for --method ${name} (${why})`
      : `--${flagName(flag)} applies only to --method ${uses.map((u) => u.variant.name).join(' or ')}, found --method ${name}`);
  }
}

/** The method flags (by key) the chosen method takes, for reports: `--mini-r` only with mini. */
export function flagsOf(method: Method): readonly string[] {
  return Object.keys(methodVariant(method).variant.flags);
}

/**
 * The PEFT config for the chosen method. `targets` absent: PEFT's default for the model type
 * (the config's targetModules stays null and PeftModel resolves it, as PEFT does). A single
 * `all-linear` is passed as the string PEFT expects.
 */
export function adapterConfigFor(choice: AdapterChoice, baseModelNameOrPath: string | null = null): PeftConfig {
  const targets = choice.targets === undefined ? null
    : choice.targets.length === 1 && choice.targets[0]!.toLowerCase() === 'all-linear' ? 'all-linear' : [...choice.targets];
  const { method: _method, targets: _targets, ...flags } = choice;
  return variantConfig(choice.method ?? METHODS[0]!, flags, { targetModules: targets, baseModelNameOrPath });
}

/** The targets PEFT would pick for a model type, for messages ("q_proj,v_proj (Llama default)"). */
export function defaultTargetsFor(modelType: string): readonly string[] | null {
  return DEFAULT_TARGET_MODULES[modelType] ?? null;
}
