/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written the way the
 * Python/Rust library does:
 *
 *   8 bytes   N, the header length: unsigned 64-bit, little-endian
 *   N bytes   a UTF-8 JSON object  { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *                                    "__metadata__": { "<key>": "<string value>" } }   (metadata optional)
 *   the rest  the data section: every tensor's elements, row-major, little-endian, at bytes [begin, end)
 *             counted from the start of the data section
 *
 * Reading never holds a whole file in memory: the header is read and validated first, then each tensor's
 * byte range is read straight into its own freshly allocated ArrayBuffer (so the typed array over it is
 * correctly aligned, and nothing else keeps the file's bytes alive). Files are reached through the
 * core's FileSystem (file-system.ts), or given as bytes (`parseSafetensors`, `serializeSafetensors`).
 *
 * Byte order: tensor bytes are copied between the file and typed arrays unchanged, which is only right on
 * a little-endian host. Every platform Node.js and the browsers run on (x86-64, arm64, WebAssembly) is
 * little-endian; the check below makes a big-endian host fail loudly instead of silently byte-swapping
 * every weight.
 */

import { PathRef, bytesSource, encodeUtf8, fileDataBytes, pathRef, type ByteSource, type PathLike } from './file-system.ts';
import { SafetensorsError } from './errors.ts';

export { SafetensorsError } from './errors.ts';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('bone-peft reads and writes safetensors byte-for-byte and needs a little-endian host');
}

// ---- dtypes --------------------------------------------------------------------------------------

/** The typed array each dtype is held in. F16 and BF16 are kept as their raw 16-bit patterns. */
export interface SafetensorsArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

/** The dtypes of the format that models use. (The format also defines U16/U32/U64 and 8-bit floats; they are refused.) */
export type SafetensorsDType = keyof SafetensorsArrays;

/** A tensor of one dtype, with the data in that dtype's typed array. */
export interface SafetensorsTensorOf<D extends SafetensorsDType> {
  dtype: D;
  /** Dimensions, outermost first; `[]` is a scalar (one element). */
  shape: number[];
  data: SafetensorsArrays[D];
}

/** A tensor of any dtype; narrowing on `dtype` narrows `data`. */
export type SafetensorsTensor = { [D in SafetensorsDType]: SafetensorsTensorOf<D> }[SafetensorsDType];

interface DTypeInfo<D extends SafetensorsDType> {
  /** Bytes per element, which is also the alignment the writer keeps in the data section. */
  size: number;
  /** The name `Object.prototype.toString` gives the typed array (works for arrays from other realms too). */
  arrayTag: string;
  view(buffer: ArrayBuffer): SafetensorsArrays[D];
  /**
   * Where the Rust library puts this dtype when it writes a file: tensors are sorted by this rank, then by
   * name. Measured with safetensors 0.8.0 (`save` of one tensor per dtype); following it makes our files
   * byte-identical to Python's for the same tensors.
   */
  writeRank: number;
}

const DTYPE_INFO: { readonly [D in SafetensorsDType]: DTypeInfo<D> } = {
  I64: { size: 8, arrayTag: 'BigInt64Array', view: (b) => new BigInt64Array(b), writeRank: 0 },
  F64: { size: 8, arrayTag: 'Float64Array', view: (b) => new Float64Array(b), writeRank: 1 },
  F32: { size: 4, arrayTag: 'Float32Array', view: (b) => new Float32Array(b), writeRank: 2 },
  I32: { size: 4, arrayTag: 'Int32Array', view: (b) => new Int32Array(b), writeRank: 3 },
  BF16: { size: 2, arrayTag: 'Uint16Array', view: (b) => new Uint16Array(b), writeRank: 4 },
  F16: { size: 2, arrayTag: 'Uint16Array', view: (b) => new Uint16Array(b), writeRank: 5 },
  I16: { size: 2, arrayTag: 'Int16Array', view: (b) => new Int16Array(b), writeRank: 6 },
  I8: { size: 1, arrayTag: 'Int8Array', view: (b) => new Int8Array(b), writeRank: 7 },
  U8: { size: 1, arrayTag: 'Uint8Array', view: (b) => new Uint8Array(b), writeRank: 8 },
  BOOL: { size: 1, arrayTag: 'Uint8Array', view: (b) => new Uint8Array(b), writeRank: 9 },
};

export const SAFETENSORS_DTYPES: readonly SafetensorsDType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

export function isSafetensorsDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(DTYPE_INFO, value);
}

/** Bytes per element of a dtype. */
export function safetensorsElementSize(dtype: SafetensorsDType): number {
  return DTYPE_INFO[dtype].size;
}

