/**
 * File formats and folders: safetensors, Hugging Face model folders, tokenizers, all read and
 * written through the FileSystem interface (the platform layers, src/node and src/web, provide the
 * file systems; memory-file-system.ts is the one every platform has). Node's own (atomic writes,
 * the hub cache, ONNX and GGUF files) are src/node's.
 */
export {
  SafetensorsError, readSafetensors, readSafetensorsHeader, writeSafetensors, openSafetensors, parseSafetensors, serializeSafetensors, safetensorsBytes,
  type SafetensorsTensor, type SafetensorsDType, type SafetensorsContents, type SafetensorsReader,
} from './safetensors.ts';
export {
  loadModel, loadPretrained, savePretrained, resolveModelFolder, modelFolderRef, parseShardSize, configJsonText, copyCompanionFiles, COMPANION_FILES, ModelFolderError,
  CONFIG_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME,
  type LoadModelOptions, type LoadPretrainedOptions, type Pretrained, type SavePretrainedOptions, type HubCacheOptions,
} from './model-folder.ts';
export {
  PathRef, pathRef, setDefaultFileSystem, defaultFileSystem, isNotFound, notFoundError, bytesSource, decodeUtf8, encodeUtf8, FileSystemUnavailableError,
  DestinationExistsError, type FileSystem, type ByteSource, type FileData, type EntryKind, type PathLike, type FolderWriteOptions,
} from './file-system.ts';
export { MemoryFileSystem, memoryFileSystem, joinSlashPath } from './memory-file-system.ts';
export {
  loadTokenizer, PretrainedTokenizer, TokenizerError,
  type ChatMessage, type ChatContentPart, type ChatEncoding, type ChatTemplateOptions, type LoadTokenizerOptions, type EncodeOptions, type DecodeOptions,
  type BatchEncodeOptions, type BatchEncoding, type PaddingStrategy, type Side, type SpecialTokenRole,
} from './tokenizer.ts';
export type { JsonValue, JsonObject } from './json.ts';
