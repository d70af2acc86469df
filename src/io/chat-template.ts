/**
 * Chat templates: a folder's templates by name (transformers' precedence), rendering a conversation
 * with @huggingface/jinja as `apply_chat_template` does, and locating the assistant tokens of a
 * rendered conversation for training.
 */
import { Template } from '@huggingface/jinja';
import { describeJson, isJsonObject } from './json.ts';
import { TokenizerError, type TokenizerFolder } from './tokenizer-files.ts';

/** One part of a multimodal message content, passed to the template as is. */
export type ChatContentPart = Readonly<Record<string, unknown>>;

/** A chat message as chat templates expect it; extra fields (tool_calls, name, ...) reach the template too. */
export interface ChatMessage {
  role: string;
  content?: string | null | readonly ChatContentPart[];
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the header that opens an assistant turn (`<|im_start|>assistant\n`). Default false. */
  addGenerationPrompt?: boolean;
  /** The name of one of the folder's templates, or a template's source, instead of the default one. */
  chatTemplate?: string;
  /** Tool JSON schemas, passed to the template as `tools` (null when absent, as transformers does). */
  tools?: readonly Readonly<Record<string, unknown>>[];
  /** RAG documents, passed to the template as `documents` (null when absent). */
  documents?: readonly Readonly<Record<string, unknown>>[];
  /** More template variables (e.g. `enable_thinking`); they override the special-token variables. */
  templateVariables?: Readonly<Record<string, unknown>>;
}

export interface ChatEncoding {
  /** The rendered conversation, tokenized without the post-processor's special tokens (as transformers does). */
  inputIds: number[];
  /** 1 for tokens of assistant turns (the ones to put loss on), 0 elsewhere; same length as inputIds. */
  assistantMask: number[];
  /** The rendered conversation. */
  text: string;
}

/** A chat template's source and where it came from (for error messages). */
interface ChatTemplateSource { source: string; origin: string }

/** Templates by name, transformers' precedence: .jinja files over tokenizer_config.json's entry. */
function chatTemplatesOf(folder: TokenizerFolder): Map<string, ChatTemplateSource> {
  const templates = new Map<string, ChatTemplateSource>();
  if (folder.templateFiles.size > 0) {
    for (const [name, { source, file }] of folder.templateFiles) templates.set(name, { source, origin: file });
    return templates;
  }
  const value = folder.config['chat_template'];
  const origin = `${folder.configPath} (chat_template)`;
  if (value === undefined || value === null) return templates;
  if (typeof value === 'string') {
    templates.set('default', { source: value, origin });
    return templates;
  }
  if (Array.isArray(value)) {
    for (const [index, entry] of value.entries()) {
      if (!isJsonObject(entry) || typeof entry['name'] !== 'string' || typeof entry['template'] !== 'string') {
        throw new TokenizerError(`chat_template[${index}] must be an object {name, template} of strings`, { file: folder.configPath });
      }
      templates.set(entry['name'], { source: entry['template'], origin: `${folder.configPath} (chat_template "${entry['name']}")` });
    }
    return templates;
  }
  throw new TokenizerError(`"chat_template" must be a string or a list of {name, template}, found ${describeJson(value)}`, { file: folder.configPath });
}

/** A folder's chat templates, compiled on first use. */
export class ChatTemplates {
  readonly #templates: Map<string, ChatTemplateSource>;
  readonly #compiled = new Map<string, Template>();
  /** The folder, for messages. */
  readonly #dir: string;

  constructor(folder: TokenizerFolder) {
    this.#templates = chatTemplatesOf(folder);
    this.#dir = folder.dir;
  }

