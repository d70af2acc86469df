/**
 * The tokenizer loader against what transformers produces for the same folders. The fixtures and
 * their expected.json files come from scripts/make_tokenizer_fixtures.py; these tests only read
 * them (no Python here). Tests that need a changed folder copy a fixture to a temporary directory.
 */

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  PretrainedTokenizer,
  TokenizerError,
  loadTokenizer,
  type BatchEncodeOptions,
  type ChatMessage,
  type PaddingStrategy,
  type Side,
} from '../../src/io/tokenizer.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/tokenizers/', import.meta.url));

// ---------------------------------------------------------------------------------------------
// expected.json, as written by scripts/make_tokenizer_fixtures.py

interface ExpectedEncoding {
  text: string;
  ids: number[];
  ids_without_special_tokens: number[];
  decoded: string;
  decoded_skip_special_tokens: string;
}

interface ExpectedBatch {
  padding: PaddingStrategy;
  padding_side?: Side;
  max_length?: number;
  truncation?: boolean;
  truncation_side?: Side;
  pad_to_multiple_of?: number;
  add_special_tokens?: boolean;
  input_ids: number[][];
  attention_mask: number[][];
}

interface ExpectedRendering { text: string; ids: number[] }

interface ExpectedChat {
  messages: ChatMessage[];
  without_generation_prompt: ExpectedRendering;
  with_generation_prompt: ExpectedRendering;
  assistant_mask?: number[];
}

interface ExpectedVariant {
  name: string;
  config_patch: Record<string, unknown>;
  expected: {
    vocab_size: number;
    bos_token_id: number | null;
    eos_token_id: number | null;
    pad_token: string | null;
    pad_token_id: number | null;
    all_special_ids: number[];
    encodings: { text: string; ids: number[] }[];
    batches: Record<string, ExpectedBatch>;
  };
}

interface Expected {
  vocab_size: number;
  base_vocab_size: number;
  bos_token: string | null;
  bos_token_id: number | null;
  eos_token: string | null;
  eos_token_id: number | null;
  unk_token: string | null;
  unk_token_id: number | null;
  pad_token: string | null;
  pad_token_id: number | null;
  padding_side: Side;
  all_special_tokens: string[];
  all_special_ids: number[];
  generation_eos_token_ids?: number[];
  encodings: ExpectedEncoding[];
  decode_partial_bytes: { ids: number[]; decoded: string };
  batch_texts: string[];
  batches: Record<string, ExpectedBatch>;
  chat_template_passed_explicitly?: boolean;
  explicit_chat_template?: string;
  chat?: Record<string, ExpectedChat>;
  variants: ExpectedVariant[];
}

function readExpected(fixture: string): Expected {
  return JSON.parse(readFileSync(join(FIXTURES, fixture, 'expected.json'), 'utf8')) as Expected;
}

function batchOptions(batch: ExpectedBatch): BatchEncodeOptions {
  return {
    padding: batch.padding,
    paddingSide: batch.padding_side,
    maxLength: batch.max_length,
    truncation: batch.truncation,
    truncationSide: batch.truncation_side,
    padToMultipleOf: batch.pad_to_multiple_of,
    addSpecialTokens: batch.add_special_tokens,
  };
}

/** transformers' null (no such token) is undefined here. */
function orUndefined<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

const sorted = <T>(values: readonly T[]): T[] => [...values].sort();

// ---------------------------------------------------------------------------------------------
// Temporary copies of fixtures

const scratchDirs: string[] = [];

/** A copy of a fixture folder that a test may change; removed after the tests. */
async function copyOfFixture(fixture: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bone-peft-tokenizer-'));
  scratchDirs.push(root);
  const dir = join(root, fixture);
  await cp(join(FIXTURES, fixture), dir, { recursive: true });
  await rm(join(dir, 'expected.json'));
  return dir;
}

async function patchJson(path: string, patch: (value: Record<string, unknown>) => void): Promise<void> {
  const value = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  patch(value);
  await writeFile(path, JSON.stringify(value));
}

