/**
 * Atomic writes: nothing a user wrote is lost or half-written. A file's data goes to a temporary
 * sibling, is fsynced, and is renamed over the destination; a folder is written whole under a
 * temporary name and renamed into place (writeFolderAtomically). On any failure the temporary file
 * or folder is removed and the destination is untouched.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

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

/** The destination exists and the caller did not ask to replace it. */
export class DestinationExistsError extends Error {
  override name = 'DestinationExistsError';
  readonly path: string;
  constructor(path: string, what: string) {
    super(`${path} already exists (${what}); pass overwrite (bone: --overwrite) to replace it, or choose another path`);
    this.path = path;
  }
}

export interface AtomicFolderOptions {
  /** Replace an existing destination (default false: an existing one is an error and is left untouched). */
  overwrite?: boolean;
  io?: IoWrapper;
}

/**
 * Writes a whole folder atomically: `fill` writes into a fresh temporary sibling of `dest`, whose
 * files are then fsynced and which is renamed into place. When `fill` (or anything before the
 * rename) fails, the temporary folder is removed and `dest` is untouched; readers never see a
 * half-written folder. Returns what `fill` returns.
 *
 * Replacing an existing folder (`overwrite`) moves the old one aside under a temporary name,
 * renames the new one in and only then deletes the old one: at no point is `dest` a mixture of the
 * two, and a failed rename moves the old folder back. POSIX has no call that exchanges two
 * directories in one step (Linux's renameat2(RENAME_EXCHANGE) is not reachable from Node's fs),
 * so between those two renames — two system calls, microseconds apart — the path does not exist; a
 * process killed exactly there leaves both complete folders on disk, the old one named
 * `.<name>.old-…` beside it.
 */
export async function writeFolderAtomically<T>(dest: string, fill: (dir: string) => Promise<T>, opts: AtomicFolderOptions = {}): Promise<T> {
  const io = opts.io ?? plainIo;
  const parent = dirname(resolve(dest));
  const tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const temp = join(parent, `.${basename(dest)}.tmp-${tag}`);
  const existing = async (): Promise<'folder' | 'file' | null> => {
    const s = await lstat(dest).catch(() => null);
    return s === null ? null : s.isDirectory() ? 'folder' : 'file';
  };
  if (!opts.overwrite && await existing()) throw new DestinationExistsError(dest, `a ${await existing()}`);
  await io(parent, 'create the folder', () => mkdir(parent, { recursive: true }));
  await io(temp, 'create the temporary folder', () => mkdir(temp));
  let result: T;
  try {
    result = await fill(temp);
    await syncTree(temp, io);
  } catch (err) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  const kind = await existing();
  try {
    if (kind === null) {
      await io(dest, `rename the temporary folder ${temp} onto it`, () => rename(temp, dest));
    } else if (!opts.overwrite) {
      throw new DestinationExistsError(dest, `a ${kind} that appeared while the new one was being written`);
    } else {
      const aside = join(parent, `.${basename(dest)}.old-${tag}`);
      await io(dest, `move the existing ${kind} aside to ${aside}`, () => rename(dest, aside));
      try {
        await io(dest, `rename the temporary folder ${temp} onto it`, () => rename(temp, dest));
      } catch (err) {
        await rename(aside, dest).catch(() => undefined);
        throw err;
      }
      await rm(aside, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(parent);
  return result;
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
