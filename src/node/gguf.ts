/**
 * GGUF version 3, the file format of llama.cpp (ggml's docs/gguf.md; gguf-py's gguf_writer.py):
 *
 *   "GGUF" · version u32 = 3 · tensor count u64 · metadata count u64
 *   metadata: key (u64 length + UTF-8) · value type u32 · value (arrays: item type u32 · count u64 · items)
 *   tensor infos: name · n_dims u32 · dims u64[n_dims] (ggml order: fastest dimension first, i.e.
 *                 torch's shape reversed) · ggml type u32 · offset u64 (from the start of the data)
 *   padding to `general.alignment` (32), then each tensor's bytes, each padded to the alignment
 *
 * and the tensor encodings this project writes: F32, F16 and Q8_0 (blocks of 32 values along a row:
 * a float16 scale d = max|x| / 127 and 32 int8 values round(x / d), bit for bit as gguf-py's
 * quants.py and ggml's quantize_row_q8_0_ref).
 *
 * Written here because no npm package writes GGUF files: @huggingface/gguf (0.4.6) parses them and
 * re-serialises the metadata header of an existing file, but writes no tensor infos or tensor data
 * and quantizes nothing.
 */
import type { FileHandle } from 'node:fs/promises';
import { f32ToF16 } from '../engine/dtype.ts';
import { writeAtomically } from './atomic.ts';

export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** gguf-py's GGUFValueType. */
export const GGUF_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type ScalarKind = Exclude<keyof typeof GGUF_TYPE, 'array'>;

export type GgufValue =
  | { kind: ScalarKind; value: number | bigint | boolean | string }
  | { kind: 'array'; of: ScalarKind; values: readonly (number | bigint | boolean | string)[] };

/** Metadata values with the types llama.cpp reads them as. */
export const gguf = {
  u32: (value: number): GgufValue => ({ kind: 'u32', value }),
  i32: (value: number): GgufValue => ({ kind: 'i32', value }),
  f32: (value: number): GgufValue => ({ kind: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ kind: 'bool', value }),
  str: (value: string): GgufValue => ({ kind: 'string', value }),
  array: (of: ScalarKind, values: readonly (number | bigint | boolean | string)[]): GgufValue => ({ kind: 'array', of, values }),
};

/** ggml_type codes and block layouts of the encodings written here. */
export const GGML_TYPES = {
  F32: { id: 0, blockValues: 1, blockBytes: 4 },
  F16: { id: 1, blockValues: 1, blockBytes: 2 },
  Q8_0: { id: 8, blockValues: 32, blockBytes: 34 },
} as const;
export type GgmlType = keyof typeof GGML_TYPES;

export interface GgufTensor {
  /** llama.cpp's name (`blk.0.attn_q.weight`). */
  name: string;
  /** torch's order (rows last-but-one, the row itself last); written reversed. */
  shape: readonly number[];
  type: GgmlType;
  /** The tensor's float32 values, produced when its turn comes (one tensor in memory at a time). */
  values: () => Float32Array | Promise<Float32Array>;
}

export class GgufError extends Error {
  override name = 'GgufError';
}

/** Bytes of a tensor of this shape in this encoding; Q8_0 needs rows that are a multiple of 32. */
export function ggmlTensorBytes(name: string, shape: readonly number[], type: GgmlType): number {
  const { blockValues, blockBytes } = GGML_TYPES[type];
  const row = shape[shape.length - 1] ?? 1;
  if (row % blockValues !== 0) {
    throw new GgufError(`tensor ${name} [${shape.join(', ')}]: ${type} stores rows in blocks of ${blockValues} values, found rows of ${row}`);
  }
  return (shape.reduce((a, b) => a * b, 1) / blockValues) * blockBytes;
}

/** A tensor's bytes in a ggml encoding. */
export function encodeGgmlTensor(values: Float32Array, type: GgmlType): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (type === 'F16') { const h = f32ToF16(values); return new Uint8Array(h.buffer, h.byteOffset, h.byteLength); }
  return quantizeQ8_0(values);
}

