/** The error every dataset reader, tokenizer step and batcher throws on bad input. */

/** Where an example came from: the JSONL file and its 1-based line number. */
export interface ExampleSource {
  readonly file: string;
  readonly line: number;
}

/**
 * A training dataset could not be read or used. When the problem concerns a file, the message
 * starts with `file:line:` (or `file:` when no single line is at fault), the way compilers report
 * errors, so that editors and terminals can jump to it; `file` and `line` hold the same location.
 */
export class DatasetError extends Error {
  override name = 'DatasetError';
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(message: string, options: { file?: string; line?: number; cause?: unknown } = {}) {
    super(`${locationPrefix(options.file, options.line)}${message}`, { cause: options.cause });
    this.file = options.file;
    this.line = options.line;
  }

  /** An error about one example, located at its source. */
  static at(source: ExampleSource | undefined, message: string, cause?: unknown): DatasetError {
    return new DatasetError(message, { file: source?.file, line: source?.line, cause });
  }
}

function locationPrefix(file: string | undefined, line: number | undefined): string {
  if (file === undefined) return '';
  return line === undefined ? `${file}: ` : `${file}:${line}: `;
}
