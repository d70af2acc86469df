/**
 * An `AutoTokenizer`-like loader for a Hugging Face model folder.
 *
 * `tokenizer.json` is the source of truth for how text becomes ids; it is run by
 * `@huggingface/tokenizers`. The other files only adjust it, the way transformers does:
 *
 * - `tokenizer_config.json`: the named special tokens (`bos_token`, `eos_token`, ...; a string or an
 *   object `{content, ...}`), `added_tokens_decoder`, `additional_special_tokens` /
 *   `extra_special_tokens`, `add_bos_token` / `add_eos_token`, `padding_side`, `truncation_side`,
 *   `model_max_length`, `clean_up_tokenization_spaces` and `chat_template` (a string, or a list of
 *   `{name, template}` of which "default" is used).
 * - `special_tokens_map.json`: overrides the named special tokens of tokenizer_config.json.
 * - `chat_template.jinja` and `additional_chat_templates/*.jinja`: take priority over the
 *   chat_template of tokenizer_config.json (transformers saves templates there since 4.5x).
 * - `generation_config.json`, else `config.json`: `eos_token_id` (a number or a list of them), the
 *   ids that end generation; exposed as `eosTokenIds`. config.json's `vocab_size` is the number of
 *   embedding rows, exposed as `modelVocabSize`.
 *
 * Where transformers 4 and 5 differ, this follows transformers 5 (the version the fixtures'
 * expected outputs come from), except for one thing: `add_bos_token` / `add_eos_token` in
 * tokenizer_config.json are honoured (transformers 5 drops them when a tokenizer.json exists;
 * transformers 4's Llama/Gemma tokenizers honoured them, and fine-tuning recipes rely on
 * switching `add_eos_token` on). Other transformers-5 behaviours kept on purpose:
 * `clean_up_tokenization_spaces` is ignored for BPE models (it deletes real spaces before
 * punctuation), and a special token named in the config but missing from the vocabulary is
 * appended as a new added token, as transformers' `add_tokens` does.
 */

import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { Template } from '@huggingface/jinja';
import { Tokenizer as UntypedBackendTokenizer } from '@huggingface/tokenizers';

// ---------------------------------------------------------------------------------------------
// Errors

/** Every failure to load or use a tokenizer. The message starts with the file it concerns, when there is one. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
  /** The file the problem was found in, if it concerns one. */
  readonly file: string | undefined;

  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(options.file === undefined ? message : `${options.file}: ${message}`, { cause: options.cause });
    this.file = options.file;
  }
}

// ---------------------------------------------------------------------------------------------
// Public types

export type Side = 'left' | 'right';

/** The special-token roles transformers names (`SPECIAL_TOKENS_ATTRIBUTES`). */
export type SpecialTokenRole = 'bos_token' | 'eos_token' | 'unk_token' | 'sep_token' | 'pad_token' | 'cls_token' | 'mask_token';

const SPECIAL_TOKEN_ROLES: readonly SpecialTokenRole[] = [
  'bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token',
];

export interface LoadTokenizerOptions {
  /** Overrides tokenizer_config.json's `add_bos_token` (like the from_pretrained keyword argument). */
  addBosToken?: boolean;
  /** Overrides tokenizer_config.json's `add_eos_token`; switching it on is common for causal-LM fine-tuning. */
  addEosToken?: boolean;
  /** Overrides tokenizer_config.json's `padding_side`. */
  paddingSide?: Side;
  /** Overrides tokenizer_config.json's `truncation_side`. */
  truncationSide?: Side;
}

export interface EncodeOptions {
  /** Let the post-processor add its special tokens (e.g. Llama's `<s>`). Default true, as in transformers. */
  addSpecialTokens?: boolean;
  /** Cut the sequence to at most `maxLength` ids, special tokens included (they are never cut). Default false. */
  truncation?: boolean;
  /** The length `truncation` cuts to; defaults to `modelMaxLength`. */
  maxLength?: number;
  /** Which end `truncation` cuts from; defaults to the tokenizer's `truncationSide`. */
  truncationSide?: Side;
}

export interface DecodeOptions {
  /** Drop added tokens marked special (bos, eos, `<|im_end|>`, ...). Default false. */
  skipSpecialTokens?: boolean;
}

/** `longest` pads to the longest sequence of the batch, `max_length` to `maxLength`. */
export type PaddingStrategy = 'longest' | 'max_length' | 'do_not_pad';

export interface BatchEncodeOptions extends EncodeOptions {
  /** Default 'longest'; `true` means 'longest' and `false` 'do_not_pad', as in transformers. */
  padding?: PaddingStrategy | boolean;
  /** Which side pads go on; defaults to the tokenizer's `paddingSide`. */
  paddingSide?: Side;
  /** Round the padded length up to a multiple of this (e.g. 8 for tensor cores). */
  padToMultipleOf?: number;
}

export interface BatchEncoding {
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
}

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

// ---------------------------------------------------------------------------------------------
// @huggingface/tokenizers, as used here

