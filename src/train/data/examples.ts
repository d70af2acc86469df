/**
 * The three example formats a training file may use, one per line, as in TRL's SFTTrainer:
 *
 * - `{"text": "..."}` — language modelling: loss on every token;
 * - `{"prompt": "...", "completion": "..."}` — loss on the completion only;
 * - `{"messages": [{"role": "...", "content": "..."}, ...]}` — a conversation rendered with the
 *   model's chat template: loss on the assistant turns only.
 *
 * Other fields are ignored, as TRL ignores other dataset columns; extra fields of a message
 * (`name`, `tool_calls`, ...) reach the chat template. One file holds one format: TRL requires one
 * format per dataset, and a file that mixes them is almost always a mistake (a stray line from
 * another dataset), so the first line that differs is an error naming it. Several files of
 * different formats can still be tokenized and concatenated by the caller.
 */
import type { PathLike } from '../../io/file-system.ts';
import type { ChatMessage } from '../../io/tokenizer.ts';
import { DatasetError, type ExampleSource } from './errors.ts';
import { describeJson, isJsonObject, readJsonl, parseJsonl, type JsonObject, type JsonlRecord } from './jsonl.ts';

export type ExampleFormat = 'text' | 'prompt-completion' | 'messages';

export interface TextExample {
  readonly format: 'text';
  readonly text: string;
  readonly source?: ExampleSource;
}

export interface PromptCompletionExample {
  readonly format: 'prompt-completion';
  readonly prompt: string;
  readonly completion: string;
  readonly source?: ExampleSource;
}

export interface ChatExample {
  readonly format: 'messages';
  readonly messages: readonly ChatMessage[];
  readonly source?: ExampleSource;
}

/** One training example before tokenization; `source` locates it in its file for error messages. */
export type TrainingExample = TextExample | PromptCompletionExample | ChatExample;

const FORMAT_FIELDS = ['text', 'prompt', 'completion', 'messages'] as const;

/** Validates one parsed line as a training example. */
export function exampleFromJson(value: JsonObject, source?: ExampleSource): TrainingExample {
  const present = FORMAT_FIELDS.filter((field) => value[field] !== undefined);
  // Annotated so that TypeScript narrows after `if (...) fail(...)`.
  const fail: (message: string) => never = (message) => { throw DatasetError.at(source, message); };

  if (present.length === 0) {
    const keys = Object.keys(value);
    fail(
      'expected "text", "prompt" and "completion", or "messages"; ' +
      `found ${keys.length === 0 ? 'an empty object' : `the fields ${keys.map((k) => `"${k}"`).join(', ')}`}`,
    );
  }
  if (value['messages'] !== undefined) {
    if (present.length > 1) fail(`an example has one format, but this line has ${present.map((k) => `"${k}"`).join(' and ')}`);
    return { format: 'messages', messages: chatMessagesFrom(value['messages'], fail), source };
  }
  if (value['prompt'] !== undefined || value['completion'] !== undefined) {
    if (value['text'] !== undefined) fail('an example has one format, but this line has both "text" and "prompt"/"completion"');
    const prompt = value['prompt'];
    const completion = value['completion'];
    if (prompt === undefined) fail('has "completion" but no "prompt"');
    if (completion === undefined) fail('has "prompt" but no "completion"');
    if (Array.isArray(prompt) || Array.isArray(completion)) {
      fail('conversational prompt-completion (lists of messages) is not supported: write the conversation as "messages", ' +
        'which puts loss on the assistant turns');
    }
    if (typeof prompt !== 'string') fail(`"prompt" must be a string, found ${describeJson(prompt)}`);
    if (typeof completion !== 'string') fail(`"completion" must be a string, found ${describeJson(completion)}`);
    return { format: 'prompt-completion', prompt, completion, source };
  }
  const text = value['text'];
  if (typeof text !== 'string') fail(`"text" must be a string, found ${describeJson(text)}`);
  return { format: 'text', text, source };
}

function chatMessagesFrom(value: JsonObject[string], fail: (message: string) => never): ChatMessage[] {
  if (!Array.isArray(value)) return fail(`"messages" must be an array of {role, content} objects, found ${describeJson(value)}`);
  if (value.length === 0) return fail('"messages" is empty');
  return value.map((message, i) => {
    const where = `"messages"[${i}]`;
    if (!isJsonObject(message)) return fail(`${where} must be an object with "role" and "content", found ${describeJson(message)}`);
    const { role, content } = message;
    if (role === undefined) fail(`${where} has no "role"`);
    if (typeof role !== 'string' || role === '') fail(`${where}."role" must be a non-empty string, found ${describeJson(role)}`);
    if (content === undefined) fail(`${where} has no "content"`);
    // Templates of text models concatenate content as a string; other shapes fail inside them with worse messages.
    if (typeof content !== 'string') fail(`${where}."content" must be a string, found ${describeJson(content)}`);
    return message as ChatMessage;
  });
}

/**
 * Turns parsed JSONL lines into examples of one format. Throws naming the file and line of the
 * first invalid example, of the first line whose format differs from the first line's, or the file
 * when it has no example at all.
 */
export function examplesFromRecords(records: readonly JsonlRecord[], file: string): TrainingExample[] {
  if (records.length === 0) throw new DatasetError('the dataset is empty: it has no non-blank line', { file });
  const examples = records.map((record) => exampleFromJson(record.value, record.source));
  const first = examples[0]!;
  for (const example of examples) {
    if (example.format !== first.format) {
      throw DatasetError.at(
        example.source,
        `this line is a ${example.format} example, but the file's format is ${first.format} (set by line ${first.source?.line}); ` +
        'a file holds one format, as TRL requires one per dataset',
      );
    }
  }
  return examples;
}

/** Parses JSONL text into examples; see {@link examplesFromRecords}. */
export function parseExamples(text: string, file: string): TrainingExample[] {
  return examplesFromRecords(parseJsonl(text, file), file);
}

/** Reads a JSONL training file into examples; see {@link examplesFromRecords}. */
export async function readExamples(file: PathLike): Promise<TrainingExample[]> {
  return examplesFromRecords(await readJsonl(file), String(file));
}
