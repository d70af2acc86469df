/**
 * Training examples → token ids and labels, the way TRL's SFTTrainer prepares them:
 *
 * - text: the text encoded with the tokenizer's special tokens (e.g. Llama's bos), then eos;
 *   labels are the ids.
 * - prompt-completion: `prompt + completion` encoded as one string with special tokens, then eos;
 *   labels are -100 over the prompt. As in TRL the prompt's extent is where `encode(prompt)` ends;
 *   when BPE merges a token across that boundary the two encodings disagree (TRL warns) and the
 *   merged token counts as completion, the same rule encodeChat applies to assistant turns. Such
 *   examples are counted in the summary.
 * - messages: the conversation rendered with the chat template (encodeChat, no extra special
 *   tokens: the template writes them); labels only on assistant tokens. No eos is added: the
 *   template ends each turn itself.
 *
 * eos is appended only when the tokenizer has one and the ids do not already end with it (a
 * tokenizer with `add_eos_token`, or a text that ends with the eos string), so it is never doubled.
 *
 * Examples longer than `maxLength` keep their start (TRL truncates on the right). An example with
 * no token to learn from is an error naming its line, or is skipped and counted with
 * `skipUntrainable`. "To learn from" means a label other than -100 at a position ≥ 1: the causal-LM
 * loss predicts token t from the tokens before it, so the label at position 0 is never a target
 * (the Trainer counts loss tokens the same way).
 */
import type { ChatEncoding, ChatMessage, ChatTemplateOptions, EncodeOptions } from '../../io/tokenizer.ts';
import { unrepresentableCharacters, type CoverageSummary } from './coverage.ts';
import { DatasetError, type ExampleSource } from './errors.ts';
import type { TrainingExample } from './examples.ts';

/** The label of a position without loss, as in PyTorch's cross-entropy `ignore_index`. */
export const IGNORE_INDEX = -100;

/** TRL's SFTConfig default `max_length`. */
export const DEFAULT_MAX_LENGTH = 1024;

export type ChatEncodeOptions = Omit<ChatTemplateOptions, 'addGenerationPrompt'>;

/** The part of PretrainedTokenizer that tokenization uses. */
export interface DatasetTokenizer {
  encode(text: string, options?: EncodeOptions): number[];
  encodeChat(messages: readonly ChatMessage[], options?: ChatEncodeOptions): ChatEncoding;
  readonly eosTokenId: number | undefined;
  /** The unknown token, if the tokenizer has one (characters it stands for are counted as lost). */
  readonly unkTokenId?: number | undefined;
}

export interface TokenizeOptions {
  /** Longer examples are cut to this many tokens, keeping their start. Default 1024 (TRL's default). */
  maxLength?: number;
  /** Skip (and count) examples without a token to learn from instead of throwing. Default false. */
  skipUntrainable?: boolean;
  /** Chat-template options for `messages` examples (a named template, template variables, ...). */
  chatTemplate?: ChatEncodeOptions;
}

/** One tokenized example: `labels` is `inputIds` with -100 where there is no loss. */
export interface TokenizedExample {
  readonly inputIds: readonly number[];
  readonly labels: readonly number[];
  /** inputIds.length. */
  readonly length: number;
  readonly source?: ExampleSource;
}

export interface SkippedExample {
  readonly source?: ExampleSource;
  readonly reason: string;
}

export interface TokenizationSummary {
  /** Examples kept. */
  examples: number;
  /** Tokens in the kept examples, after truncation. */
  tokens: number;
  /** Tokens that carry loss (labels other than -100 at positions ≥ 1). */
  trainableTokens: number;
  /** The longest kept example, in tokens. */
  longest: number;
  maxLength: number;
  /** Kept examples that were longer than maxLength and cut (skipped ones are listed in `skipped`). */
  truncatedExamples: number;
  /** Tokens removed by truncation, over the kept examples. */
  truncatedTokens: number;
  /** Examples skipped for having no token to learn from (only with skipUntrainable). */
  skippedUntrainable: number;
  skipped: readonly SkippedExample[];
  /** Prompt-completion examples whose prompt tokens are not a prefix of the whole example's (TRL warns about these). */
  promptBoundaryMismatches: number;
  /** Characters of the examples the tokenizer drops or turns into its unknown token (see coverage.ts). */
  unrepresentable: CoverageSummary;
}

export interface TokenizedDataset {
  examples: TokenizedExample[];
  summary: TokenizationSummary;
}

/** An example's ids and labels before truncation. */
export interface ExampleEncoding {
  inputIds: number[];
  labels: number[];
  /** Prompt-completion only: encode(prompt) is not a prefix of encode(prompt + completion). */
  promptBoundaryMismatch: boolean;
}

