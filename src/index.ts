/** bone-peft's public API for Node.js (the `bone` command's functions are `bone-peft/cli`; the browser's entry is `bone-peft/web`). */
export * from './core.ts';
export * from './node/index.ts';
