import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Generator } from '../../src/engine/index.ts';
import { loadTokenizer, type ChatMessage, type PretrainedTokenizer } from '../../src/io/tokenizer.ts';
import {
  DatasetError, IGNORE_INDEX, LengthGroupedBatches, loadJsonlDataset, makeBatches, parseExamples, readExamples, splitDataset,
  tokenizeExamples, type Batch, type BatchableExample, type DataPosition, type TokenizedExample,
} from '../../src/train/data.ts';
import type { TrainData } from '../../src/train/trainer.ts';

const DATA = fileURLToPath(new URL('../fixtures/data/', import.meta.url));
const TOKENIZERS = fileURLToPath(new URL('../fixtures/tokenizers/', import.meta.url));
const fixture = (name: string): string => join(DATA, name);

let chatml: PretrainedTokenizer;
let llama: PretrainedTokenizer;
before(async () => {
  chatml = await loadTokenizer(join(TOKENIZERS, 'chatml'));
  llama = await loadTokenizer(join(TOKENIZERS, 'llama'));
});

/** The labels TRL would compute: the ids where `lossMask` is 1, -100 elsewhere. */
function maskedLabels(ids: readonly number[], lossMask: (t: number) => boolean): number[] {
  return ids.map((id, t) => (lossMask(t) ? id : IGNORE_INDEX));
}

