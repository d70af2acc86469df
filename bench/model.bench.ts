/**
 * Model benchmarks (npm run bench:model), on a SmolLM2-135M-shaped Llama (hidden 576, intermediate
 * 1536, 30 layers, 9 heads over 3 key/value heads, vocabulary 49152, tied embeddings) with random
 * weights, written as a bfloat16 safetensors folder in a temporary directory:
 *
 *   load        loadModel's time and the process's peak RSS, each in a fresh child process;
 *   forward     tokens/s of a [4, 256] forward with logits for every position (steady state: the first,
 *               compiling run is reported apart);
 *   generation  tokens/s of greedy decoding, batch 1, 32-token prompt + 64 new tokens, key/value cache;
 *   conversion  bfloat16/float16 → float32 at load versus a float16 Cast in every graph (docs/design.md).
 *
 * Each is set next to transformers + torch on the same folder, in the same run, when
 * BONE_ANCHOR_PYTHON names a Python with torch and transformers (bench/model_anchor.py); without it
 * the anchor is skipped. The children alternate (ours, torch, ours, ...) so that load from other work on
 * the machine spreads over both; medians are reported with the spread.
 *
 * Options: --folder DIR (use this model folder instead of generating one), --loads N (fresh processes
 * per side for load, default 3), --runs N (fresh processes per side for forward + generation, default 2),
 * --forward-iters N (default 3), --generate-iters N (default 2), --no-conversion.
 * BONE_THREADS sets ONNX Runtime's intra-op threads and torch's set_num_threads alike.
 * Writes bench/out/model.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import '../src/node/install.ts';
import { measureWeightConversion, type ConversionResult } from './model/weight-conversion.ts';
import { writeSmolLM2Folder } from './model/smollm2-folder.ts';
import { FORWARD_SHAPE, GENERATION } from './model/workload.ts';
import { loadAverage, machineInfo, median, table } from './util.ts';

const { values: args } = parseArgs({
  options: {
    folder: { type: 'string' },
    loads: { type: 'string', default: '3' },
    runs: { type: 'string', default: '2' },
    'forward-iters': { type: 'string', default: '3' },
    'generate-iters': { type: 'string', default: '2' },
    'no-conversion': { type: 'boolean', default: false },
  },
});
const LOADS = Math.max(1, Number(args.loads));
const RUNS = Math.max(1, Number(args.runs));
const FORWARD_ITERS = Math.max(1, Number(args['forward-iters']));
const GENERATE_ITERS = Math.max(1, Number(args['generate-iters']));
const threads = Number(process.env.BONE_THREADS) || availableParallelism();
const anchorPython = process.env.BONE_ANCHOR_PYTHON;
const root = join(import.meta.dirname, '..');
const log = (s: string): void => { process.stdout.write(`${s}\n`); };

interface LoadResult { loadMs: number; rssBeforeMiB: number; peakRssMiB: number }
interface RunResult { loadMs: number; peakRssMiB: number; forwardFirstMs: number; forwardMs: number[]; generateFirstMs: number; generateMs: number[]; newTokens: number }
interface AnchorVersions { torch?: string; transformers?: string }

/** Runs a child and returns the JSON on its `RESULT` line; its other output is dropped unless it fails. */
function child<T>(command: string, argv: string[]): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(command, argv, { cwd: root, env: { ...process.env, BONE_THREADS: String(threads) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    proc.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`${command} ${argv.join(' ')} exited with ${code}:\n${err.slice(-2000)}`));
      else resolvePromise(JSON.parse(line.slice(7)) as T);
    });
  });
}

const ours = <T>(mode: string, folder: string, ...rest: string[]): Promise<T> =>
  child<T>(process.execPath, ['--import', 'tsx', 'bench/model/child.ts', mode, folder, ...rest]);
const anchor = <T>(mode: string, folder: string, ...rest: string[]): Promise<T> =>
  child<T>(anchorPython!, ['bench/model_anchor.py', mode, folder, String(threads), ...rest]);

const machine = machineInfo(threads);
log(`model bench: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}, ${threads} threads, load average ${machine.loadAverageAtStart.join(' ')}`);
if (!anchorPython) log('BONE_ANCHOR_PYTHON is not set: the transformers anchor is skipped (set it to a Python with torch and transformers).');

