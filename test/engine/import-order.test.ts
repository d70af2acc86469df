/**
 * The engine's modules import each other in a circle (tensor.ts → ops/* → op.ts → tensor.ts: a
 * Tensor's methods call the ops, the ops make Tensors). That is safe only while no module-level
 * code in the circle creates a Tensor or reads another module's exports; docs/design.md says why
 * the circle stays. This keeps it safe: every engine module is imported first, alone, in a fresh
 * process, and must load.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = new URL('../../', import.meta.url).pathname;
const ENGINE = join(ROOT, 'src', 'engine');
const run = promisify(execFile);

const modules = readdirSync(ENGINE, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(ENGINE, f)).sort();

test('every engine module loads when it is the first one imported', async () => {
  assert.ok(modules.length > 15, `found only ${modules.length} engine modules`);
  const failures: string[] = [];
  // Two at a time: the machine has two cores.
  for (let i = 0; i < modules.length; i += 2) {
    await Promise.all(modules.slice(i, i + 2).map(async (file) => {
      try {
        await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `await import(${JSON.stringify(file)});`], { cwd: ROOT });
      } catch (e) {
        failures.push(`${relative(ROOT, file)}: ${((e as { stderr?: string }).stderr ?? String(e)).split('\n').find((l) => /Error/.test(l)) ?? String(e)}`);
      }
    }));
  }
  assert.deepEqual(failures, []);
});