describe('tokenization of the three formats', () => {
  test('text: encode(text) with special tokens, eos appended (not doubled), loss on every token; blank lines skipped', async () => {
    const { examples, summary, format } = await loadJsonlDataset(fixture('text.jsonl'), chatml);
    assert.equal(format, 'text');
    const eos = chatml.eosTokenId!;
    const texts = ['The quick brown fox jumps over the lazy dog.', 'Hello world', 'Already ends with eos<|im_end|>'];
    const expected = texts.map((text, i) => (i === 2 ? chatml.encode(text) : [...chatml.encode(text), eos]));
    assert.equal(expected[2]!.at(-1), eos, 'the third text already ends with eos, so none is added');
    assert.deepEqual(examples.map((e) => e.inputIds), expected);
    assert.deepEqual(examples.map((e) => e.labels), expected);
    assert.deepEqual(examples.map((e) => e.length), expected.map((ids) => ids.length));
    // Lines 2 and 4 are blank: sources keep the file's own line numbers.
    assert.deepEqual(examples.map((e) => e.source?.line), [1, 3, 5]);
    assert.equal(summary.examples, 3);
    assert.equal(summary.tokens, expected.flat().length);
    assert.equal(summary.trainableTokens, expected.reduce((n, ids) => n + ids.length - 1, 0));
    assert.equal(summary.truncatedExamples, 0);
  });

  test('text with a bos-adding tokenizer (llama): bos first, then the text, then eos', async () => {
    const [example] = tokenizeExamples(parseExamples('{"text": "Hello world"}', 'mem.jsonl'), llama).examples;
    assert.deepEqual(example!.inputIds, [...llama.encode('Hello world'), llama.eosTokenId!]);
    assert.equal(example!.inputIds[0], llama.bosTokenId);
  });

  test('prompt-completion: encode(prompt + completion) + eos, loss only after the prompt tokens (CRLF lines)', async () => {
    const { examples, summary, format } = await loadJsonlDataset(fixture('prompt-completion.jsonl'), chatml);
    assert.equal(format, 'prompt-completion');
    const pairs: [string, string][] = [['Q: What is the capital of France?\nA:', ' Paris.'], ['Translate to French: cat\n', 'chat']];
    pairs.forEach(([prompt, completion], i) => {
      const promptIds = chatml.encode(prompt);
      const ids = [...chatml.encode(prompt + completion), chatml.eosTokenId!];
      assert.deepEqual(ids.slice(0, promptIds.length), promptIds, 'the prompt tokens are a prefix of the whole');
      assert.deepEqual(examples[i]!.inputIds, ids);
      assert.deepEqual(examples[i]!.labels, maskedLabels(ids, (t) => t >= promptIds.length));
    });
    // Line 3: "x th" + "er" — BPE merges across the boundary, so the prompt's last token differs;
    // the merged token counts as completion and the example is counted as a mismatch (TRL warns).
    const promptIds = chatml.encode('x th');
    const ids = [...chatml.encode('x ther'), chatml.eosTokenId!];
    assert.notDeepEqual(ids.slice(0, promptIds.length), promptIds);
    assert.deepEqual(examples[2]!.inputIds, ids);
    assert.deepEqual(examples[2]!.labels, maskedLabels(ids, (t) => t >= 1));
    assert.equal(summary.promptBoundaryMismatches, 1);
  });

  test('prompt-completion with a bos-adding tokenizer (llama): bos is part of the prompt, without loss', () => {
    const [example] = tokenizeExamples(parseExamples('{"prompt": "Q: 2+2=", "completion": " 4"}', 'mem.jsonl'), llama).examples;
    const promptIds = llama.encode('Q: 2+2=');
    const ids = [...llama.encode('Q: 2+2= 4'), llama.eosTokenId!];
    assert.equal(ids[0], llama.bosTokenId);
    assert.deepEqual(example!.inputIds, ids);
    assert.deepEqual(example!.labels, maskedLabels(ids, (t) => t >= promptIds.length));
  });

  test('messages: the chat template via encodeChat, loss only on assistant tokens; no assistant turn is an error or skipped', async () => {
    await assert.rejects(loadJsonlDataset(fixture('chat.jsonl'), chatml), (error: DatasetError) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.file, fixture('chat.jsonl'));
      assert.equal(error.line, 4);
      assert.match(error.message, /chat\.jsonl:4: the conversation has no assistant message.*skipUntrainable/);
      return true;
    });
    const { examples, summary, format } = await loadJsonlDataset(fixture('chat.jsonl'), chatml, { skipUntrainable: true });
    assert.equal(format, 'messages');
    const conversations: ChatMessage[][] = [
      [{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello! How can I help?' }],
      [
        { role: 'system', content: 'You answer briefly.' }, { role: 'user', content: '2+2?' }, { role: 'assistant', content: '4' },
        { role: 'user', content: 'And 3+3?' }, { role: 'assistant', content: '6' },
      ],
    ];
    conversations.forEach((messages, i) => {
      const { inputIds, assistantMask } = chatml.encodeChat(messages);
      assert.deepEqual(examples[i]!.inputIds, inputIds);
      assert.deepEqual(examples[i]!.labels, maskedLabels(inputIds, (t) => assistantMask[t] === 1));
    });
    // Both assistant answers of the second conversation carry loss, and the user turn between them does not.
    const decodedTargets = chatml.decode(examples[1]!.labels.filter((l) => l !== IGNORE_INDEX));
    assert.equal(decodedTargets, '4<|im_end|>\n6<|im_end|>\n');
    assert.equal(summary.skippedUntrainable, 1);
    assert.deepEqual(summary.skipped.map((s) => s.source?.line), [4]);
    assert.equal(summary.examples, 2);
  });

  test('messages with a tokenizer that has no chat template: an error naming file and line', () => {
    const examples = parseExamples('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}', 'conv.jsonl');
    assert.throws(() => tokenizeExamples(examples, llama), /^DatasetError: conv\.jsonl:1: cannot tokenize the messages example: .*no chat template/);
  });
});

