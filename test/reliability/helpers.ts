/**
 * What the reliability tests share: the `bone` command as a child process (real exits, real
 * signals, real concurrency), the demo model, and a small training file (the first 40 lines of the
 * demo's data), as the probes used them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const DEMO_MODEL = join(ROOT, 'demo', 'model');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');

/** A scratch folder with small.jsonl in it; remove() when done. */
export function scratch(prefix: string): { dir: string; data: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bone-${prefix}-`));
  const data = join(dir, 'small.jsonl');
  writeFileSync(data, readFileSync(join(ROOT, 'demo', 'data', 'train.jsonl'), 'utf8').split('\n').slice(0, 40).join('\n') + '\n');
  return { dir, data, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `M` of the issue: the demo model, the small data, batch size 2. */
export const M = (data: string): string[] => ['--model', DEMO_MODEL, '--data', data, '--batch-size', '2'];

export interface Run {
  child: ChildProcess;
  /** Resolves when the process ends. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves when stderr or stdout has printed text matching `pattern`. */
  printed(pattern: RegExp): Promise<void>;
}

/** Start `bone ...args` (through tsx, from the sources) as a child process. */
export function startBone(args: readonly string[], opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT, env: { ...process.env, BONE_DEBUG: '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }),
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) if (w.pattern.test(stdout) || w.pattern.test(stderr)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); check(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); check(); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child, done,
    printed: (pattern) => new Promise<void>((resolve, reject) => {
      waiters.push({ pattern, resolve });
      check();
      void done.then((r) => reject(new Error(`the process ended (code ${r.code}) before printing ${pattern}:\n${r.stdout}\n${r.stderr}`)));
    }),
  };
}

/** Run `bone ...args` to its end. */
export function bone(args: readonly string[], opts: Parameters<typeof startBone>[1] = {}): Run['done'] {
  return startBone(args, opts).done;
}