/** Q8_0 as gguf-py's quants.Q8_0.quantize_blocks: float32 arithmetic, round half away from zero. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / 32;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  const scale = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[b * 32 + i]!));
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    scale[0] = d;
    view.setUint16(b * 34, f32ToF16(scale)[0]!, true);
    for (let i = 0; i < 32; i++) {
      const x = Math.fround(values[b * 32 + i]! * id);
      const a = Math.abs(x);
      const floored = Math.floor(a);
      const q = Math.sign(x) * (floored + Math.floor(2 * (a - floored)));
      view.setInt8(b * 34 + 2 + i, q);
    }
  }
  return out;
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  private current = new Uint8Array(1 << 16);
  private view = new DataView(this.current.buffer);
  private at = 0;
  length = 0;

  private room(n: number): void {
    if (this.at + n <= this.current.length) return;
    this.chunks.push(this.current.subarray(0, this.at));
    this.current = new Uint8Array(Math.max(1 << 16, n));
    this.view = new DataView(this.current.buffer);
    this.at = 0;
  }

  u32(v: number): void { this.room(4); this.view.setUint32(this.at, v, true); this.at += 4; this.length += 4; }
  u64(v: number | bigint): void { this.room(8); this.view.setBigUint64(this.at, BigInt(v), true); this.at += 8; this.length += 8; }
  bytes(b: Uint8Array): void { this.room(b.length); this.current.set(b, this.at); this.at += b.length; this.length += b.length; }
  string(s: string): void { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }

  scalar(kind: ScalarKind, v: number | bigint | boolean | string, key: string): void {
    const bad = (): never => { throw new GgufError(`metadata ${key}: ${JSON.stringify(String(v))} is not a valid ${kind}`); };
    this.room(8);
    const d = this.view;
    const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN;
    switch (kind) {
      case 'string': if (typeof v !== 'string') bad(); this.string(v as string); return;
      case 'bool': if (typeof v !== 'boolean') bad(); d.setUint8(this.at, v ? 1 : 0); this.at += 1; this.length += 1; return;
      case 'f32': if (!Number.isFinite(n)) bad(); d.setFloat32(this.at, n, true); this.at += 4; this.length += 4; return;
      case 'f64': if (!Number.isFinite(n)) bad(); d.setFloat64(this.at, n, true); this.at += 8; this.length += 8; return;
      case 'u64': case 'i64': if (!Number.isInteger(n)) bad(); d.setBigInt64(this.at, BigInt(v as number), true); this.at += 8; this.length += 8; return;
    }
    const [bits, lo, hi] = ({ u8: [1, 0, 255], i8: [1, -128, 127], u16: [2, 0, 65535], i16: [2, -32768, 32767], u32: [4, 0, 2 ** 32 - 1], i32: [4, -(2 ** 31), 2 ** 31 - 1] } as const)[kind];
    if (!Number.isInteger(n) || n < lo || n > hi) bad();
    if (bits === 1) d.setUint8(this.at, n & 0xff);
    else if (bits === 2) d.setUint16(this.at, n & 0xffff, true);
    else if (kind === 'i32') d.setInt32(this.at, n, true);
    else d.setUint32(this.at, n, true);
    this.at += bits;
    this.length += bits;
  }

  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n) this.bytes(new Uint8Array(n));
  }

  finish(): Uint8Array[] { return [...this.chunks, this.current.subarray(0, this.at)]; }
}

/** The header: everything before the tensor data (metadata, tensor infos, padding). */
export function ggufHeader(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): Uint8Array[] {
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    w.string(key);
    if (value.kind === 'array') {
      w.u32(GGUF_TYPE.array);
      w.u32(GGUF_TYPE[value.of]);
      w.u64(value.values.length);
      for (const v of value.values) w.scalar(value.of, v, key);
    } else {
      w.u32(GGUF_TYPE[value.kind]);
      w.scalar(value.kind, value.value, key);
    }
  }
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufError(`tensor ${t.name} is listed twice`);
    names.add(t.name);
    w.string(t.name);
    w.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) w.u64(t.shape[i]!);
    w.u32(GGML_TYPES[t.type].id);
    w.u64(offset);
    offset += ggmlTensorBytes(t.name, t.shape, t.type);
    offset = Math.ceil(offset / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  w.pad(GGUF_ALIGNMENT);
  return w.finish();
}

export interface WriteGgufOptions {
  /** Replace an existing file (default false). */
  overwrite?: boolean;
}

/** Writes a GGUF file atomically, producing and encoding one tensor at a time. Returns its size in bytes. */
export async function writeGguf(path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[], opts: WriteGgufOptions = {}): Promise<number> {
  const parts = ggufHeader(metadata, tensors);
  let size = 0;
  await writeAtomically(path, async (handle: FileHandle) => {
    for (const p of parts) { await handle.write(p); size += p.length; }
    for (const t of tensors) {
      const values = await t.values();
      const expected = t.shape.reduce((a, b) => a * b, 1);
      if (values.length !== expected) throw new GgufError(`tensor ${t.name}: [${t.shape.join(', ')}] needs ${expected} values, found ${values.length}`);
      const bytes = encodeGgmlTensor(values, t.type);
      await handle.write(bytes);
      size += bytes.length;
      const pad = (GGUF_ALIGNMENT - (bytes.length % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
      if (pad) { await handle.write(new Uint8Array(pad)); size += pad; }
    }
  }, undefined, { overwrite: opts.overwrite ?? false });
  return size;
}