after(async () => {
  await Promise.all(scratchDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Asserts that `promise` rejects with a TokenizerError whose message matches every pattern. */
async function rejectsWithTokenizerError(promise: Promise<unknown>, ...patterns: (string | RegExp)[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TokenizerError, `expected a TokenizerError, got ${String(error)}`);
    for (const pattern of patterns) {
      if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), `"${error.message}" lacks "${pattern}"`);
      else assert.match(error.message, pattern);
    }
    return true;
  });
}

function throwsTokenizerError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TokenizerError, `expected a TokenizerError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Both fixtures against transformers

for (const fixture of ['chatml', 'llama']) {
  describe(`${fixture} fixture matches transformers`, () => {
    const expected = readExpected(fixture);
    let tokenizer: PretrainedTokenizer;

    before(async () => {
      tokenizer = await loadTokenizer(join(FIXTURES, fixture));
    });

    it('exposes the vocabulary sizes and special tokens', () => {
      assert.equal(tokenizer.vocabSize, expected.vocab_size);
      assert.equal(tokenizer.baseVocabSize, expected.base_vocab_size);
      assert.equal(tokenizer.bosToken, orUndefined(expected.bos_token));
      assert.equal(tokenizer.bosTokenId, orUndefined(expected.bos_token_id));
      assert.equal(tokenizer.eosToken, orUndefined(expected.eos_token));
      assert.equal(tokenizer.eosTokenId, orUndefined(expected.eos_token_id));
      assert.equal(tokenizer.unkToken, orUndefined(expected.unk_token));
      assert.equal(tokenizer.unkTokenId, orUndefined(expected.unk_token_id));
      assert.equal(tokenizer.padToken, orUndefined(expected.pad_token));
      assert.equal(tokenizer.paddingSide, expected.padding_side);
      assert.deepEqual(sorted(tokenizer.allSpecialTokens), expected.all_special_tokens);
      assert.deepEqual(sorted(tokenizer.allSpecialIds).map(Number), expected.all_special_ids);
      for (const [token, id] of tokenizer.allSpecialTokens.map((t, i) => [t, tokenizer.allSpecialIds[i]] as const)) {
        assert.equal(tokenizer.tokenToId(token), id);
        assert.equal(tokenizer.idToToken(id), token);
      }
    });

    it('falls back to eos for padding when the config names no pad token', () => {
      assert.equal(expected.pad_token_id, null, 'both fixtures lack a pad token');
      assert.equal(tokenizer.padTokenId, tokenizer.eosTokenId);
      assert.equal(tokenizer.padTokenIsEos, true);
    });

    it('lists the generation eos ids (generation_config.json, else the tokenizer eos)', () => {
      const eosIds = expected.generation_eos_token_ids ?? [expected.eos_token_id];
      assert.deepEqual(tokenizer.eosTokenIds, eosIds);
    });

    for (const [index, encoding] of expected.encodings.entries()) {
      it(`encodes and decodes case ${index}: ${JSON.stringify(encoding.text)}`, () => {
        assert.deepEqual(tokenizer.encode(encoding.text), encoding.ids);
        assert.deepEqual(tokenizer.encode(encoding.text, { addSpecialTokens: true }), encoding.ids);
        assert.deepEqual(tokenizer.encode(encoding.text, { addSpecialTokens: false }), encoding.ids_without_special_tokens);
        assert.equal(tokenizer.decode(encoding.ids), encoding.decoded);
        assert.equal(tokenizer.decode(encoding.ids, { skipSpecialTokens: true }), encoding.decoded_skip_special_tokens);
      });
    }

    it('decodes a character cut in half like the Rust decoders (U+FFFD)', () => {
      assert.equal(tokenizer.decode(expected.decode_partial_bytes.ids), expected.decode_partial_bytes.decoded);
    });

    for (const [name, batch] of Object.entries(expected.batches)) {
      it(`encodes a padded batch: ${name}`, () => {
        const encoded = tokenizer.encodeBatch(expected.batch_texts, batchOptions(batch));
        assert.deepEqual(encoded.inputIds, batch.input_ids);
        assert.deepEqual(encoded.attentionMask, batch.attention_mask);
      });
    }

    const chatOptions = expected.explicit_chat_template === undefined ? {} : { chatTemplate: expected.explicit_chat_template };
    for (const [name, chat] of Object.entries(expected.chat ?? {})) {
      it(`applies the chat template: ${name}`, () => {
        for (const [addGenerationPrompt, rendering] of [[false, chat.without_generation_prompt], [true, chat.with_generation_prompt]] as const) {
          const text = tokenizer.applyChatTemplate(chat.messages, { ...chatOptions, addGenerationPrompt, tokenize: false });
          assert.equal(text, rendering.text);
          assert.deepEqual(tokenizer.applyChatTemplate(chat.messages, { ...chatOptions, addGenerationPrompt }), rendering.ids);
          assert.deepEqual(tokenizer.applyChatTemplate(chat.messages, { ...chatOptions, addGenerationPrompt, tokenize: true }), rendering.ids);
        }
      });

      if (chat.assistant_mask !== undefined) {
        const assistantMask = chat.assistant_mask;
        it(`masks the assistant tokens like {% generation %}: ${name}`, () => {
          const encoded = tokenizer.encodeChat(chat.messages, chatOptions);
          assert.equal(encoded.text, chat.without_generation_prompt.text);
          assert.deepEqual(encoded.inputIds, chat.without_generation_prompt.ids);
          assert.deepEqual(encoded.assistantMask, assistantMask);
        });
      }
    }

    for (const variant of expected.variants) {
      it(`matches transformers with tokenizer_config.json patched: ${variant.name}`, async () => {
        const dir = await copyOfFixture(fixture);
        await patchJson(join(dir, 'tokenizer_config.json'), (config) => Object.assign(config, variant.config_patch));
        const patched = await loadTokenizer(dir);
        const want = variant.expected;
        assert.equal(patched.vocabSize, want.vocab_size);
        assert.equal(patched.bosTokenId, orUndefined(want.bos_token_id));
        assert.equal(patched.eosTokenId, orUndefined(want.eos_token_id));
        assert.equal(patched.padToken, orUndefined(want.pad_token));
        assert.equal(patched.padTokenId, want.pad_token_id ?? want.eos_token_id);
        assert.deepEqual(sorted(patched.allSpecialIds).map(Number), want.all_special_ids);
        for (const encoding of want.encodings) assert.deepEqual(patched.encode(encoding.text), encoding.ids, encoding.text);
        for (const [name, batch] of Object.entries(want.batches)) {
          const encoded = patched.encodeBatch(expected.batch_texts, batchOptions(batch));
          assert.deepEqual(encoded.inputIds, batch.input_ids, name);
          assert.deepEqual(encoded.attentionMask, batch.attention_mask, name);
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Behaviour specific to one setup

describe('chatml fixture (SmolLM2-like)', () => {
  const dir = join(FIXTURES, 'chatml');
  const conversation: ChatMessage[] = [
    { role: 'user', content: 'Hi there!' },
    { role: 'assistant', content: 'Hello! How can I help?' },
  ];

  it('adds no bos/eos when encoding, as its tokenizer.json says', async () => {
    const tokenizer = await loadTokenizer(dir);
    assert.equal(tokenizer.addBosToken, false);
    assert.equal(tokenizer.addEosToken, false);
  });

  it('reads config.json vocab_size as the model vocabulary size', async () => {
    const tokenizer = await PretrainedTokenizer.fromPretrained(dir);
    assert.equal(tokenizer.modelVocabSize, 512);
    assert.equal(tokenizer.modelMaxLength, 2048);
  });

  it('appends eos when asked to (loader option, like add_eos_token)', async () => {
    const tokenizer = await loadTokenizer(dir, { addEosToken: true });
    const plain = tokenizer.encode('Hello world', { addSpecialTokens: false });
    assert.equal(tokenizer.addEosToken, true);
    assert.deepEqual(tokenizer.encode('Hello world'), [...plain, tokenizer.eosTokenId]);
    assert.deepEqual(tokenizer.encode('Hello world', { truncation: true, maxLength: 3 }), [...plain.slice(0, 2), tokenizer.eosTokenId]);
  });

  it('prefers chat_template.jinja over tokenizer_config.json', async () => {
    const copy = await copyOfFixture('chatml');
    await writeFile(join(copy, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}\n');
    const tokenizer = await loadTokenizer(copy);
    // Like Jinja, a single trailing newline of the template file is dropped.
    assert.equal(tokenizer.applyChatTemplate(conversation, { tokenize: false }), '[user] Hi there!\n[assistant] Hello! How can I help?\n');
  });

  it('picks "default" from a list of named templates, "tool_use" when tools are given, or one by name', async () => {
    const copy = await copyOfFixture('chatml');
    await patchJson(join(copy, 'tokenizer_config.json'), (config) => {
      config['chat_template'] = [
        { name: 'default', template: 'default:{{ messages | length }}' },
        { name: 'tool_use', template: 'tools:{{ tools | length }}' },
        { name: 'terse', template: '{{ messages[0].content }}{{ eos_token }}' },
      ];
    });
    const tokenizer = await loadTokenizer(copy);
    assert.deepEqual(tokenizer.chatTemplateNames, ['default', 'tool_use', 'terse']);
    assert.equal(tokenizer.applyChatTemplate(conversation, { tokenize: false }), 'default:2');
    assert.equal(tokenizer.applyChatTemplate(conversation, { tokenize: false, tools: [{ name: 'f' }] }), 'tools:1');
    assert.equal(tokenizer.applyChatTemplate(conversation, { tokenize: false, chatTemplate: 'terse' }), 'Hi there!<|im_end|>');
  });

  it('refuses to guess among named templates without a "default"', async () => {
    const copy = await copyOfFixture('chatml');
    await patchJson(join(copy, 'tokenizer_config.json'), (config) => {
      config['chat_template'] = [{ name: 'a', template: 'A' }, { name: 'b', template: 'B' }];
    });
    const tokenizer = await loadTokenizer(copy);
    throwsTokenizerError(() => tokenizer.applyChatTemplate(conversation), /several chat templates.*\(a, b\)/);
  });

  it('passes tools and documents as null when absent, as transformers does', async () => {
    const tokenizer = await loadTokenizer(dir);
    const template = '{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ bos_token }} {{ flavour }}';
    const text = tokenizer.applyChatTemplate(conversation, {
      chatTemplate: template, tokenize: false, addGenerationPrompt: true, templateVariables: { flavour: 'x' },
    });
    assert.equal(text, 'true true true <|im_start|> x');
  });

  it('marks every assistant turn, end-of-turn tokens included', async () => {
    const tokenizer = await loadTokenizer(dir);
    const { inputIds, assistantMask } = tokenizer.encodeChat([
      { role: 'system', content: 'S' },
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'A2' },
    ]);
    const assistantText = tokenizer.decode(inputIds.filter((_, i) => assistantMask[i] === 1));
    assert.equal(assistantText, 'A1<|im_end|>\nA2<|im_end|>\n');
  });

  it("strips the characters Python's str.strip(chars) does, not whitespace", async () => {
    const tokenizer = await loadTokenizer(dir);
    const template = "{{ '\\n  x  \\n'.lstrip('\\n') }}|{{ 'xxaxx'.strip('x') }}|{{ ' a '.rstrip() }}|{{ '\\n b\\n'.strip('\\n ') }}";
    assert.equal(tokenizer.applyChatTemplate(conversation, { chatTemplate: template, tokenize: false }), '  x  \n|a| a|b');
  });

  it('finds the turns of a template that does not render prefixes as prefixes', async () => {
    const tokenizer = await loadTokenizer(dir);
    // The count changes with every message, so no shorter conversation renders as a prefix of this one.
    const counting = '{{ messages | length }}{% for m in messages %}|{{ m.content }}{% endfor %}';
    const { text, inputIds, assistantMask } = tokenizer.encodeChat(conversation, { chatTemplate: counting });
    assert.equal(text, '2|Hi there!|Hello! How can I help?');
    assert.equal(tokenizer.decode(inputIds.filter((_, i) => assistantMask[i] === 1)), '|Hello! How can I help?');
  });

  it('names what it cannot do when a template hides its turns', async () => {
    const tokenizer = await loadTokenizer(dir);
    const byIndex = '{% for i in range(messages | length) %}|{{ messages[i].content }}{% endfor %}';
    throwsTokenizerError(() => tokenizer.encodeChat(conversation, { chatTemplate: byIndex }),
      /cannot locate assistant message 1: the chat template writes nothing for it while iterating over the messages/);
    const twice = '{% for m in messages %}{{ m.content }}{% endfor %}{% for m in messages %}{{ m.content }}{% endfor %}';
    throwsTokenizerError(() => tokenizer.encodeChat(conversation, { chatTemplate: twice }), /writes message 1 2 times/);
    const strayMarker = [{ role: 'user', content: 'a \uFDD3 b' }, { role: 'assistant', content: 'c' }];
    throwsTokenizerError(() => tokenizer.encodeChat(strayMarker), /contains U\+FDD3, a Unicode noncharacter/);
    const unclosed = '{% for m in messages %}{% generation %}{{ m.content }}{% endfor %}';
    throwsTokenizerError(() => tokenizer.encodeChat(conversation, { chatTemplate: unclosed }), /invalid chat template/);
  });

  it('reports template errors with where the template came from', async () => {
    const tokenizer = await loadTokenizer(dir);
    throwsTokenizerError(
      () => tokenizer.applyChatTemplate(conversation, { chatTemplate: "{{ raise_exception('no system role') }}" }),
      /chatTemplate option failed to render: .*no system role/,
    );
    throwsTokenizerError(() => tokenizer.applyChatTemplate(conversation, { chatTemplate: '{% for %}' }), /invalid chat template/);
    throwsTokenizerError(() => tokenizer.applyChatTemplate([]), /empty conversation/);
  });

  it('adds tokens that only added_tokens_decoder lists at the next free id, as transformers add_tokens does', async () => {
    const copy = await copyOfFixture('chatml');
    await patchJson(join(copy, 'tokenizer_config.json'), (config) => {
      const decoder = config['added_tokens_decoder'] as Record<string, unknown>;
      decoder['460'] = { content: '<tool_call>', special: false };
      decoder['455'] = { content: '<think>', special: true };
    });
    const tokenizer = await loadTokenizer(copy);
    assert.equal(tokenizer.vocabSize, 452);
    assert.equal(tokenizer.tokenToId('<think>'), 450);
    assert.equal(tokenizer.tokenToId('<tool_call>'), 451);
    assert.deepEqual(tokenizer.encode('<think><tool_call>'), [450, 451]);
    assert.equal(tokenizer.decode([450, 451, 2], { skipSpecialTokens: true }), '<tool_call>');
  });

  it('rejects ids outside the vocabulary and decodes no ids to ""', async () => {
    const tokenizer = await loadTokenizer(dir);
    assert.equal(tokenizer.decode([]), '');
    throwsTokenizerError(() => tokenizer.decode([tokenizer.vocabSize]), /cannot decode id 450/);
    throwsTokenizerError(() => tokenizer.decode([1.5]), /cannot decode id 1.5/);
  });
});

describe('llama fixture (sentencepiece-like)', () => {
  const dir = join(FIXTURES, 'llama');

  it('reads object-valued special tokens and add_bos_token', async () => {
    const tokenizer = await loadTokenizer(dir);
    assert.equal(tokenizer.bosToken, '<s>');
    assert.equal(tokenizer.addBosToken, true);
    assert.equal(tokenizer.addEosToken, false);
    assert.equal(tokenizer.modelVocabSize, undefined);
  });

  it('raises a clear error when asked for a chat template it does not have', async () => {
    const tokenizer = await loadTokenizer(dir);
    throwsTokenizerError(() => tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }]), /has no chat template/);
    throwsTokenizerError(() => tokenizer.encodeChat([{ role: 'user', content: 'hi' }]), /has no chat template/);
  });

  it('never truncates the special tokens away', async () => {
    const tokenizer = await loadTokenizer(dir, { addEosToken: true });
    const ids = tokenizer.encode('Hello world', { truncation: true, maxLength: 4, truncationSide: 'left' });
    assert.equal(ids.length, 4);
    assert.equal(ids[0], tokenizer.bosTokenId);
    assert.equal(ids[3], tokenizer.eosTokenId);
    throwsTokenizerError(() => tokenizer.encode('Hello', { truncation: true, maxLength: 1 }), /no room next to the 2 special tokens/);
  });
});

// ---------------------------------------------------------------------------------------------
// Broken folders

describe('loader errors name the file and the problem', () => {
  it('a missing folder', async () => {
    await rejectsWithTokenizerError(loadTokenizer(join(FIXTURES, 'no-such-model')), 'tokenizer folder not found', 'no-such-model');
  });

  it('a folder without tokenizer.json, with a hint when slow-tokenizer files are there', async () => {
    const dir = await copyOfFixture('llama');
    await rm(join(dir, 'tokenizer.json'));
    await rejectsWithTokenizerError(loadTokenizer(dir), join(dir, 'tokenizer.json'), 'missing tokenizer.json');
    await writeFile(join(dir, 'tokenizer.model'), '');
    await rejectsWithTokenizerError(loadTokenizer(dir), 'found tokenizer.model');
  });

  it('invalid JSON, with the file path', async () => {
    const dir = await copyOfFixture('chatml');
    await writeFile(join(dir, 'tokenizer_config.json'), '{"bos_token": "<s>",');
    await rejectsWithTokenizerError(loadTokenizer(dir), `${join(dir, 'tokenizer_config.json')}: invalid JSON`);
    await writeFile(join(dir, 'tokenizer_config.json'), '[]');
    await rejectsWithTokenizerError(loadTokenizer(dir), 'tokenizer_config.json: expected a JSON object at the top level, found an array');
  });

  it('an unsupported tokenizer model type', async () => {
    const dir = await copyOfFixture('chatml');
    await patchJson(join(dir, 'tokenizer.json'), (json) => {
      (json['model'] as Record<string, unknown>)['type'] = 'WordLevel';
    });
    await rejectsWithTokenizerError(
      loadTokenizer(dir), join(dir, 'tokenizer.json'), 'unsupported tokenizer model type "WordLevel" (supported: BPE, Unigram, WordPiece)',
    );
  });

  it('a component @huggingface/tokenizers does not know', async () => {
    const dir = await copyOfFixture('chatml');
    await patchJson(join(dir, 'tokenizer.json'), (json) => {
      json['normalizer'] = { type: 'Teleport' };
    });
    await rejectsWithTokenizerError(loadTokenizer(dir), join(dir, 'tokenizer.json'), 'cannot build the tokenizer');
  });

  it('malformed config entries', async () => {
    const dir = await copyOfFixture('chatml');
    const configPath = join(dir, 'tokenizer_config.json');
    const original = await readFile(configPath, 'utf8');
    const cases: [Record<string, unknown>, string][] = [
      [{ bos_token: 5 }, '"bos_token" must be a string or an object with a string "content", found number 5'],
      [{ padding_side: 'middle' }, '"padding_side" must be "left" or "right"'],
      [{ add_bos_token: 'yes' }, '"add_bos_token" must be true or false'],
      [{ chat_template: 42 }, '"chat_template" must be a string or a list of {name, template}'],
      [{ added_tokens_decoder: { x: { content: '<tool>' } } }, 'added_tokens_decoder["x"] must map a token id to a token'],
      [{ split_special_tokens: true }, '"split_special_tokens": true is not supported'],
    ];
    for (const [patch, message] of cases) {
      await writeFile(configPath, JSON.stringify({ ...(JSON.parse(original) as Record<string, unknown>), ...patch }));
      await rejectsWithTokenizerError(loadTokenizer(dir), `${configPath}: ${message}`);
    }
  });

  it('a malformed generation_config.json eos_token_id', async () => {
    const dir = await copyOfFixture('chatml');
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: ['<|im_end|>'] }));
    await rejectsWithTokenizerError(loadTokenizer(dir), 'generation_config.json: "eos_token_id" must be a token id or a list of token ids');
  });

  it('loads without tokenizer_config.json, with no special tokens named', async () => {
    const dir = await copyOfFixture('chatml');
    await rm(join(dir, 'tokenizer_config.json'));
    const tokenizer = await loadTokenizer(dir);
    assert.equal(tokenizer.eosTokenId, undefined);
    assert.deepEqual(tokenizer.eosTokenIds, [2, 0], 'still from generation_config.json');
    assert.equal(tokenizer.padTokenId, undefined);
    throwsTokenizerError(() => tokenizer.encodeBatch(['a', 'bb']), /names neither a pad nor an eos token/);
  });
});
