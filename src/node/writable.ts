/**
 * Whether a folder can be written, found out before any work is done (a run that trains for an hour
 * and then cannot save has lost the hour): the folder is created if needed and a probe file is
 * written into it and removed. A failure names the folder and the reason in words: a read-only file
 * system, a folder this user may not write, a file where a folder should be, a full disk.
 */
import { lstat, mkdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

export class NotWritableError extends Error {
  override name = 'NotWritableError';
  readonly path: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot write into ${path}: ${reason}`, options);
    this.path = path;
  }
}

/** The closest folder at or above `path` that exists, and what is in the way if a file is. */
async function nearestExisting(path: string): Promise<{ path: string; isFolder: boolean }> {
  let p = resolve(path);
  for (;;) {
    const s = await lstat(p).catch(() => null);
    if (s) return { path: p, isFolder: s.isDirectory() };
    const up = dirname(p);
    if (up === p) return { path: p, isFolder: true };
    p = up;
  }
}

function userName(): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'this user' : `this user (uid ${uid})`;
}

/** The reason for a failed write, in words, from its error code. */
export function describeWriteFailure(code: string | undefined, at: string): string {
  switch (code) {
    case 'EROFS': return `${at} is on a read-only file system`;
    case 'EACCES':
    case 'EPERM': return `${at} is not writable by ${userName()}`;
    case 'ENOSPC': return `the disk holding ${at} is full`;
    case 'EDQUOT': return `the disk quota for ${at} is used up`;
    case 'ENOTDIR': return `a part of the path ${at} is a file, not a folder`;
    default: return `${code ?? 'unknown error'} at ${at}`;
  }
}

/** Create `dir` if needed and check that a file can be written into it; throws NotWritableError saying why not. */
export async function checkWritable(dir: string): Promise<void> {
  const existing = await nearestExisting(dir);
  if (!existing.isFolder) throw new NotWritableError(dir, `${existing.path} is a file, not a folder`);
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    // A recursive mkdir reports ENOENT on a read-only file system; making the first missing folder
    // alone gives the real reason (EROFS, EACCES).
    const first = join(existing.path, relative(existing.path, resolve(dir)).split(sep)[0]!);
    const code = await mkdir(first).then(() => (e as NodeJS.ErrnoException).code, (inner: NodeJS.ErrnoException) => inner.code);
    throw new NotWritableError(dir, `it does not exist and cannot be created: ${describeWriteFailure(code, existing.path)}`, { cause: e });
  }
  const probe = join(dir, `.bone-write-probe-${process.pid}`);
  try {
    await writeFile(probe, '');
  } catch (e) {
    throw new NotWritableError(dir, describeWriteFailure((e as NodeJS.ErrnoException).code, dir), { cause: e });
  }
  await unlink(probe).catch(() => undefined);
}
