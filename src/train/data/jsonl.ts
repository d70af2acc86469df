/**
 * JSON Lines: one JSON value per line, in UTF-8. Blank lines are skipped (editors and `cat a b > c`
 * leave them behind); every other line must be a JSON object, and an error names the file and the
 * 1-based line together with the JSON parser's own message (or the byte that is not UTF-8).
 */
import { pathRef, type PathLike } from '../../io/file-system.ts';
import { DatasetError, type ExampleSource } from './errors.ts';

/** A JSON value as JSON.parse returns it. */
export type { JsonValue, JsonObject } from '../../io/json.ts';
import { describeJson, isJsonObject, type JsonObject, type JsonValue } from '../../io/json.ts';

export { describeJson, isJsonObject } from '../../io/json.ts';

/** One non-blank line of a JSONL file, parsed. */
export interface JsonlRecord {
  readonly source: ExampleSource;
  readonly value: JsonObject;
}


/** Parses JSONL text; `file` is only used to name locations in errors. Blank lines are skipped. */
export function parseJsonl(text: string, file: string): JsonlRecord[] {
  // A UTF-8 byte-order mark is not JSON whitespace, and some Windows editors write one.
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split('\n');
  const records: JsonlRecord[] = [];
  lines.forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    const source: ExampleSource = { file, line: index + 1 };
    let value: JsonValue;
    try {
      value = JSON.parse(line) as JsonValue;
    } catch (error) {
      throw DatasetError.at(source, `invalid JSON: ${(error as Error).message}`, error);
    }
    if (!isJsonObject(value)) throw DatasetError.at(source, `expected a JSON object, found ${describeJson(value)}`);
    records.push({ source, value });
  });
  return records;
}

/** The index of the first byte that is not part of valid UTF-8 (overlong forms and surrogates included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    if (b < 0x80) { i += 1; continue; }
    const tail = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (tail < 0) return i;
    const b1 = bytes[i + 1];
    // The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (b1 === undefined || b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= tail; k += 1) {
      const bk = bytes[i + k];
      if (bk === undefined || (bk & 0xc0) !== 0x80) return i;
    }
    i += tail + 1;
  }
  return -1;
}

/**
 * A file's bytes as text. Bytes that are not UTF-8 are refused, naming the line: decoding them as
 * U+FFFD (Node's default) would train on replacement characters, which most tokenizers then drop.
 */
export function decodeJsonlBytes(bytes: Uint8Array, file: string): string {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
    const line = bytes.subarray(0, lineStart).filter((b) => b === 0x0a).length + 1;
    const before = new TextDecoder('utf-8').decode(bytes.subarray(Math.max(lineStart, bad - 20), bad));
    throw DatasetError.at(
      { file, line },
      `the line is not valid UTF-8: byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} at byte ${bad - lineStart + 1} of the line` +
        `${before ? ` (after ${JSON.stringify(before)})` : ''}; save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`,
    );
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/** Reads and parses a JSONL file; see {@link parseJsonl}. */
export async function readJsonl(path: PathLike): Promise<JsonlRecord[]> {
  const ref = pathRef(path);
  const file = ref.path;
  let bytes: Uint8Array;
  try {
    bytes = await ref.readBytes();
  } catch (error) {
    throw new DatasetError(`cannot read the dataset: ${(error as Error).message}`, { file, cause: error });
  }
  return parseJsonl(decodeJsonlBytes(bytes, file), file);
}
