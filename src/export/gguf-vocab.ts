/**
 * A model folder's tokenizer as llama.cpp's GGUF metadata (tokenizer.ggml.*), as llama.cpp's
 * convert_hf_to_gguf.py writes it for byte-level BPE tokenizers (`_set_vocab_gpt2`, `get_vocab_base`,
 * gguf-py's SpecialVocab):
 *
 *   tokenizer.ggml.model "gpt2", tokenizer.ggml.pre (the pre-tokenizer llama.cpp should apply),
 *   tokens (byte-level strings as in tokenizer.json, `[PAD<i>]` for ids the tokenizer lacks up to the
 *   model's vocab_size), token_type (NORMAL 1; added tokens CONTROL 3 when special or looking like
 *   `<|…|>`, else USER_DEFINED 4; UNUSED 5 for the padding), merges ("a b"), bos/eos/unk/pad ids,
 *   add_bos/add_eos, and the chat template.
 *
 * The converter identifies the pre-tokenizer by hashing what transformers' tokenizer makes of a test
 * string; a JavaScript exporter has no transformers, so the pre-tokenizer is recognised from
 * tokenizer.json's own description instead, for the layouts listed in PRE_TOKENIZERS; any other is
 * refused, since llama.cpp would tokenize text differently from the model's own tokenizer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gguf, type GgufValue } from '../node/gguf.ts';
import type { PretrainedTokenizer } from '../io/tokenizer.ts';
import { ExportError } from './errors.ts';

const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5 } as const;

type Json = Record<string, unknown>;

/** Qwen2's split pattern and Llama 3's, as their tokenizer.json files write them. */
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** tokenizer.json pre-tokenizer layouts → llama.cpp's tokenizer.ggml.pre (llama-vocab.cpp implements each). */
const PRE_TOKENIZERS: readonly { pre: string; models: string; matches: (p: Json) => boolean }[] = [
  { pre: 'smollm', models: 'SmolLM, SmolLM2', matches: (p) => isSequence(p, [(q) => q.type === 'Digits' && q.individual_digits === true, byteLevel(true)]) },
  { pre: 'gpt-2', models: 'GPT-2', matches: (p) => byteLevel(true)(p) },
  { pre: 'qwen2', models: 'Qwen2, Qwen2.5, Qwen3', matches: (p) => isSequence(p, [split(QWEN2_REGEX), byteLevel(false)]) },
  { pre: 'llama-bpe', models: 'Llama 3', matches: (p) => isSequence(p, [split(LLAMA3_REGEX), byteLevel(false)]) },
];

function byteLevel(useRegex: boolean): (p: Json) => boolean {
  return (p) => p.type === 'ByteLevel' && (p.use_regex ?? true) === useRegex && p.add_prefix_space !== true;
}

function split(regex: string): (p: Json) => boolean {
  return (p) => p.type === 'Split' && (p.pattern as Json | undefined)?.Regex === regex && p.behavior === 'Isolated' && p.invert !== true;
}

function isSequence(p: Json, parts: readonly ((q: Json) => boolean)[]): boolean {
  const list = p.type === 'Sequence' ? p.pretokenizers : undefined;
  return Array.isArray(list) && list.length === parts.length && parts.every((f, i) => f(list[i] as Json));
}

/** convert_hf_to_gguf's does_token_look_special. */
function looksSpecial(token: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(token)
    || (token.startsWith('<|') && token.endsWith('|>'))
    || (token.startsWith('<｜') && token.endsWith('｜>'))
    || (token.startsWith('<unused') && token.endsWith('>'));
}

async function readJson(path: string): Promise<Json | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new ExportError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The chat template as transformers finds it: chat_template.jinja, else tokenizer_config.json's (the default one of a list). */
async function chatTemplate(folder: string, tokenizerConfig: Json | undefined): Promise<string | undefined> {
  const jinja = await readFile(join(folder, 'chat_template.jinja'), 'utf8').catch(() => undefined);
  if (jinja !== undefined) return jinja;
  const t = tokenizerConfig?.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const entry = (t as Json[]).find((e) => e.name === 'default') ?? (t as Json[])[0];
    return typeof entry?.template === 'string' ? entry.template : undefined;
  }
  return undefined;
}

