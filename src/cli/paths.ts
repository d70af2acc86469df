/**
 * Checks on the paths a command is given, made before any work starts: a typo in --data should
 * fail in a second with the flag's name, not after the model has loaded. A missing input is a
 * usage error (exit 2), like any other bad argument.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { looksLikeRepoId, lookUpHubCache } from '../node/hub-cache.ts';
import { NotWritableError, checkWritable } from '../node/writable.ts';
import { UsageError } from './args.ts';

async function kindOf(path: string): Promise<'file' | 'folder' | 'missing'> {
  return stat(path).then((s) => (s.isDirectory() ? 'folder' : 'file'), () => 'missing');
}

/**
 * A model: a folder (config.json + safetensors) or a Hugging Face repo id found in the local hub
 * cache (the loader resolves it again; nothing here goes to the network). Returns the folder, or
 * the snapshot folder of a repo id.
 */
export async function checkModelPath(command: string, flag: string, value: string): Promise<string> {
  const kind = await kindOf(value);
  const expected = `${flag} expects a model folder (config.json + *.safetensors) or a Hugging Face repo id in the local cache`;
  if (kind === 'folder') {
    if ((await kindOf(join(value, 'config.json'))) !== 'file') throw new UsageError(command, `${expected}, found the folder ${JSON.stringify(value)} without a config.json`);
    return value;
  }
  if (kind === 'file') throw new UsageError(command, `${expected}, found the file ${JSON.stringify(value)}`);
  if (looksLikeRepoId(value)) {
    const lookup = await lookUpHubCache(value);
    if (lookup.found) return lookup.folder;
    throw new UsageError(command, `${expected}, found ${JSON.stringify(value)}: no such folder, and not in the hub cache (looked at: ${lookup.searched.join('; ')})`);
  }
  throw new UsageError(command, `${expected}, found ${JSON.stringify(value)}: no such folder`);
}

/** An existing file (a dataset, a prompt file). */
export async function checkFile(command: string, flag: string, value: string, what: string): Promise<void> {
  const kind = await kindOf(value);
  if (kind !== 'file') throw new UsageError(command, `${flag} expects ${what}, found ${JSON.stringify(value)}: ${kind === 'folder' ? 'a folder' : 'no such file'}`);
}

/** A PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
export async function checkAdapterPath(command: string, flag: string, value: string): Promise<void> {
  const kind = await kindOf(value);
  const expected = `${flag} expects an adapter folder (adapter_config.json + adapter_model.safetensors)`;
  if (kind !== 'folder') throw new UsageError(command, `${expected}, found ${JSON.stringify(value)}: ${kind === 'file' ? 'a file' : 'no such folder'}`);
  if ((await kindOf(join(value, 'adapter_config.json'))) !== 'file') {
    throw new UsageError(command, `${expected}, found the folder ${JSON.stringify(value)} without an adapter_config.json`);
  }
}

/** A tokenizer folder: one with tokenizer.json (the fast-tokenizer file every supported model ships). */
export async function checkTokenizerPath(command: string, flag: string, value: string): Promise<void> {
  const kind = await kindOf(value);
  const expected = `${flag} expects a folder with tokenizer.json`;
  if (kind !== 'folder') throw new UsageError(command, `${expected}, found ${JSON.stringify(value)}: ${kind === 'file' ? 'a file' : 'no such folder'}`);
  if ((await kindOf(join(value, 'tokenizer.json'))) !== 'file') throw new UsageError(command, `${expected}, found the folder ${JSON.stringify(value)} without one`);
}

export interface OutputFolderCheck {
  /** Files whose presence means the folder already holds a result (an adapter, a model). */
  holds?: { what: string; files: readonly string[] };
  /** The user said the result may be replaced (--overwrite). */
  overwrite?: boolean;
}

/**
 * An output folder: absent (it is made now) or a folder, never a file; writable, which is tried
 * before any work starts (a probe file is written and removed); and, unless --overwrite, not
 * already holding a result that the command would replace.
 */
export async function checkOutputFolder(command: string, flag: string, value: string, check: OutputFolderCheck = {}): Promise<void> {
  if ((await kindOf(value)) === 'file') throw new UsageError(command, `${flag} expects a folder to write into, found the file ${JSON.stringify(value)}`);
  if (check.holds && !check.overwrite) {
    const present = [];
    for (const f of check.holds.files) if ((await kindOf(join(value, f))) === 'file') present.push(f);
    if (present.length) {
      throw new UsageError(command, `${flag} ${value} already holds ${check.holds.what} (${present.join(', ')}): add --overwrite to replace it, or choose another ${flag}`);
    }
  }
  try {
    await checkWritable(value);
  } catch (e) {
    if (e instanceof NotWritableError) throw new UsageError(command, `${flag} ${e.message}`);
    throw e;
  }
}

/** The --overwrite flag of the commands that write a result folder. */
export { OVERWRITE_OPTION } from './options.ts';

export async function isFolder(path: string): Promise<boolean> {
  return (await kindOf(path)) === 'folder';
}

export async function isFile(path: string): Promise<boolean> {
  return (await kindOf(path)) === 'file';
}
