/** bone-peft's public API (the `bone` command's functions are `bone-peft/cli`). */
export * from './engine/index.ts';
export * from './nn/index.ts';
export * from './models/index.ts';
export * from './io/index.ts';
export * from './peft/index.ts';
export * from './export/index.ts';
export * from './train/index.ts';
