/**
 * Export benchmark (npm run bench:export), on the SmolLM2-135M-shaped Llama of bench:model (random
 * bfloat16 weights, tied embeddings, vocabulary 49152) with the smollm test tokenizer beside it:
 *
 *   export       wall time of `bone export` (runExport, in this process) per format: onnx fp32, onnx
 *                fp16, gguf f32 / f16 / q8_0, and gguf-lora of a MiSS adapter (r 64 on q_proj, v_proj);
 *   generation   tokens/s of greedy decoding, batch 1, the same 32-token prompt and 64 new tokens
 *                (no EOS stop), by bone generate's `generate` on the source folder, by transformers.js
 *                4.3.1 on the exported onnx folder (fp32), and by llama.cpp (node-llama-cpp 3.21.1) on
 *                the f32 and q8_0 files; each runtime warms up once (its first, compiling run), then the
 *                median of --runs runs. Time includes the prompt's prefill.
 *
 * Every runtime uses the same thread count (BONE_THREADS, default all cores). node-llama-cpp is
 * optional (npm run llama-cpp:install); without it its rows are left out. Timings on a shared machine
 * are noisy: run it under `flock /tmp/bone-bench.lock` (the npm script does) and compare only numbers
 * from one run. Writes bench/out/export.json and prints a Markdown table.
 *
 * Options: --runs N (default 3), --keep DIR (write the model and exports there and keep them).
 */
import '../src/node/install.ts';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runExport } from '../src/cli/commands/export.ts';
import { captureIO } from '../src/cli/io.ts';
import { Generator, Tensor } from '../src/engine/index.ts';
import { loadModel } from '../src/io/model-folder.ts';
import { generate } from '../src/models/index.ts';
import { MissConfig, getPeftModel } from '../src/peft/index.ts';
import { writeSmolLM2Folder } from './model/smollm2-folder.ts';
import { GENERATION } from './model/workload.ts';
import { loadAverage, machineInfo, median, randomInts, table } from './util.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '3' }, keep: { type: 'string' } } });
const RUNS = Math.max(1, Number(args.runs));
const threads = Number(process.env.BONE_THREADS) || availableParallelism();
const root = join(import.meta.dirname, '..');
const log = (s: string): void => { process.stdout.write(`${s}\n`); };

function lscpu(): { model: string; load: string } {
  let model = 'unknown';
  try { model = /^Model name:\s*(.*)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }))?.[1]?.trim() ?? model; } catch { /* no lscpu */ }
  return { model, load: loadAverage().toFixed(2) };
}

function sizeOf(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((n, f) => n + sizeOf(join(path, f)), 0);
}

async function timed<T>(f: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

const work = args.keep ?? mkdtempSync(join(tmpdir(), 'bone-bench-export-'));
mkdirSync(work, { recursive: true });
const startedAt = new Date().toISOString();
const cpu = lscpu();
log(`machine: ${cpu.model}, ${availableParallelism()} cores, load ${cpu.load} at start; ${threads} threads`);

// ---- the model, its tokenizer and an adapter ---------------------------------------------------------
const model = join(work, 'smollm2-135m');
rmSync(model, { recursive: true, force: true });
const params = await writeSmolLM2Folder(model, 'BF16');
for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(root, 'test/fixtures/export/tokenizers/smollm', f), join(model, f));
const adapter = join(work, 'miss-r64');
{
  const peft = getPeftModel(await loadModel(model), new MissConfig({ r: 64, targetModules: ['q_proj', 'v_proj'] }));
  const generator = new Generator(3);
  for (const [name, p] of peft.namedParameters()) if (name.includes('miss_block')) p.value = Tensor.randn(p.shape, { std: 0.01, generator });
  rmSync(adapter, { recursive: true, force: true });
  await peft.savePretrained(adapter);
}
log(`model: ${(params / 1e6).toFixed(1)}M parameters (bfloat16 folder), adapter: MiSS r 64 on q_proj, v_proj`);

