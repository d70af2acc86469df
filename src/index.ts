/** bone-peft's public API for Node.js (the `bone` command's functions are `bone-peft/cli`; the browser's entry is `bone-peft/web`). */
export * from './core.ts';
export * from './node/index.ts';
// Exporting to other runtimes writes ONNX and GGUF files with node:fs, so it is Node's (for now).
export * from './export/index.ts';