// ---- the header ----------------------------------------------------------------------------------

/** What the header says about one tensor. */
export interface SafetensorsHeaderEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** [begin, end) in bytes, counted from the start of the data section (`dataStart` in the file). */
  dataOffsets: [number, number];
}

/** A file's validated header: enough to read any of its tensors later. */
export interface SafetensorsHeader {
  /** The file it was read from (or what the bytes are called); error messages name it. */
  path: string;
  /** In the order the header lists them. */
  tensors: Map<string, SafetensorsHeaderEntry>;
  /** `__metadata__`, or `{}` when the file has none. */
  metadata: Record<string, string>;
  /** File offset of the data section: 8 + header length. */
  dataStart: number;
}

/** The Rust library's limit; a larger length field is corruption, and is refused before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Reads go in pieces of at most this size (Node's fs calls take at most 2 GiB - 1 bytes at once). */
const IO_CHUNK_BYTES = 1 << 30;

const METADATA_KEY = '__metadata__';

/** Reads and validates a file's header without reading any tensor data. */
export async function readSafetensorsHeader(path: PathLike): Promise<SafetensorsHeader> {
  const file = pathRef(path);
  return withFile(file, (source) => readHeaderFrom(source, file.path));
}

async function readHeaderFrom(source: ByteSource, path: string): Promise<SafetensorsHeader> {
  const fileSize = source.size;
  if (fileSize < 8) {
    throw new SafetensorsError(`${path}: file is ${fileSize} bytes, shorter than the 8-byte header length that starts every safetensors file`);
  }
  const lengthField = new Uint8Array(8);
  await readExactly(source, path, lengthField, 0, 'the header length');
  const headerLength = new DataView(lengthField.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${path}: header length field says ${headerLength} bytes; expected at most ${MAX_HEADER_BYTES} (the file is corrupt or not safetensors)`);
  }
  if (headerLength > BigInt(fileSize - 8)) {
    throw new SafetensorsError(`${path}: header length field says ${headerLength} bytes, but only ${fileSize - 8} bytes follow it (file truncated or corrupt)`);
  }
  const headerBytes = new Uint8Array(Number(headerLength));
  await readExactly(source, path, headerBytes, 8, 'the header');
  const dataStart = 8 + headerBytes.length;
  return parseSafetensorsHeader(path, headerBytes, fileSize - dataStart);
}

/**
 * Validates a header completely: every later read can trust it, and a bad file is refused before any
 * tensor is handed out. `dataLength` is the size of the data section (file size - 8 - header length).
 */
export function parseSafetensorsHeader(path: string, headerBytes: Uint8Array, dataLength: number): SafetensorsHeader {
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so JSON.parse refuses it as the Rust library does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(`${path}: header (${headerBytes.length} bytes) is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(`${path}: header is not valid JSON (${(err as Error).message}); it starts ${preview(text)}`);
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsError(`${path}: header must be a JSON object of tensors, found ${describe(parsed)}`);
  }
  // JSON.parse keeps only the last of duplicated keys, so a duplicate would silently hide a tensor; the raw
  // text is scanned instead. The scan also gives the keys in file order (JS objects put integer-like keys first).
  const keys = scanObjectKeys(text, path);

  const tensors = new Map<string, SafetensorsHeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const name of keys) {
    const value = parsed[name];
    if (name === METADATA_KEY) metadata = validateMetadata(path, value);
    else tensors.set(name, validateEntry(path, name, value, dataLength));
  }
  checkCoverage(path, tensors, dataLength);
  return { path, tensors, metadata, dataStart: 8 + headerBytes.length };
}

function validateMetadata(path: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(`${path}: "${METADATA_KEY}" must be an object of string values, found ${describe(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(`${path}: "${METADATA_KEY}" entry ${JSON.stringify(key)} must be a string, found ${describe(v)}`);
    }
  }
  // Object.fromEntries defines own properties, so even a key named "__proto__" stays data.
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

/** Fields other than these three are ignored, as the Rust library ignores them. */
function validateEntry(path: string, name: string, value: unknown, dataLength: number): SafetensorsHeaderEntry {
  const where = `${path}: tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(value)) throw new SafetensorsError(`${where}: expected an object with dtype, shape and data_offsets, found ${describe(value)}`);
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, field)) throw new SafetensorsError(`${where}: missing "${field}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsError(`${where}: dtype must be one of ${SAFETENSORS_DTYPES.join(', ')}; found ${describe(dtype)}`);
  }
  const numel = checkShape(where, shape);
  const dims = shape as number[];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteCount)) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end], two non-negative integers; found ${describe(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] begin after they end`);
  if (end > dataLength) {
    throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] run past the end of the data section, which is ${dataLength} bytes (file truncated or corrupt)`);
  }
  const expected = numel * DTYPE_INFO[dtype].size;
  if (end - begin !== expected) {
    throw new SafetensorsError(`${where}: ${dtype} shape [${dims.join(', ')}] needs ${expected} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { dtype, shape: [...dims], dataOffsets: [begin, end] };
}

