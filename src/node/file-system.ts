/**
 * The core's FileSystem on node:fs. Files are written atomically (atomic.ts); folders are written
 * whole under a temporary sibling and renamed into place; a model path that is no folder is looked
 * up in the Hugging Face hub cache (hub-cache.ts). Errors are Node's own (code ENOENT and the
 * path in the message), which the core's messages quote.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ByteSource, EntryKind, FileData, FileSystem, HubCacheOptions } from '../io/file-system.ts';
import { fileDataChunks } from '../io/file-system.ts';
import { resolveModelPath } from './model-path.ts';
import { writeAtomically } from './atomic.ts';

/** fs read/write calls take at most 2 GiB - 1 bytes at once; larger pieces go in parts of this size. */
const IO_CHUNK_BYTES = 1 << 30;

async function openForReading(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return {
      size,
      read: async (target, position) => (await handle.read(target, 0, Math.min(target.length, IO_CHUNK_BYTES), position)).bytesRead,
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** Writes pieces at the start of a fresh file, each in parts the fs calls accept. */
export async function writePieces(handle: import('node:fs/promises').FileHandle, data: FileData, onError: (action: string, error: unknown) => never): Promise<void> {
  let position = 0;
  for (const piece of fileDataChunks(data)) {
    let done = 0;
    while (done < piece.length) {
      const length = Math.min(piece.length - done, IO_CHUNK_BYTES);
      let written: number;
      try {
        ({ bytesWritten: written } = await handle.write(piece, done, length, position + done));
      } catch (error) {
        onError('write the temporary file', error);
      }
      done += written;
    }
    position += piece.length;
  }
}

async function writeFileAtomically(path: string, data: FileData): Promise<void> {
  await writeAtomically(path, (handle) => writePieces(handle, data, (action, error) => {
    throw new Error(`${path}: could not ${action}: ${(error as Error).message}`, { cause: error });
  }));
}

/**
 * The folder is built under a temporary sibling; then the old folder (if any) is renamed aside, the
 * new one renamed in, and the old one removed. A reader sees the old folder or the new one; a crash
 * between the two renames leaves the old one beside, complete.
 */
async function writeFolderAtomically(path: string, files: ReadonlyMap<string, FileData>): Promise<void> {
  const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const temp = `${path}.tmp-${suffix}`;
  await mkdir(temp, { recursive: true });
  try {
    for (const [name, data] of files) {
      const file = join(temp, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFileAtomically(file, data);
    }
    const old = `${path}.old-${suffix}`;
    const hadOld = await rename(path, old).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw new Error(`${path}: could not move the previous folder aside: ${error.message}`, { cause: error });
    });
    await rename(temp, path).catch(async (error: unknown) => {
      if (hadOld) await rename(old, path).catch(() => undefined);
      throw new Error(`${path}: could not rename the temporary folder ${temp} onto it: ${(error as Error).message}`, { cause: error });
    });
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

export const nodeFileSystem: FileSystem = {
  name: 'node:fs',
  join: (dir, ...names) => join(dir, ...names),
  kind: (path) => stat(path).then((s): EntryKind => (s.isDirectory() ? 'folder' : 'file'), () => undefined),
  open: openForReading,
  readFile: async (path) => {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  },
  list: async (path) => (await readdir(path)).sort(),
  makeFolder: async (path) => { await mkdir(path, { recursive: true }); },
  writeFile: writeFileAtomically,
  writeFolder: writeFolderAtomically,
  remove: (path) => rm(path, { recursive: true, force: true }),
  resolveModelFolder: (pathOrRepoId: string, options: HubCacheOptions) => resolveModelPath(pathOrRepoId, options),
};
