/**
 * A lock a process takes on a folder it writes into for a long time (bone train's --out), so that a
 * second run cannot write the same folder at once: a file `.bone-lock` in the folder, created
 * exclusively, holding the owner's pid, host, start time and command. A lock whose process is gone
 * (killed, crashed) is stale and taken over; a live one is refused with the owner named.
 */
import { readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { processAlive } from './atomic.ts';

export const LOCK_NAME = '.bone-lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** When the owner took the lock (ISO time). */
  since: string;
  command: string;
  /** The owner's start time as the kernel counts it (Linux), so that a reused pid is not mistaken for the owner. */
  processStart?: string;
}

/** Another live process holds the folder. */
export class FolderLockedError extends Error {
  override name = 'FolderLockedError';
  readonly owner: LockOwner;
  constructor(dir: string, owner: LockOwner) {
    super(`${dir} is in use by another process: pid ${owner.pid} on ${owner.host}, since ${owner.since} (${owner.command}). ` +
      `Wait for it to finish, stop it, or choose another folder; if that process is gone, delete ${join(dir, LOCK_NAME)}`);
    this.owner = owner;
  }
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot (Linux only). */
function processStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true; // another machine's process: cannot tell, so assume it runs
  if (!processAlive(owner.pid)) return false;
  const start = processStartOf(owner.pid);
  return owner.processStart === undefined || start === undefined || start === owner.processStart;
}

const held = new Map<string, number>();
let exitReleaseInstalled = false;

/**
 * Take the lock on `dir` (creating the folder). Re-entrant within one process (fineTune inside
 * bone train). Returns the function that releases it; the lock is also released if the process
 * exits without doing so (a second Ctrl-C).
 */
export async function lockFolder(dir: string, command: string): Promise<() => Promise<void>> {
  const path = join(resolve(dir), LOCK_NAME);
  const release = async (): Promise<void> => {
    const n = (held.get(path) ?? 1) - 1;
    if (n > 0) { held.set(path, n); return; }
    held.delete(path);
    await unlink(path).catch(() => undefined);
  };
  if (held.has(path)) { held.set(path, held.get(path)! + 1); return release; }
  await mkdir(dir, { recursive: true });
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command, processStart: processStartOf(process.pid) };
  // The lock appears complete or not at all: written under a private name, then hard-linked into
  // place (link fails if the name exists), so a second process never reads a half-written one.
  const draft = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(draft, `${JSON.stringify(me, null, 2)}\n`, { flag: 'wx' });
  try {
    return await takeLock(dir, path, draft, release);
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

async function takeLock(dir: string, path: string, draft: string, release: () => Promise<void>): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await link(draft, path);
      held.set(path, 1);
      if (!exitReleaseInstalled) {
        exitReleaseInstalled = true;
        process.on('exit', () => { for (const p of held.keys()) rmSync(p, { force: true }); });
      }
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    // Unreadable (damaged, or gone already): treat as stale.
    const owner = await readFile(path, 'utf8').then((text) => JSON.parse(text) as LockOwner, () => null);
    if (owner && typeof owner.pid === 'number' && ownerAlive(owner)) throw new FolderLockedError(dir, owner);
    // Stale: its process is gone. Take it away under a private name (only one process can), then
    // check that what was taken is still the stale lock and not one a racing process just made.
    const taken = `${draft}.stale`;
    if (await rename(path, taken).then(() => true, () => false)) {
      const text = await readFile(taken, 'utf8').catch(() => '');
      const takenOwner = (() => { try { return JSON.parse(text) as LockOwner; } catch { return null; } })();
      if (takenOwner && takenOwner.pid !== owner?.pid && ownerAlive(takenOwner)) {
        await link(taken, path).catch(() => undefined);
        await unlink(taken).catch(() => undefined);
        throw new FolderLockedError(dir, takenOwner);
      }
      await unlink(taken).catch(() => undefined);
    }
  }
  throw new Error(`${path}: could not take the lock (another process keeps taking it)`);
}