/** Checks a shape and returns its element count. */
function checkShape(where: string, shape: unknown): number {
  if (!Array.isArray(shape) || !shape.every(isByteCount)) {
    throw new SafetensorsError(`${where}: shape must be an array of non-negative integers, found ${describe(shape)}`);
  }
  let numel = 1;
  for (const dim of shape as number[]) numel *= dim;
  // Past 2^53 the product is no longer exact (and no file can hold that many bytes anyway).
  if (!Number.isSafeInteger(numel * 8)) throw new SafetensorsError(`${where}: shape [${shape.join(', ')}] has too many elements`);
  return numel;
}

/**
 * The data section must be tiled exactly: sorted by offset, each tensor starts where the previous one
 * ended and the last ends at the end of the file. The Rust library refuses gaps and trailing bytes too,
 * and they are what a truncated-then-appended or mis-spliced file looks like.
 */
function checkCoverage(path: string, tensors: Map<string, SafetensorsHeaderEntry>, dataLength: number): void {
  const byOffset = [...tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  let previous: string | undefined;
  for (const [name, { dataOffsets: [begin, end] }] of byOffset) {
    if (begin < cursor) {
      throw new SafetensorsError(`${path}: tensor ${JSON.stringify(name)} data_offsets [${begin}, ${end}] overlap tensor ${JSON.stringify(previous)}, which ends at ${cursor}`);
    }
    if (begin > cursor) {
      throw new SafetensorsError(`${path}: bytes [${cursor}, ${begin}) of the data section belong to no tensor (expected tensor ${JSON.stringify(name)} to start at ${cursor})`);
    }
    cursor = end;
    previous = name;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(`${path}: the data section is ${dataLength} bytes but the tensors cover only ${cursor} (trailing bytes, or a wrong header length)`);
  }
}

/**
 * Lists the top-level keys of a JSON object text in order, refusing a key that appears twice in any object
 * (at the top level that would hide a tensor; inside an entry, a second "dtype" or "shape"). The text has
 * already passed JSON.parse, so only strings and brackets need recognising. Iterative, so deeply nested
 * garbage cannot overflow the stack.
 */
function scanObjectKeys(text: string, path: string): string[] {
  interface Frame { isObject: boolean; keys: Set<string>; lastKey: string; where: string }
  const topKeys: string[] = [];
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) {
          throw new SafetensorsError(`${path}: key ${JSON.stringify(key)} appears twice in ${top.where} (JSON readers silently keep only the last one)`);
        }
        top.keys.add(key);
        top.lastKey = key;
        if (stack.length === 1) topKeys.push(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      const where = !parent ? 'the header' : parent.isObject ? `entry ${JSON.stringify(parent.lastKey)}` : `an array in ${parent.where}`;
      stack.push({ isObject: c === 0x7b, keys: new Set(), lastKey: '', where });
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1]?.isObject ?? false;
    }
  }
  return topKeys;
}

// ---- reading tensors -----------------------------------------------------------------------------

/** Reads one tensor the header describes, into its own aligned buffer. `file` may be a path or an open file. */
export async function loadTensor(file: PathLike | ByteSource, header: SafetensorsHeader, name: string): Promise<SafetensorsTensor> {
  const entry = header.tensors.get(name);
  if (!entry) throw new SafetensorsError(`${header.path}: no tensor named ${JSON.stringify(name)} ${listNames(header)}`);
  if (typeof file === 'string' || file instanceof PathRef) return withFile(pathRef(file), (source) => readEntry(source, header, name, entry));
  return readEntry(file, header, name, entry);
}

async function readEntry(source: ByteSource, header: SafetensorsHeader, name: string, entry: SafetensorsHeaderEntry): Promise<SafetensorsTensor> {
  const [begin, end] = entry.dataOffsets;
  // A fresh ArrayBuffer starts at offset 0, so every typed array over it is aligned whatever `begin` is.
  const buffer = new ArrayBuffer(end - begin);
  await readExactly(source, header.path, new Uint8Array(buffer), header.dataStart + begin, `tensor ${JSON.stringify(name)}`);
  return makeTensor(entry.dtype, [...entry.shape], buffer);
}

