/** bone-peft's public API. */
export * from './engine/index.ts';
