/** Small helpers shared by the benchmarks: machine description, statistics, fast random fills. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { createRequire } from 'node:module';

export interface MachineInfo {
  cpu: string;
  cores: number;
  flags: string[];
  memoryGiB: number;
  node: string;
  onnxruntimeNode: string;
  threads: number;
  loadAverageAtStart: number[];
}

export function machineInfo(threads: number): MachineInfo {
  let cpu = cpus()[0]?.model ?? 'unknown';
  let flags: string[] = [];
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.*)$/m.exec(text)?.[1]?.trim() ?? cpu;
    const all = /^flags\s*:\s*(.*)$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
    flags = all.filter((f) => /^(avx2|fma|avx512f|avx512_vnni|avx512_bf16|amx_bf16|amx_tile)$/.test(f));
  } catch { /* not Linux */ }
  const require = createRequire(import.meta.url);
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  let load: number[] = [];
  try { load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number); } catch { /* not Linux */ }
  return {
    cpu, cores: availableParallelism(), flags, memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, onnxruntimeNode: ortVersion, threads, loadAverageAtStart: load,
  };
}

export function loadAverage(): number {
  try { return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]); } catch { return NaN; }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function min(xs: readonly number[]): number {
  return Math.min(...xs);
}

/** Uniform[-scale, scale) floats from a fixed seed (mulberry32): fast enough for 135M weights. */
export function randomFloats(n: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function randomInts(n: number, high: number, seed: number): BigInt64Array {
  const f = randomFloats(n, 1, seed);
  return BigInt64Array.from(f, (v) => BigInt(Math.min(high - 1, Math.floor(((v + 1) / 2) * high))));
}

export const now = (): number => performance.now();

/** Fixed-width table for the console and Markdown alike. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
