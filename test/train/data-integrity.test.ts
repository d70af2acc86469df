/**
 * Training text that would be lost without a word (issue 11, item 10): bytes that are not UTF-8 are
 * refused with their line (the offsets are where Python's bytes.decode('utf-8') reports the error),
 * and characters the tokenizer cannot represent are counted, with where they first occur.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type PretrainedTokenizer } from '../../src/io/tokenizer.ts';
import { DatasetError, describeUnrepresentable, parseExamples, readJsonl, tokenizeExamples, unrepresentableCharacters } from '../../src/train/data.ts';
import { firstInvalidUtf8 } from '../../src/train/data/jsonl.ts';

const DEMO = fileURLToPath(new URL('../../demo/model/', import.meta.url));
const TOKENIZERS = fileURLToPath(new URL('../fixtures/tokenizers/', import.meta.url));

let dir = '';
let chars: PretrainedTokenizer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bone-data-integrity-'));
  chars = await loadTokenizer(DEMO);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

test('the first byte that is not UTF-8, as Python\'s decoder reports it', () => {
  const cases: [string, number[], number][] = [
    ['lone 0xff', [0x61, 0x62, 0xff, 0x63, 0x64], 2],
    ['overlong "/"', [0x61, 0xc0, 0xaf, 0x62], 1],
    ['surrogate', [0x61, 0xed, 0xa0, 0x80, 0x62], 1],
    ['truncated 3-byte form', [0x61, 0x62, 0xe2, 0x82], 2],
    ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['overlong 3-byte form', [0xe0, 0x80, 0xaf], 0],
    ['valid: grün € 😀', [...Buffer.from('grün € 😀')], -1],
  ];
  for (const [name, bytes, python] of cases) assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), python, name);
});

test('a JSONL line with bytes that are not UTF-8 is refused with its file and line', async () => {
  const file = join(dir, 'latin1.jsonl');
  await writeFile(file, Buffer.concat([Buffer.from('{"text": "apple"}\n\n{"text": "ap'), Buffer.from([0xff, 0xfe]), Buffer.from('le"}\n')]));
  await assert.rejects(readJsonl(file), (e: unknown) => e instanceof DatasetError && e.line === 3
    && e.message === `${file}:3: the line is not valid UTF-8: byte 0xff at byte 13 of the line (after "{\\"text\\": \\"ap"); save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`);
  // a byte-order mark is still fine
  await writeFile(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"text": "grün"}\n')]));
  assert.deepEqual((await readJsonl(file)).map((r) => r.value), [{ text: 'grün' }]);
});

test('characters a character vocabulary lacks are counted, most frequent first, with their first line', () => {
  const examples = parseExamples('{"prompt": "Q: grün?\\nA:", "completion": " über"}\n{"prompt": "Q: naïve\\nA:", "completion": " ü"}\n', 'd.jsonl');
  const summary = unrepresentableCharacters(examples, chars);
  assert.deepEqual(summary.characters.map((c) => [c.char, c.occurrences, c.first?.line, c.becomes]), [['ü', 3, 1, 'dropped'], ['ï', 1, 2, 'dropped']]);
  assert.equal(summary.occurrences, 4);
  // the ids really lack them: "grün" encodes to three tokens
  assert.equal(chars.encode('grün', { addSpecialTokens: false }).length, 3);
  assert.equal(describeUnrepresentable('d.jsonl', summary),
    'd.jsonl: 4 character(s) of the data (2 distinct) cannot be represented by the tokenizer and are dropped from the token ids, so the model never sees them: "ü" (U+00FC) ×3 from line 1, "ï" (U+00EF) ×1 from line 2. Use a tokenizer whose vocabulary covers the data, or clean the data.');
  // a tokenizer with an unknown token: the character becomes that token
  const withUnk = { unkTokenId: 9, encode: (text: string): number[] => [...text].map((c) => (c === 'ü' ? 9 : 1)) };
  assert.deepEqual(unrepresentableCharacters(examples, withUnk).characters.map((c) => [c.char, c.becomes]), [['ü', 'unknown']]);
  // tokenizeExamples carries the count in its summary (bone train warns with it)
  assert.equal(tokenizeExamples(examples, chars, { maxLength: 64 }).summary.unrepresentable.occurrences, 4);
});

test('a byte-level tokenizer represents everything: nothing is reported', async () => {
  const chatml = await loadTokenizer(join(TOKENIZERS, 'chatml'));
  const examples = parseExamples('{"text": "grün über naïve € 😀 日本"}\n', 'd.jsonl');
  assert.deepEqual(unrepresentableCharacters(examples, chatml), { occurrences: 0, characters: [] });
});

test('a tokenizer with an empty vocabulary is refused when it loads, not blamed on the data', async () => {
  const folder = join(dir, 'empty-vocab');
  await import('node:fs/promises').then((fs) => fs.cp(DEMO, folder, { recursive: true }));
  const json = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(folder, 'tokenizer.json'), 'utf8'))) as { model: { vocab: object } };
  json.model.vocab = {};
  await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(json));
  await assert.rejects(loadTokenizer(folder), new RegExp(`^TokenizerError: ${join(folder, 'tokenizer.json')}: "model.vocab" is empty: this tokenizer can encode no text`));
});
