/**
 * JSON Lines: one JSON value per line. Blank lines are skipped (editors and `cat a b > c` leave
 * them behind); every other line must be a JSON object, and an error names the file and the
 * 1-based line together with the JSON parser's own message.
 */
import { readFile } from 'node:fs/promises';
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

/** Reads and parses a JSONL file; see {@link parseJsonl}. */
export async function readJsonl(file: string): Promise<JsonlRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DatasetError(`cannot read the dataset: ${(error as Error).message}`, { file, cause: error });
  }
  return parseJsonl(text, file);
}
