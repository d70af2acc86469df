/**
 * Finding a Hugging Face Hub repository in the local cache, offline, where `huggingface_hub` (and so
 * transformers' `from_pretrained`) downloads it:
 *
 *   <hub cache>/models--<org>--<name>/refs/<revision>          a text file: the commit hash
 *   <hub cache>/models--<org>--<name>/snapshots/<hash>/<file>  the files (usually links into ../../blobs)
 *
 * The hub cache folder is chosen as huggingface_hub's constants.py chooses it: `$HF_HUB_CACHE`, else
 * the legacy `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
 * else `~/.cache/huggingface/hub`. A revision is looked up in `refs/` first (a branch or tag name); a
 * revision with no ref is taken as a commit hash, as huggingface_hub's `try_to_load_from_cache` does.
 *
 * Nothing here touches the network: a repository that is not in the cache is reported with every
 * place that was looked at, so the user can download it (`hf download <repo>`) or fix the path.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

import type { HubCacheOptions } from '../io/file-system.ts';

export type { HubCacheOptions } from '../io/file-system.ts';

/** The hub cache folder, and the setting it came from (error messages name it). */
export interface HubCacheLocation {
  dir: string;
  /** e.g. "$HF_HUB_CACHE", "$HF_HOME/hub", "the default ~/.cache/huggingface/hub". */
  source: string;
}

/** The outcome of a cache lookup: the snapshot folder, or every place that was looked at and why each failed. */
export type HubCacheLookup =
  | { found: true; folder: string; commit: string }
  | { found: false; searched: string[] };

/** A repository id named something that cannot be looked up (a revision that would climb out of the cache). */
export class HubCacheError extends Error {
  override name = 'HubCacheError';
}

/**
 * huggingface_hub's validate_repo_id: "name" or "org/name"; each part word characters, '-' and '.',
 * starting and ending with a word character; no "--" or "..".
 */
const REPO_ID = /^(?:\w(?:[\w.-]*\w)?\/)?\w(?:[\w.-]{0,94}\w)?$/;

export function looksLikeRepoId(text: string): boolean {
  return REPO_ID.test(text) && !text.includes('--') && !text.includes('..');
}

/** The cache folder huggingface_hub would use with this environment. */
export function hubCacheLocation(options: Pick<HubCacheOptions, 'cacheDir' | 'env'> = {}): HubCacheLocation {
  const env = options.env ?? process.env;
  if (options.cacheDir !== undefined) return { dir: expandHome(options.cacheDir), source: 'the cacheDir option' };
  const set = (name: string): string | undefined => (env[name] ? env[name] : undefined);
  const hubCache = set('HF_HUB_CACHE');
  if (hubCache) return { dir: expandHome(hubCache), source: '$HF_HUB_CACHE' };
  const legacy = set('HUGGINGFACE_HUB_CACHE');
  if (legacy) return { dir: expandHome(legacy), source: '$HUGGINGFACE_HUB_CACHE' };
  const hfHome = set('HF_HOME');
  if (hfHome) return { dir: join(expandHome(hfHome), 'hub'), source: '$HF_HOME/hub' };
  const xdg = set('XDG_CACHE_HOME');
  if (xdg) return { dir: join(expandHome(xdg), 'huggingface', 'hub'), source: '$XDG_CACHE_HOME/huggingface/hub' };
  return { dir: join(homedir(), '.cache', 'huggingface', 'hub'), source: 'the default ~/.cache/huggingface/hub' };
}

/** "HuggingFaceTB/SmolLM2-135M" → "models--HuggingFaceTB--SmolLM2-135M" (huggingface_hub's repo_folder_name). */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** Finds the snapshot folder of a repository revision in the hub cache. Never throws for a missing repository. */
export async function lookUpHubCache(repoId: string, options: HubCacheOptions = {}): Promise<HubCacheLookup> {
  const revision = options.revision ?? 'main';
  checkRevision(revision);
  const { dir, source } = hubCacheLocation(options);
  const repoDir = join(dir, repoFolderName(repoId));
  const searched: string[] = [];
  if (!(await isDirectory(repoDir))) {
    searched.push(`${repoDir} (hub cache chosen by ${source}): no such folder`);
    return { found: false, searched };
  }
  const refFile = join(repoDir, 'refs', revision);
  let commit = revision;
  const ref = await readFile(refFile, 'utf8').catch(() => undefined);
  if (ref !== undefined) {
    commit = ref.trim();
    checkRevision(commit, refFile);
  } else {
    searched.push(`${refFile}: no such ref, so "${revision}" was taken as a commit hash`);
  }
  const folder = join(repoDir, 'snapshots', commit);
  if (await isDirectory(folder)) return { found: true, folder, commit };
  searched.push(`${folder}: no such snapshot${ref !== undefined ? ` (named by ${refFile})` : ''}`);
  return { found: false, searched };
}

/** A revision becomes a path component: refuse what could climb out of the cache. */
function checkRevision(revision: string, from?: string): void {
  const parts = revision.split('/');
  if (revision === '' || isAbsolute(revision) || parts.some((p) => p === '' || p === '.' || p === '..')) {
    const where = from ? ` (read from ${from})` : '';
    throw new HubCacheError(`revision ${JSON.stringify(revision)}${where} is not a branch, tag or commit hash`);
  }
}

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return resolve(path);
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