function makeTensor<D extends SafetensorsDType>(dtype: D, shape: number[], buffer: ArrayBuffer): SafetensorsTensor {
  return { dtype, shape, data: DTYPE_INFO[dtype].view(buffer) } as SafetensorsTensorOf<D> as SafetensorsTensor;
}

export interface SafetensorsContents {
  /** In header order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface ReadSafetensorsOptions {
  /** Read only these tensors (the whole header is still validated). A name the file lacks is an error. */
  names?: readonly string[];
}

/** Reads a file's tensors (all, or `options.names`) after validating the whole header. */
export async function readSafetensors(path: PathLike, options: ReadSafetensorsOptions = {}): Promise<SafetensorsContents> {
  const file = pathRef(path);
  return withFile(file, (source) => readContents(source, file.path, options));
}

/** A whole safetensors file given as bytes (a download, a file picked in a browser); `name` is what messages call it. */
export async function parseSafetensors(bytes: Uint8Array, name = 'safetensors bytes', options: ReadSafetensorsOptions = {}): Promise<SafetensorsContents> {
  return readContents(bytesSource(bytes), name, options);
}

async function readContents(source: ByteSource, path: string, options: ReadSafetensorsOptions): Promise<SafetensorsContents> {
  const header = await readHeaderFrom(source, path);
  const wanted = options.names ? new Set(options.names) : undefined;
  if (wanted) {
    for (const name of wanted) {
      if (!header.tensors.has(name)) throw new SafetensorsError(`${path}: no tensor named ${JSON.stringify(name)} ${listNames(header)}`);
    }
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of header.tensors) {
    if (!wanted || wanted.has(name)) tensors.set(name, await readEntry(source, header, name, entry));
  }
  return { tensors, metadata: header.metadata };
}

/** An open file whose header has been validated, for loading tensors one at a time (e.g. a large shard). */
export interface SafetensorsReader {
  readonly header: SafetensorsHeader;
  load(name: string): Promise<SafetensorsTensor>;
  close(): Promise<void>;
}

export async function openSafetensors(path: PathLike): Promise<SafetensorsReader> {
  const file = pathRef(path);
  const source = await io(file.path, 'open the file', () => file.open());
  try {
    const header = await readHeaderFrom(source, file.path);
    return {
      header,
      load: (name) => loadTensor(source, header, name),
      close: () => io(file.path, 'close the file', () => source.close()),
    };
  } catch (err) {
    await source.close().catch(() => undefined);
    throw err;
  }
}

// ---- writing -------------------------------------------------------------------------------------

type TensorsToWrite = ReadonlyMap<string, SafetensorsTensor> | Readonly<Record<string, SafetensorsTensor>>;

/**
 * Writes tensors and optional metadata as the Python library would (see serializeSafetensors).
 * Everything is validated before the file is touched, and the file system writes it atomically (in
 * Node: a temporary sibling, fsynced and renamed over `path`), so `path` holds either its old
 * contents or the complete new file, never a partial one.
 */
export async function writeSafetensors(path: PathLike, tensors: TensorsToWrite, metadata?: Readonly<Record<string, string>>): Promise<void> {
  const file = pathRef(path);
  const pieces = serializeSafetensors(tensors, metadata, file.path);
  try {
    await file.write(pieces);
  } catch (err) {
    const message = (err as Error).message;
    throw new SafetensorsError(message.startsWith(file.path) ? message : `${file.path}: could not write the file: ${message}`, { cause: err });
  }
}

/**
 * The bytes of a safetensors file as the Python library writes them: tensors sorted by its dtype
 * order then by name, packed contiguously (so each stays aligned to its element size), header padded
 * with spaces to a multiple of 8 bytes; empty metadata left out. Returned as pieces — the header,
 * then a view of each tensor's own memory, not a copy — to be written in order (or joined, for a
 * small file). `name` is what error messages call the file.
 */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: Readonly<Record<string, string>>, name = 'safetensors'): Uint8Array[] {
  const path = name;
  const entries: [string, SafetensorsTensor][] = tensors instanceof Map
    ? [...(tensors as ReadonlyMap<string, SafetensorsTensor>)]
    : Object.entries(tensors as Readonly<Record<string, SafetensorsTensor>>);
  for (const [name, tensor] of entries) validateTensorForWrite(path, name, tensor);
  if (metadata !== undefined) checkMetadataForWrite(path, metadata);

  const utf8 = new Map(entries.map(([n]) => [n, encodeUtf8(n)]));
  entries.sort(([nameA, a], [nameB, b]) => DTYPE_INFO[a.dtype].writeRank - DTYPE_INFO[b.dtype].writeRank || compareBytes(utf8.get(nameA)!, utf8.get(nameB)!));

  // The JSON is assembled by hand: a JS object would move integer-like names ("0", "1") to the front.
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    const end = offset + tensor.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${tensor.dtype}","shape":[${tensor.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = encodeUtf8(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(`${path}: header would be ${headerLength} bytes, more than the ${MAX_HEADER_BYTES} readers accept`);
  }
  const prefix = new Uint8Array(8 + headerLength).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerLength), true);
  prefix.set(json, 8);
  // Views of the caller's memory, not copies: the file is written tensor by tensor.
  return [prefix, ...entries.map(([, tensor]) => new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))];
}

