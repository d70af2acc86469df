/**
 * Atomic writes: nothing a user wrote is lost or half-written. A file's data goes to a temporary
 * sibling, is fsynced, and is renamed over the destination; a folder is written whole under a
 * temporary name and renamed into place (writeFolderAtomically). On any failure the temporary file
 * or folder is removed and the destination is untouched.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, readlink, rename, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DestinationExistsError } from '../io/file-system.ts';

/** Runs a file-system call; `wrap` turns its failure into the caller's error type. */
export type IoWrapper = <T>(path: string, action: string, call: () => Promise<T>) => Promise<T>;

const plainIo: IoWrapper = async (path, action, call) => {
  try {
    return await call();
  } catch (err) {
    throw new Error(`${path}: could not ${action}: ${(err as Error).message}`, { cause: err });
  }
};

/**
 * Writes a file atomically. With `{ overwrite: false }` an existing file is never replaced: the
 * finished file is hard-linked into place, which fails (DestinationExistsError) if the name exists
 * by then; otherwise it is renamed over whatever is there.
 */
export async function writeAtomically(path: string, write: (handle: FileHandle) => Promise<void>, io: IoWrapper = plainIo,
  opts: { overwrite?: boolean } = {}): Promise<void> {
  const overwrite = opts.overwrite ?? true;
  if (!overwrite && await lstat(path).then(() => true, () => false)) throw new DestinationExistsError(path, 'a file');
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  // 'wx': never reuse (or follow a link at) an existing file of that name.
  const handle = await io(temp, 'create the temporary file', () => open(temp, 'wx'));
  let closed = false;
  try {
    await write(handle);
    await io(temp, 'fsync the temporary file', () => handle.sync());
    closed = true;
    await io(temp, 'close the temporary file', () => handle.close());
    if (overwrite) await io(path, `rename the temporary file ${temp} onto it`, () => rename(temp, path));
    else {
      await link(temp, path).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'EEXIST') throw new DestinationExistsError(path, 'a file that appeared while the new one was being written');
        return io(path, `link the temporary file ${temp} to it`, () => Promise.reject(err as Error));
      });
      await unlink(temp);
    }
  } catch (err) {
    if (!closed) await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  // Make the rename itself durable. Best effort: some platforms cannot fsync a directory.
  await open(dirname(path), 'r').then((dir) => dir.sync().finally(() => dir.close())).catch(() => undefined);
}

/** Write a text file (UTF-8) atomically. */
export async function writeTextAtomically(path: string, text: string, io: IoWrapper = plainIo): Promise<void> {
  await writeAtomically(path, async (h) => { await io(path, 'write the temporary file', () => h.writeFile(text, 'utf8')); }, io);
}

// One error for every platform: the core's (io/file-system.ts), re-exported where it used to be.
export { DestinationExistsError } from '../io/file-system.ts';

export interface AtomicFolderOptions {
  /** Replace an existing destination (default false: an existing one is an error and is left untouched). */
  overwrite?: boolean;
  /**
   * Keep what the old folder holds beyond what `fill` writes (other files, checkpoint folders, a
   * lock file): hard-linked into the new folder before the swap (copied where the file system has
   * no hard links), so that replacing an adapter in a run folder keeps the run's checkpoints.
   */
  keepOthers?: boolean | ((name: string) => boolean);
  io?: IoWrapper;
}

/** The moments of a folder write a test can stop a process at (see setFolderWriteHook). */
export type FolderWriteStep = 'filled' | 'complete' | 'moved-aside' | 'published' | 'done';

let folderWriteHook: ((step: FolderWriteStep, dest: string) => void) | null = null;

/** Fault injection for tests: called at each step of every folder write (e.g. to SIGKILL the process there). */
export function setFolderWriteHook(hook: ((step: FolderWriteStep, dest: string) => void) | null): void {
  folderWriteHook = hook;
}

/**
 * The temporary names a folder write uses beside `dest`: `.NAME.tmp-PID-TAG` while it is being
 * filled, `.NAME.new-PID-TAG` once complete and not yet in place, `.NAME.old-PID-TAG` for the folder
 * it replaces until that is deleted, and `.NAME.del-PID-TAG` for a folder being deleted. The state
 * a killed writer leaves is read from these names (recoverFolderWrites).
 */
