/**
 * A broken ONNX Runtime install is told to the user in one sentence with the fix: the package
 * missing, its native library failing to load, and the same two seen through the `bone` command and
 * the library (in a child process whose module resolution sends `onnxruntime-node` to a stand-in).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import { RuntimeUnavailableError } from '../../src/engine/index.ts';
import { loadOrtNode } from '../../src/node/ort-node.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bone-ort-binding-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// What onnxruntime-node's binding.js throws when its native library cannot be opened.
const NATIVE_FAILURE = 'libonnxruntime.so.1: cannot open shared object file: No such file or directory';
const broken = join(dir, 'broken-binding.cjs');
writeFileSync(broken, `throw new Error(${JSON.stringify(NATIVE_FAILURE)});\n`);

/** A module-resolution hook for a child process: `onnxruntime-node` resolves to `target`. */
function redirectingHook(target: string | null): string {
  const hooks = join(dir, `hooks-${target === null ? 'missing' : 'broken'}.mjs`);
  const resolveTo = target === null
    ? `throw Object.assign(new Error("Cannot find package 'onnxruntime-node' imported from " + (context.parentURL ?? '')), { code: 'ERR_MODULE_NOT_FOUND' });`
    : `return { url: ${JSON.stringify(pathToFileURL(target).href)}, shortCircuit: true };`;
  writeFileSync(hooks, `export async function resolve(specifier, context, next) {\n  if (specifier === 'onnxruntime-node') { ${resolveTo} }\n  return next(specifier, context);\n}\n`);
  const register = join(dir, `register-${target === null ? 'missing' : 'broken'}.mjs`);
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return register;
}

function runNode(register: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', register, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BONE_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('loading onnxruntime-node', () => {
  test('a missing package: one sentence that says to install it', async () => {
    await assert.rejects(loadOrtNode('onnxruntime-node-that-is-not-installed'), (e: Error) => {
      assert.ok(e instanceof RuntimeUnavailableError);
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /onnxruntime-node-that-is-not-installed\) is not installed/);
      assert.match(e.message, /npm install onnxruntime-node/);
      return true;
    });
  });

  test('a native library that does not load: the reason and how to reinstall', async () => {
    await assert.rejects(loadOrtNode(pathToFileURL(broken).href), (e: Error) => {
      assert.ok(e instanceof RuntimeUnavailableError);
      assert.doesNotMatch(e.message, /\n/);
      assert.ok(e.message.includes(NATIVE_FAILURE), e.message);
      assert.match(e.message, /rm -rf node_modules\/onnxruntime-node && npm install/);
      return true;
    });
  });

  test('the real package loads', async () => {
    const ort = await loadOrtNode();
    assert.equal(typeof ort.InferenceSession.create, 'function');
  });
});

describe('a broken binding seen by users', () => {
  const train = ['src/cli/main.ts', 'train', '--model', 'demo/model', '--data', 'demo/data/train.jsonl', '--max-steps', '1', '--quiet'];

  for (const [what, target] of [['missing', null], ['unloadable', broken]] as const) {
    test(`bone train with the binding ${what}: exit 1 and one line on stderr, no stack trace`, () => {
      const out = join(dir, `out-${what}`);
      const r = runNode(redirectingHook(target), [...train, '--out', out]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^bone train: RuntimeUnavailableError: ONNX Runtime's Node\.js binding \(onnxruntime-node\) /);
      assert.match(lines[0]!, target === null ? /npm install onnxruntime-node/ : /rm -rf node_modules\/onnxruntime-node && npm install/);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    });
  }

  test('the library: the first computation rejects with RuntimeUnavailableError', () => {
    const script = join(dir, 'library.mts');
    writeFileSync(script, [
      `import { Tensor, realize, RuntimeUnavailableError } from ${JSON.stringify(join(ROOT, 'src', 'index.ts'))};`,
      'try { await realize([Tensor.from([1, 2]).add(1)]); console.log("ran"); }',
      'catch (e) { console.log(e instanceof RuntimeUnavailableError ? "unavailable: " + e.message : "other: " + String(e)); }',
    ].join('\n'));
    const r = runNode(redirectingHook(broken), [script]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^unavailable: ONNX Runtime's Node\.js binding/);
    assert.ok(r.stdout.includes(NATIVE_FAILURE));
  });
});