/** The tokenizer.ggml.* and tokenizer.chat_template metadata for a model of `vocabSize` embedding rows. */
export async function ggufTokenizerMetadata(folder: string, tokenizer: PretrainedTokenizer, vocabSize: number): Promise<Map<string, GgufValue>> {
  const path = join(folder, 'tokenizer.json');
  const json = await readJson(path);
  if (!json) throw new ExportError(`${folder}: no tokenizer.json; a GGUF file carries the tokenizer, so the model folder needs one`);
  const model = json.model as Json;
  if (model?.type !== 'BPE') throw new ExportError(`${path}: model.type is ${JSON.stringify(model?.type)}; GGUF export supports byte-level BPE tokenizers (model.type "BPE")`);
  const preTokenizer = (json.pre_tokenizer ?? null) as Json | null;
  const pre = preTokenizer ? PRE_TOKENIZERS.find((p) => p.matches(preTokenizer)) : undefined;
  if (!pre) {
    throw new ExportError(`${path}: the pre-tokenizer ${JSON.stringify(preTokenizer)} is none that llama.cpp implements for byte-level BPE here `
      + `(supported: ${PRE_TOKENIZERS.map((p) => `${p.pre} — ${p.models}`).join('; ')}); llama.cpp would split text differently from this tokenizer`);
  }

  const vocab = model.vocab as Record<string, number>;
  const tokens = new Array<string | undefined>(vocabSize).fill(undefined);
  const types = new Array<number>(vocabSize).fill(TOKEN_TYPE.NORMAL);
  const place = (token: string, id: number, where: string): void => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ExportError(`${path}: ${where} token ${JSON.stringify(token)} has id ${id}, outside the model's vocab_size ${vocabSize}`);
    }
    tokens[id] = token;
  };
  for (const [token, id] of Object.entries(vocab)) place(token, id, 'vocabulary');
  for (const added of (json.added_tokens ?? []) as Json[]) {
    const token = String(added.content);
    const id = Number(added.id);
    place(token, id, 'added');
    types[id] = added.special === true || looksSpecial(token) ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) { tokens[i] = `[PAD${i}]`; types[i] = TOKEN_TYPE.UNUSED; }
  }

  // Merges: "a b" strings, or [a, b] pairs (tokenizers ≥ 0.20) joined with a space, a space inside a part written as U+0120 (gguf-py's SpecialVocab).
  const merges = ((model.merges ?? []) as (string | [string, string])[]).map((m) => (typeof m === 'string' ? m
    : m.map((part) => part.replaceAll(' ', String.fromCharCode(32 + 256))).join(' ')));

  const meta = new Map<string, GgufValue>([
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    ['tokenizer.ggml.pre', gguf.str(pre.pre)],
    ['tokenizer.ggml.tokens', gguf.array('string', tokens as string[])],
    ['tokenizer.ggml.token_type', gguf.array('i32', types)],
    ['tokenizer.ggml.merges', gguf.array('string', merges)],
  ]);
  const ids: [string, number | undefined][] = [
    ['bos_token_id', tokenizer.bosTokenId], ['eos_token_id', tokenizer.eosTokenId], ['unknown_token_id', tokenizer.unkTokenId],
    // Only a configured pad token: the tokenizer's eos fallback is a training convention, not the model's.
    ['padding_token_id', tokenizer.padToken === undefined ? undefined : tokenizer.padTokenId],
  ];
  for (const [key, id] of ids) if (id !== undefined) meta.set(`tokenizer.ggml.${key}`, gguf.u32(id));
  meta.set('tokenizer.ggml.add_bos_token', gguf.bool(tokenizer.addBosToken));
  meta.set('tokenizer.ggml.add_eos_token', gguf.bool(tokenizer.addEosToken));
  const template = await chatTemplate(folder, await readJson(join(folder, 'tokenizer_config.json')));
  if (template !== undefined) meta.set('tokenizer.chat_template', gguf.str(template));
  return meta;
}