describe('truncation', () => {
  test('keeps the start, counts truncated examples and tokens cut', async () => {
    const full = await loadJsonlDataset(fixture('text.jsonl'), chatml);
    const lengths = full.examples.map((e) => e.length);
    const maxLength = 6;
    const { examples, summary } = await loadJsonlDataset(fixture('text.jsonl'), chatml, { maxLength });
    examples.forEach((e, i) => {
      assert.deepEqual(e.inputIds, full.examples[i]!.inputIds.slice(0, maxLength));
      assert.deepEqual(e.labels, full.examples[i]!.labels.slice(0, maxLength));
      assert.equal(e.length, Math.min(lengths[i]!, maxLength));
    });
    assert.equal(summary.maxLength, maxLength);
    assert.equal(summary.truncatedExamples, lengths.filter((n) => n > maxLength).length);
    assert.equal(summary.truncatedTokens, lengths.reduce((n, len) => n + Math.max(0, len - maxLength), 0));
    assert.equal(summary.longest, maxLength);
    assert.ok(summary.truncatedExamples >= 2);
  });

  test('truncation that leaves only prompt tokens: an error naming the line, or skipped with skipUntrainable', () => {
    const text = '{"prompt": "short", "completion": " answer"}\n{"prompt": "a much longer prompt that fills the window", "completion": " x"}\n';
    const examples = parseExamples(text, 'pc.jsonl');
    const promptLength = chatml.encode('a much longer prompt that fills the window').length;
    assert.ok(promptLength > 8);
    assert.throws(() => tokenizeExamples(examples, chatml, { maxLength: 8 }), /^DatasetError: pc\.jsonl:2: no token carries loss after truncation to maxLength 8/);
    const { summary } = tokenizeExamples(examples, chatml, { maxLength: 8, skipUntrainable: true });
    assert.equal(summary.examples, 1);
    assert.equal(summary.skippedUntrainable, 1);
    assert.match(summary.skipped[0]!.reason, /after truncation/);
    assert.throws(() => tokenizeExamples(examples, chatml, { maxLength: 1 }), /maxLength must be an integer ≥ 2/);
  });

  test('no example left to learn from is an error naming the file', () => {
    const examples = parseExamples('{"messages": [{"role": "user", "content": "hi"}]}', 'only-users.jsonl');
    assert.throws(() => tokenizeExamples(examples, chatml, { skipUntrainable: true }), /^DatasetError: only-users\.jsonl: none of the 1 examples/);
  });
});