// Its .d.ts files import each other without extensions, which NodeNext resolution cannot follow,
// so the package's types arrive as `any`; this is the part of its API used here, typed.
interface BackendDecoder {
  config: { type?: string };
  /** Sequence decoders only. */
  decoders?: BackendDecoder[];
  /** ByteFallback decoders only. */
  text_decoder?: TextDecoder;
}

interface BackendTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  decoder: BackendDecoder | null;
}

const BackendTokenizerClass: new (tokenizerJson: object, tokenizerConfig: object) => BackendTokenizer = UntypedBackendTokenizer;

// ---------------------------------------------------------------------------------------------
// JSON files

type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
interface JsonObject { [key: string]: JsonValue }

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: JsonValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenizerError(`cannot read file: ${(error as Error).message}`, { file: path, cause: error });
  }
}

/** Reads a JSON file that must hold an object; undefined when the file does not exist. */
async function readJsonObjectIfPresent(path: string): Promise<JsonObject | undefined> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new TokenizerError(`invalid JSON: ${(error as Error).message}`, { file: path, cause: error });
  }
  if (!isJsonObject(parsed)) {
    throw new TokenizerError(`expected a JSON object at the top level, found ${describeJson(parsed)}`, { file: path });
  }
  return parsed;
}

function optionalBoolean(config: JsonObject, key: string, file: string): boolean | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TokenizerError(`"${key}" must be true or false, found ${describeJson(value)}`, { file });
  return value;
}

function optionalSide(config: JsonObject, key: string, file: string): Side | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (value !== 'left' && value !== 'right') {
    throw new TokenizerError(`"${key}" must be "left" or "right", found ${describeJson(value)}`, { file });
  }
  return value;
}

/** A token id or a list of them (generation_config.json's eos_token_id); [] when absent. */
function tokenIdList(config: JsonObject, key: string, file: string): number[] {
  const value = config[key];
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((id) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(`"${key}" must be a token id or a list of token ids, found ${describeJson(value)}`, { file });
    }
    return id;
  });
}

/**
 * A special-token entry: a string, or an object `{content, lstrip, ...}` (AddedToken, possibly
 * tagged `"__type": "AddedToken"` as transformers 4 wrote them). undefined when absent or null.
 */
function specialTokenContent(value: JsonValue | undefined, where: string, file: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isJsonObject(value) && typeof value['content'] === 'string') return value['content'];
  throw new TokenizerError(`${where} must be a string or an object with a string "content", found ${describeJson(value)}`, { file });
}

/** additional_special_tokens / extra_special_tokens: a list of entries, or (transformers 5) a name → entry map. */
function specialTokenList(value: JsonValue | undefined, where: string, file: string): string[] {
  if (value === undefined || value === null) return [];
  const entries = Array.isArray(value) ? value : isJsonObject(value) ? Object.values(value) : undefined;
  if (entries === undefined) throw new TokenizerError(`${where} must be a list, found ${describeJson(value)}`, { file });
  return entries.map((entry, index) => specialTokenContent(entry, `${where}[${index}]`, file) ?? '').filter((t) => t !== '');
}

// ---------------------------------------------------------------------------------------------
// The folder's files

const SUPPORTED_MODEL_TYPES = ['BPE', 'Unigram', 'WordPiece'] as const;

/** Everything read from a model folder, before the tokenizer is built. */
interface TokenizerFolder {
  dir: string;
  tokenizerJsonPath: string;
  tokenizerJson: JsonObject;
  configPath: string;
  config: JsonObject;
  specialTokensMapPath: string;
  specialTokensMap: JsonObject | undefined;
  generationConfigPath: string;
  generationConfig: JsonObject | undefined;
  modelConfigPath: string;
  modelConfig: JsonObject | undefined;
  /** Templates from chat_template.jinja ("default") and additional_chat_templates/NAME.jinja. */
  templateFiles: Map<string, { source: string; file: string }>;
}

async function readTokenizerFolder(dir: string): Promise<TokenizerFolder> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new TokenizerError(`not a directory: ${dir}`);
  } catch (error) {
    if (error instanceof TokenizerError) throw error;
    throw new TokenizerError(`tokenizer folder not found: ${dir}`, { cause: error });
  }
  const tokenizerJsonPath = join(dir, 'tokenizer.json');
  const tokenizerJson = await readJsonObjectIfPresent(tokenizerJsonPath);
  if (tokenizerJson === undefined) {
    const present = await readdir(dir);
    const slowFiles = ['tokenizer.model', 'vocab.json', 'merges.txt', 'vocab.txt', 'spiece.model'].filter((f) => present.includes(f));
    const hint = slowFiles.length > 0
      ? ` (found ${slowFiles.join(', ')}: convert them to tokenizer.json with transformers' AutoTokenizer.from_pretrained(...).save_pretrained(...))`
      : '';
    throw new TokenizerError(`missing tokenizer.json: the fast-tokenizer file is required${hint}`, { file: tokenizerJsonPath });
  }
  const configPath = join(dir, 'tokenizer_config.json');
  const specialTokensMapPath = join(dir, 'special_tokens_map.json');
  const generationConfigPath = join(dir, 'generation_config.json');
  const modelConfigPath = join(dir, 'config.json');
  const [config, specialTokensMap, generationConfig, modelConfig, templateFiles] = await Promise.all([
    // transformers loads a folder without tokenizer_config.json with default settings; so do we.
    readJsonObjectIfPresent(configPath).then((c) => c ?? {}),
    readJsonObjectIfPresent(specialTokensMapPath),
    readJsonObjectIfPresent(generationConfigPath),
    readJsonObjectIfPresent(modelConfigPath),
    readTemplateFiles(dir),
  ]);
  return {
    dir, tokenizerJsonPath, tokenizerJson, configPath, config, specialTokensMapPath, specialTokensMap,
    generationConfigPath, generationConfig, modelConfigPath, modelConfig, templateFiles,
  };
}

