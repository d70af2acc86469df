import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders of the platform-neutral core (docs/design.md, "A platform-neutral core"). */
const CORE = ['src/engine/**', 'src/nn/**', 'src/models/**', 'src/io/**', 'src/peft/**', 'src/train/**', 'src/core.ts', 'src/version.ts'];

/** What runs only in Node.js: its built-in modules, its ONNX Runtime binding, and the layers built on them. */
const nodeOnly = [
  { group: ['node:*'], message: 'Node.js modules belong in the Node layer (src/node); the core runs in browsers too.' },
  { group: ['onnxruntime-node'], message: 'onnxruntime-node is loaded by the Node layer (src/node/ort-node.ts).' },
  { group: ['**/node/*', '**/node/**', '**/cli/*', '**/cli/**'], message: 'The core imports no platform layer: the Node layer installs itself (src/node/platform.ts).' },
];
const webLayer = { group: ['**/web/*', '**/web/**', 'onnxruntime-web', 'onnxruntime-web/*'], message: 'The browser layer (src/web) is installed by "bone-peft/web"; the core imports no platform layer.' };
// Node's built-in modules are also reachable without the node: prefix; refuse those names too.
const bareNodeModules = ['fs', 'fs/promises', 'path', 'os', 'crypto', 'util', 'url', 'child_process', 'worker_threads', 'stream', 'buffer', 'process', 'module']
  .map((name) => ({ name, message: 'Node.js modules belong in the Node layer (src/node); the core runs in browsers too.' }));
const nodeGlobals = ['process', 'Buffer', '__dirname', '__filename', 'require', 'global', 'setImmediate'].map((name) => ({
  name, message: `${name} exists only in Node.js: the core reads the environment through engine/env.ts and files through io/file-system.ts.`,
}));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'demo/web/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: CORE,
    rules: {
      'no-restricted-imports': ['error', { paths: bareNodeModules, patterns: [...nodeOnly, webLayer] }],
      'no-restricted-globals': ['error', ...nodeGlobals],
    },
  },
  {
    // The browser layer: the core plus browser APIs, never Node's.
    files: ['src/web/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: bareNodeModules, patterns: nodeOnly }],
      'no-restricted-globals': ['error', ...nodeGlobals],
    },
  },
  {
    files: ['src/node/**', 'src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [webLayer] }] },
  },
);
