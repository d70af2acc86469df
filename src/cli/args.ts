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

export {
  UsageError, coerceValue, expectation, flagName,
  type CommandSyntax, type OptionSpec, type OptionSpecs, type OptionValue, type OptionValues,
} from './options.ts';
import { UsageError, coerceValue, expectation, flagName, shown, type CommandSyntax, type OptionSpec, type OptionSpecs, type OptionValues } from './options.ts';

function keyOfFlag(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
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
const CODE_ONLY_OPTIONS = new Set(['io', 'signal', 'handleSigint', 'onEvent', 'hostMemory', 'print', 'quiet', 'path']);

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
