/** File formats and folders: safetensors, Hugging Face model folders (and the hub cache), tokenizers, ONNX files, GGUF, atomic writes. */
export {
  SafetensorsError, readSafetensors, readSafetensorsHeader, writeSafetensors, openSafetensors,
  type SafetensorsTensor, type SafetensorsDType, type SafetensorsContents, type SafetensorsReader,
} from './safetensors.ts';
export {
  loadModel, loadPretrained, savePretrained, resolveModelFolder, parseShardSize, configJsonText, copyCompanionFiles, COMPANION_FILES, ModelFolderError, HubCacheError, hubCacheLocation,
  CONFIG_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME,
  type LoadModelOptions, type LoadPretrainedOptions, type Pretrained, type SavePretrainedOptions, type HubCacheOptions, type HubCacheLocation,
} from './model-folder.ts';
export {
  loadTokenizer, PretrainedTokenizer, TokenizerError,
  type ChatMessage, type ChatContentPart, type ChatEncoding, type ChatTemplateOptions, type LoadTokenizerOptions, type EncodeOptions, type DecodeOptions,
  type BatchEncodeOptions, type BatchEncoding, type PaddingStrategy, type Side, type SpecialTokenRole,
} from './tokenizer.ts';
export { writeAtomically, writeTextAtomically, writeFolderAtomically, DestinationExistsError, type AtomicFolderOptions } from './atomic.ts';
export { writeOnnxModel, INLINE_LIMIT_BYTES, type WriteOnnxOptions, type WrittenOnnx } from './onnx-file.ts';
export {
  writeGguf, ggufHeader, gguf, encodeGgmlTensor, quantizeQ8_0, ggmlTensorBytes, GgufError, GGUF_VERSION, GGUF_ALIGNMENT, GGML_TYPES,
  type GgufValue, type GgufTensor, type GgmlType, type WriteGgufOptions,
} from './gguf.ts';
export type { JsonValue, JsonObject } from './json.ts';
