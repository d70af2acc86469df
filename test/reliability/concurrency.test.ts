/**
 * A run owns its --out: two `bone train` runs started at the same moment on one folder cannot both
 * write it (one is refused, naming the other process), --resume while a run holds the folder is
 * refused too, and a lock left by a killed run is taken over.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { M, bone, scratch, startBone } from './helpers.ts';

const s = scratch('lock');
after(s.remove);

const rOf = async (dir: string): Promise<number> => (JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { r: number }).r;

test('two runs at once on one --out: one trains, the other is refused with the owner named; the adapter is the winner\'s', async () => {
  const out = join(s.dir, 'X');
  const common = [...M(s.data), '--out', out, '--max-steps', '40', '--save-every', '1', '--quiet'];
  const a = startBone(['train', ...common, '--r', '16']);
  const b = startBone(['train', ...common, '--r', '8']);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  const results = [{ r: 16, ...ra, pid: a.child.pid }, { r: 8, ...rb, pid: b.child.pid }];
  const won = results.filter((x) => x.code === 0);
  const lost = results.filter((x) => x.code !== 0);
  assert.equal(won.length, 1, results.map((x) => `r ${x.r}: exit ${x.code} ${x.stderr}`).join('\n'));
  assert.equal(lost[0]!.code, 1);
  assert.match(lost[0]!.stderr, new RegExp(`bone train: FolderLockedError: .*X is in use by another process: pid ${won[0]!.pid} on `));
  assert.match(lost[0]!.stdout + lost[0]!.stderr, /^(?![\s\S]*adapter: )/); // the loser reports no adapter
  assert.equal(await rOf(out), won[0]!.r);
  assert.match(won[0]!.stdout, new RegExp(`adapter: .*X \\(miss, r ${won[0]!.r},`));
});

test('--resume while another run holds the folder is refused; afterwards it continues', async () => {
  const out = join(s.dir, 'Y');
  const running = startBone(['train', ...M(s.data), '--out', out, '--max-steps', '400', '--save-every', '1', '--log-every', '1']);
  await running.printed(/step +2\b/);
  const resumed = await bone(['train', ...M(s.data), '--out', out, '--max-steps', '400', '--resume', '--quiet']);
  assert.equal(resumed.code, 1);
  assert.match(resumed.stderr, new RegExp(`is in use by another process: pid ${running.child.pid} on .* \\(bone train --out `));
  running.child.kill('SIGINT');
  assert.equal((await running.done).code, 130);
});

test('a lock whose process is gone (a killed run) is taken over', async () => {
  const out = join(s.dir, 'Z');
  await mkdir(out, { recursive: true });
  // pid 2^22 - 1 is above Linux's default pid_max: no process has it.
  await writeFile(join(out, '.bone-lock'), JSON.stringify({ pid: 4194303, host: (await import('node:os')).hostname(), since: '2026-01-01T00:00:00Z', command: 'bone train (killed)' }));
  const r = await bone(['train', ...M(s.data), '--out', out, '--max-steps', '2', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  await assert.rejects(readFile(join(out, '.bone-lock')), /ENOENT/); // released at the end
});
