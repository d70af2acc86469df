/**
 * Where commands write. The command functions take a CliIO instead of using `process.stdout`
 * directly, so that tests and the demo can run them in-process and read what they printed.
 * Convention: results on stdout (a completion, an inspect listing, a summary), progress and
 * warnings on stderr (so `bone generate ... > out.txt` captures only the text).
 */

/** The part of a stream the commands use; process.stdout / process.stderr satisfy it. */
export interface TextSink {
  write(text: string): unknown;
  /** True on a terminal: progress is then redrawn in place. */
  readonly isTTY?: boolean;
  /** Terminal width, to keep a redrawn line on one row. */
  readonly columns?: number;
}

export interface CliIO {
  stdout: TextSink;
  stderr: TextSink;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** A CliIO that keeps everything written, for tests and for callers that want the text. */
export function captureIO(opts: { isTTY?: boolean; columns?: number } = {}): CliIO & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (t: string) => out.push(t), isTTY: opts.isTTY ?? false, columns: opts.columns ?? 100 },
    stderr: { write: (t: string) => err.push(t), isTTY: opts.isTTY ?? false, columns: opts.columns ?? 100 },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

/** Write one line. */
export function println(sink: TextSink, line = ''): void {
  sink.write(`${line}\n`);
}

export { formatBytes, formatCount, formatDuration, formatNumber, formatShort, plural } from './format.ts';
