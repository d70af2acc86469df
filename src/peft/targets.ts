/**
 * Which modules an adapter wraps, exactly as PEFT decides (BaseTuner.inject_adapter and
 * check_target_module_exists): list entries match a full name or a `.`-suffix, a string is a
 * full-match regex, `all-linear` takes every Linear but the output head, exclusions win, and
 * `layersToTransform` restricts suffix matches to layer indices.
 */
import type { PeftConfig, TargetSpec } from './config.ts';
import { PeftError } from './errors.ts';
import { pythonRegex } from './python-regex.ts';

/** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING (Bone and MiSS use a copy), for the families supported here and their close relatives. */
export const DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = {
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  mixtral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gemma: ['q_proj', 'v_proj'],
  gemma2: ['q_proj', 'v_proj'],
  phi: ['q_proj', 'v_proj', 'fc1', 'fc2'],
  phi3: ['qkv_proj'],
  opt: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
  bloom: ['query_key_value'],
  falcon: ['query_key_value'],
};

export interface ModuleInfo {
  name: string;
  /** A plain Linear layer (the only kind Bone/MiSS can wrap). */
  isLinear: boolean;
}

export interface TargetContext {
  modelType: string;
  /** Path of the output embedding (lm_head), which `all-linear` never targets. */
  outputEmbedding?: string | null;
  warn?: (msg: string) => void;
}

export type MatchResult = 'matched' | 'excluded' | 'unmatched';

/** Python's re.fullmatch with the pattern translated from Python's syntax (the config's fields checked it already). */
const fullmatch = (pattern: string, s: string): boolean => pythonRegex(pattern, 'fullmatch').test(s);

/** PEFT's re.match(rf"(^|.*\.){entry}($|\..*)", key) for a modules_to_save entry. */
export const modulesToSavePattern = (entry: string): string => `(^|.*\\.)${entry}($|\\..*)`;
/** PEFT's re.match(rf".*\.{pattern}\.(\d+)\.", key) for a layers_pattern. */
export const layersPatternPattern = (pattern: string): string => `.*\\.${pattern}\\.(\\d+)\\.`;

/** check_target_module_exists for one module name, against resolved (non-null) targets. */
export function matchModule(config: PeftConfig, targets: TargetSpec, key: string): MatchResult {
  const ex = config.excludeModules;
  if (ex !== null && ex.length > 0) {
    if (typeof ex === 'string' ? fullmatch(ex, key) : ex.includes(key) || ex.some((e) => key.endsWith(`.${e}`))) return 'excluded';
  }
  if (config.modulesToSave?.some((m) => pythonRegex(modulesToSavePattern(m), 'match').test(key))) return 'excluded';
  if (typeof targets === 'string') return fullmatch(targets, key) ? 'matched' : 'unmatched';
  if (targets.includes(key)) return 'matched';
  let found = targets.some((t) => key.endsWith(`.${t}`));
  const indexes = config.layersToTransform;
  const usingIndexes = indexes !== null && (typeof indexes === 'number' || indexes.length > 0);
  if (found && usingIndexes) {
    const index = layerIndex(key, config.layersPattern);
    found = index !== null && (typeof indexes === 'number' ? index === indexes : indexes.includes(index));
  }
  return found ? 'matched' : 'unmatched';
}

/** The layer index in a module path: after `<layersPattern>.` or, without one, after any component. */
export function layerIndex(key: string, layersPattern: string | readonly string[] | null): number | null {
  const patterns = layersPattern === null || layersPattern.length === 0 ? null
    : typeof layersPattern === 'string' ? [layersPattern] : layersPattern;
  if (!patterns) {
    const m = /^.*\.[^.]*\.(\d+)\./su.exec(key);
    return m ? Number(m[1]) : null;
  }
  for (const p of patterns) {
    const m = pythonRegex(layersPatternPattern(p), 'match').exec(key);
    if (m) return Number(m[1]);
  }
  return null;
}

/** The effective target spec: the architecture's default when none is given, `all-linear` expanded to full names. */
export function resolveTargets(config: PeftConfig, modules: readonly ModuleInfo[], ctx: TargetContext): TargetSpec {
  const t = config.targetModules;
  if (t === null) {
    const def = DEFAULT_TARGET_MODULES[ctx.modelType];
    if (!def) {
      throw new PeftError(`Please specify \`target_modules\` in \`peft_config\`: there is no default for model_type '${ctx.modelType}' (defaults exist for ${Object.keys(DEFAULT_TARGET_MODULES).join(', ')}).`);
    }
    return [...def];
  }
  if (typeof t === 'string' && t.toLowerCase() === 'all-linear') {
    return modules.filter((m) => m.isLinear && m.name !== '' && m.name !== ctx.outputEmbedding).map((m) => m.name);
  }
  return t;
}

function layerNotes(config: PeftConfig): string {
  let note = '';
  if (config.layersToTransform !== null) note += ` Note: You specified 'layers_to_transform': ${JSON.stringify(config.layersToTransform)}.`;
  if (config.layersPattern !== null) note += ` You also specified 'layers_pattern': ${JSON.stringify(config.layersPattern)}.`;
  return note;
}

/**
 * The names of the modules to wrap, in module order, with PEFT's errors when nothing is targeted.
 * `modules` must not include modules inside existing adapter layers.
 */
export function selectTargets(config: PeftConfig, modules: readonly ModuleInfo[], ctx: TargetContext): { targets: TargetSpec; names: string[] } {
  const targets = resolveTargets(config, modules, ctx);
  const names: string[] = [];
  let excluded = 0;
  let unmatched = 0;
  for (const m of modules) {
    if (m.name === '') continue;
    const r = matchModule(config, targets, m.name);
    if (r === 'matched') names.push(m.name);
    else if (r === 'excluded') excluded++;
    else unmatched++;
  }
  if (names.length === 0) {
    const shown = typeof targets === 'string' ? targets : `{${targets.map((x) => `'${x}'`).join(', ')}}`;
    if (excluded > 0 && unmatched === 0) {
      throw new PeftError('All modules were excluded. This is likely unintended. Check your `target_modules`, `exclude_modules` and `modules_to_save` configuration.');
    }
    if (excluded === 0) {
      throw new PeftError(`Target modules ${shown} not found in the base model. Please check the target modules and try again.${layerNotes(config)}`);
    }
    throw new PeftError(`No modules were targeted for adaptation. This might be caused by a combination of mismatched target modules and excluded modules. Please check your \`target_modules\` and \`exclude_modules\` configuration. You may also have only targeted modules that are marked to be saved (\`modules_to_save\`).${layerNotes(config)}`);
  }
  if (config.excludeModules !== null && config.excludeModules.length > 0 && excluded === 0) {
    (ctx.warn ?? console.warn)(`You have passed exclude_modules=${JSON.stringify(config.excludeModules)} but no modules were excluded. Please check that exclude_modules was set correctly.`);
  }
  return { targets, names };
}
