/**
 * `npm run bench:web`: the demo's training speed in headless Chromium (the page of `npm run
 * demo:web`: onnxruntime-web, WebAssembly with 1 and 2 threads, and WebGPU where Chromium offers an
 * adapter) beside Node (onnxruntime-node) on the same machine in the same run, as tokens/s and their
 * ratio; the page's load time and the bundles' sizes. Results go to bench/out/web.json.
 *
 *   flock /tmp/bone-bench.lock node --import tsx bench/web.bench.ts [--steps 40] [--no-webgpu]
 *
 * Every run is the demo's (MiSS r = 16 on all linear layers, batch 16, lr 1.5e-3 cosine); tokens/s
 * counts the batches' real tokens over the steps' own time, steps 2.. (step 1 compiles the graph;
 * its time is reported apart). Each browser configuration gets a fresh Chromium, so the page load is
 * a cold one (runtime fetched and compiled, model and tokenizer fetched).
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { findChromium, launchChromium } from '../demo/web/chromium.ts';
import { runDemoInNode } from '../demo/web/node-run.ts';
import { ORT_DIST, buildPage, startDemoServer } from '../demo/web/server.ts';
import { buildLibraryBundle } from '../scripts/browser-build.ts';
import { loadAverage, machineInfo, table } from './util.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({ options: { steps: { type: 'string', default: '40' }, 'no-webgpu': { type: 'boolean', default: false } } });
const STEPS = Number(args.steps);

interface Timing {
  config: string;
  /** tokens/s over steps 2..STEPS */
  tokensPerSecond: number;
  firstStepSeconds: number;
  /** Milliseconds from navigation to the model loaded (browsers only). */
  pageLoadMs?: number;
  lastLoss: number;
  note?: string;
}

interface PageState {
  ready: { backend: string; webgpu: boolean } | null;
  loadedAtMs: number | null;
  stepTimes: { tokens: number; seconds: number }[];
  trainLoss: { loss: number }[];
  done: unknown;
  errors: string[];
}

function steady(times: readonly { tokens: number; seconds: number }[]): number {
  const rest = times.slice(1);
  return rest.reduce((n, t) => n + t.tokens, 0) / rest.reduce((n, t) => n + t.seconds, 0);
}

async function waitFor(page: Page, condition: string, timeoutMs: number): Promise<PageState> {
  await page.waitForFunction(`(() => { const s = window.boneDemo; return s.errors.length > 0 || (${condition}); })()`, null, { timeout: timeoutMs, polling: 500 });
  const s = await page.evaluate(() => {
    const d = (globalThis as unknown as { boneDemo: PageState }).boneDemo;
    return { ready: d.ready, loadedAtMs: d.loadedAtMs, stepTimes: d.stepTimes, trainLoss: d.trainLoss, done: d.done, errors: d.errors };
  });
  if (s.errors.length > 0) throw new Error(`the page shows an error: ${s.errors.join('; ')}`);
  return s;
}

async function runInBrowser(chromium: string, url: string, label: string, query: string, webgpu: boolean): Promise<Timing | { config: string; failed: string }> {
  const browser = await launchChromium(chromium, { webgpu });
  try {
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    await page.goto(`${url}?${query}`);
    const loaded = await waitFor(page, 's.loadedAtMs !== null', 300_000);
    await page.fill('#steps', String(STEPS));
    await page.click('#train');
    const s = await waitFor(page, 's.done !== null', 3_600_000);
    return {
      config: `${label}: ${loaded.ready!.backend}`, tokensPerSecond: steady(s.stepTimes), firstStepSeconds: s.stepTimes[0]!.seconds,
      pageLoadMs: loaded.loadedAtMs!, lastLoss: s.trainLoss.at(-1)!.loss,
    };
  } catch (error) {
    return { config: label, failed: (error as Error).message.split('\n')[0]! };
  } finally {
    await browser.close();
  }
}

/**
 * Whether Chromium offers a WebGPU adapter. On a machine without a GPU, headless Chromium's
 * requestAdapter() was seen never to settle (the whole benchmark waited 8 minutes on it), so the
 * answer is bounded: no adapter within 60 s is no adapter.
 */
async function webGpuOffered(chromium: string, url: string): Promise<boolean> {
  const ADAPTER_WAIT_MS = 60_000;
  const browser = await launchChromium(chromium, { webgpu: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    const ask = (async () => {
      await page.goto(url);
      return page.evaluate(async (waitMs) => {
        const gpu = (globalThis as unknown as { navigator: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
        if (!gpu) return false;
        const none = new Promise<null>((resolve) => setTimeout(() => resolve(null), waitMs));
        return (await Promise.race([gpu.requestAdapter(), none])) !== null;
      }, ADAPTER_WAIT_MS);
    })();
    const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ADAPTER_WAIT_MS + 30_000); });
    return await Promise.race([ask, late]);
  } finally {
    clearTimeout(timer);
    await browser.close();
  }
}

