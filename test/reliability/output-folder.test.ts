/**
 * What a command writes never replaces a user's result without being asked, and an --out that
 * cannot be written is found before any work is done, with the reason named: bone train, merge and
 * convert refuse an existing adapter or model without --overwrite (converting in place stays
 * allowed); a folder this user may not write, a read-only file system and a file in the way are
 * each reported before step 1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NotWritableError, checkWritable, describeWriteFailure } from '../../src/node/writable.ts';
import { M, ROOT, bone, scratch } from './helpers.ts';

const s = scratch('out');
after(s.remove);
const REF = join(ROOT, 'test', 'fixtures', 'reference');

test('bone train refuses an --out that holds an adapter, unless --overwrite; with it, the adapter is replaced', async () => {
  const out = join(s.dir, 'adapter-only');
  await cp(join(REF, 'llama-miss-default', 'adapter'), out, { recursive: true });
  const before = await readFile(join(out, 'adapter_model.safetensors'));
  const refused = await bone(['train', ...M(s.data), '--out', out, '--max-steps', '2']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--out .*adapter-only already holds an adapter \(adapter_config\.json, adapter_model\.safetensors\): add --overwrite to replace it, or choose another --out/);
  assert.deepEqual(await readFile(join(out, 'adapter_model.safetensors')), before);
  const replaced = await bone(['train', ...M(s.data), '--out', out, '--max-steps', '2', '--overwrite', '--quiet']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal((JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8')) as { r: number }).r, 64);
});

test('bone convert and bone merge refuse an existing output unless --overwrite; in-place convert is allowed', async () => {
  const bone0 = join(s.dir, 'bone-adapter');
  await cp(join(REF, 'llama-bone-legacy', 'adapter'), bone0, { recursive: true });
  const taken = join(s.dir, 'taken');
  await cp(join(REF, 'llama-miss-default', 'adapter'), taken, { recursive: true });
  const c1 = await bone(['convert', '--adapter', bone0, '--out', taken]);
  assert.equal(c1.code, 2);
  assert.match(c1.stderr, /--out .*taken already holds an adapter .*add --overwrite/);
  const c2 = await bone(['convert', '--adapter', bone0, '--out', taken, '--overwrite']);
  assert.equal(c2.code, 0, c2.stderr);
  const inPlace = await bone(['convert', '--adapter', bone0, '--out', bone0]);
  assert.equal(inPlace.code, 0, inPlace.stderr);
  assert.equal((JSON.parse(await readFile(join(bone0, 'adapter_config.json'), 'utf8')) as { peft_type: string }).peft_type, 'MISS');

  const merged = join(s.dir, 'merged');
  const args = ['merge', '--model', join(REF, 'llama-miss-default', 'base'), '--adapter', join(REF, 'llama-miss-default', 'adapter'), '--out', merged];
  assert.equal((await bone(args)).code, 0);
  await writeFile(join(merged, 'notes.txt'), 'mine');
  const again = await bone(args);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /--out .*merged already holds a model \(config\.json, model\.safetensors\): add --overwrite/);
  assert.equal((await bone([...args, '--overwrite'])).code, 0);
  assert.equal(await readFile(join(merged, 'notes.txt'), 'utf8'), 'mine', 'a file of the user\'s in --out is kept');
});

const isRoot = process.getuid?.() === 0;

test('a folder this user may not write: refused before step 1, naming the folder and the reason', async () => {
  const parent = join(s.dir, 'read-only-parent');
  await mkdir(parent);
  await chmod(parent, 0o555);
  await chmod(s.dir, 0o755);
  await chmod(s.data, 0o644);
  // As root every folder is writable: run the command as an unprivileged user, as a user would.
  const r = await bone(['train', ...M(s.data), '--out', join(parent, 'run'), '--max-steps', '20', '--log-every', '1'], isRoot ? { uid: 65534, env: { HOME: '/tmp', TMPDIR: '/tmp' } } : {});
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`--out cannot write into .*read-only-parent/run: it does not exist and cannot be created: .*read-only-parent is not writable by this user \\(uid ${isRoot ? 65534 : process.getuid!()}\\)`));
  assert.doesNotMatch(r.stderr, /step +1\b|loading/);
});

test('a read-only file system: refused before step 1 as such (not as a missing file)', () => {
  // A read-only tmpfs in a private mount namespace; where the system allows none, the mapping below still runs.
  const mountable = spawnSync('unshare', ['--mount', '--map-root-user', 'true']).status === 0;
  if (mountable) {
    const mnt = join(s.dir, 'ro-mount');
    spawnSync('mkdir', ['-p', mnt]);
    const cli = join(ROOT, 'src', 'cli', 'main.ts');
    const cmd = `mount -t tmpfs -o ro,size=1m tmpfs ${mnt} && exec ${process.execPath} --import tsx ${cli} train --model ${join(ROOT, 'demo', 'model')} --data ${s.data} --batch-size 2 --out ${join(mnt, 'run')} --max-steps 20`;
    const r = spawnSync('unshare', ['--mount', '--map-root-user', 'sh', '-c', cmd], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--out cannot write into .*ro-mount\/run: it does not exist and cannot be created: .*ro-mount is on a read-only file system/);
  }
  assert.equal(describeWriteFailure('EROFS', '/mnt/usb'), '/mnt/usb is on a read-only file system');
  assert.equal(describeWriteFailure('ENOSPC', '/data'), 'the disk holding /data is full');
});

test('a file where the folder should be, or in its path, is named', async () => {
  const file = join(s.dir, 'a-file');
  await writeFile(file, 'x');
  await assert.rejects(checkWritable(join(file, 'run')), (e: unknown) => e instanceof NotWritableError && /a-file is a file, not a folder/.test(e.message));
  const r = await bone(['train', ...M(s.data), '--out', file, '--max-steps', '2']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out expects a folder to write into, found the file/);
});
