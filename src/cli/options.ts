/**
 * What a command's options are and how one value is checked: the declarations every `bone`
 * subcommand makes (kind, range, default, help text) and the check that turns a value into a
 * UsageError naming the option, what was expected and what was found. No Node.js here, so the
 * page of `npm run demo:web` checks its form fields with the same words as the flags.
 */
/** A mistake in how a command was called: the message is for the user, the exit code is 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The subcommand (`train`, ...), so the message can point at its --help. */
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.command = command;
  }
}

interface SpecBase {
  /** One line (or a few short ones) for --help. */
  description: string;
  /** Shown after the flag in --help: `--model DIR`. */
  valueName?: string;
  /** Listed under "Required" in --help and checked by `requireOptions`. */
  required?: boolean;
}

export type OptionSpec =
  | (SpecBase & { kind: 'string'; default?: string })
  /** A file or folder; relative paths in a --config file are taken from the config file's folder. */
  | (SpecBase & { kind: 'path'; default?: string })
  | (SpecBase & { kind: 'integer'; min?: number; default?: number })
  | (SpecBase & { kind: 'number'; min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; default?: number })
  | (SpecBase & { kind: 'boolean'; default?: boolean })
  /** Comma-separated on the command line, an array (or a comma-separated string) in a config file. */
  | (SpecBase & { kind: 'list'; default?: readonly string[] })
  | (SpecBase & { kind: 'choice'; choices: readonly string[]; default?: string });

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The value type an option's spec produces. */
export type OptionValue<S extends OptionSpec> =
  S extends { kind: 'integer' | 'number' } ? number
    : S extends { kind: 'boolean' } ? boolean
      : S extends { kind: 'list' } ? string[]
        : S extends { kind: 'choice'; choices: readonly (infer C)[] } ? C
          : string;

/** Options as given (flags, config file or code): any may be absent. */
export type OptionValues<S extends OptionSpecs> = { -readonly [K in keyof S]?: OptionValue<S[K]> };

/** A subcommand's syntax: what --help prints and what the parser accepts. */
export interface CommandSyntax<S extends OptionSpecs> {
  name: string;
  /** One line, shown in `bone --help` too. */
  summary: string;
  /** The usage line after `bone <name> `, e.g. `--model DIR --data FILE --out DIR [options]`. */
  usage: string;
  options: S;
  /** Paragraphs after the options in --help (examples, notes). */
  notes?: string;
  /** A positional argument the command accepts (at most one), e.g. inspect's folder. */
  positional?: { name: string; description: string };
  /** Read options from --config FILE (default true). */
  config?: boolean;
}

/** `maxSteps` → `max-steps`: option keys are camelCase in code and kebab-case on the command line. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** What a value of this option must look like, for error messages and --help. */
export function expectation(spec: OptionSpec): string {
  switch (spec.kind) {
    case 'string': return 'a text value';
    case 'path': return `a path${spec.valueName ? ` (${spec.valueName})` : ''}`;
    case 'boolean': return 'true or false';
    case 'list': return 'a comma-separated list';
    case 'choice': return `one of ${spec.choices.join(', ')}`;
    case 'integer': return spec.min === undefined ? 'an integer' : `an integer ≥ ${spec.min}`;
    case 'number': {
      const low = spec.min === undefined ? null : spec.minExclusive ? `> ${spec.min}` : `≥ ${spec.min}`;
      const high = spec.max === undefined ? null : spec.maxExclusive ? `< ${spec.max}` : `≤ ${spec.max}`;
      if (low && high) return `a number ${low} and ${high}`;
      return `a number${low ? ` ${low}` : ''}${high ? ` ${high}` : ''}`;
    }
  }
}

/** A value as an error message shows it: text quoted, anything else with its JSON type. */
export function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  return `${JSON.stringify(value)} (${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`})`;
}

/**
 * Check one value against its spec and convert it: strings (from flags) are parsed, JSON values
 * (from a config file or code) are taken as they are when they have the right type. `where` names
 * the source in the error: `--r`, `train.json: "r"`, `runTrain options.r`.
 */
export function coerceValue(command: string, spec: OptionSpec, value: unknown, where: string): string | number | boolean | string[] {
  const fail = (): never => { throw new UsageError(command, `${where} expects ${expectation(spec)}, found ${shown(value)}`); };
  switch (spec.kind) {
    case 'string':
    case 'path':
      if (typeof value !== 'string' || value === '') fail();
      return value as string;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true') return true;
      if (value === 'false') return false;
      return fail();
    case 'list': {
      const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : fail();
      const list = items.map((item) => (typeof item === 'string' ? item.trim() : fail()));
      if (list.length === 0 || list.some((item) => item === '')) fail();
      return list;
    }
    case 'choice':
      if (typeof value !== 'string' || !spec.choices.includes(value)) fail();
      return value as string;
    case 'integer':
    case 'number': {
      // Number('') is 0 and Number(' 1') is 1: only accept what looks like a number.
      const n = typeof value === 'number' ? value
        : typeof value === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value.trim()) ? Number(value) : NaN;
      if (!Number.isFinite(n)) return fail();
      if (spec.kind === 'integer' && !Number.isInteger(n)) fail();
      if (spec.min !== undefined && (n < spec.min || (spec.kind === 'number' && spec.minExclusive && n === spec.min))) fail();
      if (spec.kind === 'number' && spec.max !== undefined && (n > spec.max || (spec.maxExclusive && n === spec.max))) fail();
      return n;
    }
  }
}

/** The --overwrite flag of the commands that write a result folder (train, merge, convert, export). */
export const OVERWRITE_OPTION = {
  overwrite: { kind: 'boolean', description: 'replace what --out already holds (without it, an existing result is refused)' },
} as const;
