/**
 * Writing an adapter folder is one atomic step. A process SIGKILLed at every step of replacing an
 * adapter (through an injected hook, in a real child process) leaves the folder holding the old
 * adapter or the new one — never new tensors beside the old config — or, killed exactly between
 * the two renames, no folder but both complete copies beside it, which the next load puts in place.
 * And a run killed while writing a checkpoint leaves a temporary folder that the next run removes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { readSafetensorsHeader } from '../../src/io/safetensors.ts';
import type { FolderWriteStep } from '../../src/node/atomic.ts';
import { loadModel } from '../../src/io/model-folder.ts';
import { MissConfig, PeftModel, getPeftModel } from '../../src/peft/index.ts';
import { M, ROOT, bone, scratch, startBone } from './helpers.ts';

const s = scratch('kill');
after(s.remove);
const BASE = join(ROOT, 'test', 'fixtures', 'reference', 'llama-miss-default', 'base');
const STEPS: FolderWriteStep[] = ['filled', 'complete', 'moved-aside', 'published', 'done'];

/** The r an adapter folder's config says and the r its tensors have; null when the folder is missing. */
async function adapterState(dir: string): Promise<{ configR: number; tensorR: number } | null> {
  const config = await readFile(join(dir, 'adapter_config.json'), 'utf8').catch(() => null);
  if (config === null) return null;
  const header = await readSafetensorsHeader(join(dir, 'adapter_model.safetensors'));
  const block = [...header.tensors.values()][0]!;
  return { configR: (JSON.parse(config) as { r: number }).r, tensorR: block.shape[0]! };
}

const hookUrl = pathToFileURL(join(ROOT, 'src', 'node', 'atomic.ts')).href;
const peftUrl = pathToFileURL(join(ROOT, 'src', 'index.ts')).href;

/** In a child process: replace the adapter in `dest` with an r = 8 one, SIGKILLed at `step`. */
function saveKilledAt(dest: string, step: FolderWriteStep): { signal: string | null; status: number | null; stderr: string } {
  const script = [
    `import { setFolderWriteHook } from ${JSON.stringify(hookUrl)};`,
    `import { MissConfig, getPeftModel, loadModel } from ${JSON.stringify(peftUrl)};`,
    `const peft = getPeftModel(await loadModel(${JSON.stringify(BASE)}), new MissConfig({ r: 8, targetModules: ['q_proj', 'v_proj'] }), 'default', { warn: () => {} });`,
    `setFolderWriteHook((step) => { if (step === ${JSON.stringify(step)}) process.kill(process.pid, 'SIGKILL'); });`,
    `await peft.savePretrained(${JSON.stringify(dest)});`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  return { signal: r.signal, status: r.status, stderr: r.stderr };
}

for (const step of STEPS) {
  test(`killed at "${step}" while replacing an adapter: the folder is the old or the new adapter (after recovery), never a mixture`, async () => {
    const dest = join(s.dir, `adapter-${step}`);
    const old = getPeftModel(await loadModel(BASE), new MissConfig({ r: 4, targetModules: ['q_proj', 'v_proj'] }), 'default', { warn: () => undefined });
    await old.savePretrained(dest);
    const r = saveKilledAt(dest, step);
    assert.equal(r.signal, 'SIGKILL', `the child was not killed at ${step}: exit ${r.status} ${r.stderr}`);

    const seen = await adapterState(dest);
    if (step === 'moved-aside') assert.equal(seen, null, 'between the two renames the folder is away');
    else {
      assert.ok(seen, `${dest} is missing after a kill at ${step}`);
      assert.equal(seen.configR, seen.tensorR, `mixed adapter: config r ${seen.configR}, tensors r ${seen.tensorR}`);
      assert.equal(seen.configR, step === 'filled' || step === 'complete' ? 4 : 8);
    }
    const warnings: string[] = [];
    const loaded = await PeftModel.fromPretrained(await loadModel(BASE), dest, { warn: (m) => warnings.push(m) });
    const r2 = (loaded.peftConfig.get('default') as MissConfig).r;
    assert.equal(r2, step === 'filled' || step === 'complete' ? 4 : 8);
    assert.deepEqual(await adapterState(dest), { configR: r2, tensorR: r2 });
    // What the killed writer left is reported when the folder is next read.
    if (step !== 'done') assert.ok(warnings.some((w) => /(left by|that) process \d+/.test(w)), warnings.join('\n'));
    assert.deepEqual((await readdir(s.dir)).filter((n) => n.startsWith(`.adapter-${step}.`)), [], 'temporaries left beside the folder');
  });
}

test('a run killed while writing a checkpoint leaves a temporary folder; the resumed run removes it (and earlier versions\' ones) and continues', async () => {
  const out = join(s.dir, 'run');
  const killer = join(s.dir, 'kill-at-third-checkpoint.mjs');
  await writeFile(killer, [
    `import { setFolderWriteHook } from ${JSON.stringify(hookUrl)};`,
    'let filled = 0;',
    "setFolderWriteHook((step, dest) => { if (step === 'filled' && dest.includes('checkpoint-') && ++filled === 3) process.kill(process.pid, 'SIGKILL'); });",
  ].join('\n'));
  const run = startBone(['train', ...M(s.data), '--out', out, '--max-steps', '6', '--save-every', '1', '--quiet'], { env: { NODE_OPTIONS: `--import tsx --import ${pathToFileURL(killer).href}` } });
  const killed = await run.done;
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const left = (await readdir(out)).filter((n) => n.includes('.tmp-'));
  assert.equal(left.length, 1, `expected one temporary checkpoint folder, found ${left.join(', ')}`);
  await mkdir(join(out, 'checkpoint-9.tmp-4194303')); // as earlier versions named theirs; no process has that pid
  const resumed = await bone(['train', ...M(s.data), '--out', out, '--max-steps', '6', '--save-every', '1', '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /removed \.checkpoint-3\.tmp-\d+-[0-9a-f]+, left by process \d+/);
  assert.match(resumed.stderr, /checkpoint-9\.tmp-4194303: removed, left by process 4194303/);
  assert.match(resumed.stdout, /trained steps 3-6 \(resumed from step 2\)/);
  assert.deepEqual((await readdir(out)).filter((n) => n.includes('.tmp-') || n.startsWith('.checkpoint')), []);
});
