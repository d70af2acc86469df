/**
 * The page of `npm run demo:web` in a real Chromium (headless, driven by playwright-core): it loads
 * the shipped demo model, trains 30 steps of the Node demo's run (MiSS r = 16, all linear layers,
 * batch 16, lr 1.5e-3 cosine with 10 warmup steps, seed 42) with a Stop and a Resume half way, and
 * hands back the adapter. Against Node (the same run on onnxruntime-node, demo/web/node-run.ts):
 *
 * - every step's loss within 1e-3 relative: the same graphs on other kernels;
 * - after step 1 the optimizer's moments (the first gradients) within 1e-5 of each tensor's largest
 *   value, and after step 2 the adapter within 1e-5 (step 1's learning rate is 0, warmup, so step 2
 *   is the first that moves it): AdamW's division by √v amplifies last-bit differences;
 * - the downloaded adapter holds exactly the page's final adapter, and loaded in Node onto the base
 *   model gives the logits the page's model gave on the sample prompts within 1e-5 of the largest
 *   logit (measured: about 2e-5 absolute on logits up to about 20: float32 rounding of other kernels).
 *
 * Without a Chromium the tests are skipped with a message saying so; BONE_REQUIRE_BROWSER=1 (set by
 * .ci/run) makes a missing Chromium a failure. The page is loaded once and trains once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Tensor } from '../../src/engine/index.ts';
import { loadModel, parseSafetensors } from '../../src/io/index.ts';
import { PeftModel } from '../../src/peft/index.ts';
import { findChromium, launchChromium, type Chromium } from '../../demo/web/chromium.ts';
import { DEMO_MODEL_DIR, runDemoInNode, type NodeRun } from '../../demo/web/node-run.ts';
import { startDemoServer, type DemoServer } from '../../demo/web/server.ts';
import type { FromWorker } from '../../demo/web/protocol.ts';
import type { Snapshot } from '../../demo/task.ts';

const STEPS = 30;
const STOP_AFTER = 12;

/** What the page keeps in window.boneDemo (page.ts), as far as the tests read it. */
interface PageState {
  ready: { backend: string; numThreads: number; crossOriginIsolated: boolean } | null;
  loaded: { parameters: number } | null;
  trainLoss: { step: number; loss: number }[];
  evalLoss: { step: number; loss: number }[];
  snapshots: Record<number, Snapshot>;
  adapter: Extract<FromWorker, { type: 'adapter' }> | null;
  stopped: number | null;
  errors: string[];
}

const found = findChromium();
const required = process.env.BONE_REQUIRE_BROWSER === '1';
if (found.path === null) {
  const message = `no Chromium found (looked at ${found.searched.join(', ')}; set BONE_CHROMIUM to another): the browser tests did not run. `
    + 'Install one with `sudo apt-get install -y chromium` (Debian/Ubuntu) or point BONE_CHROMIUM at a Chrome/Chromium binary.';
  if (required) {
    test('the browser tests run (BONE_REQUIRE_BROWSER=1)', () => assert.fail(message));
  } else {
    console.log(`# ${message}`);
    test('the page in a real browser', { skip: message }, () => undefined);
  }
} else {
  describeInBrowser(found.path);
}

const state = (page: Page): Promise<PageState> => page.evaluate(() => (globalThis as unknown as { boneDemo: PageState }).boneDemo);

/**
 * Waits until `condition` (an expression over `s`, the page's window.boneDemo, evaluated in the
 * page so that nothing large crosses over while waiting) holds; fails at once with the page's
 * message when it shows an error.
 */
async function waitFor(page: Page, what: string, condition: string, timeoutMs = 600_000): Promise<void> {
  const outcome = await page.waitForFunction(
    `(() => { const s = window.boneDemo; return s.errors.length > 0 ? 'error' : (${condition}) ? 'ok' : false; })()`,
    null, { timeout: timeoutMs, polling: 250 },
  ).then((h) => h.jsonValue(), (e: Error) => assert.fail(`${what}: ${e.message.split('\n')[0]}`));
  if (outcome === 'error') assert.fail(`${what}: the page shows an error: ${(await page.evaluate(() => (globalThis as unknown as { boneDemo: PageState }).boneDemo.errors)).join('; ')}`);
}