async function readTemplateFiles(dir: string): Promise<Map<string, { source: string; file: string }>> {
  const templates = new Map<string, { source: string; file: string }>();
  const defaultFile = join(dir, 'chat_template.jinja');
  const defaultSource = await readTextIfPresent(defaultFile);
  if (defaultSource !== undefined) templates.set('default', { source: defaultSource, file: defaultFile });
  const extraDir = join(dir, 'additional_chat_templates');
  let names: string[] = [];
  try {
    names = (await readdir(extraDir)).filter((n) => n.endsWith('.jinja')).sort();
  } catch {
    // No additional templates: the usual case.
  }
  for (const name of names) {
    const file = join(extraDir, name);
    templates.set(name.slice(0, -'.jinja'.length), { source: await readFile(file, 'utf8'), file });
  }
  return templates;
}

// ---------------------------------------------------------------------------------------------
// Special tokens and the post-processor

interface AddedTokenJson extends JsonObject {
  id: number;
  content: string;
}

function addedTokensOf(folder: TokenizerFolder): AddedTokenJson[] {
  const value = folder.tokenizerJson['added_tokens'];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TokenizerError(`"added_tokens" must be a list, found ${describeJson(value)}`, { file: folder.tokenizerJsonPath });
  return value.map((entry, index) => {
    if (!isJsonObject(entry) || typeof entry['id'] !== 'number' || typeof entry['content'] !== 'string') {
      throw new TokenizerError(`added_tokens[${index}] must be an object with a numeric "id" and a string "content"`, { file: folder.tokenizerJsonPath });
    }
    return entry as AddedTokenJson;
  });
}

/** The model's own vocabulary: token → id for BPE/WordPiece, [token, score] pairs for Unigram. */
function modelVocabulary(folder: TokenizerFolder): Map<string, number> {
  const model = folder.tokenizerJson['model'];
  if (!isJsonObject(model)) throw new TokenizerError(`"model" must be an object, found ${describeJson(model)}`, { file: folder.tokenizerJsonPath });
  const type = model['type'];
  if (typeof type === 'string' && !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new TokenizerError(
      `unsupported tokenizer model type "${type}" (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`, { file: folder.tokenizerJsonPath },
    );
  }
  const vocab = model['vocab'];
  const result = new Map<string, number>();
  if (Array.isArray(vocab)) {
    vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === 'string') result.set(entry[0], id);
    });
  } else if (isJsonObject(vocab)) {
    for (const [token, id] of Object.entries(vocab)) if (typeof id === 'number') result.set(token, id);
  } else {
    throw new TokenizerError(`"model.vocab" is missing or malformed (found ${describeJson(vocab)})`, { file: folder.tokenizerJsonPath });
  }
  return result;
}

/** The largest id of a vocabulary, -1 when empty (a loop: spreading 150k ids into Math.max overflows the stack). */
function largestId(ids: Map<string, number>): number {
  let largest = -1;
  for (const id of ids.values()) if (id > largest) largest = id;
  return largest;
}

interface ResolvedSpecialTokens {
  named: Partial<Record<SpecialTokenRole, string>>;
  extra: string[];
}

/** Named and extra special tokens: tokenizer_config.json, overridden by special_tokens_map.json (transformers' order). */
function resolveSpecialTokens(folder: TokenizerFolder): ResolvedSpecialTokens {
  const named: Partial<Record<SpecialTokenRole, string>> = {};
  for (const role of SPECIAL_TOKEN_ROLES) {
    const content = specialTokenContent(folder.config[role], `"${role}"`, folder.configPath);
    if (content !== undefined) named[role] = content;
  }
  const extra = [
    ...specialTokenList(folder.config['additional_special_tokens'], '"additional_special_tokens"', folder.configPath),
    ...specialTokenList(folder.config['extra_special_tokens'], '"extra_special_tokens"', folder.configPath),
  ];
  const map = folder.specialTokensMap;
  if (map !== undefined) {
    for (const role of SPECIAL_TOKEN_ROLES) {
      if (!(role in map)) continue;
      const content = specialTokenContent(map[role], `"${role}"`, folder.specialTokensMapPath);
      if (content === undefined) delete named[role];
      else named[role] = content;
    }
    for (const key of ['additional_special_tokens', 'extra_special_tokens']) {
      extra.push(...specialTokenList(map[key], `"${key}"`, folder.specialTokensMapPath));
    }
  }
  return { named, extra: [...new Set(extra)] };
}

