/**
 * Command-line arguments for every `bone` subcommand, in one place: each command declares its
 * options once (kind, range, default, help text) and gets from that declaration the flag parser,
 * the `--config file.json` reader, the checks on options passed from code (`runTrain`
 * and the other runX functions of bone-peft/cli), and its `--help` text. Every bad argument becomes a UsageError (exit 2)
 * that names the flag (or the config key), what was expected and what was found.
 *
 * Tokenising is node:util's parseArgs; it runs non-strict with `tokens` so that the checks here can
 * word the errors themselves (parseArgs' strict messages neither say what a value should look like
 * nor suggest a near miss).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

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

function keyOfFlag(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
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

function shown(value: unknown): string {
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

/** Levenshtein distance, for "did you mean --max-steps?". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function suggestion(name: string, known: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) { best = k; bestDistance = d; }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? ` Did you mean --${best}?` : '';
}

/** The flags a command accepts, as users type them. */
function knownFlags(syntax: CommandSyntax<OptionSpecs>): string[] {
  return [...Object.keys(syntax.options).map(flagName), ...(syntax.config === false ? [] : ['config']), 'help'];
}

export interface ParsedCommandLine<S extends OptionSpecs> {
  help: boolean;
  values: OptionValues<S>;
  positional: string | null;
  /** The --config file, when one was given. */
  configFile: string | null;
}

/** Parse argv (after the subcommand) against the syntax. Throws UsageError. */
export function parseCommandLine<S extends OptionSpecs>(syntax: CommandSyntax<S>, argv: readonly string[]): ParsedCommandLine<S> {
  const command = syntax.name;
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [key, spec] of Object.entries(syntax.options)) parseOptions[flagName(key)] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  if (syntax.config !== false) parseOptions.config = { type: 'string' };
  const { tokens } = parseArgs({ args: [...argv], options: parseOptions, strict: false, allowPositionals: true, tokens: true });

  const values: Record<string, unknown> = {};
  let positional: string | null = null;
  let configFile: string | null = null;
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (!syntax.positional) {
        throw new UsageError(command, `unexpected argument ${JSON.stringify(token.value)}: bone ${command} takes only options (--name value)`);
      }
      if (positional !== null) {
        throw new UsageError(command, `unexpected argument ${JSON.stringify(token.value)}: expected one ${syntax.positional.name}, already have ${JSON.stringify(positional)}`);
      }
      positional = token.value;
      continue;
    }
    // hasOwn: a flag named like an Object.prototype member (--constructor) is unknown, not a function.
    // Single-dash forms of long options (-r for --r) are refused: -h is the only short flag.
    const declared = Object.hasOwn(parseOptions, token.name) ? parseOptions[token.name] : undefined;
    if (!declared || (!token.rawName.startsWith('--') && token.name !== 'help')) {
      throw new UsageError(command, `unknown option ${token.rawName}.${suggestion(token.name, knownFlags(syntax))} Expected one of: ${knownFlags(syntax).map((f) => `--${f}`).join(', ')}`);
    }
    if (declared.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(command, `${token.rawName} takes no value, found ${JSON.stringify(token.value)}`);
      if (token.name === 'help') help = true;
      else values[keyOfFlag(token.name)] = true;
      continue;
    }
    const spec = token.name === 'config' ? null : syntax.options[keyOfFlag(token.name)]!;
    const what = spec ? expectation(spec) : 'a JSON file';
    // Non-strict parseArgs takes the next argument as the value even when it is another flag.
    const looksLikeFlag = token.value !== undefined && !token.inlineValue && token.value.startsWith('-') && !/^-[\d.]/.test(token.value);
    if (token.value === undefined || looksLikeFlag) {
      throw new UsageError(command, `${token.rawName} expects a value (${what}), found ${token.value === undefined ? 'nothing' : `the option ${token.value}`}`);
    }
    if (spec === null) configFile = token.value;
    else values[keyOfFlag(token.name)] = coerceValue(command, spec, token.value, token.rawName);
  }
  return { help, values: values as OptionValues<S>, positional, configFile };
}

/** Read a --config JSON file: keys are option names (`max-steps` or `maxSteps`), relative paths are from the file's folder. */
export async function readConfigFile<S extends OptionSpecs>(syntax: CommandSyntax<S>, file: string): Promise<OptionValues<S>> {
  const command = syntax.name;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(command, `--config expects a readable JSON file, found ${JSON.stringify(file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(command, `${file}: expected JSON, found a parse error (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(command, `${file}: expected a JSON object of options ({"max-steps": 100, ...}), found ${shown(parsed)}`);
  }
  const values: Record<string, unknown> = {};
  for (const [rawKey, raw] of Object.entries(parsed)) {
    const key = keyOfFlag(rawKey);
    const spec = Object.hasOwn(syntax.options, key) ? syntax.options[key] : undefined;
    if (!spec) {
      const known = Object.keys(syntax.options).map(flagName);
      throw new UsageError(command, `${file}: unknown key ${JSON.stringify(rawKey)}.${suggestion(flagName(key), known).replace('--', '')} Expected option names of bone ${command}: ${known.join(', ')}`);
    }
    const value = coerceValue(command, spec, raw, `${file}: ${JSON.stringify(rawKey)}`);
    values[key] = spec.kind === 'path' ? resolve(dirname(file), value as string) : value;
  }
  return values as OptionValues<S>;
}

/** The fields of a runX function's options that are not command-line options (where output goes, hooks). */
const CODE_ONLY_OPTIONS = new Set(['io', 'signal', 'handleSigint', 'onEvent', 'print', 'quiet', 'path']);

/**
 * Check options passed from code as the command line's would be (same errors, `where` = e.g.
 * "runTrain options"); a key that is no option (a typo) is refused, with the nearest option named.
 */
export function checkOptions<S extends OptionSpecs>(syntax: CommandSyntax<S>, options: object, where: string): OptionValues<S> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const spec = Object.hasOwn(syntax.options, key) ? syntax.options[key] : undefined;
    if (!spec) {
      if (CODE_ONLY_OPTIONS.has(key)) continue;
      const known = Object.keys(syntax.options);
      throw new UsageError(syntax.name, `${where}.${key} is not an option of bone ${syntax.name}.${suggestion(key, known).replace('--', '')} Options: ${known.join(', ')}`);
    }
    if (value === undefined) continue;
    out[key] = coerceValue(syntax.name, spec, value, `${where}.${key}`);
  }
  return out as OptionValues<S>;
}

