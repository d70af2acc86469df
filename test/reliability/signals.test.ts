/**
 * SIGTERM (a service manager, `kill`, a container stop) and SIGHUP (a closed terminal) stop
 * `bone train` the way the first Ctrl-C does: the step finishes, a checkpoint is written, the
 * process says so and exits with the signal's code (128 + its number), and --resume continues.
 * A second signal quits at once, and leaves no half-written folder behind.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { M, bone, scratch, startBone } from './helpers.ts';

const s = scratch('signals');
after(s.remove);

for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${signal}: finish the step, checkpoint, exit ${128 + constants.signals[signal]}; --resume continues`, async () => {
    const out = join(s.dir, signal);
    const run = startBone(['train', ...M(s.data), '--out', out, '--max-steps', '400', '--save-every', '0', '--log-every', '1']);
    await run.printed(/step +3\b/);
    run.child.kill(signal);
    const r = await run.done;
    assert.equal(r.code, 128 + constants.signals[signal], r.stderr);
    assert.match(r.stderr, new RegExp(`${signal}: stopping after this step and writing a checkpoint \\(send ${signal} again to quit now\\)`));
    const step = Number(/interrupted at step (\d+) of 400/.exec(r.stdout)?.[1]);
    assert.ok(step >= 3, r.stdout);
    assert.ok((await readdir(out)).includes(`checkpoint-${step}`));
    assert.match(r.stdout, /continue with the same command and --resume/);
    const resumed = await bone(['train', ...M(s.data), '--out', out, '--max-steps', String(step + 2), '--save-every', '0', '--resume', '--quiet']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`trained steps ${step + 1}-${step + 2} \\(resumed from step ${step}\\)`));
  });
}

test('a second signal quits at once, and no temporary folder is left', async () => {
  const out = join(s.dir, 'twice');
  const run = startBone(['train', ...M(s.data), '--out', out, '--max-steps', '400', '--save-every', '1', '--log-every', '1']);
  await run.printed(/step +2\b/);
  run.child.kill('SIGTERM');
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  assert.deepEqual((await readdir(out)).filter((n) => n.includes('.tmp-') || n.startsWith('.checkpoint')), []);
  assert.deepEqual((await readdir(s.dir)).filter((n) => n.startsWith('.twice.')), []);
});