/**
 * The added tokens tokenizer.json will be built with: its own, plus tokens that
 * tokenizer_config.json's added_tokens_decoder or a special-token entry names but the vocabulary
 * lacks. transformers adds those at load time with `add_tokens`, which gives them the next free
 * ids (whatever id added_tokens_decoder wrote); named special tokens are added as special. The
 * model's embedding matrix may then be too small, which `modelVocabSize` lets callers check. Where
 * the two files disagree about a token present in both, tokenizer.json wins, as in transformers.
 */
function completeAddedTokens(folder: TokenizerFolder, special: ResolvedSpecialTokens, vocab: Map<string, number>): AddedTokenJson[] {
  const added = addedTokensOf(folder).map((t) => ({ ...t }));
  const idOf = new Map<string, number>(vocab);
  for (const token of added) idOf.set(token.content, token.id);
  let nextId = largestId(idOf) + 1;
  const addMissing = (content: string, flags: JsonObject, isSpecial: boolean): void => {
    if (idOf.has(content)) return;
    added.push({
      id: nextId, content,
      single_word: flags['single_word'] === true, lstrip: flags['lstrip'] === true, rstrip: flags['rstrip'] === true,
      // transformers' AddedToken default: normalized unless special.
      normalized: typeof flags['normalized'] === 'boolean' ? flags['normalized'] : !isSpecial,
      special: isSpecial,
    });
    idOf.set(content, nextId);
    nextId += 1;
  };

  const decoder = folder.config['added_tokens_decoder'];
  if (decoder !== undefined && decoder !== null) {
    if (!isJsonObject(decoder)) {
      throw new TokenizerError(`"added_tokens_decoder" must be an object of id → token, found ${describeJson(decoder)}`, { file: folder.configPath });
    }
    const entries = Object.entries(decoder).map(([idText, entry]) => {
      const id = Number(idText);
      const content = specialTokenContent(entry, `added_tokens_decoder["${idText}"]`, folder.configPath);
      if (!Number.isInteger(id) || id < 0 || content === undefined) {
        throw new TokenizerError(`added_tokens_decoder["${idText}"] must map a token id to a token`, { file: folder.configPath });
      }
      return { id, content, flags: isJsonObject(entry) ? entry : {} };
    });
    for (const { content, flags } of entries.sort((a, b) => a.id - b.id)) addMissing(content, flags, flags['special'] === true);
  }
  for (const content of [...SPECIAL_TOKEN_ROLES.map((role) => special.named[role]), ...special.extra]) {
    if (content !== undefined) addMissing(content, { normalized: false }, true);
  }
  return added;
}

interface TemplatePiece { SpecialToken?: { id: string }; Sequence?: { id: string } }

/** The special tokens a post-processor puts before and after a single sequence (TemplateProcessing only). */
function templateSpecialTokens(postProcessor: JsonValue | undefined): { before: string[]; after: string[] } {
  const none = { before: [], after: [] };
  if (!isJsonObject(postProcessor)) return none;
  if (postProcessor['type'] === 'Sequence' && Array.isArray(postProcessor['processors'])) {
    for (const inner of postProcessor['processors']) {
      const found = templateSpecialTokens(inner);
      if (found.before.length > 0 || found.after.length > 0) return found;
    }
    return none;
  }
  if (postProcessor['type'] !== 'TemplateProcessing' || !Array.isArray(postProcessor['single'])) return none;
  const before: string[] = [];
  const after: string[] = [];
  let seenSequence = false;
  for (const piece of postProcessor['single'] as TemplatePiece[]) {
    if (piece.Sequence !== undefined) seenSequence = true;
    else if (piece.SpecialToken !== undefined) (seenSequence ? after : before).push(piece.SpecialToken.id);
  }
  return { before, after };
}

/**
 * transformers' `update_post_processor`: `[bos] $A [eos]` as TemplateProcessing. Used when the
 * config's add_bos_token / add_eos_token ask for something tokenizer.json's post-processor does
 * not do; an unset flag keeps what tokenizer.json does. A flag whose token is not defined is
 * dropped, as transformers does.
 */
