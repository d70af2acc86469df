/**
 * Chat templates: a folder's templates by name (transformers' precedence) and rendering a
 * conversation with @huggingface/jinja as `apply_chat_template` does; `renderer` also renders with
 * the turns marked (chat-turns.ts), which chat-training.ts needs to find the assistant's tokens.
 */
import { Template } from '@huggingface/jinja';
import type { MarkedRendering } from './chat-spans.ts';
import { compileMarkedTemplate, hasGenerationTags, renderMarked } from './chat-turns.ts';
import { PYTHON_STRING_FUNCTIONS, usePythonStringMethods } from './jinja-ast.ts';
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
  /**
   * The text trained on: the template's rendering of the conversation, except that an earlier
   * assistant turn the template shortens (past reasoning dropped) is as it renders when last.
   */
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

/** Renders conversations with one template and fixed options (see ChatTemplates.renderer). */
export interface ChatRenderer {
  /** Whether the template marks the assistant's text with `{% generation %}` blocks. */
  readonly hasGenerationBlocks: boolean;
  /** The rendering `apply_chat_template` gives. */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  /** The same rendering with where each message (or generation block) is. */
  renderMarked(messages: readonly ChatMessage[], addGenerationPrompt: boolean): MarkedRendering;
}

/** A template as selected: its source, where it came from, and its compiled forms (the marked one on first use). */
interface SelectedTemplate extends ChatTemplateSource {
  compiled: Template;
  marked(): Template;
}

/** A folder's chat templates, compiled on first use. */
export class ChatTemplates {
  readonly #templates: Map<string, ChatTemplateSource>;
  readonly #compiled = new Map<string, Template>();
  readonly #marked = new Map<string, Template>();
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
    return renderWith(template, () => template.compiled.render(templateVariables(messages, options, specialTokens)));
  }

  /** A renderer for the template and options that `render` would use, with and without turn markers. */
  renderer(options: Omit<ChatTemplateOptions, 'addGenerationPrompt'>, specialTokens: Readonly<Record<string, string>>): ChatRenderer {
    const template = this.#select(options);
    const variables = (messages: readonly ChatMessage[], addGenerationPrompt: boolean): Record<string, unknown> =>
      templateVariables(messages, { ...options, addGenerationPrompt }, specialTokens);
    return {
      hasGenerationBlocks: hasGenerationTags(template.source),
      render: (messages, addGenerationPrompt) => renderWith(template, () => template.compiled.render(variables(messages, addGenerationPrompt))),
      renderMarked: (messages, addGenerationPrompt) => renderWith(template, () => renderMarked(template.marked(), variables(messages, addGenerationPrompt))),
    };
  }

  /** transformers' `get_chat_template`: a named or given template, else "default" ("tool_use" when tools are given). */
  #select(options: ChatTemplateOptions): SelectedTemplate {
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
    const { source, origin } = chosen;
    const compile = (cache: Map<string, Template>, make: (source: string) => Template): Template => {
      let compiled = cache.get(source);
      if (compiled === undefined) {
        try {
          compiled = make(source);
        } catch (error) {
          throw new TokenizerError(`invalid chat template in ${origin}: ${(error as Error).message}`, { cause: error });
        }
        cache.set(source, compiled);
      }
      return compiled;
    };
    return {
      source,
      origin,
      compiled: compile(this.#compiled, (text) => usePythonStringMethods(new Template(text))),
      marked: () => compile(this.#marked, (text) => usePythonStringMethods(compileMarkedTemplate(text))),
    };
  }
}

/** What a template sees: special tokens, then `templateVariables`, then the conversation and options (and jinja-ast.ts's functions). */
function templateVariables(
  messages: readonly ChatMessage[], options: ChatTemplateOptions, specialTokens: Readonly<Record<string, string>>,
): Record<string, unknown> {
  return {
    ...PYTHON_STRING_FUNCTIONS,
    ...specialTokens,
    ...options.templateVariables,
    messages,
    tools: options.tools ?? null,
    documents: options.documents ?? null,
    add_generation_prompt: options.addGenerationPrompt ?? false,
  };
}

/** Runs a rendering, naming the template's origin when it fails (a TokenizerError of ours passes as is). */
function renderWith<T>(template: ChatTemplateSource, render: () => T): T {
  try {
    return render();
  } catch (error) {
    if (error instanceof TokenizerError) throw error;
    throw new TokenizerError(`chat template from ${template.origin} failed to render: ${(error as Error).message}`, { cause: error });
  }
}
