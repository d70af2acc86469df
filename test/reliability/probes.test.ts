/**
 * Runs the probe catalogue (probes.ts): every bad input of issue 11, and those handled well before
 * it, through `bone` (main() in-process), each in a folder of its own, checking the exit code, the
 * message fragments and the files written. A probe's failure shows what was said instead.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { captureIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { FIXTURE_SOURCES, PROBES, type Fixtures, type Fragment } from './probes.ts';

let root = '';
let fixtures: Fixtures;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bone-probes-'));
  const model = join(root, 'model');
  await mkdir(model);
  for (const f of FIXTURE_SOURCES.modelFiles) await copyFile(f, join(model, basename(f)));
  fixtures = { model, adapter: FIXTURE_SOURCES.adapter, demo: FIXTURE_SOURCES.demo, data: FIXTURE_SOURCES.data };
});
after(async () => { await rm(root, { recursive: true, force: true }); });

const fill = (s: string, dir: string): string => s.replace(/\{(dir|model|adapter|demo|data)\}/g, (_, k: string) => (k === 'dir' ? dir : fixtures[k as keyof Fixtures]));
const has = (text: string, f: Fragment): boolean => (typeof f === 'string' ? text.includes(f) : f.test(text));

describe('probe catalogue (issue 11)', () => {
  PROBES.forEach((probe, i) => {
    test(`${probe.item === null ? 'kept' : `#${probe.item}`}: ${probe.name}`, async () => {
      const dir = join(root, `probe-${i}`);
      await mkdir(dir);
      await probe.setup?.({ ...fixtures, dir });
      const io = captureIO();
      const code = await main(probe.argv.map((a) => fill(a, dir)), io);
      const said = `exit ${code}\n--- stdout\n${io.out()}--- stderr\n${io.err()}`;
      assert.equal(code, probe.exit, said);
      for (const f of probe.stderr ?? []) assert.ok(has(io.err(), f), `stderr lacks ${String(f)}\n${said}`);
      for (const f of probe.stdout ?? []) assert.ok(has(io.out(), f), `stdout lacks ${String(f)}\n${said}`);
      for (const f of probe.absent ?? []) assert.ok(!has(io.out() + io.err(), f), `says ${String(f)}\n${said}`);
      for (const [path, fragments] of Object.entries(probe.files ?? {})) {
        const text = await readFile(fill(path, dir), 'utf8');
        for (const f of fragments) assert.ok(has(text, f), `${path} lacks ${String(f)}\n${text}`);
      }
    });
  });
});