function postProcessorFor(
  postProcessor: JsonValue | undefined,
  flags: { addBos: boolean | undefined; addEos: boolean | undefined },
  bos: { token: string; id: number } | undefined,
  eos: { token: string; id: number } | undefined,
): JsonValue {
  const current = templateSpecialTokens(postProcessor);
  const addsBos = bos !== undefined && current.before.includes(bos.token);
  const addsEos = eos !== undefined && current.after.includes(eos.token);
  const addBos = (flags.addBos ?? addsBos) && bos !== undefined;
  const addEos = (flags.addEos ?? addsEos) && eos !== undefined;
  if (addBos === addsBos && addEos === addsEos) return postProcessor ?? null;

  const single: JsonValue[] = [];
  const pair: JsonValue[] = [];
  const specialTokens: JsonObject = {};
  for (const [sequence, typeId, target] of [['A', 0, single], ['B', 1, pair]] as const) {
    if (sequence === 'B') pair.push(...single);
    if (addBos && bos) target.push({ SpecialToken: { id: bos.token, type_id: typeId } });
    target.push({ Sequence: { id: sequence, type_id: typeId } });
    if (addEos && eos) target.push({ SpecialToken: { id: eos.token, type_id: typeId } });
  }
  if (addBos && bos) specialTokens[bos.token] = { id: bos.token, ids: [bos.id], tokens: [bos.token] };
  if (addEos && eos) specialTokens[eos.token] = { id: eos.token, ids: [eos.id], tokens: [eos.token] };
  return { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens };
}

/**
 * Bytes → text as the Rust ByteFallback decoder does it: valid UTF-8 as text, otherwise one U+FFFD
 * per byte. (TextDecoder writes one U+FFFD per invalid sequence, so a character cut in half, as in
 * the middle of a streamed generation, would decode differently from transformers.)
 */
class RustByteFallbackTextDecoder extends TextDecoder {
  private readonly strict = new TextDecoder('utf-8', { fatal: true });

  override decode(input?: Parameters<TextDecoder['decode']>[0]): string {
    try {
      return this.strict.decode(input);
    } catch {
      return '\uFFFD'.repeat(input?.byteLength ?? 0);
    }
  }
}

function useRustByteFallback(decoder: BackendDecoder | null): void {
  if (decoder === null) return;
  if (decoder.config.type === 'ByteFallback') decoder.text_decoder = new RustByteFallbackTextDecoder();
  else if (decoder.config.type === 'Sequence') decoder.decoders?.forEach(useRustByteFallback);
}

// ---------------------------------------------------------------------------------------------
// Chat templates

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

// ---------------------------------------------------------------------------------------------
// The tokenizer

/** Token ids shared by the longest common prefix of two sequences. */
function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i += 1;
  return i;
}

/** Where `part` first occurs in `whole`, or -1. */
function indexOfSequence(whole: readonly number[], part: readonly number[]): number {
  for (let start = 0; start + part.length <= whole.length; start += 1) {
    if (part.every((id, i) => whole[start + i] === id)) return start;
  }
  return -1;
}

/** transformers' stand-in for "no limit" (VERY_LARGE_INTEGER is 1e30); anything that large means unset. */
const UNSET_MODEL_MAX_LENGTH = 1e20;

export class PretrainedTokenizer {
  /** The folder the tokenizer was loaded from. */
  readonly dir: string;
  /** Ids in use, added tokens included: one more than the largest id (transformers' `len(tokenizer)`). */
  readonly vocabSize: number;
  /** The model's vocabulary without added tokens (transformers' `tokenizer.vocab_size`). */
  readonly baseVocabSize: number;
  /** config.json's `vocab_size`: the embedding rows of the model, which may exceed `vocabSize`. */
  readonly modelVocabSize: number | undefined;
  /** tokenizer_config.json's `model_max_length`, undefined when unset. */
  readonly modelMaxLength: number | undefined;
  readonly paddingSide: Side;
  readonly truncationSide: Side;

  /** The named special tokens as transformers' `special_tokens_map` has them (e.g. `{bos_token: "<s>"}`). */
  readonly specialTokensMap: Readonly<Partial<Record<SpecialTokenRole, string>>>;
  /** Named and extra special tokens (transformers' `all_special_tokens`). */
  readonly allSpecialTokens: readonly string[];
  /** Ids of `allSpecialTokens`, in the same order. */
  readonly allSpecialIds: readonly number[];

  readonly bosToken: string | undefined;
  readonly bosTokenId: number | undefined;
  readonly eosToken: string | undefined;
  readonly eosTokenId: number | undefined;
  /**
   * Every id that ends generation: generation_config.json's `eos_token_id` (a number or a list), else
   * config.json's, then the tokenizer's eos if those lists lack it. E.g. `[<|im_end|>, <|endoftext|>]`.
   */
  readonly eosTokenIds: readonly number[];
  readonly unkToken: string | undefined;
  readonly unkTokenId: number | undefined;
  /** The pad token the config names; undefined when it names none. */
  readonly padToken: string | undefined;
  /**
   * The id batches are padded with. When the config names no pad token this is the eos id: the
   * usual practice for causal-LM fine-tuning, harmless because padded positions get attention 0
   * and no loss; so derive labels from the attention mask, never by comparing ids with the pad id,
   * or the real eos tokens would lose their loss. undefined only when there is neither a pad nor an
   * eos token.
   */
  readonly padTokenId: number | undefined;
  /** True when `padTokenId` is the eos fallback rather than a configured pad token. */
  readonly padTokenIsEos: boolean;
  /** Whether `encode` with special tokens puts the bos token first (from the post-processor, after add_bos_token). */
  readonly addBosToken: boolean;
  /** Whether `encode` with special tokens puts the eos token last (from the post-processor, after add_eos_token). */
  readonly addEosToken: boolean;

