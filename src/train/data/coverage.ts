/**
 * Characters of the training text that the tokenizer cannot represent. A tokenizer without byte
 * fallback and without an unknown token (a character-level vocabulary, the demo's) encodes such a
 * character to nothing, so it silently vanishes from the token ids; one with an unknown token turns
 * it into that token. Either way the model never sees it, which the user should know once, with
 * examples, rather than find out from the outputs.
 *
 * Each distinct character is encoded on its own (without special tokens), once: cheap next to the
 * tokenization itself. Whitespace is left out, since pre-tokenizers that split on it drop it by design.
 */
import type { ExampleSource } from './errors.ts';
import type { TrainingExample } from './examples.ts';

/** The part of the tokenizer this check uses. */
export interface CoverageTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  readonly unkTokenId?: number | undefined;
}

export interface UnrepresentableCharacter {
  readonly char: string;
  /** How many times it occurs in the examples. */
  readonly occurrences: number;
  /** Where it first occurs. */
  readonly first: ExampleSource | undefined;
  /** 'dropped': encoded to nothing; 'unknown': encoded to the unknown token. */
  readonly becomes: 'dropped' | 'unknown';
}

export interface CoverageSummary {
  /** Occurrences of all the characters below. */
  readonly occurrences: number;
  /** Each such character, most frequent first. */
  readonly characters: readonly UnrepresentableCharacter[];
}

function textsOf(example: TrainingExample): string[] {
  switch (example.format) {
    case 'text': return [example.text];
    case 'prompt-completion': return [example.prompt, example.completion];
    case 'messages': return example.messages.map((m) => (typeof m.content === 'string' ? m.content : ''));
  }
}

/** The characters of `examples` that `tokenizer` encodes to nothing or to its unknown token. */
export function unrepresentableCharacters(examples: readonly TrainingExample[], tokenizer: CoverageTokenizer): CoverageSummary {
  const verdict = new Map<string, 'dropped' | 'unknown' | null>();
  const found = new Map<string, { occurrences: number; first: ExampleSource | undefined; becomes: 'dropped' | 'unknown' }>();
  for (const example of examples) {
    for (const text of textsOf(example)) {
      for (const char of text) {
        let v = verdict.get(char);
        if (v === undefined) {
          const ids = /\s/u.test(char) ? null : tokenizer.encode(char, { addSpecialTokens: false });
          v = ids === null ? null : ids.length === 0 ? 'dropped' : tokenizer.unkTokenId !== undefined && ids.every((id) => id === tokenizer.unkTokenId) ? 'unknown' : null;
          verdict.set(char, v);
        }
        if (v === null) continue;
        const entry = found.get(char);
        if (entry) entry.occurrences += 1;
        else found.set(char, { occurrences: 1, first: example.source, becomes: v });
      }
    }
  }
  const characters = [...found].map(([char, e]) => ({ char, ...e })).sort((a, b) => b.occurrences - a.occurrences);
  return { occurrences: characters.reduce((n, c) => n + c.occurrences, 0), characters };
}

/** One warning line for a file: how many, which (a few, with their first line), and what it means. */
export function describeUnrepresentable(file: string, summary: CoverageSummary, shown = 5): string {
  const list = summary.characters.slice(0, shown).map((c) => {
    const code = `U+${c.char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return `${JSON.stringify(c.char)} (${code}) ×${c.occurrences}${c.first ? ` from line ${c.first.line}` : ''}`;
  });
  const more = summary.characters.length > shown ? `, and ${summary.characters.length - shown} more` : '';
  const dropped = summary.characters.some((c) => c.becomes === 'dropped');
  const unknown = summary.characters.some((c) => c.becomes === 'unknown');
  const fate = dropped && unknown ? 'are dropped from the token ids or become the unknown token' : dropped ? 'are dropped from the token ids' : 'become the unknown token';
  return `${file}: ${summary.occurrences} character(s) of the data (${summary.characters.length} distinct) cannot be represented by the tokenizer and ${fate}, so the model never sees them: ${list.join(', ')}${more}. Use a tokenizer whose vocabulary covers the data, or clean the data.`;
}