  /** The templates' names ("default" for a single one). */
  get names(): string[] {
    return [...this.#templates.keys()];
  }

  /**
   * Render a conversation: the template gets `messages`, `add_generation_prompt`, `tools`,
   * `documents`, the special tokens (`bos_token`, `eos_token`, ...) and `templateVariables`.
   */
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions, specialTokens: Readonly<Record<string, string>>): string {
    const template = this.#select(options);
    const variables: Record<string, unknown> = {
      ...specialTokens,
      ...options.templateVariables,
      messages,
      tools: options.tools ?? null,
      documents: options.documents ?? null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    try {
      return template.compiled.render(variables);
    } catch (error) {
      throw new TokenizerError(`chat template from ${template.origin} failed to render: ${(error as Error).message}`, { cause: error });
    }
  }

  /** transformers' `get_chat_template`: a named or given template, else "default" ("tool_use" when tools are given). */
  #select(options: ChatTemplateOptions): { compiled: Template; origin: string } {
    let chosen: ChatTemplateSource | undefined;
    if (options.chatTemplate !== undefined) {
      chosen = this.#templates.get(options.chatTemplate) ?? { source: options.chatTemplate, origin: 'the chatTemplate option' };
    } else if (options.tools !== undefined && this.#templates.has('tool_use')) {
      chosen = this.#templates.get('tool_use');
    } else if (this.#templates.has('default')) {
      chosen = this.#templates.get('default');
    } else if (this.#templates.size > 0) {
      throw new TokenizerError(
        `${this.#dir} has several chat templates and none named "default"; pick one with the chatTemplate option ` +
        `(${this.names.join(', ')})`,
      );
    }
    if (chosen === undefined) {
      throw new TokenizerError(
        `${this.#dir} has no chat template: tokenizer_config.json has no "chat_template" and there is no chat_template.jinja ` +
        '(pass one with the chatTemplate option)',
      );
    }
    let compiled = this.#compiled.get(chosen.source);
    if (compiled === undefined) {
      try {
        compiled = new Template(chosen.source);
      } catch (error) {
        throw new TokenizerError(`invalid chat template in ${chosen.origin}: ${(error as Error).message}`, { cause: error });
      }
      this.#compiled.set(chosen.source, compiled);
    }
    return { compiled, origin: chosen.origin };
  }
}

/**
 * Tokenizes a conversation for training and marks which tokens belong to assistant turns, so that
 * loss can be put on those alone. `render` renders a conversation (with or without the generation
 * prompt) and `encode` tokenizes text without the post-processor's special tokens.
 *
 * Approach (works with any template, without `{% generation %}` markers): for each assistant
 * message i, the template renders the conversation up to message i with the generation prompt
 * (the text before the answer) and up to message i included (the text through the answer and
 * its end-of-turn tokens); the tokens between the two boundaries are the assistant's. Assumption:
 * the template renders a conversation's prefixes as prefixes of its full rendering (true of
 * ChatML, Llama, Mistral, Gemma...; false of templates that rewrite earlier turns once later ones
 * exist, e.g. ones dropping past reasoning), which is checked: a violation throws. A token that
 * straddles a boundary (BPE merging across it) counts as assistant's, like transformers'
 * `return_assistant_tokens_mask`, which marks every token overlapping the assistant's characters.
 */
export function encodeChatForTraining(
  messages: readonly ChatMessage[],
  render: (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string,
  encode: (text: string) => number[],
): ChatEncoding {
  if (messages.length === 0) throw new TokenizerError('cannot encode an empty conversation');
  const text = render(messages, false);
  const inputIds = encode(text);
  const assistantMask = new Array<number>(inputIds.length).fill(0);
  messages.forEach((message, i) => {
    if (message.role !== 'assistant') return;
    const before = render(messages.slice(0, i), true);
    const through = render(messages.slice(0, i + 1), false);
    if (!text.startsWith(before) || !text.startsWith(through) || through.length < before.length) {
      throw new TokenizerError(
        `encodeChat: the chat template does not render the conversation up to message ${i} as a prefix of the whole ` +
        'conversation, so the assistant tokens cannot be located',
      );
    }
    const start = commonPrefixLength(encode(before), inputIds);
    const throughIds = encode(through);
    const shared = commonPrefixLength(throughIds, inputIds);
    const end = shared === throughIds.length ? shared : Math.min(shared + 1, inputIds.length);
    for (let t = start; t < end; t += 1) assistantMask[t] = 1;
  });
  return { inputIds, assistantMask, text };
}

/** Token ids shared by the longest common prefix of two sequences. */
function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i += 1;
  return i;
}
