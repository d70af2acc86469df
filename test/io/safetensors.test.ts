/**
 * Tests for the safetensors reader and writer.
 *
 * Cross-checks with the Python library (safetensors 0.8.0, torch 2.13) were done by hand, never from the tests:
 *  - test/fixtures/safetensors/python-written.safetensors and its .json of expected values were made by
 *    python-written.py next to them (torch `save_file`); the tests below read them.
 *  - Our writer's output was read back by Python: a file with one tensor of every dtype (F64 -0/1/3/inf,
 *    an F32 signalling NaN 0x7fa00001, F16/BF16 NaN payloads, I64 extremes, I8/U8 extremes, BOOL, a scalar
 *    named "0", an empty [0, 4] I32) and metadata with a quote, a newline and a non-ASCII character was
 *    written by `writeSafetensors`, opened with `safetensors.safe_open(path, "pt")`, and every value,
 *    shape, dtype and the metadata matched bit for bit. Re-saving those tensors with Python's
 *    `safetensors.torch.save` gave the same tensor order, the same header length and identical data
 *    bytes (only the order of metadata keys differs: Rust keeps metadata in a hash map).
 */

import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  loadTensor,
  MAX_HEADER_BYTES,
  openSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  SafetensorsError,
  writeSafetensors,
  type SafetensorsContents,
  type SafetensorsTensor,
} from '../../src/io/safetensors.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/safetensors/', import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bone-peft-safetensors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---- helpers -------------------------------------------------------------------------------------

function bytesOf(data: ArrayBufferView): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** A Float32Array/Float64Array built from bit patterns, so NaN payloads survive (JS numbers may canonicalise them). */
function f32FromBits(bits: number[]): Float32Array {
  const out = new Float32Array(bits.length);
  new Uint32Array(out.buffer).set(bits);
  return out;
}

function f64FromBits(bits: bigint[]): Float64Array {
  const out = new Float64Array(bits.length);
  new BigUint64Array(out.buffer).set(bits);
  return out;
}

/** Frames a header text and a data section into file bytes; `headerLength` overrides the length field. */
function frame(header: string | Buffer, data: Uint8Array | number = 0, headerLength?: bigint): Buffer {
  const json = typeof header === 'string' ? Buffer.from(header, 'utf8') : header;
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  return Buffer.concat([prefix, json, body]);
}

let fileCounter = 0;
async function fileWith(bytes: Uint8Array): Promise<string> {
  const path = join(dir, `case-${fileCounter++}.safetensors`);
  await writeFile(path, bytes);
  return path;
}

async function assertRejects(promise: Promise<unknown>, fragment: RegExp, path?: string): Promise<SafetensorsError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SafetensorsError, `expected a SafetensorsError, got ${String(err)}`);
    assert.match(err.message, fragment);
    if (path !== undefined) assert.ok(err.message.includes(path), `message should name the file: ${err.message}`);
    return err;
  }
  assert.fail(`expected a SafetensorsError matching ${fragment}`);
}

function assertSameTensor(actual: SafetensorsTensor | undefined, expected: SafetensorsTensor, name: string): void {
  assert.ok(actual, `tensor ${name} missing`);
  assert.equal(actual.dtype, expected.dtype, name);
  assert.deepEqual(actual.shape, expected.shape, name);
  assert.equal(actual.data.constructor, expected.data.constructor, name);
  assert.ok(bytesOf(actual.data).equals(bytesOf(expected.data)), `${name}: bytes differ`);
}

/** One tensor of every dtype, with the values most likely to go wrong. */
function everyDType(): Map<string, SafetensorsTensor> {
  return new Map<string, SafetensorsTensor>([
    ['f64', { dtype: 'F64', shape: [2, 3], data: f64FromBits([0x8000000000000000n, 0x7ff0000000000001n, 0x7ff8000000000123n, 0x7ff0000000000000n, 1n, 0x3fd5555555555555n]) }],
    ['f32', { dtype: 'F32', shape: [5], data: f32FromBits([0x80000000, 0x7fa00001, 0xffc00abc, 0x00000001, 0x3fc00000]) }],
    ['f16', { dtype: 'F16', shape: [2, 2], data: new Uint16Array([0x8000, 0x7e01, 0x7c01, 0x0001]) }],
    ['bf16', { dtype: 'BF16', shape: [4], data: new Uint16Array([0x8000, 0xffc1, 0x7f81, 0x3f80]) }],
    ['i64', { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n]) }],
    ['i32', { dtype: 'I32', shape: [1, 3], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0]) }],
    ['i16', { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) }],
    ['i8', { dtype: 'I8', shape: [3], data: new Int8Array([-128, 127, -1]) }],
    ['u8', { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([-0]) }],
    ['empty', { dtype: 'I32', shape: [0, 4], data: new Int32Array(0) }],
  ]);
}