/** One safetensors file as one byte array (for a download or a file of a memory file system). */
export function safetensorsBytes(tensors: TensorsToWrite, metadata?: Readonly<Record<string, string>>, name?: string): Uint8Array {
  return fileDataBytes(serializeSafetensors(tensors, metadata, name));
}

/** Byte-wise order, as Python compares the UTF-8 of two names. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function validateTensorForWrite(path: string, name: string, tensor: SafetensorsTensor): void {
  const where = `${path}: tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(tensor)) throw new SafetensorsError(`${where}: expected { dtype, shape, data }, found ${describe(tensor)}`);
  if (name === METADATA_KEY) throw new SafetensorsError(`${where}: the name is reserved for the metadata`);
  if (/\p{Surrogate}/u.test(name)) throw new SafetensorsError(`${where}: the name has an unpaired UTF-16 surrogate, which UTF-8 cannot hold`);
  if (!isSafetensorsDType(tensor.dtype)) {
    throw new SafetensorsError(`${where}: dtype must be one of ${SAFETENSORS_DTYPES.join(', ')}; found ${describe(tensor.dtype)}`);
  }
  const numel = checkShape(where, tensor.shape);
  const info = DTYPE_INFO[tensor.dtype];
  const tag = Object.prototype.toString.call(tensor.data).slice(8, -1);
  // A Buffer is a Uint8Array and reports itself as one, so it is accepted for U8/BOOL.
  if (tag !== info.arrayTag) throw new SafetensorsError(`${where}: ${tensor.dtype} data must be a ${info.arrayTag}, found ${tag}`);
  if (tensor.data.length !== numel) {
    throw new SafetensorsError(`${where}: shape [${tensor.shape.join(', ')}] has ${numel} elements, but the data has ${tensor.data.length}`);
  }
  if (tensor.dtype === 'BOOL') {
    const bad = tensor.data.findIndex((v) => v > 1);
    if (bad >= 0) throw new SafetensorsError(`${where}: BOOL values must be 0 or 1; element ${bad} is ${tensor.data[bad]}`);
  }
}

function checkMetadataForWrite(path: string, metadata: Readonly<Record<string, string>>): void {
  if (!isPlainObject(metadata)) throw new SafetensorsError(`${path}: metadata must be an object of strings, found ${describe(metadata)}`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new SafetensorsError(`${path}: metadata ${JSON.stringify(key)} must be a string, found ${describe(value)}`);
  }
}

// ---- file helpers --------------------------------------------------------------------------------

async function withFile<T>(file: PathRef, use: (source: ByteSource) => Promise<T>): Promise<T> {
  const source = await io(file.path, 'open the file', () => file.open());
  try {
    return await use(source);
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Runs a file-system call, turning its failure into a SafetensorsError that names the file and keeps the cause. */
async function io<T>(path: string, action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(`${path}: could not ${action}: ${(err as Error).message}`, { cause: err });
  }
}

async function readExactly(source: ByteSource, path: string, target: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(target.length - done, IO_CHUNK_BYTES);
    const bytesRead = await io(path, 'read the file', () => source.read(target.subarray(done, done + length), position + done));
    if (bytesRead === 0) {
      // The header was checked against the size at open, so the file shrank while being read.
      throw new SafetensorsError(`${path}: file ended while reading ${what}: expected ${target.length} bytes at offset ${position}, found ${done}`);
    }
    done += bytesRead;
  }
}

// ---- small helpers -------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array ${preview(safeJson(value))}`;
  if (typeof value === 'object') return `object ${preview(safeJson(value))}`;
  return `${typeof value} ${preview(safeJson(value))}`;
}

/** JSON for messages; falls back to String() for what JSON cannot show (bigints, cycles). */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function listNames(header: SafetensorsHeader): string {
  const names = [...header.tensors.keys()];
  const shown = names.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
  return names.length === 0 ? '(the file has no tensors)' : `(the file has ${names.length}: ${shown}${names.length > 5 ? ', …' : ''})`;
}