const found = findChromium();
if (found.path === null) throw new Error(`bench:web needs a Chromium (looked at ${found.searched.join(', ')}); install it with apt-get install chromium, or set BONE_CHROMIUM`);
const chromiumVersion = execFileSync(found.path, ['--version'], { encoding: 'utf8' }).trim();
const machine = machineInfo(2);
const cpuModel = execFileSync('lscpu', { encoding: 'utf8' }).match(/^Model name:\s*(.*)$/m)?.[1]?.trim() ?? machine.cpu;
console.log(`bench:web on ${cpuModel}, ${machine.cores} cores, load average ${machine.loadAverageAtStart.join(' ')}; ${chromiumVersion}; Node ${process.version}; ${STEPS} steps each`);

const pageBundles = await buildPage();
const libraryBundle = await buildLibraryBundle();
const wasmBytes = statSync(join(ORT_DIST, 'ort-wasm-simd-threaded.jsep.wasm')).size;
const server = await startDemoServer({ port: 0, build: false });

const results: (Timing | { config: string; failed: string })[] = [];
const node = await runDemoInNode({ steps: STEPS });
const nodeTiming: Timing = {
  config: 'Node: onnxruntime-node (cpu, 2 threads)', tokensPerSecond: node.steadyTokens / node.steadySeconds,
  firstStepSeconds: node.seconds - node.steadySeconds, lastLoss: node.losses.at(-1)!,
};
results.push(nodeTiming);
console.log(`  ${nodeTiming.config}: ${nodeTiming.tokensPerSecond.toFixed(0)} tokens/s`);
for (const [label, query] of [['Chromium, wasm 1 thread', 'threads=1'], ['Chromium, wasm 2 threads', 'threads=2']] as const) {
  const r = await runInBrowser(found.path, server.url, label, query, false);
  results.push(r);
  console.log(`  ${r.config}: ${'failed' in r ? r.failed : `${r.tokensPerSecond.toFixed(0)} tokens/s`}`);
}
let webgpuNote = 'not tried (--no-webgpu)';
if (!args['no-webgpu']) {
  if (await webGpuOffered(found.path, server.url)) {
    const r = await runInBrowser(found.path, server.url, 'Chromium, WebGPU', 'provider=webgpu', true);
    results.push(r);
    webgpuNote = 'failed' in r ? `failed: ${r.failed}` : 'ran';
    console.log(`  ${r.config}: ${'failed' in r ? r.failed : `${r.tokensPerSecond.toFixed(0)} tokens/s`}`);
  } else {
    webgpuNote = 'Chromium offered no WebGPU adapter';
  }
}
await server.close();
const loadAtEnd = loadAverage();

const rows = results.map((r) => ('failed' in r
  ? [r.config, '—', '—', '—', '—', r.failed]
  : [r.config, r.tokensPerSecond.toFixed(0), (r.tokensPerSecond / nodeTiming.tokensPerSecond).toFixed(2), r.firstStepSeconds.toFixed(1), r.pageLoadMs === undefined ? '—' : (r.pageLoadMs / 1000).toFixed(1), r.lastLoss.toFixed(4)]));
console.log(`\n${table(['configuration', 'tokens/s (steps 2..)', '× Node', 'step 1 (s)', 'page load (s)', `loss at step ${STEPS}`], rows)}`);
const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
console.log(`\nbundles: ${Object.entries(pageBundles).map(([f, n]) => `page ${f} ${kib(n)}`).join(', ')}; library dist/browser/${Object.entries(libraryBundle).map(([f, n]) => `${f} ${kib(n)}`).join(', ')}; onnxruntime-web's runtime ort-wasm-simd-threaded.jsep.wasm ${(wasmBytes / 2 ** 20).toFixed(1)} MiB (fetched once)`);
console.log(`WebGPU: ${webgpuNote}. Load average at the end: ${loadAtEnd}.`);

mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'out', 'web.json'), `${JSON.stringify({
  date: new Date().toISOString(), cpu: cpuModel, cores: machine.cores, loadAverageAtStart: machine.loadAverageAtStart, loadAverageAtEnd: loadAtEnd,
  chromium: chromiumVersion, node: process.version, steps: STEPS, results, pageBundles, libraryBundle, wasmBytes, webgpu: webgpuNote,
}, null, 2)}\n`);