  private readonly backend: BackendTokenizer;
  private readonly chatTemplates: Map<string, ChatTemplateSource>;
  private readonly compiledTemplates = new Map<string, Template>();
  /** Ids the post-processor puts before and after the text, found by encoding a probe. */
  private readonly specialPrefix: readonly number[];
  private readonly specialSuffix: readonly number[];

  private constructor(folder: TokenizerFolder, options: LoadTokenizerOptions) {
    this.dir = folder.dir;
    const { config, configPath, tokenizerJsonPath } = folder;

    const splitSpecialTokens = optionalBoolean(config, 'split_special_tokens', configPath);
    if (splitSpecialTokens === true) {
      // @huggingface/tokenizers always matches added tokens in the text; ids would silently differ.
      throw new TokenizerError('"split_special_tokens": true is not supported', { file: configPath });
    }

    const vocab = modelVocabulary(folder);
    const special = resolveSpecialTokens(folder);
    const addedTokens = completeAddedTokens(folder, special, vocab);
    const idOf = new Map<string, number>(vocab);
    for (const token of addedTokens) idOf.set(token.content, token.id);
    const withId = (token: string | undefined): { token: string; id: number } | undefined => {
      const id = token === undefined ? undefined : idOf.get(token);
      return token === undefined || id === undefined ? undefined : { token, id };
    };

    const postProcessor = postProcessorFor(
      folder.tokenizerJson['post_processor'],
      {
        addBos: options.addBosToken ?? optionalBoolean(config, 'add_bos_token', configPath),
        addEos: options.addEosToken ?? optionalBoolean(config, 'add_eos_token', configPath),
      },
      withId(special.named.bos_token),
      withId(special.named.eos_token),
    );

    const model = folder.tokenizerJson['model'] as JsonObject;
    // transformers 5 never cleans up spaces after decoding a BPE model: the clean-up was made for
    // WordPiece and deletes real spaces before punctuation.
    const cleanUp = optionalBoolean(config, 'clean_up_tokenization_spaces', configPath) === true
      && (model['type'] !== 'BPE' || config['clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output'] === true);
    const backendJson: JsonObject = {
      ...folder.tokenizerJson,
      // @huggingface/tokenizers requires these keys to exist; a missing one means "none".
      normalizer: folder.tokenizerJson['normalizer'] ?? null,
      pre_tokenizer: folder.tokenizerJson['pre_tokenizer'] ?? null,
      decoder: folder.tokenizerJson['decoder'] ?? null,
      post_processor: postProcessor,
      added_tokens: addedTokens,
    };
    // Only what @huggingface/tokenizers needs; the rest of the config is handled here, so that
    // slow-tokenizer settings (remove_space, do_lower_case, ...) do not change fast-tokenizer ids.
    const backendConfig = {
      clean_up_tokenization_spaces: cleanUp,
      bos_token: special.named.bos_token,
      eos_token: special.named.eos_token,
      unk_token: special.named.unk_token,
      pad_token: special.named.pad_token,
    };
    try {
      this.backend = new BackendTokenizerClass(backendJson, backendConfig);
    } catch (error) {
      throw new TokenizerError(`cannot build the tokenizer: ${(error as Error).message}`, { file: tokenizerJsonPath, cause: error });
    }
    useRustByteFallback(this.backend.decoder);

    this.vocabSize = largestId(idOf) + 1;
    this.baseVocabSize = vocab.size;
    const modelVocabSize = folder.modelConfig?.['vocab_size'];
    this.modelVocabSize = typeof modelVocabSize === 'number' ? modelVocabSize : undefined;
    const maxLength = config['model_max_length'];
    this.modelMaxLength = typeof maxLength === 'number' && maxLength < UNSET_MODEL_MAX_LENGTH ? maxLength : undefined;
    this.paddingSide = options.paddingSide ?? optionalSide(config, 'padding_side', configPath) ?? 'right';
    this.truncationSide = options.truncationSide ?? optionalSide(config, 'truncation_side', configPath) ?? 'right';

    this.specialTokensMap = Object.freeze({ ...special.named });
    const allSpecial = [...new Set([...SPECIAL_TOKEN_ROLES.map((r) => special.named[r]), ...special.extra])]
      .filter((t): t is string => t !== undefined);
    this.allSpecialTokens = Object.freeze(allSpecial);
    this.allSpecialIds = Object.freeze(allSpecial.map((t) => idOf.get(t) as number));

    const bos = withId(special.named.bos_token);
    const eos = withId(special.named.eos_token);
    const unk = withId(special.named.unk_token);
    const pad = withId(special.named.pad_token);
    this.bosToken = bos?.token;
    this.bosTokenId = bos?.id;
    this.eosToken = eos?.token;
    this.eosTokenId = eos?.id;
    this.unkToken = unk?.token;
    this.unkTokenId = unk?.id;
    this.padToken = pad?.token;
    this.padTokenId = pad?.id ?? eos?.id;
    this.padTokenIsEos = pad === undefined && eos !== undefined;

    const generationEos = folder.generationConfig === undefined ? [] : tokenIdList(folder.generationConfig, 'eos_token_id', folder.generationConfigPath);
    const modelEos = generationEos.length > 0 || folder.modelConfig === undefined
      ? [] : tokenIdList(folder.modelConfig, 'eos_token_id', folder.modelConfigPath);
    const eosIds = generationEos.length > 0 ? generationEos : modelEos;
    if (eos !== undefined && !eosIds.includes(eos.id)) eosIds.push(eos.id);
    this.eosTokenIds = Object.freeze(eosIds);

    // The post-processor's tokens do not depend on the text (TemplateProcessing, BertProcessing,
    // RobertaProcessing, ByteLevel), so one probe tells which ids go before and after it.
    const probeContent = this.backend.encode('a', { add_special_tokens: false }).ids;
    const probeFull = this.backend.encode('a', { add_special_tokens: true }).ids;
    const start = indexOfSequence(probeFull, probeContent);
    if (start < 0) {
      throw new TokenizerError('the post-processor changes the text\'s ids, not only adds special tokens: unsupported', { file: tokenizerJsonPath });
    }
    this.specialPrefix = Object.freeze(probeFull.slice(0, start));
    this.specialSuffix = Object.freeze(probeFull.slice(start + probeContent.length));
    this.addBosToken = bos !== undefined && this.specialPrefix.includes(bos.id);
    this.addEosToken = eos !== undefined && this.specialSuffix.includes(eos.id);

    this.chatTemplates = chatTemplatesOf(folder);
  }