/** Parses a file's header as plain JSON, independently of the reader (used to judge what a file says). */
function plainHeader(bytes: Buffer): { headerLength: number; json: Record<string, unknown> } {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  return { headerLength, json: JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown> };
}

// ---- round trips ---------------------------------------------------------------------------------

describe('round trip', () => {
  test('every dtype, with metadata, bit-exact (NaN payloads, -0, subnormals, integer extremes)', async () => {
    const tensors = everyDType();
    const metadata = { format: 'pt', 'quote"and\\slash': 'line\nbreak ✓ 𝄞', '10': 'integer-like key' };
    const path = join(dir, 'every-dtype.safetensors');
    await writeSafetensors(path, tensors, metadata);

    const read = await readSafetensors(path);
    assert.deepEqual(read.metadata, metadata);
    assert.equal(read.tensors.size, tensors.size);
    for (const [name, expected] of tensors) {
      const actual = read.tensors.get(name);
      assertSameTensor(actual, expected, name);
      // Each tensor owns a fresh buffer: aligned, and not keeping the rest of the file alive.
      assert.equal(actual!.data.byteOffset, 0);
      assert.equal(actual!.data.buffer.byteLength, actual!.data.byteLength);
    }
    assert.ok(Object.is((read.tensors.get('scalar')!.data as Float32Array)[0], -0));
  });

  test('a record of tensors works like a map, and names that need escaping survive', async () => {
    const tensors: Record<string, SafetensorsTensor> = {
      '0': { dtype: 'U8', shape: [1], data: new Uint8Array([7]) },
      'naïve "quoted" \\ name\t✓': { dtype: 'U8', shape: [1], data: new Uint8Array([8]) },
      __proto__x: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) },
    };
    const path = join(dir, 'record.safetensors');
    await writeSafetensors(path, tensors);
    const read = await readSafetensors(path);
    assert.deepEqual([...read.tensors.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) assertSameTensor(read.tensors.get(name), t, name);
    assert.deepEqual(read.metadata, {});
  });

  test('the header is laid out as the Python library lays it out', async () => {
    const path = join(dir, 'layout.safetensors');
    await writeSafetensors(path, everyDType(), { format: 'pt' });
    const bytes = await readFile(path);
    const { headerLength, json } = plainHeader(bytes);
    assert.equal(headerLength % 8, 0, 'header padded to a multiple of 8');
    const text = bytes.subarray(8, 8 + headerLength).toString('utf8');
    assert.match(text, /^\{"__metadata__":\{"format":"pt"\},"i64":\{"dtype":"I64","shape":\[3\],"data_offsets":\[0,24\]\},"f64":/);
    assert.match(text, /\} *$/);
    // Python's order: I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL; then by name.
    assert.deepEqual(Object.keys(json), ['__metadata__', 'i64', 'f64', 'f32', 'scalar', 'empty', 'i32', 'bf16', 'f16', 'i16', 'i8', 'u8', 'bool']);
    let cursor = 0;
    for (const [name, entry] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      const [begin, end] = (entry as { data_offsets: [number, number] }).data_offsets;
      assert.equal(begin, cursor, `${name} contiguous`);
      cursor = end;
    }
    assert.equal(8 + headerLength + cursor, bytes.length);
  });
});

// ---- reading part of a file ----------------------------------------------------------------------