/** max |a − b| over max |b| (1 when b is all zeros): the difference at the tensor's own scale. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / (scale || 1);
}

function describeInBrowser(chromiumPath: string): void {
  describe('the page of npm run demo:web in Chromium', { timeout: 20 * 60_000 }, () => {
    let server: DemoServer;
    let browser: Chromium;
    let page: Page;
    let trained: PageState;
    let node: NodeRun;
    const downloads = new Map<string, Uint8Array>();
    let dir: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'bone-page-'));
      server = await startDemoServer({ port: 0 });
      browser = await launchChromium(chromiumPath);
      page = browser.context.pages()[0] ?? await browser.context.newPage();
      await page.goto(`${server.url}?snapshot=1,2,${STEPS}`);
      await waitFor(page, 'loading the demo model', 's.loaded !== null', 180_000);
      await page.fill('#steps', String(STEPS));
      await page.click('#train');
      await waitFor(page, `training to step ${STOP_AFTER}`, `s.trainLoss.length >= ${STOP_AFTER}`);
      await page.click('#stop');
      await waitFor(page, 'stopping', 's.stopped !== null');
      const stoppedAt = await page.evaluate(() => (globalThis as unknown as { boneDemo: PageState }).boneDemo.stopped!);
      assert.ok(stoppedAt >= STOP_AFTER && stoppedAt < STEPS, `stopped at step ${stoppedAt}`);
      await page.click('#resume');
      await waitFor(page, 'training and answering', 's.adapter !== null');
      trained = await state(page);
      for (const name of ['adapter_config.json', 'adapter_model.safetensors']) {
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#download-${name.replace(/\W/g, '-')}`)]);
        await download.saveAs(join(dir, download.suggestedFilename()));
        downloads.set(download.suggestedFilename(), new Uint8Array(await readFile(join(dir, download.suggestedFilename()))));
      }
      // Node's run after the page's, so the two never share the cores.
      node = await runDemoInNode({ steps: STEPS, snapshotSteps: [1, 2] });
    });

    after(async () => {
      await browser?.close();
      await server?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('the page trains on onnxruntime-web in a worker: 30 steps, with a Stop and a Resume, and the loss falls', () => {
      assert.match(trained.ready!.backend, /^onnxruntime-web \(wasm, \d+ threads?\)$/);
      assert.equal(trained.ready!.crossOriginIsolated, true, 'the server sends COOP/COEP, so threads are available');
      assert.deepEqual(trained.trainLoss.map((p) => p.step), Array.from({ length: STEPS }, (_, i) => i + 1));
      const mean = (xs: { loss: number }[]): number => xs.reduce((n, p) => n + p.loss, 0) / xs.length;
      const first = mean(trained.trainLoss.slice(0, 5));
      const last = mean(trained.trainLoss.slice(-5));
      assert.ok(last < 0.6 * first, `train loss: first 5 steps ${first.toFixed(3)}, last 5 ${last.toFixed(3)}`);
      const held = trained.evalLoss;
      assert.ok(held.at(-1)!.loss < 0.6 * held[0]!.loss, `held-out loss ${held[0]!.loss.toFixed(3)} → ${held.at(-1)!.loss.toFixed(3)}`);
    });

    test('every step\'s loss equals Node\'s within 1e-3 relative', () => {
      assert.equal(node.losses.length, STEPS);
      const off = trained.trainLoss.map((p, i) => ({ step: p.step, web: p.loss, node: node.losses[i]!, rel: Math.abs(p.loss - node.losses[i]!) / Math.abs(node.losses[i]!) }));
      const worst = off.reduce((a, b) => (b.rel > a.rel ? b : a));
      console.log(`# loss, page vs Node: largest relative difference ${worst.rel.toExponential(2)} (step ${worst.step})`);
      assert.ok(worst.rel < 1e-3, `step ${worst.step}: page ${worst.web}, Node ${worst.node} (relative ${worst.rel.toExponential(2)})`);
      for (const [k, e] of trained.evalLoss.entries()) {
        const n = node.evalLosses[k]!;
        assert.equal(e.step, n.step);
        assert.ok(Math.abs(e.loss - n.loss) / n.loss < 1e-3, `held-out loss at step ${e.step}: page ${e.loss}, Node ${n.loss}`);
      }
    });

    test('after step 1 the optimizer state (1e-5 of each tensor\'s scale) and after step 2 the adapter (1e-5) equal Node\'s', () => {
      const worst: Record<string, { name: string; relative: number; absolute: number }> = {};
      for (const step of [1, 2]) {
        const web = trained.snapshots[step]!;
        const ref = node.snapshots[step]!;
        assert.deepEqual(Object.keys(web.tensors).sort(), Object.keys(ref.tensors).sort());
        for (const [name, t] of Object.entries(ref.tensors)) {
          const mine = Object.values(web.tensors[name]!.data);
          const relative = relativeDifference(mine, t.data);
          const absolute = mine.reduce((d, x, i) => Math.max(d, Math.abs(x - t.data[i]!)), 0);
          const kind = `step ${step} ${name.split('.')[0]}`;
          if (!worst[kind] || relative > worst[kind].relative) worst[kind] = { name, relative, absolute };
        }
      }
      console.log(`# page vs Node, worst tensor per kind: ${JSON.stringify(worst)}`);
      // Step 1's learning rate is 0 (warmup), so its adapter is the zeros it started as, and the
      // step's numerics are in the moments: m = 0.1·g, v = 0.001·g², the first gradients.
      assert.equal(worst['step 1 adapter']!.absolute, 0);
      for (const kind of ['step 1 m', 'step 1 v', 'step 2 m', 'step 2 v']) assert.ok(worst[kind]!.relative < 1e-5, `${kind}: ${JSON.stringify(worst[kind])}`);
      // Step 2 moves the adapter by about lr·m̂/√v̂ per element, which normalises every gradient
      // component to ±1 and so amplifies the relative difference of the tiny ones: compared as the
      // issue states it, absolutely.
      assert.ok(worst['step 2 adapter']!.absolute < 1e-5, `step 2 adapter: ${JSON.stringify(worst['step 2 adapter'])}`);
      const moved = Object.entries(node.snapshots[2]!.tensors).filter(([k, t]) => k.startsWith('adapter.') && t.data.some((x) => x !== 0));
      assert.ok(moved.length > 0, 'the adapter changed at step 2');
    });

    test('the downloaded adapter is the page\'s, bit for bit, in PEFT\'s two files, and in Node gives the page\'s logits (1e-5)', async () => {
      assert.deepEqual([...downloads.keys()].sort(), ['adapter_config.json', 'adapter_model.safetensors']);
      const config = JSON.parse(new TextDecoder().decode(downloads.get('adapter_config.json')!)) as Record<string, unknown>;
      assert.equal(config.peft_type, 'MISS');
      assert.equal(config.r, 16);
      // PEFT saves all-linear as the modules it chose: the 7 projections of each of the 4 layers.
      assert.equal((config.target_modules as string[]).length, 28);
      assert.equal(config.base_model_name_or_path, 'demo/model');
      const saved = await parseSafetensors(downloads.get('adapter_model.safetensors')!, 'adapter_model.safetensors');
      const final = trained.snapshots[STEPS]!.tensors;
      for (const [key, t] of saved.tensors) {
        const mine = Object.values(final[`adapter.${key}`]!.data);
        assert.ok(t.dtype === 'F32' && t.data.every((x, i) => Object.is(x, mine[i])), `${key}: the file holds other values than the page's model`);
      }

      const peft = await PeftModel.fromPretrained(await loadModel(DEMO_MODEL_DIR), dir);
      peft.eval();
      const { inputIds, attentionMask, logits, shape } = trained.adapter!.probe;
      const ids = (rows: number[][]) => Tensor.fromData(BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length], 'int64');
      const out = peft.forward({ inputIds: ids(inputIds), attentionMask: ids(attentionMask) });
      assert.deepEqual(out.logits!.shape, shape);
      const theirs = Object.values(logits);
      const mine = await out.logits!.floats();
      const relative = relativeDifference(mine, theirs);
      const absolute = theirs.reduce((d, x, i) => Math.max(d, Math.abs(x - mine[i]!)), 0);
      console.log(`# logits, page (onnxruntime-web) vs Node (onnxruntime-node): max |difference| ${absolute.toExponential(2)}, ${relative.toExponential(2)} of the largest logit`);
      // Same adapter, same graph, other float32 kernels: the difference is rounding, at the logits' scale.
      assert.ok(relative < 1e-5, `max |logits difference| ${absolute.toExponential(2)} (${relative.toExponential(2)} of the largest)`);
    });

    test('bad input gets the CLI\'s message in the page: a bad JSONL line (file:line) and a bad --r', async () => {
      await page.check('input[name=data][value=file]');
      await page.setInputFiles('#data-file', { name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"prompt": "Q: 1\\nA:", "completion": " 1"}\n{"prompt": "Q: 2\\nA:", "completion": \n') });
      await page.click('#train');
      const jsonl = await waitForError(page);
      assert.match(jsonl, /^bad\.jsonl:2: invalid JSON: /);
      await page.check('input[name=data][value=demo]');
      await page.fill('#r', 'sixteen');
      await page.click('#train');
      assert.equal(await waitForError(page), '--r expects an integer ≥ 1, found "sixteen"');
    });
  });
}

/** The text the page's error box shows next (it is cleared when a run starts). */
async function waitForError(page: Page): Promise<string> {
  await page.waitForSelector('#error:not([hidden])', { timeout: 120_000 });
  const text = (await page.textContent('#error')) ?? '';
  await page.evaluate(() => { (globalThis as unknown as { boneDemo: PageState }).boneDemo.errors.length = 0; });
  return text;
}
