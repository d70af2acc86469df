/**
 * A file system in memory: a map of '/'-separated paths to bytes, or to blobs (a browser's File
 * objects, read a slice at a time, so a picked 500 MB checkpoint is never copied whole). A browser
 * tab keeps its checkpoints and the adapter it offers for download here, a folder the user picked
 * or dropped is one, and tests use it to read and write folders without a disk. Folders exist
 * implicitly (a file's parents) or explicitly (makeFolder).
 */
import {
  DestinationExistsError, PathRef, bytesSource, fileDataBytes, notFoundError, type ByteSource, type EntryKind, type FileData, type FileSystem, type FolderWriteOptions,
} from './file-system.ts';

/** Joins and normalises '/'-paths: no leading "./" or "/", no empty or "." segments; ".." climbs. */
export function joinSlashPath(dir: string, ...names: string[]): string {
  const parts: string[] = [];
  for (const piece of [dir, ...names]) {
    for (const segment of piece.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') parts.pop();
      else parts.push(segment);
    }
  }
  return parts.join('/');
}

/** What a file of a memory file system holds: bytes, or a Blob (typed by what is used of it, so the core needs no DOM types). */
export type MemoryFile = Uint8Array | BlobLike;

export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/** Random access to a Blob (a browser File): each read fetches only its slice. */
export function blobSource(blob: BlobLike): ByteSource {
  return {
    size: blob.size,
    read: async (target, position) => {
      const part = new Uint8Array(await blob.slice(position, Math.min(blob.size, position + target.length)).arrayBuffer());
      target.set(part);
      return part.length;
    },
    close: async () => undefined,
  };
}

export class MemoryFileSystem implements FileSystem {
  readonly name: string;
  readonly #files = new Map<string, MemoryFile>();
  readonly #folders = new Set<string>();

  constructor(files: Iterable<readonly [string, MemoryFile]> = [], name = 'memory') {
    this.name = name;
    for (const [path, bytes] of files) this.#put(joinSlashPath(path), bytes);
  }

  join(dir: string, ...names: string[]): string {
    return joinSlashPath(dir, ...names);
  }

  /** A path on this file system. */
  at(path = ''): PathRef {
    return new PathRef(this, joinSlashPath(path));
  }

  /** The files under `folder` (all when ''), by path relative to it, in path order; blobs are read. */
  async files(folder = ''): Promise<Map<string, Uint8Array>> {
    const base = joinSlashPath(folder);
    const prefix = base === '' ? '' : `${base}/`;
    const entries = [...this.#files].filter(([p]) => p.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return new Map(await Promise.all(entries.map(async ([p, file]) => [p.slice(prefix.length), await contents(file)] as const)));
  }

  async kind(path: string): Promise<EntryKind | undefined> {
    const p = joinSlashPath(path);
    if (this.#files.has(p)) return 'file';
    return this.#isFolder(p) ? 'folder' : undefined;
  }

  async open(path: string): Promise<ByteSource> {
    const file = this.#file(path, 'open');
    return file instanceof Uint8Array ? bytesSource(file) : blobSource(file);
  }

  async readFile(path: string): Promise<Uint8Array> {
    return contents(this.#file(path, 'open'));
  }

  async list(path: string): Promise<string[]> {
    const p = joinSlashPath(path);
    if (this.#files.has(p)) throw Object.assign(new Error(`ENOTDIR: not a directory, scandir '${path}'`), { code: 'ENOTDIR' });
    if (!this.#isFolder(p)) throw notFoundError(path, 'scandir');
    const prefix = p === '' ? '' : `${p}/`;
    const names = new Set<string>();
    for (const entry of [...this.#files.keys(), ...this.#folders]) {
      if (entry.startsWith(prefix) && entry.length > prefix.length) names.add(entry.slice(prefix.length).split('/')[0]!);
    }
    return [...names].sort();
  }

  async makeFolder(path: string): Promise<void> {
    const p = joinSlashPath(path);
    if (this.#files.has(p)) throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${path}'`), { code: 'EEXIST' });
    if (p !== '') this.#folders.add(p);
  }

  async writeFile(path: string, data: FileData): Promise<void> {
    const p = joinSlashPath(path);
    if (this.#isFolder(p)) throw Object.assign(new Error(`${path}: could not write: EISDIR: illegal operation on a directory`), { code: 'EISDIR' });
    // A copy: the caller may reuse its buffers (tensor storage) after the write.
    this.#put(p, fileDataBytes(data).slice());
  }

  async writeFolder(path: string, files: ReadonlyMap<string, FileData>, options: FolderWriteOptions = {}): Promise<void> {
    const p = joinSlashPath(path);
    const kind = await this.kind(p);
    if (kind !== undefined && !options.overwrite) throw new DestinationExistsError(path, `a ${kind}`);
    const written = new Map([...files].map(([name, data]) => [joinSlashPath(p, name), fileDataBytes(data).slice()] as const));
    if (!options.keepOthers) await this.remove(p);
    if (p !== '') this.#folders.add(p);
    for (const [file, bytes] of written) this.#put(file, bytes);
  }

  async remove(path: string): Promise<void> {
    const p = joinSlashPath(path);
    const prefix = p === '' ? '' : `${p}/`;
    this.#files.delete(p);
    this.#folders.delete(p);
    for (const file of [...this.#files.keys()]) if (file.startsWith(prefix)) this.#files.delete(file);
    for (const folder of [...this.#folders]) if (folder.startsWith(prefix)) this.#folders.delete(folder);
  }

  #put(path: string, file: MemoryFile): void {
    this.#files.set(path, file);
  }

  #file(path: string, action: string): MemoryFile {
    const bytes = this.#files.get(joinSlashPath(path));
    if (!bytes) throw notFoundError(path, action);
    return bytes;
  }

  #isFolder(p: string): boolean {
    if (p === '' || this.#folders.has(p)) return true;
    const prefix = `${p}/`;
    for (const entry of this.#files.keys()) if (entry.startsWith(prefix)) return true;
    for (const entry of this.#folders) if (entry.startsWith(prefix)) return true;
    return false;
  }
}

async function contents(file: MemoryFile): Promise<Uint8Array> {
  return file instanceof Uint8Array ? file : new Uint8Array(await file.slice(0, file.size).arrayBuffer());
}

/** A memory file system, optionally filled with files (path → bytes or text). */
export function memoryFileSystem(files: Iterable<readonly [string, FileData]> | Record<string, FileData> = []): MemoryFileSystem {
  const entries = Symbol.iterator in files ? [...(files as Iterable<readonly [string, FileData]>)] : Object.entries(files);
  return new MemoryFileSystem(entries.map(([path, data]) => [path, fileDataBytes(data)] as const));
}
