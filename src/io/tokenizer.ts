/**
 * PretrainedTokenizer: an `AutoTokenizer`-like tokenizer for a Hugging Face model folder. The text ↔
 * ids work is `@huggingface/tokenizers` running tokenizer.json as the folder's other files adjust it
 * (tokenizer-files.ts reads and resolves them); chat templates are chat-template.ts. Beyond that,
 * transformers-5 behaviours kept on purpose: `clean_up_tokenization_spaces` is ignored for BPE
 * models (it deletes real spaces before punctuation), and the ByteFallback decoder decodes invalid
 * UTF-8 as the Rust one does.
 */
import { Tokenizer as UntypedBackendTokenizer } from '@huggingface/tokenizers';
import type { PathLike } from './file-system.ts';
import type { JsonObject } from './json.ts';
import { ChatTemplates, type ChatEncoding, type ChatMessage, type ChatTemplateOptions } from './chat-template.ts';
import { chatTrainingText } from './chat-training.ts';
import { maskOfCharSpans, tokenSpelling, type TokenBytesSource } from './token-offsets.ts';
import {
  SPECIAL_TOKEN_ROLES, TokenizerError, completeAddedTokens, largestId, modelVocabulary, optionalBoolean, optionalSide, postProcessorFor,
  readTokenizerFolder, resolveSpecialTokens, tokenIdList, type Side, type SpecialTokenRole, type TokenizerFolder,
} from './tokenizer-files.ts';

export { TokenizerError, type Side, type SpecialTokenRole } from './tokenizer-files.ts';
export type { ChatContentPart, ChatEncoding, ChatMessage, ChatTemplateOptions } from './chat-template.ts';

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


// ---------------------------------------------------------------------------------------------
// @huggingface/tokenizers, as used here

// Its .d.ts files import each other without extensions, which NodeNext resolution cannot follow,
// so the package's types arrive as `any`; this is the part of its API used here, typed.
interface BackendDecoder {
  config: { type?: string };
  /** Sequence decoders only. */
  decoders?: BackendDecoder[];
  /** ByteFallback decoders only; the library calls only its decode(bytes). */
  text_decoder?: { decode(input: Uint8Array): string };
}

interface BackendTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  decoder: BackendDecoder | null;
}

const BackendTokenizerClass: new (tokenizerJson: object, tokenizerConfig: object) => BackendTokenizer = UntypedBackendTokenizer;

/**
 * Bytes → text as the Rust ByteFallback decoder does it: valid UTF-8 as text, otherwise one U+FFFD
 * per byte. (TextDecoder writes one U+FFFD per invalid sequence, so a character cut in half, as in
 * the middle of a streamed generation, would decode differently from transformers.)
 */
class RustByteFallbackTextDecoder {
  private readonly strict = new TextDecoder('utf-8', { fatal: true });

  decode(input: Uint8Array): string {
    try {
      return this.strict.decode(input);
    } catch {
      return '\uFFFD'.repeat(input.byteLength);
    }
  }
}

function useRustByteFallback(decoder: BackendDecoder | null): void {
  if (decoder === null) return;
  if (decoder.config.type === 'ByteFallback') decoder.text_decoder = new RustByteFallbackTextDecoder();
  else if (decoder.config.type === 'Sequence') decoder.decoders?.forEach(useRustByteFallback);
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
  private readonly chatTemplates: ChatTemplates;
  /** How tokens map back to the text's bytes, for the assistant mask (token-offsets.ts). */
  private readonly tokenBytes: TokenBytesSource;
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

    this.chatTemplates = new ChatTemplates(folder);
    const addedContent = new Map(addedTokens.map((token) => [token.id, token.content]));
    this.tokenBytes = {
      spelling: tokenSpelling(folder.tokenizerJson),
      tokenString: (id) => this.backend.id_to_token(id),
      addedTokenContent: (id) => addedContent.get(id),
      encode: (text) => this.encode(text, { addSpecialTokens: false }),
    };
  }

  /** Loads the tokenizer of a Hugging Face model folder (transformers' `AutoTokenizer.from_pretrained(dir)`). */
  static async fromPretrained(dir: PathLike, options: LoadTokenizerOptions = {}): Promise<PretrainedTokenizer> {
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
    return this.chatTemplates.names;
  }

  /**
   * Renders a conversation with the folder's chat template, as transformers' `apply_chat_template`
   * (see ChatTemplates.render). With `tokenize` (the default, as in transformers) the text is
   * encoded without the post-processor's special tokens, since templates write them themselves.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions & { tokenize?: true }): number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize: boolean }): string | number[];
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions & { tokenize?: boolean } = {}): string | number[] {
    if (messages.length === 0) throw new TokenizerError('cannot apply a chat template to an empty conversation');
    const text = this.chatTemplates.render(messages, options, this.specialTokensMap);
    return options.tokenize === false ? text : this.encode(text, { addSpecialTokens: false });
  }

  /**
   * A conversation's ids and the mask of its assistant tokens, for training (TRL's
   * `assistant_only_loss`): the text is chat-training.ts's, the mask marks every token that
   * overlaps an assistant span, as transformers' `return_assistant_tokens_mask` does.
   */
  encodeChat(messages: readonly ChatMessage[], options: Omit<ChatTemplateOptions, 'addGenerationPrompt'> = {}): ChatEncoding {
    const { text, assistantSpans } = chatTrainingText(messages, this.chatTemplates.renderer(options, this.specialTokensMap));
    const inputIds = this.encode(text, { addSpecialTokens: false });
    return { inputIds, assistantMask: maskOfCharSpans(text, inputIds, assistantSpans, this.tokenBytes), text };
  }
}

/** Loads the tokenizer of a Hugging Face model folder; see {@link PretrainedTokenizer.fromPretrained}. */
export function loadTokenizer(dir: PathLike, options: LoadTokenizerOptions = {}): Promise<PretrainedTokenizer> {
  return PretrainedTokenizer.fromPretrained(dir, options);
}
