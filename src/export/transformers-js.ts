/**
 * The folder transformers.js (4.x, Node or the browser) loads for a decoder-only model:
 *
 *   config.json               the model's config (model_type, layer and head counts transformers.js
 *                             reads), with "transformers.js_config" naming external data files
 *   generation_config.json    copied, or made from config.json's token ids
 *   tokenizer.json, tokenizer_config.json, ...   copied from the model folder
 *   onnx/model.onnx           float32 weights (`dtype: 'fp32'`)
 *   onnx/model_fp16.onnx      float16 weights (`dtype: 'fp16'`): half the download; each weight is
 *                             cast to float32 inside the graph, so it computes in float32 (ONNX
 *                             Runtime's CPU and WebAssembly kernels cover float16 unevenly)
 *   onnx/model*.onnx_data*    the weights, when a model file would pass protobuf's 2 GB limit
 *
 * The graph is decoder-graph.ts's: the engine's own forward, emitted once for every batch size and
 * sequence length.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { emitSymbolicGraph } from '../engine/onnx/symbolic.ts';
import { copyCompanionFiles, configJsonText } from '../io/model-folder.ts';
import { writeOnnxModel, type WriteOnnxOptions } from '../node/onnx-file.ts';
import type { CausalLM } from '../models/index.ts';
import { decoderGraphSpec } from './decoder-graph.ts';
import type { ExportSource } from './source.ts';

export type OnnxWeightsDType = 'fp32' | 'fp16';

export interface TransformersJsExportOptions {
  /** Which model files to write (default ['fp32']). */
  dtypes?: readonly OnnxWeightsDType[];
  /** Weights go to external data files when they add up to more than this many bytes (default: just under 2 GB). */
  externalDataThreshold?: number;
  /** Largest external data file in bytes (default: just under 2 GB). */
  externalDataChunkBytes?: number;
}

export interface TransformersJsExportResult {
  /** Every file written, relative to the folder. */
  files: string[];
  /** ONNX nodes in the graph. */
  nodes: number;
}

const SUFFIX: Record<OnnxWeightsDType, string> = { fp32: '', fp16: '_fp16' };

/** Writes the transformers.js folder into `dir` (an existing, empty folder: callers write it atomically). */
export async function writeTransformersJsFolder(source: ExportSource, dir: string, opts: TransformersJsExportOptions = {}): Promise<TransformersJsExportResult> {
  const dtypes: OnnxWeightsDType[] = [...new Set(opts.dtypes ?? ['fp32' as const])];
  const { model } = source;
  await mkdir(join(dir, 'onnx'));
  const files: string[] = [];
  const external: Record<string, number> = {};
  let nodes = 0;
  for (const dtype of dtypes) {
    const graph = emitSymbolicGraph(decoderGraphSpec(model, { float16Weights: dtype === 'fp16' }));
    nodes = graph.node.length;
    const fileName = `model${SUFFIX[dtype]}.onnx`;
    const writeOpts: WriteOnnxOptions = {
      ...(opts.externalDataThreshold === undefined ? {} : { externalDataThreshold: opts.externalDataThreshold }),
      ...(opts.externalDataChunkBytes === undefined ? {} : { chunkBytes: opts.externalDataChunkBytes }),
      metadata: { 'bone-peft.model_type': model.config.model_type, 'bone-peft.weights': dtype },
    };
    const written = await writeOnnxModel(graph, join(dir, 'onnx'), fileName, writeOpts);
    files.push(...written.files.map((f) => `onnx/${f}`));
    if (written.externalChunks > 0) external[fileName] = written.externalChunks;
  }
  await writeFile(join(dir, 'config.json'), transformersJsConfig(model, external));
  files.push('config.json');
  const copied = await copyCompanionFiles(source.folder, dir);
  files.push(...copied);
  if (!copied.includes('generation_config.json')) {
    await writeFile(join(dir, 'generation_config.json'), generationConfigFrom(model));
    files.push('generation_config.json');
  }
  return { files, nodes };
}

/** config.json as transformers writes it, plus where transformers.js finds external data. */
function transformersJsConfig(model: CausalLM, external: Record<string, number>): string {
  const json = JSON.parse(configJsonText(model)) as Record<string, unknown>;
  if (Object.keys(external).length > 0) json['transformers.js_config'] = { use_external_data_format: external };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** transformers' GenerationConfig.from_model_config: the token ids of config.json. */
function generationConfigFrom(model: CausalLM): string {
  const c = model.config;
  const json: Record<string, unknown> = {};
  if (c.bos_token_id !== null) json.bos_token_id = c.bos_token_id;
  if (c.eos_token_id !== null) json.eos_token_id = c.eos_token_id;
  if (c.pad_token_id !== null) json.pad_token_id = c.pad_token_id;
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Reads back what writeTransformersJsFolder wrote into config.json about external data (for tests and inspection). */
export async function externalDataFormat(dir: string): Promise<Record<string, number>> {
  const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { 'transformers.js_config'?: { use_external_data_format?: Record<string, number> } };
  return json['transformers.js_config']?.use_external_data_format ?? {};
}
