/**
 * writeFolderAtomically and writeAtomically's no-overwrite mode: the destination is the complete old
 * or the complete new content, a failure leaves nothing behind, and an existing destination is
 * replaced only when asked.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DestinationExistsError, writeAtomically, writeFolderAtomically } from '../../src/node/atomic.ts';

let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'bone-atomic-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** A folder of `n` files that all hold `tag`, and a subfolder. */
const fillWith = (tag: string, n = 3) => async (d: string): Promise<string> => {
  for (let i = 0; i < n; i++) await writeFile(join(d, `f${i}.txt`), tag);
  await mkdir(join(d, 'sub'));
  await writeFile(join(d, 'sub', 'g.txt'), tag);
  return tag;
};

async function leftovers(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes('.tmp-') || n.includes('.old-'));
}

test('a new folder appears whole; the temporary sibling is gone', async () => {
  const dest = join(dir, 'a');
  assert.equal(await writeFolderAtomically(dest, fillWith('one')), 'one');
  assert.deepEqual((await readdir(dest)).sort(), ['f0.txt', 'f1.txt', 'f2.txt', 'sub']);
  assert.equal(await readFile(join(dest, 'sub', 'g.txt'), 'utf8'), 'one');
  assert.deepEqual(await leftovers(), []);
});

test('an existing destination is refused without overwrite, before fill runs, and left untouched', async () => {
  const dest = join(dir, 'b');
  await writeFolderAtomically(dest, fillWith('old'));
  let ran = false;
  await assert.rejects(writeFolderAtomically(dest, async () => { ran = true; }), (e: unknown) => e instanceof DestinationExistsError && /already exists \(a folder\); pass overwrite/.test(e.message));
  assert.equal(ran, false);
  assert.equal(await readFile(join(dest, 'f0.txt'), 'utf8'), 'old');
});

test('a failing fill leaves the old folder as it was and no temporary folder', async () => {
  const dest = join(dir, 'c');
  await writeFolderAtomically(dest, fillWith('old'));
  await assert.rejects(writeFolderAtomically(dest, async (d) => { await fillWith('new')(d); throw new Error('disk full'); }, { overwrite: true }), /disk full/);
  assert.equal(await readFile(join(dest, 'f1.txt'), 'utf8'), 'old');
  assert.deepEqual(await leftovers(), []);
});

test('overwrite replaces the whole folder (files the new one lacks are gone); a reader sees the old or the new one', async () => {
  const dest = join(dir, 'd');
  await writeFolderAtomically(dest, fillWith('old', 6));
  const oldNames = 'f0.txt,f1.txt,f2.txt,f3.txt,f4.txt,f5.txt,sub';
  const newNames = 'f0.txt,f1.txt,f2.txt,sub';
  // Each read is one system call on the path, during 10 swaps: a listing is the old or the new
  // folder's, a file holds the old or the new text in full (never a mixture, never a partial file).
  let swapping = true;
  const listings = new Set<string>();
  const texts = new Set<string>();
  // Reads that fall between the two renames of a swap find no folder (writeFolderAtomically's docs).
  const reader = (async () => {
    while (swapping) {
      await readdir(dest).then((names) => listings.add(names.sort().join(',')), () => undefined);
      await readFile(join(dest, 'f0.txt'), 'utf8').then((t) => texts.add(t), () => undefined);
    }
  })();
  for (let i = 0; i < 10; i++) await writeFolderAtomically(dest, fillWith(i % 2 ? 'old' : 'new', i % 2 ? 6 : 3), { overwrite: true });
  swapping = false;
  await reader;
  assert.ok([...listings].every((l) => l === oldNames || l === newNames), `listings seen: ${[...listings].join(' | ')}`);
  assert.ok([...texts].every((t) => t === 'old' || t === 'new'), `texts seen: ${[...texts].join(', ')}`);
  assert.equal(await readdir(dest).then((n) => n.sort().join(',')), oldNames);
  assert.deepEqual(await leftovers(), []);
});

test('writeAtomically with overwrite: false refuses an existing file and keeps it', async () => {
  const path = join(dir, 'model.gguf');
  const write = (text: string) => (h: import('node:fs/promises').FileHandle) => h.writeFile(text).then(() => undefined);
  await writeAtomically(path, write('first'), undefined, { overwrite: false });
  await assert.rejects(writeAtomically(path, write('second'), undefined, { overwrite: false }), DestinationExistsError);
  assert.equal(await readFile(path, 'utf8'), 'first');
  await writeAtomically(path, write('third'));
  assert.equal(await readFile(path, 'utf8'), 'third');
  assert.deepEqual(await leftovers(), []);
});