  /** Loads the tokenizer of a Hugging Face model folder (transformers' `AutoTokenizer.from_pretrained(dir)`). */
  static async fromPretrained(dir: string, options: LoadTokenizerOptions = {}): Promise<PretrainedTokenizer> {
    return new PretrainedTokenizer(await readTokenizerFolder(dir), options);
  }

  /** The id of a token string (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.backend.token_to_id(token);
  }

  /** The token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.backend.id_to_token(id);
  }

  /** Text → ids. With `addSpecialTokens` (default) the post-processor adds e.g. bos; `truncation` cuts to `maxLength`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    if (!options.truncation) return this.backend.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    const maxLength = options.maxLength ?? this.modelMaxLength;
    if (maxLength === undefined) return this.backend.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    const prefix = addSpecialTokens ? this.specialPrefix : [];
    const suffix = addSpecialTokens ? this.specialSuffix : [];
    // As the Rust tokenizers do: cut the text's ids so that they fit with the special tokens.
    const room = maxLength - prefix.length - suffix.length;
    if (!Number.isInteger(maxLength) || room < 0) {
      throw new TokenizerError(`maxLength ${maxLength} leaves no room next to the ${prefix.length + suffix.length} special tokens`);
    }
    let content = this.backend.encode(text, { add_special_tokens: false }).ids;
    if (content.length > room) {
      const side = options.truncationSide ?? this.truncationSide;
      content = side === 'right' ? content.slice(0, room) : content.slice(content.length - room);
    }
    return [...prefix, ...content, ...suffix];
  }

  /**
   * Encodes texts and pads them to one length, on `paddingSide` (tokenizer_config's `padding_side`,
   * default right) with `padTokenId` (eos when the config names no pad token).
   */
  encodeBatch(texts: readonly string[], options: BatchEncodeOptions = {}): BatchEncoding {
    const padding: PaddingStrategy = options.padding === true || options.padding === undefined ? 'longest'
      : options.padding === false ? 'do_not_pad' : options.padding;
    const inputIds = texts.map((text) => this.encode(text, options));
    const attentionMask = inputIds.map((ids) => ids.map(() => 1));
    if (padding === 'do_not_pad') return { inputIds, attentionMask };

    let length: number;
    if (padding === 'max_length') {
      const maxLength = options.maxLength ?? this.modelMaxLength;
      if (maxLength === undefined) throw new TokenizerError("padding 'max_length' needs maxLength (the config has no model_max_length)");
      length = maxLength;
    } else {
      length = Math.max(0, ...inputIds.map((ids) => ids.length));
    }
    const multiple = options.padToMultipleOf;
    if (multiple !== undefined && multiple > 0 && length % multiple !== 0) length += multiple - (length % multiple);

    const padId = this.padTokenId;
    if (padId === undefined) throw new TokenizerError(`cannot pad: ${this.dir} names neither a pad nor an eos token`);
    const side = options.paddingSide ?? this.paddingSide;
    for (let i = 0; i < inputIds.length; i += 1) {
      const missing = length - inputIds[i].length;
      if (missing <= 0) continue;
      const pads = new Array<number>(missing).fill(padId);
      const zeros = new Array<number>(missing).fill(0);
      inputIds[i] = side === 'right' ? [...inputIds[i], ...pads] : [...pads, ...inputIds[i]];
      attentionMask[i] = side === 'right' ? [...attentionMask[i], ...zeros] : [...zeros, ...attentionMask[i]];
    }
    return { inputIds, attentionMask };
  }