// ---- export times ---------------------------------------------------------------------------------------
const exports: { format: string; out: string; options: Record<string, unknown> }[] = [
  { format: 'onnx', out: 'onnx', options: { dtype: ['fp32'] } },
  { format: 'onnx', out: 'onnx-fp16', options: { dtype: ['fp16'] } },
  { format: 'gguf', out: 'f32.gguf', options: { dtype: ['f32'] } },
  { format: 'gguf', out: 'f16.gguf', options: { dtype: ['f16'] } },
  { format: 'gguf', out: 'q8_0.gguf', options: { dtype: ['q8_0'] } },
  { format: 'gguf-lora', out: 'lora.gguf', options: { adapter } },
];
const exportRows: { format: string; dtype: string; seconds: number; megabytes: number }[] = [];
for (const e of exports) {
  const out = join(work, e.out);
  rmSync(out, { recursive: true, force: true });
  const { seconds } = await timed(() => runExport({ format: e.format as 'onnx', model, out, ...e.options, io: captureIO() }));
  const dtype = e.format === 'gguf-lora' ? 'f32 (MiSS r 64 → LoRA, exact)' : String((e.options.dtype as string[])[0]);
  exportRows.push({ format: e.format, dtype, seconds, megabytes: sizeOf(out) / 1e6 });
  log(`export ${e.format} ${dtype}: ${seconds.toFixed(1)} s, ${(sizeOf(out) / 1e6).toFixed(0)} MB`);
}

// ---- generation ----------------------------------------------------------------------------------------
const prompt = Array.from(randomInts(GENERATION.prompt, 49152, 11), Number);
const N = GENERATION.newTokens;
const generationRows: { runtime: string; file: string; tokensPerSecond: number; runs: number[] }[] = [];

async function measure(runtime: string, file: string, run: () => Promise<number>): Promise<void> {
  await run(); // warm-up: compiles graphs, allocates caches
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const { seconds, value } = await timed(run);
    rates.push(value / seconds);
  }
  generationRows.push({ runtime, file, tokensPerSecond: median(rates), runs: rates });
  log(`generate ${runtime} (${file}): ${median(rates).toFixed(1)} tokens/s (${rates.map((r) => r.toFixed(1)).join(', ')})`);
}

{
  const m = await loadModel(model);
  m.eval();
  await measure('bone generate', 'model.safetensors (bf16 → f32)', async () => (await generate(m, [prompt], { maxNewTokens: N, eosTokenId: null })).newTokens[0]!.length);
}
{
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  const m = await tjs.AutoModelForCausalLM.from_pretrained(join(work, 'onnx'), { dtype: 'fp32', session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 } });
  const ids = new tjs.Tensor('int64', BigInt64Array.from(prompt, (v) => BigInt(v)), [1, prompt.length]);
  const mask = new tjs.Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
  await measure('transformers.js 4.3.1', 'onnx/model.onnx (fp32)', async () => {
    const out = await m.generate({ input_ids: ids, attention_mask: mask, max_new_tokens: N, min_new_tokens: N, do_sample: false }) as { dims: number[] };
    return out.dims[1]! - prompt.length;
  });
  await m.dispose();
}
let llamaCppVersion: string | null = null;
try {
  const specifier = 'node-llama-cpp';
  const nlc = await import(specifier);
  llamaCppVersion = '3.21.1';
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
  for (const file of ['f32.gguf', 'q8_0.gguf']) {
    const m = await llama.loadModel({ modelPath: join(work, file) });
    const context = await m.createContext({ contextSize: 256, threads });
    const sequence = context.getSequence();
    await measure('llama.cpp (node-llama-cpp 3.21.1)', file, async () => {
      await sequence.clearHistory();
      let count = 0;
      for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
        void token;
        if (++count >= N) break;
      }
      return count;
    });
    await context.dispose();
    await m.dispose();
  }
  await llama.dispose();
} catch (e) {
  log(`llama.cpp rows left out: ${(e as Error).message.split('\n')[0]} (npm run llama-cpp:install)`);
}

// ---- report --------------------------------------------------------------------------------------------
const endedAt = new Date().toISOString();
const result = {
  startedAt, endedAt, machine: { ...machineInfo(threads), lscpu: cpu.model, loadAtEnd: loadAverage() }, params, runs: RUNS,
  exports: exportRows, generation: generationRows, llamaCpp: llamaCppVersion,
};
mkdirSync(join(root, 'bench', 'out'), { recursive: true });
writeFileSync(join(root, 'bench', 'out', 'export.json'), `${JSON.stringify(result, null, 2)}\n`);
log('');
log(table(['format', 'dtype', 'export time', 'size'], exportRows.map((r) => [r.format, r.dtype, `${r.seconds.toFixed(1)} s`, `${r.megabytes.toFixed(0)} MB`])));
log('');
log(table(['runtime', 'file', 'tokens/s (median)', 'runs'], generationRows.map((r) => [r.runtime, r.file, r.tokensPerSecond.toFixed(1), r.runs.map((x) => x.toFixed(1)).join(', ')])));
log(`\nload average at the end: ${loadAverage().toFixed(2)}`);
if (!args.keep) rmSync(work, { recursive: true, force: true });