const TEMP_NAME = /^\.(.+)\.(tmp|new|old|del)-(\d+)-[0-9a-f]+$/;
/** checkpoint-N.tmp-PID: the temporary name of checkpoints written by earlier versions. */
const LEGACY_TEMP_NAME = /^(checkpoint-\d+)\.tmp-(\d+)$/;

function tempName(dest: string, kind: 'tmp' | 'new' | 'old' | 'del', tag: string): string {
  return join(dirname(resolve(dest)), `.${basename(dest)}.${kind}-${tag}`);
}

/** Folders this process is writing: removed if it exits before finishing (a second Ctrl-C calls process.exit). */
const inFlight = new Set<string>();
let exitCleanupInstalled = false;
function track(path: string): void {
  if (!exitCleanupInstalled) {
    exitCleanupInstalled = true;
    process.on('exit', () => { for (const p of inFlight) rmSync(p, { recursive: true, force: true }); });
  }
  inFlight.add(path);
}

/** Whether a process id names a live process on this machine (EPERM: alive, someone else's). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes a whole folder atomically: `fill` writes into a fresh temporary sibling of `dest`, whose
 * files are then fsynced and which is renamed into place. When `fill` (or anything before the
 * rename) fails, the temporary folder is removed and `dest` is untouched; readers never see a
 * half-written folder. Returns what `fill` returns.
 *
 * Replacing an existing folder (`overwrite`) moves the old one aside under a temporary name,
 * renames the new one in and only then deletes the old one: at no point is `dest` a mixture of the
 * two. POSIX has no call that exchanges two directories in one step (Linux's
 * renameat2(RENAME_EXCHANGE) is not reachable from Node's fs), so between those two renames — two
 * system calls, microseconds apart — the path does not exist; a process killed exactly there leaves
 * both complete folders beside it, and the next write or read of the folder through
 * recoverFolderWrites puts the new one in place.
 */