describe('partial and lazy reads', () => {
  let path: string;
  before(async () => {
    path = join(dir, 'partial.safetensors');
    await writeSafetensors(path, everyDType(), { format: 'pt' });
  });

  test('readSafetensors with names reads only those', async () => {
    const read = await readSafetensors(path, { names: ['i8', 'f64'] });
    assert.deepEqual([...read.tensors.keys()].sort(), ['f64', 'i8']);
    assertSameTensor(read.tensors.get('f64'), everyDType().get('f64')!, 'f64');
    assert.deepEqual(read.metadata, { format: 'pt' });
  });

  test('a name the file lacks is an error that lists what it has', async () => {
    await assertRejects(readSafetensors(path, { names: ['f64', 'nope'] }), /no tensor named "nope" \(the file has 12: /, path);
  });

  test('readSafetensorsHeader, then loadTensor by path or through openSafetensors', async () => {
    const header = await readSafetensorsHeader(path);
    assert.equal(header.dataStart % 8, 0);
    const i16 = header.tensors.get('i16')!;
    assert.deepEqual({ dtype: i16.dtype, shape: i16.shape, bytes: i16.dataOffsets[1] - i16.dataOffsets[0] }, { dtype: 'I16', shape: [2], bytes: 4 });
    assert.deepEqual(header.metadata, { format: 'pt' });
    assertSameTensor(await loadTensor(path, header, 'bf16'), everyDType().get('bf16')!, 'bf16');

    const reader = await openSafetensors(path);
    try {
      for (const [name, expected] of everyDType()) assertSameTensor(await reader.load(name), expected, name);
      await assertRejects(reader.load('missing'), /no tensor named "missing"/, path);
    } finally {
      await reader.close();
    }
  });

  test('a missing file is a SafetensorsError that keeps the system error as cause', async () => {
    const err = await assertRejects(readSafetensors(join(dir, 'does-not-exist.safetensors')), /could not open the file/);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
  });
});

// ---- validation ----------------------------------------------------------------------------------

describe('validation', () => {
  const entry = (dtype: string, shape: number[], offsets: [number, number]) => ({ dtype, shape, data_offsets: offsets });
  const h = (o: unknown) => JSON.stringify(o);

  const cases: [string, Buffer, RegExp][] = [
    ['empty file', Buffer.alloc(0), /file is 0 bytes, shorter than the 8-byte header length/],
    ['file shorter than 8 bytes', Buffer.from([2, 0, 0, 0, 0]), /file is 5 bytes, shorter than the 8-byte/],
    ['header length past the end of the file', frame('{}', 0, 3000n), /header length field says 3000 bytes, but only 2 bytes follow/],
    ['absurd header length', frame('{}', 0, BigInt(MAX_HEADER_BYTES) + 1n), /says 100000001 bytes; expected at most 100000000/],
    ['header length 2^64 - 1', frame('{}', 0, 2n ** 64n - 1n), /says 18446744073709551615 bytes; expected at most/],
    ['header not JSON', frame('{"a": {'), /header is not valid JSON .*it starts \{"a": \{/],
    ['header not UTF-8', frame(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /header \(7 bytes\) is not valid UTF-8/],
    ['header with a byte-order mark', frame('\uFEFF{}'), /not valid JSON/],
    ['header an array', frame('[1,2]'), /header must be a JSON object of tensors, found array \[1,2\]/],
    ['header null', frame('null'), /must be a JSON object of tensors, found null/],
    ['header a string', frame('"x"'), /must be a JSON object of tensors, found string "x"/],
    ['unknown dtype', frame(h({ w: entry('F8_E4M3', [2], [0, 2]) }), 2), /tensor "w": dtype must be one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL; found string "F8_E4M3"/],
    ['dtype not a string', frame(h({ w: { dtype: 5, shape: [1], data_offsets: [0, 1] } }), 1), /tensor "w": dtype must be one of .*found number 5/],
    ['entry not an object', frame(h({ w: 3 })), /tensor "w": expected an object with dtype, shape and data_offsets, found number 3/],
    ['missing dtype', frame(h({ w: { shape: [1], data_offsets: [0, 1] } }), 1), /tensor "w": missing "dtype"/],
    ['missing shape', frame(h({ w: { dtype: 'U8', data_offsets: [0, 1] } }), 1), /tensor "w": missing "shape"/],
    ['missing data_offsets', frame(h({ w: { dtype: 'U8', shape: [1] } }), 1), /tensor "w": missing "data_offsets"/],
    ['shape not an array', frame(h({ w: { dtype: 'U8', shape: '1', data_offsets: [0, 1] } }), 1), /tensor "w": shape must be an array of non-negative integers, found string "1"/],
    ['negative dim', frame(h({ w: entry('U8', [-1], [0, 1]) }), 1), /tensor "w": shape must be .*found array \[-1\]/],
    ['fractional dim', frame(h({ w: entry('U8', [1.5], [0, 1]) }), 1), /tensor "w": shape must be .*found array \[1.5\]/],
    ['string dim', frame(h({ w: { dtype: 'U8', shape: ['2'], data_offsets: [0, 2] } }), 2), /tensor "w": shape must be .*found array \["2"\]/],
    ['huge shape', frame(h({ w: entry('U8', [2 ** 30, 2 ** 30, 2 ** 30], [0, 1]) }), 1), /tensor "w": shape \[1073741824, 1073741824, 1073741824\] has too many elements/],
    ['data_offsets not a pair', frame(h({ w: { dtype: 'U8', shape: [1], data_offsets: [1] } }), 1), /tensor "w": data_offsets must be \[begin, end\].*found array \[1\]/],
    ['data_offsets with a string', frame(h({ w: { dtype: 'U8', shape: [1], data_offsets: [0, '1'] } }), 1), /data_offsets must be \[begin, end\]/],
    ['negative offset', frame(h({ w: entry('U8', [1], [-1, 0]) }), 1), /data_offsets must be \[begin, end\], two non-negative integers; found array \[-1,0\]/],
    ['begin after end', frame(h({ w: entry('U8', [0], [4, 0]) }), 4), /tensor "w": data_offsets \[4, 0\] begin after they end/],
    ['offsets past the data section', frame(h({ w: entry('F32', [2], [0, 8]) }), 4), /tensor "w": data_offsets \[0, 8\] run past the end of the data section, which is 4 bytes/],
    ['byte length not numel × size', frame(h({ w: entry('F32', [2], [0, 4]) }), 4), /tensor "w": F32 shape \[2\] needs 8 bytes, but data_offsets \[0, 4\] hold 4/],
    ['overlapping tensors', frame(h({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [2, 6]) }), 6), /tensor "b" data_offsets \[2, 6\] overlap tensor "a", which ends at 4/],
    ['empty tensor inside another', frame(h({ a: entry('F32', [1], [0, 4]), b: entry('F32', [0], [2, 2]) }), 4), /tensor "b" .*overlap tensor "a"/],
    ['a gap between tensors', frame(h({ a: entry('U8', [1], [0, 1]), b: entry('U8', [1], [2, 3]) }), 3), /bytes \[1, 2\) of the data section belong to no tensor/],
    ['trailing bytes', frame(h({ a: entry('U8', [1], [0, 1]) }), 3), /the data section is 3 bytes but the tensors cover only 1/],
    ['duplicate tensor name', frame('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), /key "a" appears twice in the header/],
    ['duplicate name spelled with an escape', frame('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), /key "a" appears twice in the header/],
    ['duplicate field in an entry', frame('{"a":{"dtype":"F32","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), /key "dtype" appears twice in entry "a"/],
    ['duplicate __metadata__', frame('{"__metadata__":{"x":"1"},"__metadata__":{"x":"2"}}'), /key "__metadata__" appears twice in the header/],
    ['__metadata__ not an object', frame(h({ __metadata__: 'pt' })), /"__metadata__" must be an object of string values, found string "pt"/],
    ['__metadata__ an array', frame(h({ __metadata__: ['pt'] })), /"__metadata__" must be an object of string values, found array/],
    ['__metadata__ with a number', frame(h({ __metadata__: { format: 'pt', step: 3 } })), /"__metadata__" entry "step" must be a string, found number 3/],
    ['deeply nested garbage under a duplicate key', frame(`{"a":${'['.repeat(200_000)}${']'.repeat(200_000)},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), /key "a" appears twice in the header/],
  ];

  for (const [name, bytes, fragment] of cases) {
    test(name, async () => {
      const path = await fileWith(bytes);
      await assertRejects(readSafetensors(path), fragment, path);
      await assertRejects(readSafetensorsHeader(path), fragment, path);
    });
  }

  test('edge cases that are valid: no tensors, scalar, empty tensors, unknown extra fields', async () => {
    const empty = await readSafetensors(await fileWith(frame('{}')));
    assert.equal(empty.tensors.size, 0);
    const path = await fileWith(frame('{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4],"extra":[1]},"e":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]}}   ', new Uint8Array([0, 0, 0x80, 0x3f])));
    const read = await readSafetensors(path);
    assert.deepEqual([...read.tensors.get('s')!.data], [1]);
    assert.deepEqual(read.tensors.get('e')!.shape, [3, 0]);
    assert.equal(read.tensors.get('e')!.data.length, 0);
  });
});

// ---- writing -------------------------------------------------------------------------------------

describe('writing', () => {
  const writerCases: [string, Record<string, SafetensorsTensor>, Record<string, string> | undefined, RegExp][] = [
    ['data length not matching the shape', { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }, undefined, /tensor "w": shape \[2, 2\] has 4 elements, but the data has 3/],
    ['wrong typed array for the dtype', { w: { dtype: 'F64', shape: [2], data: new Float32Array(2) as unknown as Float64Array } }, undefined, /tensor "w": F64 data must be a Float64Array, found Float32Array/],
    ['unknown dtype', { w: { dtype: 'U16', shape: [1], data: new Uint16Array(1) } as unknown as SafetensorsTensor }, undefined, /tensor "w": dtype must be one of .*found string "U16"/],
    ['negative dim', { w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }, undefined, /tensor "w": shape must be an array of non-negative integers/],
    ['BOOL value other than 0/1', { w: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } }, undefined, /BOOL values must be 0 or 1; element 1 is 2/],
    ['the reserved name', { __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, undefined, /tensor "__metadata__": the name is reserved/],
    ['a lone surrogate in a name', { 'a\ud800': { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, undefined, /unpaired UTF-16 surrogate/],
    ['metadata that is not a string', { w: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, { step: 3 as unknown as string }, /metadata "step" must be a string, found number 3/],
  ];

  for (const [name, tensors, metadata, fragment] of writerCases) {
    test(`refuses ${name}, leaving the destination untouched and no temporary file`, async () => {
      const sub = await mkdtemp(join(dir, 'write-'));
      const path = join(sub, 'model.safetensors');
      await writeFile(path, 'previous contents');
      await assertRejects(writeSafetensors(path, tensors, metadata), fragment, path);
      assert.equal(await readFile(path, 'utf8'), 'previous contents');
      assert.deepEqual(await readdir(sub), ['model.safetensors']);
    });
  }

  test('a failure after the data is written (rename onto a directory) removes the temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'write-'));
    const path = join(sub, 'model.safetensors');
    await mkdir(path);
    await writeFile(join(path, 'keep'), 'x');
    const err = await assertRejects(writeSafetensors(path, everyDType()), /could not rename the temporary file .*\.tmp-\d+-[0-9a-f]+ onto it/, path);
    assert.ok(err.cause);
    assert.deepEqual((await readdir(sub)).sort(), ['model.safetensors']);
    assert.deepEqual(await readdir(path), ['keep']);
  });

  test('a successful write replaces the destination and leaves nothing else', async () => {
    const sub = await mkdtemp(join(dir, 'write-'));
    const path = join(sub, 'model.safetensors');
    await writeFile(path, 'previous contents');
    await writeSafetensors(path, { w: { dtype: 'U8', shape: [1], data: new Uint8Array([3]) } });
    assert.deepEqual(await readdir(sub), ['model.safetensors']);
    assert.deepEqual([...(await readSafetensors(path)).tensors.get('w')!.data], [3]);
  });
});

// ---- files written by others ---------------------------------------------------------------------

describe('files written by Python', () => {
  test('python-written.safetensors (torch save_file) reads as python-written.json says', async () => {
    interface Expected { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }> }
    const expected = JSON.parse(await readFile(join(FIXTURES, 'python-written.json'), 'utf8')) as Expected;
    const path = join(FIXTURES, 'python-written.safetensors');
    const read = await readSafetensors(path);
    assert.deepEqual(read.metadata, expected.metadata);
    assert.deepEqual([...read.tensors.keys()].sort(), Object.keys(expected.tensors).sort());
    for (const [name, want] of Object.entries(expected.tensors)) {
      const got = read.tensors.get(name)!;
      assert.equal(got.dtype, want.dtype, name);
      assert.deepEqual(got.shape, want.shape, name);
      let values: (number | string)[];
      if (got.dtype === 'F32') values = [...new Uint32Array(got.data.buffer, got.data.byteOffset, got.data.length)];
      else if (got.dtype === 'I64') values = [...got.data].map(String);
      else values = [...got.data];
      assert.deepEqual(values, want.values, name);
    }
    assert.ok(Number.isNaN((read.tensors.get('weights.f32')!.data as Float32Array)[4]));
  });

  test('re-writing the Python file gives the same bytes', async () => {
    const original = await readFile(join(FIXTURES, 'python-written.safetensors'));
    const read = await readSafetensors(join(FIXTURES, 'python-written.safetensors'));
    const path = join(dir, 'python-rewritten.safetensors');
    await writeSafetensors(path, read.tensors, read.metadata);
    assert.ok((await readFile(path)).equals(original));
  });

  test('a transformers checkpoint (tiny Llama from the reference cases) reads, and re-writes bit-exact', async () => {
    const path = join(FIXTURES, 'tiny-llama.safetensors');
    const read = await readSafetensors(path);
    assert.deepEqual(read.metadata, { format: 'pt' });
    assert.equal(read.tensors.size, 20);
    const shapes = Object.fromEntries([...read.tensors].map(([name, t]) => [name, t.shape]));
    assert.deepEqual(shapes['model.embed_tokens.weight'], [512, 64]);
    assert.deepEqual(shapes['model.layers.1.mlp.down_proj.weight'], [64, 128]);
    assert.deepEqual(shapes['model.layers.0.self_attn.k_proj.weight'], [32, 64]);
    assert.deepEqual(shapes['model.norm.weight'], [64]);
    for (const t of read.tensors.values()) assert.equal(t.dtype, 'F32');

    const original = await readFile(path);
    const { headerLength } = plainHeader(original);
    const norm = read.tensors.get('model.norm.weight')!;
    const [begin, end] = (await readSafetensorsHeader(path)).tensors.get('model.norm.weight')!.dataOffsets;
    assert.ok(bytesOf(norm.data).equals(original.subarray(8 + headerLength + begin, 8 + headerLength + end)));

    const rewritten = join(dir, 'tiny-llama-rewritten.safetensors');
    await writeSafetensors(rewritten, read.tensors, read.metadata);
    assert.ok((await readFile(rewritten)).equals(original), 'our writer reproduces the transformers file byte for byte');
    const again = await readSafetensors(rewritten);
    for (const [name, t] of read.tensors) assertSameTensor(again.tensors.get(name), t, name);
  });
});

// ---- fuzzing -------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failing corruption can be replayed from its iteration number. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzz', () => {
  /**
   * Judges a file the reader accepted against an independent reading of its bytes: same tensors, same
   * dtypes and shapes, and each tensor's bytes exactly the bytes its data_offsets point at.
   */
  function assertMatchesBytes(bytes: Buffer, read: SafetensorsContents, label: string): void {
    const { headerLength, json } = plainHeader(bytes);
    const dataStart = 8 + headerLength;
    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    assert.deepEqual([...read.tensors.keys()].sort(), names.sort(), label);
    assert.deepEqual(read.metadata, json['__metadata__'] ?? {}, label);
    for (const name of names) {
      const entry = json[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const got = read.tensors.get(name)!;
      assert.equal(got.dtype, entry.dtype, label);
      assert.deepEqual(got.shape, entry.shape, label);
      const [begin, end] = entry.data_offsets;
      assert.ok(bytesOf(got.data).equals(bytes.subarray(dataStart + begin, dataStart + end)), `${label}: ${name} bytes`);
    }
  }

  /** Re-frames an edited header text onto the original data section. */
  function reframe(original: Buffer, headerText: string, pad: boolean): Buffer {
    const { headerLength } = plainHeader(original);
    const padded = pad ? headerText + ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8) : headerText;
    return frame(padded, original.subarray(8 + headerLength));
  }

  test('random corruptions are read back exactly or refused with SafetensorsError', { timeout: 20_000 }, async () => {
    const source = join(dir, 'fuzz-source.safetensors');
    await writeSafetensors(source, everyDType(), { format: 'pt', note: 'fuzz' });
    const original = await readFile(source);
    const { headerLength, json } = plainHeader(original);
    const headerText = original.subarray(8, 8 + headerLength).toString('utf8');
    const tensorNames = Object.keys(json).filter((k) => k !== '__metadata__');
    const rand = prng(0x5afe7e45);
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
    const path = join(dir, 'fuzz.safetensors');

    type Outcome = 'accept' | 'reject' | 'either';
    const corruptions: ((b: Buffer) => [Buffer, Outcome])[] = [
      // flip bits of a header byte
      (b) => { const c = Buffer.from(b); c[8 + int(headerLength)] ^= 1 + int(255); return [c, 'either']; },
      // flip a data byte: the header still holds, so the file must read back with that byte changed
      (b) => { const c = Buffer.from(b); c[8 + headerLength + int(b.length - 8 - headerLength)] ^= 1 + int(255); return [c, 'accept']; },
      // truncate anywhere
      (b) => [b.subarray(0, int(b.length)), 'reject'],
      // rewrite the header length field
      (b) => {
        const c = Buffer.from(b);
        const choices = [BigInt(headerLength + int(17) - 8), BigInt(int(b.length * 2)), 0n, BigInt(rand() * 2 ** 32) * BigInt(rand() * 2 ** 32), 2n ** 64n - 1n];
        c.writeBigUInt64LE(BigInt.asUintN(64, pick(choices)));
        return [c, 'either'];
      },
      // splice garbage in anywhere
      (b) => {
        const at = int(b.length);
        const garbage = Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256)));
        return [Buffer.concat([b.subarray(0, at), garbage, b.subarray(at)]), 'either'];
      },
      // delete a range
      (b) => { const at = int(b.length); return [Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(12))]), 'either']; },
      // overwrite a header byte with a JSON-significant character
      (b) => { const c = Buffer.from(b); c[8 + int(headerLength)] = pick([...'{}[],:"\\ 0123456789-.eE'].map((ch) => ch.charCodeAt(0))); return [c, 'either']; },
      // a duplicate top-level key, with the header length fixed up
      (b) => {
        const name = pick(tensorNames);
        const entryText = `${JSON.stringify(name)}:${JSON.stringify(json[name])}`;
        return [reframe(b, `{${entryText},${headerText.trimEnd().slice(1)}`, rand() < 0.5), 'reject'];
      },
      // a duplicate field inside one entry
      (b) => {
        const name = pick(tensorNames);
        const field = pick(['dtype', 'shape', 'data_offsets']);
        const entry = json[name] as Record<string, unknown>;
        const edited = headerText.replace(`${JSON.stringify(name)}:{`, `${JSON.stringify(name)}:{${JSON.stringify(field)}:${JSON.stringify(entry[field])},`);
        return [reframe(b, edited.trimEnd(), true), 'reject'];
      },
      // a structural edit of one entry, still valid JSON, so the deeper checks are reached
      (b) => {
        const edited = JSON.parse(JSON.stringify(json)) as Record<string, Record<string, unknown>>;
        const entry = edited[pick(tensorNames)]!;
        const values: unknown[] = [-1, 0, 1, 2, 1.5, 4, 8, 24, 2 ** 53, '1', null, [], {}, 'F32', 'I64', 'U8', 'BOOL', 'F8_E4M3', [0], [1, 2]];
        switch (int(5)) {
          case 0: entry.dtype = pick(values); break;
          case 1: entry.shape = (entry.shape as unknown[]).length && rand() < 0.7 ? (entry.shape as unknown[]).map((d) => (rand() < 0.5 ? pick(values) : d)) : pick(values); break;
          case 2: entry.data_offsets = (entry.data_offsets as number[]).map((o) => (rand() < 0.5 ? o + int(9) - 4 : o)); break;
          case 3: delete entry[pick(['dtype', 'shape', 'data_offsets'])]; break;
          case 4: edited['__metadata__'] = pick([{ a: 1 }, 'x', [], { a: 'b' }, null]) as Record<string, unknown>; break;
        }
        return [reframe(b, JSON.stringify(edited), rand() < 0.5), 'either'];
      },
    ];

    const counts = { accepted: 0, rejected: 0 };
    const started = Date.now();
    for (let i = 0; i < 400; i++) {
      const kind = int(corruptions.length);
      const [bytes, outcome] = corruptions[kind]!(original);
      const label = `iteration ${i} (corruption ${kind})`;
      await writeFile(path, bytes);
      let read: SafetensorsContents | undefined;
      try {
        read = await readSafetensors(path);
      } catch (err) {
        assert.ok(err instanceof SafetensorsError, `${label}: expected SafetensorsError, got ${(err as Error)?.stack ?? String(err)}`);
        assert.ok(err.message.startsWith(path), `${label}: message should start with the path: ${err.message}`);
        assert.notEqual(outcome, 'accept', `${label}: a data-only change was refused: ${err.message}`);
        counts.rejected++;
        continue;
      }
      assert.notEqual(outcome, 'reject', `${label}: the reader accepted a file it must refuse`);
      assertMatchesBytes(bytes, read, label);
      counts.accepted++;
    }
    // Both paths must actually be exercised for the test to mean anything.
    assert.ok(counts.accepted > 30 && counts.rejected > 100, JSON.stringify(counts));
    assert.ok(Date.now() - started < 10_000, 'fuzzing took too long');
  });
});