/** Flags, then the config file under them (flags win); `help` when --help was given. */
export async function loadCommandLine<S extends OptionSpecs>(syntax: CommandSyntax<S>, argv: readonly string[]): Promise<{ help: boolean; values: OptionValues<S>; positional: string | null }> {
  const parsed = parseCommandLine(syntax, argv);
  if (parsed.help) return { help: true, values: parsed.values, positional: parsed.positional };
  const fromFile = parsed.configFile === null ? {} : await readConfigFile(syntax, parsed.configFile);
  return { help: false, values: { ...fromFile, ...parsed.values }, positional: parsed.positional };
}

/** The declared defaults, under the given values. */
export function withDefaults<S extends OptionSpecs>(syntax: CommandSyntax<S>, values: OptionValues<S>): OptionValues<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(syntax.options)) if (spec.default !== undefined) out[key] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  return { ...out, ...values } as OptionValues<S>;
}

/** Throw for the first required option that is absent, saying what it should be. */
export function requireOptions<S extends OptionSpecs>(syntax: CommandSyntax<S>, values: OptionValues<S>): void {
  for (const [key, spec] of Object.entries(syntax.options)) {
    if (spec.required && values[key] === undefined) {
      throw new UsageError(syntax.name, `missing --${flagName(key)}${spec.valueName ? ` ${spec.valueName}` : ''}: expected ${spec.description.split('\n')[0]!.replace(/\.$/, '')}`);
    }
  }
}

/** Exactly one of two mutually exclusive options may be given. */
export function refuseBoth<S extends OptionSpecs>(syntax: CommandSyntax<S>, values: OptionValues<S>, a: keyof S & string, b: keyof S & string, why: string): void {
  if (values[a] !== undefined && values[b] !== undefined) {
    throw new UsageError(syntax.name, `--${flagName(a)} and --${flagName(b)} cannot be used together (found both): ${why}`);
  }
}

/** --help fits an 100-column terminal; longer description lines wrap at spaces. */
const HELP_COLUMNS = 100;

function wrapText(line: string, width: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    if (cut <= 0) break;
    out.push(rest.slice(0, cut));
    rest = `  ${rest.slice(cut + 1)}`;
  }
  out.push(rest);
  return out;
}

/** The --help text, generated from the declaration so that it never drifts from the parser. */
export function helpText<S extends OptionSpecs>(syntax: CommandSyntax<S>): string {
  const rows: [string, string][] = [];
  const entry = (key: string, spec: OptionSpec): [string, string] => {
    const flag = `--${flagName(key)}${spec.kind === 'boolean' ? '' : ` ${spec.valueName ?? (spec.kind === 'integer' || spec.kind === 'number' ? 'N' : 'VALUE')}`}`;
    const def = spec.default === undefined || spec.default === false ? ''
      : ` (default: ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)})`;
    const choices = spec.kind === 'choice' && !spec.description.includes(spec.choices[0]!) ? ` [${spec.choices.join('|')}]` : '';
    return [flag, `${spec.description}${choices}${def}`];
  };
  const required = Object.entries(syntax.options).filter(([, s]) => s.required).map(([k, s]) => entry(k, s));
  const optional = Object.entries(syntax.options).filter(([, s]) => !s.required).map(([k, s]) => entry(k, s));
  if (syntax.config !== false) {
    const example = Object.keys(syntax.options).slice(0, 2).map((k) => `"${flagName(k)}": ...`).join(', ');
    optional.push(['--config FILE', `read options from a JSON file ({${example}});\nflags given too override it; relative paths are from the file's folder`]);
  }
  optional.push(['-h, --help', 'show this help']);
  rows.push(...required, ...optional);
  const width = Math.min(28, Math.max(...rows.map(([f]) => f.length)) + 2);
  const format = ([flag, text]: [string, string]): string => {
    const lines = text.split('\n').flatMap((line) => wrapText(line, HELP_COLUMNS - 2 - width));
    const first = flag.length + 2 > width ? `  ${flag}\n  ${' '.repeat(width)}${lines[0]}` : `  ${flag.padEnd(width)}${lines[0]}`;
    return [first, ...lines.slice(1).map((l) => `  ${' '.repeat(width)}${l}`)].join('\n');
  };
  const parts = [`Usage: bone ${syntax.name} ${syntax.usage}`, '', syntax.summary];
  if (syntax.positional) parts.push('', `  ${syntax.positional.name.padEnd(width)}${syntax.positional.description}`);
  if (required.length) parts.push('', 'Required:', ...required.map(format));
  parts.push('', 'Options:', ...optional.map(format));
  if (syntax.notes) parts.push('', syntax.notes);
  return parts.join('\n');
}