describe('errors name the file and the line', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'bone-data-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: { name: string; content: string; line: number | undefined; message: RegExp }[] = [
    { name: 'invalid JSON', content: '{"text": "ok"}\n{"text": "unterminated}\n', line: 2, message: /invalid JSON: (Unterminated string|Unexpected end)/ },
    { name: 'trailing comma', content: '\n\n{"text": "a",}\n', line: 3, message: /invalid JSON: .+/ },
    { name: 'an array line', content: '[1, 2]\n', line: 1, message: /expected a JSON object, found an array/ },
    { name: 'a string line', content: '{"text": "a"}\n"just text"\n', line: 2, message: /expected a JSON object, found string "just text"/ },
    { name: 'no known field', content: '{"input": "a", "output": "b"}\n', line: 1, message: /expected "text", "prompt" and "completion", or "messages"; found the fields "input", "output"/ },
    { name: 'an empty object', content: '{}\n', line: 1, message: /found an empty object/ },
    { name: 'text not a string', content: '{"text": 42}\n', line: 1, message: /"text" must be a string, found number 42/ },
    { name: 'prompt without completion', content: '{"prompt": "a"}\n', line: 1, message: /has "prompt" but no "completion"/ },
    { name: 'completion without prompt', content: '{"completion": "a"}\n', line: 1, message: /has "completion" but no "prompt"/ },
    { name: 'completion not a string', content: '{"prompt": "a", "completion": null}\n', line: 1, message: /"completion" must be a string, found null/ },
    { name: 'conversational prompt-completion', content: '{"prompt": [{"role": "user", "content": "a"}], "completion": [{"role": "assistant", "content": "b"}]}\n', line: 1, message: /conversational prompt-completion .* not supported/ },
    { name: 'text and prompt together', content: '{"text": "a", "prompt": "b", "completion": "c"}\n', line: 1, message: /both "text" and "prompt"\/"completion"/ },
    { name: 'messages and text together', content: '{"messages": [], "text": "a"}\n', line: 1, message: /this line has "text" and "messages"/ },
    { name: 'messages not an array', content: '{"messages": "hi"}\n', line: 1, message: /"messages" must be an array of \{role, content\} objects, found string "hi"/ },
    { name: 'messages empty', content: '{"messages": []}\n', line: 1, message: /"messages" is empty/ },
    { name: 'a message not an object', content: '{"messages": ["hi"]}\n', line: 1, message: /"messages"\[0\] must be an object/ },
    { name: 'a message without role', content: '{"messages": [{"role": "user", "content": "a"}, {"content": "b"}]}\n', line: 1, message: /"messages"\[1\] has no "role"/ },
    { name: 'a message without content', content: '{"messages": [{"role": "user"}]}\n', line: 1, message: /"messages"\[0\] has no "content"/ },
    { name: 'content not a string', content: '{"messages": [{"role": "user", "content": ["a"]}]}\n', line: 1, message: /"messages"\[0\]\."content" must be a string, found an array/ },
    { name: 'role not a string', content: '{"messages": [{"role": 3, "content": "a"}]}\n', line: 1, message: /"messages"\[0\]\."role" must be a non-empty string, found number 3/ },
    { name: 'mixed formats', content: '{"text": "a"}\n\n{"messages": [{"role": "user", "content": "b"}]}\n', line: 3, message: /a messages example, but the file's format is text \(set by line 1\)/ },
    { name: 'an empty dataset', content: '\n  \n\r\n', line: undefined, message: /the dataset is empty: it has no non-blank line/ },
  ];
  for (const { name, content, line, message } of cases) {
    test(name, async () => {
      const file = join(dir, `${name.replaceAll(' ', '-')}.jsonl`);
      writeFileSync(file, content);
      await assert.rejects(readExamples(file), (error: DatasetError) => {
        assert.ok(error instanceof DatasetError, `${error}`);
        assert.equal(error.file, file);
        assert.equal(error.line, line);
        assert.ok(error.message.startsWith(line === undefined ? `${file}: ` : `${file}:${line}: `), error.message);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('mixed formats in a fixture file', async () => {
    await assert.rejects(readExamples(fixture('mixed.jsonl')), new RegExp(`^DatasetError: ${fixture('mixed.jsonl')}:3: this line is a prompt-completion example`));
  });

  test('a missing file', async () => {
    await assert.rejects(readExamples(join(dir, 'nope.jsonl')), /nope\.jsonl: cannot read the dataset: ENOENT/);
  });

  test('a text that tokenizes to one token has nothing to learn', () => {
    // chatml adds no bos, so an empty text is just eos: no position ≥ 1 to predict.
    assert.throws(() => tokenizeExamples(parseExamples('{"text": "a"}\n{"text": ""}', 'tiny.jsonl'), chatml), /^DatasetError: tiny\.jsonl:2: the example is 1 token\(s\) long/);
  });
});

/** Synthetic tokenized examples of varied lengths; ids encode (example, position) so rows can be checked. */
function syntheticExamples(count: number, maxLength: number, seed: number): TokenizedExample[] {
  const g = new Generator(seed);
  return Array.from({ length: count }, (_, i) => {
    const length = 2 + (g.nextUint32() % (maxLength - 1));
    const inputIds = Array.from({ length }, (_, t) => 10 + ((i * 7 + t) % 400));
    // The first quarter of each example has no loss, like a prompt.
    const labels = inputIds.map((id, t) => (t < length / 4 ? IGNORE_INDEX : id));
    return { inputIds, labels, length, source: { file: 'synthetic', line: i + 1 } };
  });
}

function int64Rows(tensor: Batch['inputIds']): number[][] {
  const [rows, columns] = tensor.shape as [number, number];
  const data = tensor.storage as BigInt64Array;
  return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * columns, (r + 1) * columns), Number));
}

describe('batching', () => {
  const PAD = 2;
  const examples = syntheticExamples(203, 300, 1);
  const options = { batchSize: 4, padTokenId: PAD, bucketMultiple: 64, maxLength: 300, seed: 7 };

  test('batches are right-padded int64 tensors; padding has mask 0 and label -100; lengths are multiples of 64 or maxLength', () => {
    const data = makeBatches(examples, options);
    assert.equal(data.batchesPerEpoch, Math.ceil(203 / 4));
    const plan = data.epochPlan(0);
    const batches = data.epochBatches(0);
    assert.equal(batches.length, plan.length);
    const seen: number[] = [];
    batches.forEach((batch, b) => {
      const [rows, columns] = batch.inputIds.shape as [number, number];
      for (const t of [batch.inputIds, batch.attentionMask, batch.labels]) {
        assert.equal(t.dtype, 'int64');
        assert.deepEqual(t.shape, [rows, columns]);
      }
      assert.ok(columns % 64 === 0 || columns === 300, `sequence length ${columns}`);
      const longest = Math.max(...plan[b]!.map((i) => examples[i]!.length));
      assert.ok(columns >= longest && columns - longest < 64, 'the smallest bucket that fits');
      const [ids, mask, labels] = [int64Rows(batch.inputIds), int64Rows(batch.attentionMask), int64Rows(batch.labels)];
      plan[b]!.forEach((exampleIndex, row) => {
        const example = examples[exampleIndex]!;
        const padding = columns - example.length;
        assert.deepEqual(ids[row], [...example.inputIds, ...new Array<number>(padding).fill(PAD)]);
        assert.deepEqual(mask[row], [...new Array<number>(example.length).fill(1), ...new Array<number>(padding).fill(0)]);
        assert.deepEqual(labels[row], [...example.labels, ...new Array<number>(padding).fill(IGNORE_INDEX)]);
        seen.push(exampleIndex);
      });
    });
    assert.deepEqual(seen.sort((a, b) => a - b), examples.map((_, i) => i), 'every example once per epoch');
  });

  test('length grouping keeps the number of distinct shapes small and padding low', () => {
    const data = makeBatches(examples, options);
    for (const epoch of [0, 1, 2]) {
      const shapes = data.shapesOfEpoch(epoch);
      // 5 sequence buckets (64, 128, 192, 256, 300) and one smaller last batch at most.
      assert.ok(shapes.length <= 6, JSON.stringify(shapes));
      assert.ok(shapes.every(([, t]) => [64, 128, 192, 256, 300].includes(t)));
    }
    const paddedTokens = (batches: LengthGroupedBatches): number =>
      batches.epochPlan(0).reduce((n, indices) => n + indices.length * batches.sequenceLengthOf(indices), 0);
    // The least any batching can do: each example alone, rounded up to its bucket.
    const bucketedAlone = examples.reduce((n, e) => n + Math.min(300, Math.ceil(e.length / 64) * 64), 0);
    // groupSize = batchSize sorts only within a batch: plain random batches.
    const random = paddedTokens(makeBatches(examples, { ...options, groupSize: 4 }));
    const grouped = paddedTokens(data);
    assert.ok(grouped < 1.1 * bucketedAlone, `grouped ${grouped}, bucketed alone ${bucketedAlone}`);
    assert.ok(grouped < 0.85 * random, `grouped ${grouped}, random ${random}`);
  });

  test('dropLast drops the smaller batch; shuffle: false sorts by length for evaluation', () => {
    const dropped = makeBatches(examples, { ...options, dropLast: true });
    assert.equal(dropped.batchesPerEpoch, 50);
    assert.ok(dropped.epochPlan(0).every((indices) => indices.length === 4));
    assert.ok(dropped.shapesOfEpoch(0).every(([rows]) => rows === 4));

    const sorted = makeBatches(examples, { ...options, shuffle: false });
    const order = sorted.epochPlan(0).flat();
    const lengths = order.map((i) => examples[i]!.length);
    assert.deepEqual(lengths, [...lengths].sort((a, b) => b - a));
    assert.deepEqual(sorted.epochPlan(3), sorted.epochPlan(0), 'the same order every epoch');
    assert.equal(sorted.epochBatches(3), sorted.epochBatches(0), 'and the same tensors, built once');
    assert.ok(sorted.shapesOfEpoch(0).length <= 6);
  });

  test('bucketMultiple without maxLength rounds up to the multiple', () => {
    const data = makeBatches(syntheticExamples(20, 100, 3), { batchSize: 3, padTokenId: 0, bucketMultiple: 16 });
    for (const [, t] of data.shapesOfEpoch(0)) assert.equal(t % 16, 0);
  });

  test('the order is a pure function of (seed, epoch): deterministic, reshuffled per epoch, resumable from a position', () => {
    const a = makeBatches(examples, options);
    const b = makeBatches(examples, options);
    assert.deepEqual(a.epochPlan(0), b.epochPlan(0));
    assert.deepEqual(a.epochPlan(5), b.epochPlan(5));
    assert.notDeepEqual(a.epochPlan(0), a.epochPlan(1), 'each epoch is reshuffled');
    assert.notDeepEqual(a.epochPlan(0), makeBatches(examples, { ...options, seed: 8 }).epochPlan(0), 'the seed matters');
    // Seed s epoch e+1 is not seed s+1 epoch e (seed and epoch are not simply added).
    assert.notDeepEqual(a.epochPlan(1), makeBatches(examples, { ...options, seed: 8 }).epochPlan(0));

    // Resume: a fresh instance started at a saved position yields exactly the rest of the run.
    const small = syntheticExamples(10, 40, 2);
    const smallOptions = { batchSize: 3, padTokenId: PAD, bucketMultiple: 8, seed: 11 };
    const full = [...makeBatches(small, smallOptions).batchesFrom(undefined, { epochs: 3 })];
    assert.equal(full.length, 3 * 4);
    const saved: DataPosition = full[5]!.next;
    assert.deepEqual(saved, { epoch: 1, batchIndex: 2 });
    const resumed = [...makeBatches(small, smallOptions).batchesFrom(saved, { epochs: 3 })];
    assert.deepEqual(resumed.map((p) => p.position), full.slice(6).map((p) => p.position));
    resumed.forEach((p, i) => {
      const expected = full[6 + i]!.batch;
      assert.deepEqual(int64Rows(p.batch.inputIds), int64Rows(expected.inputIds));
      assert.deepEqual(int64Rows(p.batch.labels), int64Rows(expected.labels));
    });
    // batchAt, epochBatches and nextPosition agree with the iterator.
    const data = makeBatches(small, smallOptions);
    assert.deepEqual(int64Rows(data.batchAt({ epoch: 2, batchIndex: 3 }).inputIds), int64Rows(full[11]!.batch.inputIds));
    assert.deepEqual(int64Rows(data.epochBatches(1)[0]!.inputIds), int64Rows(full[4]!.batch.inputIds));
    assert.deepEqual(data.nextPosition({ epoch: 0, batchIndex: 3 }), { epoch: 1, batchIndex: 0 });
    assert.throws(() => data.batchAt({ epoch: 0, batchIndex: 4 }), /batchIndex must be an integer in \[0, 4\), found 4/);
    assert.equal(data.epochBatches(1), data.epochBatches(1), 'the latest epoch is cached');
  });

  test('fits the Trainer\'s TrainData interface', () => {
    const trainData: TrainData = makeBatches(examples, options);
    assert.equal(trainData.epochBatches(0).length, 51);
  });

  test('invalid input is refused with a message', () => {
    const ok: BatchableExample[] = [{ inputIds: [1, 2], labels: [1, 2] }];
    assert.throws(() => makeBatches([], { batchSize: 2, padTokenId: 0 }), /empty dataset/);
    assert.throws(() => makeBatches(ok, { batchSize: 0, padTokenId: 0 }), /batchSize must be an integer ≥ 1/);
    assert.throws(() => makeBatches(ok, { batchSize: 2, padTokenId: -1 }), /padTokenId must be a token id/);
    assert.throws(() => makeBatches(ok, { batchSize: 2, padTokenId: 0, dropLast: true }), /an epoch has no batch/);
    assert.throws(() => makeBatches(ok, { batchSize: 2, padTokenId: 0, groupSize: 3 }), /groupSize \(3\) must be a multiple of batchSize \(2\)/);
    assert.throws(
      () => makeBatches([{ inputIds: [1, 2, 3], labels: [1, 2, 3], source: { file: 'f.jsonl', line: 9 } }], { batchSize: 1, padTokenId: 0, maxLength: 2 }),
      /^DatasetError: f\.jsonl:9: an example is 3 tokens, longer than maxLength 2/,
    );
    assert.throws(() => makeBatches([{ inputIds: [1, 2], labels: [1] }], { batchSize: 1, padTokenId: 0 }), /2 input ids but 1 labels/);
  });

  test('end to end: a chat file tokenized and batched with the tokenizer\'s pad id', async () => {
    const { examples: chats } = await loadJsonlDataset(fixture('chat.jsonl'), chatml, { skipUntrainable: true, maxLength: 128 });
    const data: LengthGroupedBatches = makeBatches(chats, { batchSize: 2, padTokenId: chatml.padTokenId!, maxLength: 128 });
    const [batch] = data.epochBatches(0);
    const longest = Math.max(...chats.map((e) => e.length));
    assert.deepEqual(batch!.inputIds.shape, [2, longest > 64 ? 128 : 64]);
    const labelRows = int64Rows(batch!.labels);
    const trainable = labelRows.flat().filter((l) => l !== IGNORE_INDEX).length;
    assert.equal(trainable, chats.reduce((n, e) => n + e.labels.filter((l) => l !== IGNORE_INDEX).length, 0));
  });
});

describe('splitDataset', () => {
  const items = Array.from({ length: 25 }, (_, i) => i);

  test('sizes, disjoint parts in input order, deterministic by seed', () => {
    const byFraction = splitDataset(items, { evalFraction: 0.1, seed: 3 });
    assert.equal(byFraction.eval.length, 3, 'ceil(0.1 × 25), as datasets.train_test_split');
    assert.equal(byFraction.train.length, 22);
    assert.deepEqual([...byFraction.train, ...byFraction.eval].sort((a, b) => a - b), items);
    assert.deepEqual(byFraction.eval, [...byFraction.eval].sort((a, b) => a - b), 'input order kept');
    assert.deepEqual(splitDataset(items, { evalFraction: 0.1, seed: 3 }), byFraction);
    assert.notDeepEqual(splitDataset(items, { evalFraction: 0.1, seed: 4 }).eval, byFraction.eval);

    const byCount = splitDataset(items, { evalCount: 5 });
    assert.equal(byCount.eval.length, 5);
    assert.equal(byCount.train.length, 20);
  });

  test('refuses splits that leave a part empty or are ambiguous', () => {
    assert.throws(() => splitDataset(items, {}), /exactly one of evalFraction and evalCount/);
    assert.throws(() => splitDataset(items, { evalFraction: 0.1, evalCount: 2 }), /exactly one/);
    assert.throws(() => splitDataset(items, { evalFraction: 1 }), /evalFraction must be in \(0, 1\)/);
    assert.throws(() => splitDataset(items, { evalCount: 0 }), /evalCount must be an integer ≥ 1/);
    assert.throws(() => splitDataset(items, { evalCount: 25 }), /leaves none to train on/);
    assert.throws(() => splitDataset([1], { evalFraction: 0.5 }), /leaves none to train on/);
  });
});
