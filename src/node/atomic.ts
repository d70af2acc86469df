/**
 * Atomic file writes: nothing a user wrote is lost or half-written. Data goes to a temporary
 * sibling, is fsynced, and is renamed over the destination; on any failure the temporary file is
 * removed and the destination is untouched.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Runs a file-system call; `wrap` turns its failure into the caller's error type. */
export type IoWrapper = <T>(path: string, action: string, call: () => Promise<T>) => Promise<T>;

const plainIo: IoWrapper = async (path, action, call) => {
  try {
    return await call();
  } catch (err) {
    throw new Error(`${path}: could not ${action}: ${(err as Error).message}`, { cause: err });
  }
};

export async function writeAtomically(path: string, write: (handle: FileHandle) => Promise<void>, io: IoWrapper = plainIo): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  // 'wx': never reuse (or follow a link at) an existing file of that name.
  const handle = await io(temp, 'create the temporary file', () => open(temp, 'wx'));
  let closed = false;
  try {
    await write(handle);
    await io(temp, 'fsync the temporary file', () => handle.sync());
    closed = true;
    await io(temp, 'close the temporary file', () => handle.close());
    await io(path, `rename the temporary file ${temp} onto it`, () => rename(temp, path));
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
