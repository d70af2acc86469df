/**
 * Writing an ONNX model file, with its weights inline or as ONNX external data.
 *
 * A ModelProto is a protobuf message, and protobuf messages are limited to 2 GB, so larger models
 * keep their initializers in files beside the model (onnx.proto's external_data: location, offset,
 * length), which ONNX Runtime reads relative to the model file. Chunks follow the names that
 * transformers.js asks for (`model.onnx_data`, `model.onnx_data_1`, ...), each under `chunkBytes`,
 * because browsers read every chunk into one ArrayBuffer.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeModel, type OnnxGraph, type OnnxInitializer } from '../engine/onnx/builder.ts';

/** protobuf's hard limit, less room for the graph itself. */
export const INLINE_LIMIT_BYTES = 2 ** 31 - 2 ** 26;
/** Below this, an initializer stays in the model even when the others are external (as onnx's helper does). */
const EXTERNAL_MIN_BYTES = 1024;

export interface WriteOnnxOptions {
  /** Move initializers to external data when they add up to more than this (default INLINE_LIMIT_BYTES). */
  externalDataThreshold?: number;
  /** Largest external data file (default 2 GiB − 64 MiB). */
  chunkBytes?: number;
  metadata?: Record<string, string>;
  producerVersion?: string;
}

export interface WrittenOnnx {
  /** The files written, model first, as names inside the folder. */
  files: string[];
  /** External data chunks (0 when the weights are inline). */
  externalChunks: number;
  bytes: number;
}

export async function writeOnnxModel(graph: OnnxGraph, dir: string, fileName: string, opts: WriteOnnxOptions = {}): Promise<WrittenOnnx> {
  const threshold = opts.externalDataThreshold ?? INLINE_LIMIT_BYTES;
  const chunkBytes = opts.chunkBytes ?? INLINE_LIMIT_BYTES;
  const total = graph.initializer.reduce((n, x) => n + (x.rawData?.byteLength ?? 0), 0);
  const encodeOpts = { ...(opts.metadata ? { metadata: opts.metadata } : {}), ...(opts.producerVersion ? { producerVersion: opts.producerVersion } : {}) };
  if (total <= threshold) {
    const bytes = encodeModel(graph, encodeOpts);
    await writeAll(join(dir, fileName), [bytes]);
    return { files: [fileName], externalChunks: 0, bytes: bytes.byteLength };
  }
  // Lay the large initializers out in chunks, then write the model that points at them.
  const chunks: { name: string; parts: Uint8Array[]; size: number }[] = [];
  const external: OnnxInitializer[] = graph.initializer.map((init) => {
    const data = init.rawData!;
    if (data.byteLength < EXTERNAL_MIN_BYTES) return init;
    let chunk = chunks[chunks.length - 1];
    const align = data.byteLength >= 2 ** 20 ? 4096 : 64;
    let offset = chunk ? Math.ceil(chunk.size / align) * align : 0;
    if (!chunk || (offset + data.byteLength > chunkBytes && chunk.size > 0)) {
      chunk = { name: `${fileName}_data${chunks.length === 0 ? '' : `_${chunks.length}`}`, parts: [], size: 0 };
      chunks.push(chunk);
      offset = 0;
    }
    if (offset > chunk.size) chunk.parts.push(new Uint8Array(offset - chunk.size));
    chunk.parts.push(data);
    chunk.size = offset + data.byteLength;
    return {
      name: init.name, dims: init.dims, dataType: init.dataType, dataLocation: 1,
      externalData: [{ key: 'location', value: chunk.name }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(data.byteLength) }],
    };
  });
  const model = encodeModel({ ...graph, initializer: external }, encodeOpts);
  await writeAll(join(dir, fileName), [model]);
  for (const chunk of chunks) await writeAll(join(dir, chunk.name), chunk.parts);
  return { files: [fileName, ...chunks.map((c) => c.name)], externalChunks: chunks.length, bytes: model.byteLength + chunks.reduce((n, c) => n + c.size, 0) };
}

async function writeAll(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const handle: FileHandle = await open(path, 'wx');
  try {
    for (const part of parts) {
      // Large views are written in slices: one write() call takes at most 2 GB.
      for (let at = 0; at < part.byteLength; at += 2 ** 30) await handle.write(part.subarray(at, Math.min(part.byteLength, at + 2 ** 30)));
    }
  } finally {
    await handle.close();
  }
}
