/**
 * The core's FileSystem on node:fs. Files and folders are written atomically, interrupted folder
 * writes recovered (atomic.ts), run folders locked (folder-lock.ts); a model path that is no folder
 * is looked up in the Hugging Face hub cache (hub-cache.ts). Errors are Node's own (code ENOENT and the
 * path in the message), which the core's messages quote.
 */
import { lstat, mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ByteSource, EntryKind, FileData, FileSystem, FolderWriteOptions, HubCacheOptions } from '../io/file-system.ts';
import { fileDataChunks } from '../io/file-system.ts';
import { recoverFolderWrites, removeFolderAtomically, writeAtomically, writeFolderAtomically } from './atomic.ts';
import { lockFolder } from './folder-lock.ts';
import { resolveModelPath } from './model-path.ts';
import { checkWritable } from './writable.ts';

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

/** A folder written whole under a temporary name and renamed into place (atomic.ts, writeFolderAtomically). */
async function writeFolder(path: string, files: ReadonlyMap<string, FileData>, options: FolderWriteOptions = {}): Promise<void> {
  await writeFolderAtomically(path, async (dir) => {
    for (const [name, data] of files) {
      const file = join(dir, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFileAtomically(file, data);
    }
  }, { overwrite: options.overwrite ?? false, keepOthers: options.keepOthers ?? false });
}

async function remove(path: string): Promise<void> {
  // A folder is renamed away before it is deleted, so a crash leaves it whole or gone, never half.
  if ((await lstat(path).catch(() => null))?.isDirectory()) await removeFolderAtomically(path);
  else await rm(path, { force: true });
}

/** checkWritable, then the folder's lock file (folder-lock.ts). */
async function claimFolder(path: string, owner: string): Promise<() => Promise<void>> {
  await checkWritable(path);
  return lockFolder(path, owner);
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
  writeFolder,
  remove,
  recover: recoverFolderWrites,
  claimFolder,
  resolveModelFolder: (pathOrRepoId: string, options: HubCacheOptions) => resolveModelPath(pathOrRepoId, options),
};
