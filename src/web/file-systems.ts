/**
 * The browser's ways to a folder, as the core's FileSystem:
 *
 * - `urlFileSystem`: paths are URLs (relative to the page or worker), read with fetch. A folder is a
 *   URL prefix, so it cannot be listed and anything that is not a file counts as a folder; it is
 *   read-only. "bone-peft/web" makes it the default, so `loadPretrained('/models/demo/')` works.
 * - `folderFromFiles`: the File objects of `<input type="file" webkitdirectory>` or a drop,
 *   read a slice at a time (a MemoryFileSystem over them; writes stay in memory).
 * - `folderFromHandle`: a FileSystemDirectoryHandle (showDirectoryPicker, the origin private file
 *   system): read and written in place.
 */
import { PathRef, bytesSource, fileDataChunks, notFoundError, type ByteSource, type EntryKind, type FileData, type FileSystem } from '../io/file-system.ts';
import { MemoryFileSystem, blobSource, joinSlashPath } from '../io/memory-file-system.ts';

function readOnly(path: string): Error {
  return Object.assign(new Error(`${path}: cannot write: URLs are read-only (write to a memoryFileSystem() or a folderFromHandle() instead)`), { code: 'EROFS' });
}

/** Joins URL paths with '/', keeping a scheme and host as they are. */
function joinUrl(dir: string, ...names: string[]): string {
  const parts = [dir, ...names].filter((p) => p !== '');
  let out = parts[0] ?? '';
  for (const name of parts.slice(1)) out = `${out.replace(/\/+$/, '')}/${name.replace(/^\/+/, '')}`;
  return out;
}

/** Files at URLs. `base` resolves relative paths (default: the page's or worker's location). */
export function urlFileSystem(base?: string): FileSystem {
  const location = (globalThis as { location?: { href: string } }).location?.href;
  const resolveUrl = (path: string): string => new URL(path, base ?? location).href;
  const get = async (path: string, action: string): Promise<Uint8Array> => {
    const url = resolveUrl(path);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(`${path}: could not fetch ${url}: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 404) throw notFoundError(path, action);
    if (!response.ok) throw new Error(`${path}: fetching ${url} answered ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  return {
    name: base ?? 'url',
    join: joinUrl,
    async kind(path: string): Promise<EntryKind | undefined> {
      if (path.endsWith('/')) return 'folder';
      const response = await fetch(resolveUrl(path), { method: 'HEAD' }).catch(() => undefined);
      return response?.ok ? 'file' : 'folder';
    },
    open: async (path: string): Promise<ByteSource> => bytesSource(await get(path, 'open')),
    readFile: (path: string) => get(path, 'open'),
    async list(path: string): Promise<string[]> {
      throw Object.assign(new Error(`${path}: a URL folder cannot be listed`), { code: 'ENOTSUP' });
    },
    makeFolder: async (path) => { throw readOnly(path); },
    writeFile: async (path) => { throw readOnly(path); },
    writeFolder: async (path) => { throw readOnly(path); },
    remove: async (path) => { throw readOnly(path); },
    // A URL prefix is a folder whether or not anything answers at it.
    resolveModelFolder: async (path) => path,
  };
}

/** A File as a picked or dropped folder knows it: its path inside the folder, when the browser gives one. */
interface PickedFile extends Blob {
  readonly name: string;
  readonly webkitRelativePath?: string;
}

/** A dropped file with the path the drop gave it (DataTransfer entries know it; the File does not). */
export interface PathedFile { path: string; file: Blob }

/**
 * The files of a picked (`webkitdirectory`) or dropped folder, as a folder: paths keep the folder's
 * own name ("my-model/config.json"), so messages read as they would on disk. Loose files (no
 * relative path) sit at the top. Returns the folder they share.
 */
export function folderFromFiles(files: Iterable<PickedFile | PathedFile>, name = 'picked files'): PathRef {
  const entries = [...files].map((f) => ('path' in f
    ? [joinSlashPath(f.path), f.file] as const
    : [joinSlashPath(f.webkitRelativePath || f.name), f] as const));
  const tops = new Set(entries.map(([path]) => (path.includes('/') ? path.split('/')[0]! : '')));
  const fs = new MemoryFileSystem(entries, name);
  return fs.at(tops.size === 1 ? [...tops][0]! : '');
}

/** One picked file (a JSONL dataset) as a path: its own name, so errors read "train.jsonl:3: ...". */
export function fileRef(file: PickedFile): PathRef {
  return new MemoryFileSystem([[file.name, file]], file.name).at(file.name);
}

/** A directory handle (showDirectoryPicker, navigator.storage.getDirectory()) as a file system; paths are relative to it. */
export function folderFromHandle(root: FileSystemDirectoryHandle): PathRef {
  const parts = (path: string): string[] => joinSlashPath(path).split('/').filter((p) => p !== '');
  const folderAt = async (path: string, create = false): Promise<FileSystemDirectoryHandle> => {
    let dir = root;
    for (const part of parts(path)) {
      try {
        dir = await dir.getDirectoryHandle(part, { create });
      } catch (error) {
        throw (error as DOMException).name === 'NotFoundError' ? notFoundError(path, 'scandir') : error;
      }
    }
    return dir;
  };
  const fileAt = async (path: string, create = false): Promise<FileSystemFileHandle> => {
    const names = parts(path);
    const dir = await folderAt(names.slice(0, -1).join('/'), create);
    try {
      return await dir.getFileHandle(names[names.length - 1]!, { create });
    } catch (error) {
      throw (error as DOMException).name === 'NotFoundError' || (error as DOMException).name === 'TypeMismatchError' ? notFoundError(path, 'open') : error;
    }
  };
  const write = async (path: string, data: FileData): Promise<void> => {
    // createWritable writes to a swap file that replaces the file on close: the file is never half-written.
    const writable = await (await fileAt(path, true)).createWritable();
    try {
      for (const piece of fileDataChunks(data)) await writable.write(piece as Uint8Array<ArrayBuffer>);
      await writable.close();
    } catch (error) {
      await writable.abort().catch(() => undefined);
      throw new Error(`${path}: could not write: ${(error as Error).message}`, { cause: error });
    }
  };
  const fs: FileSystem = {
    name: root.name,
    join: (dir, ...names) => joinSlashPath(dir, ...names),
    async kind(path) {
      if (parts(path).length === 0) return 'folder';
      try {
        await fileAt(path);
        return 'file';
      } catch {
        return folderAt(path).then(() => 'folder' as const, () => undefined);
      }
    },
    open: async (path) => blobSource(await (await fileAt(path)).getFile()),
    readFile: async (path) => new Uint8Array(await (await (await fileAt(path)).getFile()).arrayBuffer()),
    async list(path) {
      const names: string[] = [];
      for await (const key of (await folderAt(path)).keys()) names.push(key);
      return names.sort();
    },
    makeFolder: async (path) => { await folderAt(path, true); },
    writeFile: write,
    // A directory cannot be renamed through this API, so the folder is cleared and written file by file.
    async writeFolder(path, files) {
      await fs.remove(path);
      for (const [name, data] of files) await write(joinSlashPath(path, name), data);
    },
    async remove(path) {
      const names = parts(path);
      if (names.length === 0) {
        for await (const key of root.keys()) await root.removeEntry(key, { recursive: true });
        return;
      }
      const parent = await folderAt(names.slice(0, -1).join('/')).catch(() => undefined);
      await parent?.removeEntry(names[names.length - 1]!, { recursive: true }).catch((error: DOMException) => {
        if (error.name !== 'NotFoundError') throw error;
      });
    },
  };
  return new PathRef(fs, '');
}