export async function writeFolderAtomically<T>(dest: string, fill: (dir: string) => Promise<T>, opts: AtomicFolderOptions = {}): Promise<T> {
  const io = opts.io ?? plainIo;
  const parent = dirname(resolve(dest));
  const tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const temp = tempName(dest, 'tmp', tag);
  const complete = tempName(dest, 'new', tag);
  const aside = tempName(dest, 'old', tag);
  const existing = async (): Promise<'folder' | 'file' | null> => {
    const s = await lstat(dest).catch(() => null);
    return s === null ? null : s.isDirectory() ? 'folder' : 'file';
  };
  await io(parent, 'create the folder', () => mkdir(parent, { recursive: true }));
  await recoverFolderWrites(dest);
  if (!opts.overwrite && await existing()) throw new DestinationExistsError(dest, `a ${await existing()}`);
  await io(temp, 'create the temporary folder', () => mkdir(temp));
  track(temp);
  let result: T;
  try {
    result = await fill(temp);
    if (opts.keepOthers && await existing() === 'folder') {
      const keep = typeof opts.keepOthers === 'function' ? opts.keepOthers : () => true;
      await linkMissingEntries(dest, temp, io, keep);
    }
    await syncTree(temp, io);
    folderWriteHook?.('filled', dest);
    await io(temp, `rename the temporary folder to ${complete}`, () => rename(temp, complete));
    inFlight.delete(temp);
    track(complete);
    folderWriteHook?.('complete', dest);
  } catch (err) {
    inFlight.delete(temp);
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  const kind = await existing();
  try {
    if (kind === null) {
      await io(dest, `rename the temporary folder ${complete} onto it`, () => rename(complete, dest));
    } else if (!opts.overwrite) {
      throw new DestinationExistsError(dest, `a ${kind} that appeared while the new one was being written`);
    } else {
      await io(dest, `move the existing ${kind} aside to ${aside}`, () => rename(dest, aside));
      folderWriteHook?.('moved-aside', dest);
      try {
        await io(dest, `rename the temporary folder ${complete} onto it`, () => rename(complete, dest));
      } catch (err) {
        await rename(aside, dest).catch(() => undefined);
        throw err;
      }
      folderWriteHook?.('published', dest);
      await rm(aside, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(complete, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    inFlight.delete(complete);
  }
  await syncDir(parent);
  folderWriteHook?.('done', dest);
  return result;
}

/**
 * Finish or undo what writers that died left beside `dest` (their process is gone): a folder that
 * was still being filled is removed; a complete new folder is put in place when `dest` is missing
 * (the writer died between its two renames) and removed otherwise (it died before publishing); a
 * replaced folder moved aside is removed, or put back if nothing took its place. Also removes the
 * `checkpoint-N.tmp-PID` folders of earlier versions. Returns what it did, one line each.
 */
export async function recoverFolderWrites(dest: string): Promise<string[]> {
  const parent = dirname(resolve(dest));
  const name = basename(dest);
  const entries = await readdir(parent).catch(() => [] as string[]);
  const done: string[] = [];
  const found = entries.map((e) => ({ entry: e, m: TEMP_NAME.exec(e) }))
    .filter((x): x is { entry: string; m: RegExpExecArray } => x.m !== null && x.m[1] === name && !processAlive(Number(x.m[3])));
  // A complete new folder first: it decides whether the one moved aside is still needed.
  const order = { tmp: 0, del: 0, new: 1, old: 2 } as const;
  found.sort((a, b) => order[a.m[2] as 'tmp'] - order[b.m[2] as 'tmp']);
  for (const { entry, m } of found) {
    const path = join(parent, entry);
    const destExists = await lstat(dest).then(() => true, () => false);
    if (m[2] === 'new' && !destExists) {
      await rename(path, dest);
      done.push(`${dest}: completed the write that process ${m[3]} was making when it stopped`);
    } else if (m[2] === 'old' && !destExists) {
      await rename(path, dest);
      done.push(`${dest}: put back the folder that process ${m[3]} had moved aside`);
    } else {
      await rm(path, { recursive: true, force: true });
      done.push(`${dest}: removed ${entry}, left by process ${m[3]}`);
    }
  }
  return done;
}

/** Remove a folder so that it disappears whole: renamed to a temporary name first (a kill mid-delete leaves only that, which recovery removes). */
export async function removeFolderAtomically(dir: string): Promise<void> {
  const aside = tempName(dir, 'del', `${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    await rename(dir, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  await rm(aside, { recursive: true, force: true });
}

/** Clean up everything dead writers left inside `dir` (temporary checkpoint folders and the like). */
export async function recoverFolderWritesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const done: string[] = [];
  const names = new Set<string>();
  for (const e of entries) {
    const m = TEMP_NAME.exec(e);
    if (m) names.add(m[1]!);
    const legacy = LEGACY_TEMP_NAME.exec(e);
    if (legacy && !processAlive(Number(legacy[2]))) {
      await rm(join(dir, e), { recursive: true, force: true });
      done.push(`${join(dir, e)}: removed, left by process ${legacy[2]}`);
    }
  }
  for (const n of names) done.push(...await recoverFolderWrites(join(dir, n)));
  return done;
}

/** Hard-link (or copy) every entry of `from` that `to` lacks (and `keep` accepts) into `to`, folders recursively. */
async function linkMissingEntries(from: string, to: string, io: IoWrapper, keep: (name: string) => boolean = () => true): Promise<void> {
  const present = new Set(await readdir(to));
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (present.has(entry.name) || !keep(entry.name)) continue;
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) {
      await mkdir(dst);
      await linkMissingEntries(src, dst, io);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(src), dst);
    } else {
      await link(src, dst).catch(async (err: unknown) => {
        // No hard links here (FAT, some network shares, another device): copy instead.
        if (['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK', 'EOPNOTSUPP'].includes((err as NodeJS.ErrnoException).code ?? '')) await io(dst, `copy ${src} to it`, () => copyFile(src, dst));
        else throw err;
      });
    }
  }
}

/** fsync every file under `dir` and the folders themselves, so that the rename publishes durable data. */
async function syncTree(dir: string, io: IoWrapper): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path, io);
    else if (entry.isFile()) {
      await io(path, 'fsync the file', async () => {
        const h = await open(path, 'r+');
        try { await h.sync(); } finally { await h.close(); }
      });
    }
  }
  await syncDir(dir);
}

/** Best effort: some platforms cannot fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  await open(dir, 'r').then((h) => h.sync().finally(() => h.close())).catch(() => undefined);
}
