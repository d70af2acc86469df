/** Running the benchmark's child processes (ours and the Python anchor) and reading their one-line results. */
import { spawn } from 'node:child_process';
import '../../src/node/install.ts';
import { loadAverage } from '../util.ts';

export interface ChildRun<T> {
  ok: boolean;
  result: T | null;
  error: string | null;
  wallMs: number;
  /** The child's whole standard output and standard error. */
  stdout: string;
  stderr: string;
  loadBefore: number;
  loadAfter: number;
}

/**
 * Run a command; stderr lines are passed through (indented) when `echo` is set, and the result is
 * the `@@RESULT {json}` line of stdout or, with `lastJsonLine`, stdout's last line that parses as
 * JSON, or what `parse` makes of stdout and stderr.
 */
export function runChild<T>(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; echo?: boolean; lastJsonLine?: boolean; parse?: (stdout: string, stderr: string) => T | null; timeoutMs?: number } = {}): Promise<ChildRun<T>> {
  const loadBefore = loadAverage();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      const s = d.toString();
      err += s;
      if (opts.echo) process.stderr.write(s);
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    const finish = (code: number | null, signal: string | null, spawnError?: Error): void => {
      if (timer) clearTimeout(timer);
      const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
      let result: T | null = opts.parse ? opts.parse(out, err) : null;
      if (!opts.parse) for (const line of [...lines].reverse()) {
        const json = line.startsWith('@@RESULT ') ? line.slice(9) : opts.lastJsonLine && line.startsWith('{') ? line : null;
        if (json === null) continue;
        try { result = JSON.parse(json) as T; break; } catch { /* not JSON */ }
      }
      const failed = spawnError ? spawnError.message : code !== 0 ? `exit ${code ?? signal}: ${err.trim().split('\n').slice(-5).join(' | ')}` : result === null ? 'no result line' : null;
      resolve({ ok: failed === null, result, error: failed, wallMs: performance.now() - t0, stdout: out, stderr: err, loadBefore, loadAfter: loadAverage() });
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  });
}
