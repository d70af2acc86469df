/**
 * The platform-neutral library: everything that runs the same in Node.js and in a browser. The
 * entry points add a platform layer: "bone-peft" (src/index.ts) Node's, "bone-peft/web"
 * (src/web/index.ts) the browser's.
 */
export * from './engine/index.ts';
export * from './nn/index.ts';
export * from './models/index.ts';
export * from './io/index.ts';
export * from './peft/index.ts';
export * from './train/index.ts';
