/**
 * A file system in memory: a map of '/'-separated paths to bytes. A browser tab keeps its
 * checkpoints and the adapter it offers for download here, and tests use it to read and write
 * folders without a disk. Folders exist implicitly (a file's parents) or explicitly (makeFolder).
 */
import {
  PathRef, bytesSource, fileDataBytes, notFoundError, type ByteSource, type EntryKind, type FileData, type FileSystem,
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

export class MemoryFileSystem implements FileSystem {
  readonly name: string;
  readonly #files = new Map<string, Uint8Array>();
  readonly #folders = new Set<string>();

  constructor(files: Iterable<readonly [string, Uint8Array]> = [], name = 'memory') {
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

  /** The files under `folder` (all when ''), by path relative to it, in path order. */
  files(folder = ''): Map<string, Uint8Array> {
    const base = joinSlashPath(folder);
    const prefix = base === '' ? '' : `${base}/`;
    return new Map([...this.#files].filter(([p]) => p.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([p, bytes]) => [p.slice(prefix.length), bytes]));
  }

  async kind(path: string): Promise<EntryKind | undefined> {
    const p = joinSlashPath(path);
    if (this.#files.has(p)) return 'file';
    return this.#isFolder(p) ? 'folder' : undefined;
  }

  async open(path: string): Promise<ByteSource> {
    return bytesSource(this.#file(path, 'open'));
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.#file(path, 'open');
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

  async writeFolder(path: string, files: ReadonlyMap<string, FileData>): Promise<void> {
    const p = joinSlashPath(path);
    const written = new Map([...files].map(([name, data]) => [joinSlashPath(p, name), fileDataBytes(data).slice()] as const));
    await this.remove(p);
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

  #put(path: string, bytes: Uint8Array): void {
    this.#files.set(path, bytes);
  }

  #file(path: string, action: string): Uint8Array {
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

/** A memory file system, optionally filled with files (path → bytes or text). */
export function memoryFileSystem(files: Iterable<readonly [string, FileData]> | Record<string, FileData> = []): MemoryFileSystem {
  const entries = Symbol.iterator in files ? [...(files as Iterable<readonly [string, FileData]>)] : Object.entries(files);
  return new MemoryFileSystem(entries.map(([path, data]) => [path, fileDataBytes(data)] as const));
}