let folder = args.folder;
let tempDir: string | undefined;
if (!folder) {
  tempDir = mkdtempSync(join(tmpdir(), 'bone-peft-bench-model-'));
  folder = join(tempDir, 'smollm2-135m-bf16');
  const t = performance.now();
  const params = await writeSmolLM2Folder(folder, 'BF16');
  log(`wrote ${folder}: ${(params / 1e6).toFixed(1)}M parameters, bfloat16, in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

try {
  const loads: { ours: LoadResult[]; torch: LoadResult[] } = { ours: [], torch: [] };
  let versions: AnchorVersions = {};
  for (let i = 0; i < LOADS; i++) {
    loads.ours.push(await ours<LoadResult>('load', folder));
    if (anchorPython) {
      const r = await anchor<LoadResult & AnchorVersions>('load', folder);
      versions = { torch: r.torch, transformers: r.transformers };
      loads.torch.push(r);
    }
    log(`load ${i + 1}/${LOADS}: ours ${loads.ours.at(-1)!.loadMs.toFixed(0)} ms${anchorPython ? `, torch ${loads.torch.at(-1)!.loadMs.toFixed(0)} ms` : ''}`);
  }

  const runs: { ours: RunResult[]; torch: RunResult[] } = { ours: [], torch: [] };
  const [batch, seq] = FORWARD_SHAPE;
  for (let i = 0; i < RUNS; i++) {
    runs.ours.push(await ours<RunResult>('run', folder, String(FORWARD_ITERS), String(GENERATE_ITERS)));
    if (anchorPython) {
      runs.torch.push(await anchor<RunResult>('run', folder, String(FORWARD_ITERS), String(GENERATE_ITERS),
        String(batch), String(seq), String(GENERATION.prompt), String(GENERATION.newTokens)));
    }
    log(`run ${i + 1}/${RUNS} done (load average ${loadAverage()})`);
  }

  const conversion: ConversionResult | undefined = args['no-conversion'] ? undefined : await measureWeightConversion(threads);

  // ---- summary ----------------------------------------------------------------------------------------
  const spread = (xs: number[], digits = 0): string => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : '');
  const forwardTps = (r: RunResult[]): number[] => r.flatMap((x) => x.forwardMs).map((ms) => (batch * seq) / (ms / 1000));
  const generateTps = (r: RunResult[]): number[] => r.flatMap((x) => x.generateMs.map((ms) => x.newTokens / (ms / 1000)));
  const metrics = [
    { name: 'load time (ms), fresh process', ours: loads.ours.map((r) => r.loadMs), torch: loads.torch.map((r) => r.loadMs), lowerIsBetter: true, digits: 0 },
    { name: 'peak RSS after load (MiB)', ours: loads.ours.map((r) => r.peakRssMiB), torch: loads.torch.map((r) => r.peakRssMiB), lowerIsBetter: true, digits: 0 },
    { name: 'RSS before load (MiB): runtime + libraries', ours: loads.ours.map((r) => r.rssBeforeMiB), torch: loads.torch.map((r) => r.rssBeforeMiB), lowerIsBetter: true, digits: 0 },
    { name: `forward tokens/s, [${batch}, ${seq}], all logits`, ours: forwardTps(runs.ours), torch: forwardTps(runs.torch), lowerIsBetter: false, digits: 0 },
    { name: 'forward, first run incl. compile (ms)', ours: runs.ours.map((r) => r.forwardFirstMs), torch: runs.torch.map((r) => r.forwardFirstMs), lowerIsBetter: true, digits: 0 },
    { name: `generation tokens/s, greedy, ${GENERATION.prompt} + ${GENERATION.newTokens}`, ours: generateTps(runs.ours), torch: generateTps(runs.torch), lowerIsBetter: false, digits: 1 },
    { name: 'generation, first call incl. compile (ms)', ours: runs.ours.map((r) => r.generateFirstMs), torch: runs.torch.map((r) => r.generateFirstMs), lowerIsBetter: true, digits: 0 },
    { name: 'peak RSS after forward + generation (MiB)', ours: runs.ours.map((r) => r.peakRssMiB), torch: runs.torch.map((r) => r.peakRssMiB), lowerIsBetter: true, digits: 0 },
  ];
  const rows = metrics.map((m) => {
    const o = median(m.ours);
    const t = m.torch.length ? median(m.torch) : NaN;
    return [
      m.name, `${o.toFixed(m.digits)}${spread(m.ours, m.digits)}`,
      m.torch.length ? `${t.toFixed(m.digits)}${spread(m.torch, m.digits)}` : 'skipped',
      m.torch.length ? (o / t).toFixed(2) : '',
    ];
  });
  log('');
  log(`median (min–max) over ${LOADS} load processes and ${RUNS} run processes × ${FORWARD_ITERS} forwards / ${GENERATE_ITERS} generations per side; ratio = ours / torch`);
  log(table(['measure', 'bone-peft (ORT)', `transformers ${versions.transformers ?? ''} (torch ${versions.torch ?? ''})`.trim(), 'ratio'], rows));
  if (conversion) {
    log('');
    log(`16-bit weights (${(conversion.params / 1e6).toFixed(1)}M parameters): converting to float32 at load takes ${conversion.bf16AtLoadMs.toFixed(0)} ms (bfloat16) / ${conversion.f16AtLoadMs.toFixed(0)} ms (float16) once;`);
    log(`casting float16 weights in the graph instead: one-token head Gemm ${conversion.headGemmF32Ms.toFixed(1)} ms (float32) vs ${conversion.headGemmF16CastMs.toFixed(1)} ms (float16 + Cast), i.e. ≈${conversion.castPerRunAllWeightsMs.toFixed(0)} ms more per run over all weights.`);
  }
  log(`load average at the end: ${loadAverage()}`);

  const outDir = join(import.meta.dirname, 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'model.json'), `${JSON.stringify({
    machine, threads, anchor: anchorPython ? versions : null, loadAverageAtEnd: loadAverage(),
    workload: { forward: FORWARD_SHAPE, generation: GENERATION }, loads, runs, conversion,
  }, null, 2)}\n`);
  log(`wrote ${join(outDir, 'model.json')}`);
} finally {
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}
