/**
 * A Hugging Face model folder's tokenizer files, read and resolved the way transformers'
 * AutoTokenizer does before it builds the tokenizer.
 *
 * `tokenizer.json` is the source of truth for how text becomes ids; the other files only adjust it:
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
 *   ids that end generation. config.json's `vocab_size` is the number of embedding rows.
 *
 * Where transformers 4 and 5 differ, this follows transformers 5 (the version the fixtures'
 * expected outputs come from), except that `add_bos_token` / `add_eos_token` in
 * tokenizer_config.json are honoured (transformers 5 drops them when a tokenizer.json exists;
 * transformers 4's Llama/Gemma tokenizers honoured them, and fine-tuning recipes rely on
 * switching `add_eos_token` on). A special token named in the config but missing from the
 * vocabulary is appended as a new added token, as transformers' `add_tokens` does.
 */
import { isNotFound, pathRef, type PathLike, type PathRef } from './file-system.ts';
import { describeJson, isJsonObject, type JsonObject, type JsonValue } from './json.ts';

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

export type Side = 'left' | 'right';

/** The special-token roles transformers names (`SPECIAL_TOKENS_ATTRIBUTES`). */
export type SpecialTokenRole = 'bos_token' | 'eos_token' | 'unk_token' | 'sep_token' | 'pad_token' | 'cls_token' | 'mask_token';

export const SPECIAL_TOKEN_ROLES: readonly SpecialTokenRole[] = [
  'bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token',
];


export async function readTextIfPresent(file: PathRef): Promise<string | undefined> {
  try {
    return await file.readText();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw new TokenizerError(`cannot read file: ${(error as Error).message}`, { file: file.path, cause: error });
  }
}

/** Reads a JSON file that must hold an object; undefined when the file does not exist. */
async function readJsonObjectIfPresent(file: PathRef): Promise<JsonObject | undefined> {
  const path = file.path;
  const text = await readTextIfPresent(file);
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

export function optionalBoolean(config: JsonObject, key: string, file: string): boolean | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TokenizerError(`"${key}" must be true or false, found ${describeJson(value)}`, { file });
  return value;
}

export function optionalSide(config: JsonObject, key: string, file: string): Side | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (value !== 'left' && value !== 'right') {
    throw new TokenizerError(`"${key}" must be "left" or "right", found ${describeJson(value)}`, { file });
  }
  return value;
}

/** A token id or a list of them (generation_config.json's eos_token_id); [] when absent. */
export function tokenIdList(config: JsonObject, key: string, file: string): number[] {
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
export interface TokenizerFolder {
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

export async function readTokenizerFolder(path: PathLike): Promise<TokenizerFolder> {
  const folder = pathRef(path);
  const dir = folder.path;
  const kind = await folder.kind();
  if (kind === 'file') throw new TokenizerError(`not a directory: ${dir}`);
  if (kind === undefined) throw new TokenizerError(`tokenizer folder not found: ${dir}`);
  const tokenizerJsonPath = folder.child('tokenizer.json').path;
  const tokenizerJson = await readJsonObjectIfPresent(folder.child('tokenizer.json'));
  if (tokenizerJson === undefined) {
    const present = await folder.list().catch(() => [] as string[]);
    const slowFiles = ['tokenizer.model', 'vocab.json', 'merges.txt', 'vocab.txt', 'spiece.model'].filter((f) => present.includes(f));
    const hint = slowFiles.length > 0
      ? ` (found ${slowFiles.join(', ')}: convert them to tokenizer.json with transformers' AutoTokenizer.from_pretrained(...).save_pretrained(...))`
      : '';
    throw new TokenizerError(`missing tokenizer.json: the fast-tokenizer file is required${hint}`, { file: tokenizerJsonPath });
  }
  const configPath = folder.child('tokenizer_config.json').path;
  const specialTokensMapPath = folder.child('special_tokens_map.json').path;
  const generationConfigPath = folder.child('generation_config.json').path;
  const modelConfigPath = folder.child('config.json').path;
  const [config, specialTokensMap, generationConfig, modelConfig, templateFiles] = await Promise.all([
    // transformers loads a folder without tokenizer_config.json with default settings; so do we.
    readJsonObjectIfPresent(folder.child('tokenizer_config.json')).then((c) => c ?? {}),
    readJsonObjectIfPresent(folder.child('special_tokens_map.json')),
    readJsonObjectIfPresent(folder.child('generation_config.json')),
    readJsonObjectIfPresent(folder.child('config.json')),
    readTemplateFiles(folder),
  ]);
  return {
    dir, tokenizerJsonPath, tokenizerJson, configPath, config, specialTokensMapPath, specialTokensMap,
    generationConfigPath, generationConfig, modelConfigPath, modelConfig, templateFiles,
  };
}

async function readTemplateFiles(dir: PathRef): Promise<Map<string, { source: string; file: string }>> {
  const templates = new Map<string, { source: string; file: string }>();
  const defaultFile = dir.child('chat_template.jinja');
  const defaultSource = await readTextIfPresent(defaultFile);
  if (defaultSource !== undefined) templates.set('default', { source: defaultSource, file: defaultFile.path });
  const extraDir = dir.child('additional_chat_templates');
  let names: string[] = [];
  try {
    names = (await extraDir.list()).filter((n) => n.endsWith('.jinja')).sort();
  } catch {
    // No additional templates: the usual case.
  }
  for (const name of names) {
    const file = extraDir.child(name);
    templates.set(name.slice(0, -'.jinja'.length), { source: await file.readText(), file: file.path });
  }
  return templates;
}

// ---------------------------------------------------------------------------------------------
// Special tokens and the post-processor

export interface AddedTokenJson extends JsonObject {
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
export function modelVocabulary(folder: TokenizerFolder): Map<string, number> {
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
  // Such a tokenizer encodes every text to nothing (or only special tokens): training data would
  // then look too short, and the error would blame the data instead of this file.
  if (result.size === 0) {
    throw new TokenizerError('"model.vocab" is empty: this tokenizer can encode no text. The file is incomplete or was saved from an untrained tokenizer; use the tokenizer.json of the model', { file: folder.tokenizerJsonPath });
  }
  return result;
}

/** The largest id of a vocabulary, -1 when empty (a loop: spreading 150k ids into Math.max overflows the stack). */
export function largestId(ids: Map<string, number>): number {
  let largest = -1;
  for (const id of ids.values()) if (id > largest) largest = id;
  return largest;
}

export interface ResolvedSpecialTokens {
  named: Partial<Record<SpecialTokenRole, string>>;
  extra: string[];
}

/** Named and extra special tokens: tokenizer_config.json, overridden by special_tokens_map.json (transformers' order). */
export function resolveSpecialTokens(folder: TokenizerFolder): ResolvedSpecialTokens {
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
export function completeAddedTokens(folder: TokenizerFolder, special: ResolvedSpecialTokens, vocab: Map<string, number>): AddedTokenJson[] {
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
export function postProcessorFor(
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