  /** Ids → text. `skipSpecialTokens` drops added tokens marked special. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`cannot decode id ${id}: ids must be integers in [0, ${this.vocabSize})`);
      }
    }
    // @huggingface/tokenizers rejects an empty list; transformers decodes it to "".
    if (ids.length === 0) return '';
    return this.backend.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The names of the chat templates the folder has ("default" for a single one). */
  get chatTemplateNames(): string[] {
    return [...this.chatTemplates.keys()];
  }

  /**
   * Renders a conversation with the folder's chat template, as transformers' `apply_chat_template`:
   * the template gets `messages`, `add_generation_prompt`, `tools`, `documents`, the special tokens
   * (`bos_token`, `eos_token`, ...) and `templateVariables`. With `tokenize` (the default, as in
   * transformers) the text is encoded without the post-processor's special tokens, since templates
   * write them themselves.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize: boolean }): string | number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize?: boolean } = {}): string | number[] {
    if (messages.length === 0) throw new TokenizerError('cannot apply a chat template to an empty conversation');
    const text = this.renderChat(messages, options);
    return options.tokenize === false ? text : this.encode(text, { addSpecialTokens: false });
  }

  /**
   * Tokenizes a conversation for training and marks which tokens belong to assistant turns, so that
   * loss can be put on those alone.
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
  encodeChat(messages: readonly ChatMessage[], options: Omit<ChatTemplateOptions, 'addGenerationPrompt'> = {}): ChatEncoding {
    if (messages.length === 0) throw new TokenizerError('cannot encode an empty conversation');
    const text = this.renderChat(messages, { ...options, addGenerationPrompt: false });
    const inputIds = this.encode(text, { addSpecialTokens: false });
    const assistantMask = new Array<number>(inputIds.length).fill(0);
    messages.forEach((message, i) => {
      if (message.role !== 'assistant') return;
      const before = this.renderChat(messages.slice(0, i), { ...options, addGenerationPrompt: true });
      const through = this.renderChat(messages.slice(0, i + 1), { ...options, addGenerationPrompt: false });
      if (!text.startsWith(before) || !text.startsWith(through) || through.length < before.length) {
        throw new TokenizerError(
          `encodeChat: the chat template does not render the conversation up to message ${i} as a prefix of the whole ` +
          'conversation, so the assistant tokens cannot be located',
        );
      }
      const start = commonPrefixLength(this.encode(before, { addSpecialTokens: false }), inputIds);
      const throughIds = this.encode(through, { addSpecialTokens: false });
      const shared = commonPrefixLength(throughIds, inputIds);
      const end = shared === throughIds.length ? shared : Math.min(shared + 1, inputIds.length);
      for (let t = start; t < end; t += 1) assistantMask[t] = 1;
    });
    return { inputIds, assistantMask, text };
  }

  private renderChat(messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
    const template = this.chatTemplate(options);
    const variables: Record<string, unknown> = {
      ...this.specialTokensMap,
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
  private chatTemplate(options: ChatTemplateOptions): { compiled: Template; origin: string } {
    let chosen: ChatTemplateSource | undefined;
    if (options.chatTemplate !== undefined) {
      chosen = this.chatTemplates.get(options.chatTemplate) ?? { source: options.chatTemplate, origin: 'the chatTemplate option' };
    } else if (options.tools !== undefined && this.chatTemplates.has('tool_use')) {
      chosen = this.chatTemplates.get('tool_use');
    } else if (this.chatTemplates.has('default')) {
      chosen = this.chatTemplates.get('default');
    } else if (this.chatTemplates.size > 0) {
      throw new TokenizerError(
        `${this.dir} has several chat templates and none named "default"; pick one with the chatTemplate option ` +
        `(${this.chatTemplateNames.join(', ')})`,
      );
    }
    if (chosen === undefined) {
      throw new TokenizerError(
        `${this.dir} has no chat template: tokenizer_config.json has no "chat_template" and there is no chat_template.jinja ` +
        '(pass one with the chatTemplate option)',
      );
    }
    let compiled = this.compiledTemplates.get(chosen.source);
    if (compiled === undefined) {
      try {
        compiled = new Template(chosen.source);
      } catch (error) {
        throw new TokenizerError(`invalid chat template in ${chosen.origin}: ${(error as Error).message}`, { cause: error });
      }
      this.compiledTemplates.set(chosen.source, compiled);
    }
    return { compiled, origin: chosen.origin };
  }
}

/** Loads the tokenizer of a Hugging Face model folder; see {@link PretrainedTokenizer.fromPretrained}. */
export function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Promise<PretrainedTokenizer> {
  return PretrainedTokenizer.fromPretrained(dir, options);
}
