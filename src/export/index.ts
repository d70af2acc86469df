/** A model (with an adapter merged, or the adapter alone) for other runtimes: transformers.js, llama.cpp. */
export { ExportError } from './errors.ts';
export { loadExportSource, loadAdapterSource, type ExportSource, type LoadExportSourceOptions } from './source.ts';
export { decoderGraphSpec, DECODER_SYMBOLS, type DecoderGraphOptions } from './decoder-graph.ts';
export {
  writeTransformersJsFolder, externalDataFormat,
  type OnnxWeightsDType, type TransformersJsExportOptions, type TransformersJsExportResult,
} from './transformers-js.ts';
export {
  writeGgufModel, ggufArchitecture, ggufTensorName, llamaRowPermutation,
  type GgufDType, type GgufExportOptions, type GgufExportResult,
} from './gguf.ts';
export { ggufTokenizerMetadata } from './gguf-vocab.ts';
export { writeGgufLora, type GgufLoraOptions, type GgufLoraResult } from './gguf-lora.ts';
