/**
 * The memory a training step can have on this machine, as Linux reports it (MemAvailable, and a
 * cgroup's limit where one applies) or, elsewhere, as Node's os module does: what the memory check
 * before training (train/memory-check.ts) compares its estimate with.
 */
import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import type { HostMemory } from '../train/memory-check.ts';

function readNumber(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    const n = Number(text);
    return Number.isFinite(n) ? n : null; // cgroup v2 writes "max" for no limit
  } catch {
    return null;
  }
}

/** /proc/meminfo's MemAvailable (free memory plus what the kernel can reclaim), or os.freemem(). */
function machineAvailable(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return freemem();
}

export function hostMemory(): HostMemory {
  const totalBytes = totalmem();
  const processBytes = process.memoryUsage().rss;
  let availableBytes = machineAvailable();
  let limitBytes: number | null = null;
  // cgroup v2, then v1: the limit and what the group uses now (this process included).
  for (const [limitFile, usageFile] of [['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current'],
    ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.usage_in_bytes']] as const) {
    const limit = readNumber(limitFile);
    if (limit === null || limit >= totalBytes) continue;
    limitBytes = limit;
    const usage = readNumber(usageFile);
    if (usage !== null) availableBytes = Math.min(availableBytes, Math.max(0, limit - usage));
    break;
  }
  return { totalBytes, availableBytes, limitBytes, processBytes };
}

