/**
 * How the platform-neutral core reaches files. Everything in src/ below the platform layers reads
 * and writes through a `FileSystem`: Node's file system (src/node), a browser's picked files,
 * folder handles and URL prefixes (src/web), or memory (memory-file-system.ts). A path given as a
 * string goes to the default file system, which the platform layer installs (Node: node:fs; a
 * browser: fetch relative to the page); a `PathRef` names a path on a particular one.
 *
 * The contract error messages rely on: a failed call rejects with an Error whose message names the
 * path, and a missing file or folder has `code === 'ENOENT'` (as Node's errors do), so callers can
 * tell "absent" from "unreadable" on every platform.
 */

/** Where a platform looks a Hugging Face repository id up (Node: the local hub cache), and which revision. */
export interface HubCacheOptions {
  /** A branch, tag or commit hash; default "main". */
  revision?: string;
  /** The hub cache folder, overriding the environment variables. */
  cacheDir?: string;
  /** Environment to read HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** A whole file's contents: text (written as UTF-8), bytes, or bytes in pieces (written in order, never joined in memory). */
export type FileData = string | Uint8Array | readonly Uint8Array[];

/** One file opened for random access (a large checkpoint is read a tensor at a time). */
export interface ByteSource {
  readonly size: number;
  /** Reads up to `target.length` bytes at `position` into `target`; resolves to the count read (0 only past the end). */
  read(target: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

export type EntryKind = 'file' | 'folder';

export interface FileSystem {
  /** How messages name it ("node:fs", "memory", "https://host/path/"). */
  readonly name: string;
  /** The path of `names` inside the folder `dir`, in this file system's syntax. */
  join(dir: string, ...names: string[]): string;
  /** What is at `path`; undefined when nothing is (or it cannot be looked at). */
  kind(path: string): Promise<EntryKind | undefined>;
  open(path: string): Promise<ByteSource>;
  readFile(path: string): Promise<Uint8Array>;
  /** The names directly inside the folder `path`, sorted. */
  list(path: string): Promise<string[]>;
  /** Makes the folder `path` and its parents; an existing folder is fine. */
  makeFolder(path: string): Promise<void>;
  /**
   * Writes a whole file so that `path` holds either what it held before or all of `data`, never a
   * part (Node: a temporary sibling, fsync, rename). Errors name the path and the step that failed.
   */
  writeFile(path: string, data: FileData): Promise<void>;
  /**
   * Writes the folder `path` holding `files` (names relative to it, '/' between folders) as one
   * step where the platform can: a reader sees the old folder or the new one, never a mix. An
   * existing folder is an error unless `overwrite`; `keepOthers` carries over what the old folder
   * holds beyond `files` (a run's checkpoints next to its adapter, a user's README.md).
   */
  writeFolder(path: string, files: ReadonlyMap<string, FileData>, options?: FolderWriteOptions): Promise<void>;
  /** Removes a file, or a folder and everything in it; nothing at `path` is not an error. */
  remove(path: string): Promise<void>;
  /**
   * Finishes or undoes what an interrupted writeFolder of `path` left behind (Node: a writer killed
   * between its renames); returns what it did, one line each, for a warning.
   */
  recover?(path: string): Promise<string[]>;
  /**
   * Makes `path` (creating it) this process's own until the returned release is called: a second
   * run into the same folder fails, naming the owner (Node: a lock file with pid and host). Checks
   * first that the folder can be written, so a run fails before its work, not after.
   */
  claimFolder?(path: string, owner: string): Promise<() => Promise<void>>;
  /**
   * The model folder that `pathOrRepoId` names, where the platform knows more than paths (Node: a
   * Hugging Face repository id found in the local hub cache). Without it, only folders are found.
   */
  resolveModelFolder?(pathOrRepoId: string, options: HubCacheOptions): Promise<string>;
}

export interface FolderWriteOptions {
  /** Replace an existing folder (default false: it is an error, and the folder is left as it is). */
  overwrite?: boolean;
  /** Keep the old folder's entries that `files` does not write (default false). */
  keepOthers?: boolean;
}

/** A path on a particular file system; `String(ref)` is the path, which is what messages show. */
export class PathRef {
  constructor(readonly fs: FileSystem, readonly path: string) {}

  /** A path inside this folder. */
  child(...names: string[]): PathRef {
    return new PathRef(this.fs, this.fs.join(this.path, ...names));
  }

  toString(): string {
    return this.path;
  }

  kind(): Promise<EntryKind | undefined> { return this.fs.kind(this.path); }
  async isFile(): Promise<boolean> { return (await this.kind()) === 'file'; }
  open(): Promise<ByteSource> { return this.fs.open(this.path); }
  readBytes(): Promise<Uint8Array> { return this.fs.readFile(this.path); }
  async readText(): Promise<string> { return decodeUtf8(await this.readBytes()); }
  /** The text, or undefined when there is no such file (any other failure rejects). */
  async readTextIfPresent(): Promise<string | undefined> {
    try {
      return await this.readText();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
  list(): Promise<string[]> { return this.fs.list(this.path); }
  makeFolder(): Promise<void> { return this.fs.makeFolder(this.path); }
  write(data: FileData): Promise<void> { return this.fs.writeFile(this.path, data); }
  writeFolder(files: ReadonlyMap<string, FileData>, options?: FolderWriteOptions): Promise<void> { return this.fs.writeFolder(this.path, files, options); }
  remove(): Promise<void> { return this.fs.remove(this.path); }
  /** See FileSystem.recover: what an interrupted folder write left here, finished or undone (nothing where the platform has no such thing). */
  async recover(): Promise<string[]> { return (await this.fs.recover?.(this.path)) ?? []; }
  /** See FileSystem.claimFolder; where the platform has no locks, the folder is only created. */
  async claim(owner: string): Promise<() => Promise<void>> {
    if (this.fs.claimFolder) return this.fs.claimFolder(this.path, owner);
    await this.makeFolder();
    return async () => undefined;
  }
}

/** A path on the default file system, or a PathRef as it is. */
export type PathLike = string | PathRef;

export function pathRef(path: PathLike): PathRef {
  return typeof path === 'string' ? new PathRef(defaultFileSystem(), path) : path;
}

/** No file system can serve a path given as a string (a browser with no default, or nothing installed). */
export class FileSystemUnavailableError extends Error {
  override name = 'FileSystemUnavailableError';
}

let installed: FileSystem | null = null;

/** The file system string paths go to (the platform layer sets it; tests and apps may replace it). */
export function setDefaultFileSystem(fs: FileSystem | null): void {
  installed = fs;
}

export function defaultFileSystem(): FileSystem {
  if (installed) return installed;
  throw new FileSystemUnavailableError(
    'a path was given as a string, but no file system is installed: import "bone-peft" in Node.js, ' +
      'or in a browser import "bone-peft/web" (strings are then URLs) or pass a PathRef (memoryFileSystem(), filesFolder(...))',
  );
}

/** Whether a file system call failed because nothing is at the path. */
export function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/** The destination of a write exists and the caller did not ask to replace it. */
export class DestinationExistsError extends Error {
  override name = 'DestinationExistsError';
  readonly path: string;
  constructor(path: string, what: string) {
    super(`${path} already exists (${what}); pass overwrite (bone: --overwrite) to replace it, or choose another path`);
    this.path = path;
  }
}

/** The error a file system without Node's errors rejects with for a missing path (Node's wording, so messages read alike). */
export function notFoundError(path: string, action: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, ${action} '${path}'`), { code: 'ENOENT' });
}

// ignoreBOM keeps a byte-order mark in the text, as Node's readFile(path, 'utf8') does (readers that
// accept one strip it themselves).
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** UTF-8 → text; invalid bytes become U+FFFD, as Node's readFile(path, 'utf8') does. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** A FileData as pieces of bytes (text encoded once). */
export function fileDataChunks(data: FileData): readonly Uint8Array[] {
  if (typeof data === 'string') return [encodeUtf8(data)];
  return data instanceof Uint8Array ? [data] : data;
}

/** A FileData as one byte array (pieces joined: only for small files or platforms that need a single buffer). */
export function fileDataBytes(data: FileData): Uint8Array {
  const chunks = fileDataChunks(data);
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** Random access to bytes in memory (a fetched file, a file of a memory file system). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (target, position) => {
      const part = bytes.subarray(position, position + target.length);
      target.set(part);
      return part.length;
    },
    close: async () => undefined,
  };
}
