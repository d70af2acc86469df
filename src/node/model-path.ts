/**
 * Where a model path points in Node: an existing local folder, else (when it looks like "org/name")
 * the snapshot in the Hugging Face hub cache. The error for neither lists every place looked at.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { HubCacheOptions } from '../io/file-system.ts';
import { CONFIG_NAME, ModelFolderError, WEIGHTS_NAME } from '../io/model-folder.ts';
import { lookUpHubCache, looksLikeRepoId } from './hub-cache.ts';

export async function resolveModelPath(pathOrRepoId: string, options: HubCacheOptions = {}): Promise<string> {
  const local = resolve(pathOrRepoId);
  const info = await stat(local).catch(() => undefined);
  if (info?.isDirectory()) return local;
  if (info) throw new ModelFolderError(`${local} is a file; expected a model folder (with ${CONFIG_NAME} and ${WEIGHTS_NAME})`);
  if (!looksLikeRepoId(pathOrRepoId)) {
    throw new ModelFolderError(`no model folder at ${local} (and ${JSON.stringify(pathOrRepoId)} is not a Hub repository id like "org/name", so the Hugging Face cache was not searched)`);
  }
  const lookup = await lookUpHubCache(pathOrRepoId, options);
  if (lookup.found) return lookup.folder;
  const revision = options.revision ?? 'main';
  throw new ModelFolderError([
    `model ${JSON.stringify(pathOrRepoId)} (revision "${revision}") not found; looked at:`,
    `  - ${local}: no such local folder`,
    ...lookup.searched.map((s) => `  - ${s}`),
    `Download it (e.g. \`hf download ${pathOrRepoId}\`), point HF_HUB_CACHE or HF_HOME at the cache that has it, or pass the folder's path.`,
  ].join('\n'));
}