/** Tokenizes one example without truncation; errors name the example's source. */
export function encodeExample(example: TrainingExample, tokenizer: DatasetTokenizer, chatTemplate: ChatEncodeOptions = {}): ExampleEncoding {
  try {
    switch (example.format) {
      case 'text': {
        const inputIds = withEos(tokenizer.encode(example.text), tokenizer.eosTokenId);
        return { inputIds, labels: [...inputIds], promptBoundaryMismatch: false };
      }
      case 'prompt-completion': {
        const promptIds = tokenizer.encode(example.prompt);
        const inputIds = withEos(tokenizer.encode(example.prompt + example.completion), tokenizer.eosTokenId);
        const boundary = commonPrefixLength(promptIds, inputIds);
        const labels = inputIds.map((id, t) => (t < boundary ? IGNORE_INDEX : id));
        return { inputIds, labels, promptBoundaryMismatch: boundary !== promptIds.length };
      }
      case 'messages': {
        const { inputIds, assistantMask } = tokenizer.encodeChat(example.messages, chatTemplate);
        const labels = inputIds.map((id, t) => (assistantMask[t] === 1 ? id : IGNORE_INDEX));
        return { inputIds, labels, promptBoundaryMismatch: false };
      }
    }
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw DatasetError.at(example.source, `cannot tokenize the ${example.format} example: ${(error as Error).message}`, error);
  }
}

/** Tokenizes examples, truncates them to maxLength, and checks that each has a token to learn from. */
export function tokenizeExamples(
  examples: readonly TrainingExample[],
  tokenizer: DatasetTokenizer,
  options: TokenizeOptions = {},
): TokenizedDataset {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
  // Two tokens are the least a causal LM can learn from (one context token, one target).
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new DatasetError(`maxLength must be an integer ≥ 2, found ${maxLength}`);
  }
  const kept: TokenizedExample[] = [];
  const skipped: SkippedExample[] = [];
  let truncatedExamples = 0;
  let truncatedTokens = 0;
  let promptBoundaryMismatches = 0;
  let tokens = 0;
  let trainableTokens = 0;
  let longest = 0;

  for (const example of examples) {
    const encoded = encodeExample(example, tokenizer, options.chatTemplate);
    if (encoded.promptBoundaryMismatch) promptBoundaryMismatches += 1;
    const cut = Math.max(0, encoded.inputIds.length - maxLength);
    const inputIds = cut > 0 ? encoded.inputIds.slice(0, maxLength) : encoded.inputIds;
    const labels = cut > 0 ? encoded.labels.slice(0, maxLength) : encoded.labels;
    const trainable = countTrainable(labels);
    if (trainable === 0) {
      const reason = untrainableReason(example, encoded, maxLength);
      if (!options.skipUntrainable) {
        throw DatasetError.at(example.source, `${reason} (pass skipUntrainable: true to skip such examples)`);
      }
      skipped.push({ source: example.source, reason });
      continue;
    }
    if (cut > 0) {
      truncatedExamples += 1;
      truncatedTokens += cut;
    }
    kept.push({ inputIds, labels, length: inputIds.length, source: example.source });
    tokens += inputIds.length;
    trainableTokens += trainable;
    longest = Math.max(longest, inputIds.length);
  }

  if (kept.length === 0) {
    const file = examples.find((e) => e.source !== undefined)?.source?.file;
    throw new DatasetError(
      examples.length === 0 ? 'the dataset is empty' : `none of the ${examples.length} examples has a token to learn from`,
      { file },
    );
  }
  return {
    examples: kept,
    summary: {
      examples: kept.length, tokens, trainableTokens, longest, maxLength, truncatedExamples, truncatedTokens,
      skippedUntrainable: skipped.length, skipped, promptBoundaryMismatches,
      unrepresentable: unrepresentableCharacters(examples, tokenizer),
    },
  };
}

/** Labels that the causal-LM loss uses: positions ≥ 1 that are not -100. */
export function countTrainable(labels: readonly number[]): number {
  let n = 0;
  for (let t = 1; t < labels.length; t += 1) if (labels[t] !== IGNORE_INDEX) n += 1;
  return n;
}

function untrainableReason(example: TrainingExample, encoded: ExampleEncoding, maxLength: number): string {
  if (example.format === 'messages' && !example.messages.some((m) => m.role === 'assistant')) {
    return 'the conversation has no assistant message, so no token carries loss';
  }
  if (countTrainable(encoded.labels) > 0) {
    const firstTarget = encoded.labels.findIndex((label, t) => t > 0 && label !== IGNORE_INDEX);
    return `no token carries loss after truncation to maxLength ${maxLength}: the example is ${encoded.inputIds.length} tokens ` +
      `and its first token with loss is at position ${firstTarget}`;
  }
  if (encoded.inputIds.length < 2) {
    return `the example is ${encoded.inputIds.length} token(s) long; a causal LM needs at least two to have a target`;
  }
  return example.format === 'prompt-completion'
    ? 'the completion adds no token after the prompt, so no token carries loss'
    : 'no token carries loss';
}

function withEos(ids: number[], eos: number | undefined): number[] {
  if (eos !== undefined && ids[ids.length - 1] !== eos) ids.push(eos);
  return ids;
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n += 1;
  return n;
}
