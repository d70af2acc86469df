/**
 * Loading an adapter onto a base model for `bone generate --adapter` and `bone merge`: the shared
 * flag (`--allow-key-mismatch`), the library's loader with its messages in flag terms, and a check
 * that `--model` is the base the adapter records (base_model_name_or_path). Shapes are checked when
 * the tensors load; a base of the same shapes but another architecture or size passes that check,
 * and a merge onto it gives a model nobody trained, so the configs are compared and the difference
 * is said (a warning: a renamed copy of the base is fine).
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { looksLikeRepoId, lookUpHubCache } from '../node/hub-cache.ts';
import { parseConfig, type CausalLM } from '../models/index.ts';
import { PeftError, PeftModel, readAdapterConfigJson } from '../peft/index.ts';
import type { OptionSpecs } from './args.ts';

export const ADAPTER_LOAD_OPTIONS = {
  allowKeyMismatch: {
    kind: 'boolean',
    description: 'load an adapter whose tensors do not all match its layers (missing or unused keys),\nwith a warning as PEFT does, instead of stopping',
  },
} as const satisfies OptionSpecs;

/** The config keys that make two bases interchangeable for an adapter: architecture and sizes. */
const COMPARED_KEYS = [
  'model_type', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'vocab_size', 'tie_word_embeddings',
] as const;

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

async function readConfig(folder: string): Promise<Record<string, unknown> | null> {
  try {
    const json = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
    // Resolved as the loader resolves it (defaults filled in), so that an absent key equal to its default is no difference.
    try { return { ...parseConfig(json) }; } catch { return json; }
  } catch {
    return null;
  }
}

/** The folder a recorded base_model_name_or_path names here: a folder, or a repo in the hub cache; null when neither. */
async function recordedFolder(recorded: string): Promise<string | null> {
  if (await isFolder(recorded)) return resolve(recorded);
  if (looksLikeRepoId(recorded)) {
    const lookup = await lookUpHubCache(recorded);
    if (lookup.found) return lookup.folder;
  }
  return null;
}

/**
 * Warn when the model given as `modelArg` (its folder `modelFolder`, its resolved config when loaded
 * already) differs in architecture or size from the base recorded in the adapter's config, or when
 * that base cannot be found to check.
 */
export async function checkRecordedBase(adapter: string, modelArg: string, modelFolder: string, warn: (m: string) => void, modelConfig?: Record<string, unknown>): Promise<void> {
  const recorded = (await readAdapterConfigJson(adapter)).base_model_name_or_path;
  const cannot = `cannot check that --model ${modelArg} is the base model this adapter was trained on`;
  if (typeof recorded !== 'string' || recorded === '') {
    warn(`${cannot}: ${join(adapter, 'adapter_config.json')} records no base_model_name_or_path`);
    return;
  }
  if (recorded === modelArg) return;
  const folder = await recordedFolder(recorded);
  if (folder === null) {
    warn(`${cannot}: its base_model_name_or_path ${JSON.stringify(recorded)} is neither a folder here nor a repository in the Hugging Face cache`);
    return;
  }
  if ((await realpath(folder).catch(() => folder)) === (await realpath(modelFolder).catch(() => modelFolder))) return;
  const theirs = await readConfig(folder);
  if (theirs === null) {
    warn(`${cannot}: the recorded base ${folder} has no readable config.json`);
    return;
  }
  const ours = modelConfig ?? await readConfig(modelFolder) ?? {};
  const differences = COMPARED_KEYS.filter((k) => k in theirs && JSON.stringify(theirs[k]) !== JSON.stringify(ours[k]))
    .map((k) => `${k} ${JSON.stringify(theirs[k])} → ${JSON.stringify(ours[k])}`);
  const arch = (c: Record<string, unknown>): unknown => (Array.isArray(c.architectures) ? c.architectures[0] : undefined);
  if (arch(theirs) !== undefined && arch(ours) !== undefined && arch(theirs) !== arch(ours)) differences.unshift(`architecture ${String(arch(theirs))} → ${String(arch(ours))}`);
  if (differences.length) {
    warn(`--model ${modelArg} is not the base model this adapter was trained on (${recorded}): ${differences.join(', ')} (recorded base → --model). The adapter's numbers were learned on the recorded base; on another one they give outputs nobody trained. Use --model ${recorded}, or ignore this if the difference is intended.`);
  }
}

/** An adapter load whose refusal speaks of the flag (`--allow-key-mismatch`) instead of the library option. */
export async function withFlagAdvice<T>(load: Promise<T>): Promise<T> {
  try {
    return await load;
  } catch (e) {
    if (e instanceof PeftError) e.message = e.message.replace('pass allowKeyMismatch: true', 'pass --allow-key-mismatch');
    throw e;
  }
}

/** PeftModel.fromPretrained for a command: the recorded base checked, and the loader's advice in flag terms. */
export async function loadAdapterForCommand(
  base: CausalLM, o: { model: string; modelFolder: string; adapter: string; allowKeyMismatch?: boolean }, warn: (m: string) => void,
): Promise<PeftModel<CausalLM>> {
  await checkRecordedBase(o.adapter, o.model, o.modelFolder, warn, base.config);
  return withFlagAdvice(PeftModel.fromPretrained(base, o.adapter, { warn, allowKeyMismatch: o.allowKeyMismatch ?? false }));
}
