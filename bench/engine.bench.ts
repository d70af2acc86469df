/**
 * Engine benchmarks (npm run bench:engine):
 *   (a) a chain of 8 matmuls [256×1024]·[1024×1024] through the engine vs the identical ONNX model
 *       run directly with onnxruntime-node (same session options);
 *   (b) a 30-layer Llama-shaped (SmolLM2-135M) forward + backward step with LoRA-style adapters:
 *       trace / hash / emit / session-creation times, steady-state step time, tracing overhead;
 *   (c) achieved matmul GFLOP/s of that step against a 1024³ MatMul ceiling measured in the same run.
 * Prints tables and writes bench/out/engine.json.
 *
 * Options: --layers N (default 30), --steps N (measured steady steps, default 3), --pairs N
 * (alternating engine/direct iteration pairs for (a) and (c), default 80), --no-profile (skip the
 * ORT profile of the step), --only a,c (run some sections: (a) needs nothing else; (c) runs with (a)).
 * BONE_THREADS sets the intra-op threads, as for the engine.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import '../src/node/install.ts';
import { Tensor, clearCompiledGraphs, engineStats, grad, ops, realize, setBackend, type CompiledGraph } from '../src/engine/index.ts';
import { GraphBuilder } from '../src/engine/onnx/builder.ts';
import { trace } from '../src/engine/realize.ts';
import { createOrtNodeBackend, ortSessionOptions } from '../src/node/ort-node.ts';
import { fusedCrossEntropy } from './fused-ce.ts';
import { SMOLLM2_135M, analyticFlops, buildStep, makeWeights, tracedMatmulFlops } from './llama.ts';
import { loadAverage, machineInfo, median, min, ms, now, randomFloats, randomInts, table } from './util.ts';

const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: String(SMOLLM2_135M.layers) },
    steps: { type: 'string', default: '3' },
    pairs: { type: 'string', default: '80' },
    'no-profile': { type: 'boolean', default: false },
    only: { type: 'string', default: 'a,b,c,d' },
  },
});
const LAYERS = Number(args.layers);
const STEPS = Math.max(3, Number(args.steps));
const PAIRS = Math.max(4, Number(args.pairs));
const OUT_DIR = join(import.meta.dirname, 'out');
mkdirSync(OUT_DIR, { recursive: true });

const threads = Number(process.env.BONE_THREADS) || availableParallelism();
/** The options src/node/ort-node.ts creates its sessions with. */
const sessionOptions = (extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions => ({ ...ortSessionOptions(), ...extra });

// ---- a recording backend: the engine's own ORT backend, plus the model bytes and timestamps -------

const recorder = { bytes: new Uint8Array(0) as Uint8Array, compileCalledAt: 0, sessionCreatedAt: 0, lastRunMs: 0 };
const inner = await createOrtNodeBackend();
setBackend({
  name: inner.name,
  async compile(model: Uint8Array): Promise<CompiledGraph> {
    recorder.bytes = model;
    recorder.compileCalledAt = now();
    const graph = await inner.compile(model);
    recorder.sessionCreatedAt = now();
    return {
      async run(feeds, names) {
        const t = now();
        const out = await graph.run(feeds, names);
        recorder.lastRunMs = now() - t;
        return out;
      },
      release: () => graph.release(),
    };
  },
});

const machine = machineInfo(threads);
const log = (s: string): void => { process.stdout.write(`${s}\n`); };
log(`engine bench: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}, ${threads} threads, load ${machine.loadAverageAtStart.join(' ')}`);

/**
 * Run two loops alternately (A B, B A, A B, ...) so that background load and clock drift hit both
 * alike; returns every per-iteration time of each and, for A, the time ORT's run took inside it.
 */
async function alternate(a: () => Promise<unknown>, b: () => Promise<unknown>, pairs: number): Promise<{ a: number[]; b: number[]; aRun: number[]; aCpu: number[]; bCpu: number[] }> {
  const out = { a: [] as number[], b: [] as number[], aRun: [] as number[], aCpu: [] as number[], bCpu: [] as number[] };
  const time = async (f: () => Promise<unknown>, into: number[], cpuInto: number[]): Promise<void> => {
    const c = process.cpuUsage();
    const t = now();
    await f();
    into.push(now() - t);
    const dc = process.cpuUsage(c);
    cpuInto.push((dc.user + dc.system) / 1000);
  };
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      await time(a, out.a, out.aCpu); out.aRun.push(recorder.lastRunMs); await time(b, out.b, out.bCpu);
    } else {
      await time(b, out.b, out.bCpu); await time(a, out.a, out.aCpu); out.aRun.push(recorder.lastRunMs);
    }
  }
  return out;
}

/** Keep both paths busy for a while first: clocks and caches settle over a second or two. */
async function warmUp(fs: (() => Promise<unknown>)[], seconds: number): Promise<void> {
  const end = now() + seconds * 1000;
  while (now() < end) for (const f of fs) await f();
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length));
}

// ---- (a) 8-matmul chain: engine vs direct ORT -----------------------------------------------------

async function benchChain(): Promise<Record<string, unknown>> {
  const [M, K, N] = [256, 1024, 1024];
  const depth = 8;
  const x = Tensor.fromData(randomFloats(M * K, 1, 11), [M, K]);
  const ws = Array.from({ length: depth }, (_, i) => Tensor.fromData(randomFloats(K * N, 1 / 32, 100 + i), [K, N]));
  const engineIter = async (): Promise<void> => {
    let y = x;
    for (const w of ws) y = y.matmul(w);
    await realize([y]);
  };
  await engineIter();
  const engineBytes = recorder.bytes;

  // The same model, built by hand: leaves x, W0..W7 are inputs in0..in8; the engine names node i of
  // the trace n<i>_…, and trace order interleaves the weights with the products (x, W0, mm0, W1, mm1, …).
  const g = new GraphBuilder();
  g.addInput('in0', 'float32', [M, K]);
  for (let i = 0; i < depth; i++) g.addInput(`in${i + 1}`, 'float32', [K, N]);
  let cur = 'in0';
  for (let i = 0; i < depth; i++) {
    g.owner = 2 + 2 * i;
    cur = g.node('MatMul', [cur, `in${i + 1}`]);
  }
  g.addOutput(cur, 'out0', 'float32', [M, N]);
  const bytes = g.toBytes();
  const identical = sameBytes(bytes, engineBytes);
  if (!identical) log('  warning: the hand-built model differs from the engine\'s bytes; running the hand-built one');

  const session = await ort.InferenceSession.create(bytes, sessionOptions());
  const feeds: Record<string, ort.Tensor> = { in0: new ort.Tensor('float32', x.storage as Float32Array, [M, K]) };
  ws.forEach((w, i) => { feeds[`in${i + 1}`] = new ort.Tensor('float32', w.storage as Float32Array, [K, N]); });
  const directIter = async (): Promise<void> => { await session.run(feeds, ['out0']); };

  // Check both compute the same thing once.
  let y = x;
  for (const w of ws) y = y.matmul(w);
  const ev = await y.data() as Float32Array;
  const dv = (await session.run(feeds, ['out0'])).out0!.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < ev.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ev[i]! - dv[i]!));

  await warmUp([engineIter, directIter], 2);
  const compiles = engineStats.compiles;
  const r = await alternate(engineIter, directIter, PAIRS);
  if (engineStats.compiles !== compiles) throw new Error('the chain recompiled in steady state');
  await session.release();

  // The engine's own cost per iteration, measured apart from ORT: build the lazy chain + trace().
  const tb: number[] = [];
  const tt: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = now();
    let yy = x;
    for (const w of ws) yy = yy.matmul(w);
    const t1 = now();
    trace([yy]);
    tb.push(t1 - t0);
    tt.push(now() - t1);
  }
  const flops = depth * 2 * M * K * N;
  const e = median(r.a);
  const d = median(r.b);
  return {
    shape: `${depth} × [${M}×${K}]·[${K}×${N}]`, flops, pairs: PAIRS,
    identicalModelBytes: identical, modelBytes: bytes.length, maxAbsDiff: maxDiff,
    engineMs: e, directMs: d, engineMinMs: min(r.a), directMinMs: min(r.b),
    engineGflops: flops / e / 1e6, directGflops: flops / d / 1e6,
    throughputRatio: d / e,
    pairRatioMedian: median(r.a.map((v, i) => r.b[i]! / v)),
    engineOverheadMs: median(r.a.map((v, i) => v - r.aRun[i]!)),
    buildMs: median(tb), traceMs: median(tt),
    engineTimesMs: r.a, directTimesMs: r.b,
  };
}

// ---- (c) matmul ceiling -----------------------------------------------------------------------------

async function benchCeiling(M: number, K: number, N: number, transB: boolean): Promise<Record<string, unknown>> {
  const a = Tensor.fromData(randomFloats(M * K, 1, 21), [M, K]);
  const b = Tensor.fromData(randomFloats(K * N, 1, 22), transB ? [N, K] : [K, N]);
  const product = (): Tensor => (transB ? a.matmul(b.transpose()) : a.matmul(b));
  const engineIter = async (): Promise<void> => { await realize([product()]); };
  await engineIter();
  const session = await ort.InferenceSession.create(recorder.bytes, sessionOptions());
  const feeds = {
    in0: new ort.Tensor('float32', a.storage as Float32Array, a.shape),
    in1: new ort.Tensor('float32', b.storage as Float32Array, b.shape),
  };
  const directIter = async (): Promise<void> => { await session.run(feeds, ['out0']); };
  await warmUp([engineIter, directIter], 1);
  const r = await alternate(engineIter, directIter, PAIRS);
  await session.release();
  const flops = 2 * M * K * N;
  return {
    shape: `[${M}×${K}]·[${K}×${N}]${transB ? ' (B transposed)' : ''}`, flops,
    engineMs: median(r.a), directMs: median(r.b),
    engineGflops: flops / median(r.a) / 1e6, directGflops: flops / median(r.b) / 1e6,
    bestGflops: flops / Math.min(min(r.a), min(r.b)) / 1e6,
    // Throughput per CPU-second (all threads): less sensitive to other processes taking cores.
    engineGflopsPerCpuSecond: flops / median(r.aCpu) / 1e6, directGflopsPerCpuSecond: flops / median(r.bCpu) / 1e6,
  };
}

// ---- (b) Llama-shaped training step ----------------------------------------------------------------

async function benchLlama(): Promise<{ result: Record<string, unknown>; bytes: Uint8Array; feeds: () => Record<string, ort.Tensor>; outputs: string[] }> {
  const shape = { ...SMOLLM2_135M, layers: LAYERS };
  let t = now();
  const w = makeWeights(shape);
  const weightsMs = now() - t;

  // First step: trace (build the lazy graph + grad), hash (trace()), emit + session, first run.
  t = now();
  const first = buildStep(w);
  const buildMs = now() - t;
  const targets = [first.loss, ...first.grads];
  t = now();
  const tr = trace(targets);
  const hashMs = now() - t;
  const hashAgain: number[] = [];
  for (let i = 0; i < 3; i++) { t = now(); trace(targets); hashAgain.push(now() - t); }
  const tracedFlops = tracedMatmulFlops(tr.nodes);
  const compiles0 = engineStats.compiles;
  const tRealize = now();
  await realize(targets);
  const tDone = now();
  if (engineStats.compiles !== compiles0 + 1) throw new Error('expected exactly one compile for the first step');
  const emitMs = recorder.compileCalledAt - tRealize - median(hashAgain);
  const sessionMs = recorder.sessionCreatedAt - recorder.compileCalledAt;
  const firstRunMs = tDone - recorder.sessionCreatedAt;
  const firstLoss = (await first.loss.data())[0] as number;
  const modelBytes = recorder.bytes;
  log(`  first step: build ${ms(buildMs)} ms, trace ${ms(hashMs)} ms, emit ${ms(emitMs)} ms, session ${ms(sessionMs)} ms, run ${ms(firstRunMs)} ms; loss ${firstLoss.toFixed(4)}`);

  // Steady state: every step builds its graph anew (as a training loop does) and realises it once.
  // Around every step, a few 1024³ products through the engine: the ceiling under the same load.
  const pa = Tensor.fromData(randomFloats(1024 * 1024, 1, 41), [1024, 1024]);
  const pb = Tensor.fromData(randomFloats(1024 * 1024, 1, 42), [1024, 1024]);
  const probe = async (): Promise<number> => {
    const ts: number[] = [];
    for (let k = 0; k < 7; k++) { const t0 = now(); await realize([pa.matmul(pb)]); ts.push(now() - t0); }
    return (2 * 1024 ** 3) / median(ts) / 1e6;
  };
  await probe();
  interface Step { buildMs: number; traceMs: number; realizeMs: number; ortRunMs: number; stepMs: number; cpuMs: number; pageFaults: number; load: number; ceilingGflops: number }
  const steps: Step[] = [];
  const compiles = engineStats.compiles;
  let before = await probe();
  for (let i = 0; i < STEPS + 1; i++) {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = now();
    const { loss, grads } = buildStep(w);
    const t1 = now();
    trace([loss, ...grads]); // timed apart from the step: realize runs the same trace inside
    const t2 = now();
    const cpu0 = process.cpuUsage();
    await realize([loss, ...grads]);
    const t3 = now();
    const cpu = process.cpuUsage(cpu0);
    const step: Step = {
      buildMs: t1 - t0, traceMs: t2 - t1, realizeMs: t3 - t2, ortRunMs: recorder.lastRunMs, stepMs: t1 - t0 + t3 - t2,
      cpuMs: (cpu.user + cpu.system) / 1000, pageFaults: process.resourceUsage().minorPageFault - f0, load: loadAverage(), ceilingGflops: 0,
    };
    const after = await probe();
    step.ceilingGflops = (before + after) / 2;
    before = after;
    if (i > 0) steps.push(step); // the first steady step is a warm-up
    log(`  step ${i}${i === 0 ? ' (warm-up)' : ''}: ${ms(step.stepMs)} ms (build ${ms(step.buildMs)}, trace ${ms(step.traceMs)}, ORT run ${ms(step.ortRunMs)}; realize CPU ${ms(step.cpuMs)} ms, ${step.pageFaults} page faults), 1024³ ceiling around it ${step.ceilingGflops.toFixed(0)} GFLOP/s, load ${step.load}`);
  }
  if (engineStats.compiles !== compiles) throw new Error('the step recompiled in steady state');
  const stepMs = median(steps.map((s) => s.stepMs));
  const buildMed = median(steps.map((s) => s.buildMs));
  const traceMed = median(steps.map((s) => s.traceMs));
  const ortMed = median(steps.map((s) => s.ortRunMs));
  const flops = analyticFlops(shape);

  const inputs = tr.leaves.filter((l) => !l.constant);
  const feeds = (): Record<string, ort.Tensor> => Object.fromEntries(inputs.map((l, k) =>
    [`in${k}`, new ort.Tensor(l.dtype as 'float32', l.storage as Float32Array, l.shape)]));
  return {
    bytes: modelBytes,
    feeds,
    outputs: targets.map((_, k) => `out${k}`),
    result: {
      shape, trainableTensors: w.trainable.length, trainableParams: w.trainable.reduce((n, x) => n + x.size, 0),
      frozenParams: w.frozenParams, weightsMs,
      graph: { nodes: tr.nodes.length, leaves: tr.leaves.length, inputs: inputs.length, keyChars: tr.key.length, onnxBytes: modelBytes.length },
      firstStep: { buildMs, hashMs, hashWarmMs: median(hashAgain), emitMs, sessionMs, firstRunMs, totalMs: buildMs + (tDone - tRealize) },
      loss: firstLoss,
      steady: {
        steps, stepMs, buildMs: buildMed, traceMs: traceMed, ortRunMs: ortMed,
        realizeOverheadMs: median(steps.map((s) => s.realizeMs - s.ortRunMs)),
        realizeCpuMs: median(steps.map((s) => s.cpuMs)),
        tracingPercent: ((buildMed + traceMed) / stepMs) * 100,
      },
      flops: { ...flops, tracedMatmul: tracedFlops, gflopsPerSecond: flops.total / stepMs / 1e6, gflopsPerSecondOrtRun: flops.total / ortMed / 1e6, gflopsPerCpuSecond: flops.total / median(steps.map((s) => s.cpuMs)) / 1e6,
        adjacentCeilingGflops: median(steps.map((s) => s.ceilingGflops)),
        percentOfAdjacentCeiling: median(steps.map((s) => ((flops.total / s.stepMs / 1e6) / s.ceilingGflops) * 100)) },
    },
  };
}

/** One profiled run of the step's model through ORT directly: kernel time per op type. */
async function profileStep(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, outputs: string[], vocab: number): Promise<Record<string, unknown>> {
  for (const f of readdirSync(OUT_DIR)) if (f.startsWith('ort-profile')) rmSync(join(OUT_DIR, f));
  const session = await ort.InferenceSession.create(bytes, sessionOptions({ enableProfiling: true, profileFilePrefix: join(OUT_DIR, 'ort-profile') }));
  // Two warm-up runs: ORT records the memory pattern in the first and allocates it (page faults) in
  // the second; only the third runs in memory that is already mapped, as the steady steps do.
  await session.run(feeds, outputs);
  await session.run(feeds, outputs);
  const faults = process.resourceUsage().minorPageFault;
  const t = now();
  await session.run(feeds, outputs);
  const runMs = now() - t;
  const pageFaults = process.resourceUsage().minorPageFault - faults;
  session.endProfiling();
  await session.release();
  const file = readdirSync(OUT_DIR).find((f) => f.startsWith('ort-profile') && f.endsWith('.json'));
  if (!file) return { error: 'no profile file written' };
  type Shapes = Record<string, number[]>[];
  interface Ev { cat: string; name: string; dur: number; ts: number; args?: { op_name?: string; input_type_shape?: Shapes; output_type_shape?: Shapes } }
  const events = JSON.parse(readFileSync(join(OUT_DIR, file), 'utf8')) as Ev[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const last = runs[runs.length - 1];
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && last && e.ts >= last.ts);
  const byOp = new Map<string, { us: number; count: number }>();
  const byGroup = new Map<string, number>();
  let kernelUs = 0;
  const dims = (xs: Shapes | undefined): number[][] => (xs ?? []).map((x) => Object.values(x)[0] ?? []);
  for (const e of kernels) {
    const op = e.args?.op_name ?? '?';
    const entry = byOp.get(op) ?? { us: 0, count: 0 };
    entry.us += e.dur;
    entry.count++;
    byOp.set(op, entry);
    kernelUs += e.dur;
    // Vocabulary-sized tensors belong to the LM head and the cross-entropy loss.
    const vocabSized = [...dims(e.args?.input_type_shape), ...dims(e.args?.output_type_shape)].some((d) => d.includes(vocab));
    const isMatmul = op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm';
    const group = `${isMatmul ? 'matmul' : 'other ops'}, ${vocabSized ? 'LM head + loss (vocab-sized)' : 'decoder layers'}`;
    byGroup.set(group, (byGroup.get(group) ?? 0) + e.dur);
  }
  const ops = [...byOp.entries()].sort((p, q) => q[1].us - p[1].us)
    .map(([op, v]) => ({ op, ms: v.us / 1000, nodes: v.count, percent: (v.us / kernelUs) * 100 }));
  const groups = [...byGroup.entries()].sort((p, q) => q[1] - p[1])
    .map(([group, us]) => ({ group, ms: us / 1000, percent: (us / kernelUs) * 100 }));
  const topNodes = [...kernels].sort((p, q) => q.dur - p.dur).slice(0, 12).map((e) => ({
    node: e.name.replace(/_kernel_time$/, ''), op: e.args?.op_name, ms: e.dur / 1000,
    inputs: dims(e.args?.input_type_shape), outputs: dims(e.args?.output_type_shape),
  }));
  return { file: join('bench/out', file), runMs, pageFaults, modelRunMs: last ? last.dur / 1000 : NaN, kernelMs: kernelUs / 1000, nodes: kernels.length, groups, ops, topNodes };
}

// ---- (d) LM head + loss: the engine's cross-entropy vs a fused gradient -----------------------------

async function benchLossHead(): Promise<Record<string, unknown>> {
  const { batch, seq, hidden, vocab } = SMOLLM2_135M;
  const n = batch * seq;
  const h = Tensor.fromData(randomFloats(n * hidden, 1, 31), [n, hidden]);
  const embed = Tensor.fromData(randomFloats(vocab * hidden, 0.035, 32), [vocab, hidden]);
  const labels = randomInts(n, vocab, 33);
  for (let i = 0; i < n; i += 64) labels[i] = -100n; // a few ignored positions, as padding makes
  const t = Tensor.fromData(labels, [n], 'int64');
  const logits = (): Tensor => ops.matmul(h, ops.transpose(embed));
  const variants: Record<string, () => Tensor> = {
    'ops.crossEntropy': () => ops.crossEntropy(logits(), t),
    'fused gradient (bench/fused-ce.ts)': () => fusedCrossEntropy(logits(), t),
    'LM head alone (mean of logits)': () => ops.mean(logits()),
  };
  const step = async (f: () => Tensor): Promise<[number, Float32Array]> => {
    const loss = f();
    const [g] = grad(loss, [h]);
    await realize([loss, g!]);
    return [(await loss.data())[0] as number, await g!.data() as Float32Array];
  };
  const [l0, g0] = await step(variants['ops.crossEntropy']!);
  const [l1, g1] = await step(variants['fused gradient (bench/fused-ce.ts)']!);
  let maxDiff = 0;
  for (let i = 0; i < g0.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g0[i]! - g1[i]!));
  // Every session's second run still maps memory (ORT allocates the recorded memory pattern then).
  for (const f of Object.values(variants)) await step(f);
  await step(variants['LM head alone (mean of logits)']!);
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const names = Object.keys(variants);
  for (let r = 0; r < 5; r++) {
    for (const k of r % 2 ? [...names].reverse() : names) {
      const t0 = now();
      await step(variants[k]!);
      times[k]!.push(now() - t0);
    }
  }
  return {
    lossDiff: Math.abs(l0 - l1), gradMaxAbsDiff: maxDiff,
    variants: Object.fromEntries(names.map((k) => [k, { medianMs: median(times[k]!), minMs: min(times[k]!), timesMs: times[k] }])),
  };
}

// ---- main --------------------------------------------------------------------------------------------

const only = new Set(args.only.split(',').map((x) => x.trim()));
const results: Record<string, unknown> = { date: new Date().toISOString(), machine, sections: [...only] };
type Num = Record<string, number>;

if (only.has('a')) {
  log('(a) 8-matmul chain, engine vs direct onnxruntime-node ...');
  const c = await benchChain() as Num;
  results.chain = c;
  await clearCompiledGraphs();
  log('\n(a) 8-matmul chain [256×1024]·[1024×1024] (median per iteration)');
  log(table(['path', 'ms / iteration', 'GFLOP/s'], [
    ['engine (lazy build + realize, cached session)', ms(c.engineMs!), c.engineGflops!.toFixed(0)],
    ['direct InferenceSession.run (same model bytes)', ms(c.directMs!), c.directGflops!.toFixed(0)],
    ['throughput ratio engine / direct (target ≥ 0.9)', c.throughputRatio!.toFixed(3), ''],
    ['median of per-pair ratios', c.pairRatioMedian!.toFixed(3), ''],
    ['fastest engine / fastest direct iteration', ms(c.engineMinMs!), ms(c.directMinMs!)],
  ]));
  log(`engine cost per iteration outside ORT's run: ${ms(c.engineOverheadMs! * 1000)} µs (build chain ${ms(c.buildMs! * 1000)} µs, trace ${ms(c.traceMs! * 1000)} µs)`);
  log(`identical model bytes: ${String(c.identicalModelBytes as unknown as boolean)}, max |engine − direct| = ${c.maxAbsDiff!.toExponential(2)}\n`);
}

let ceilingGflops = NaN;
if (only.has('c')) {
  log('(c) matmul ceiling ...');
  const sq = await benchCeiling(1024, 1024, 1024, false) as Num & { shape: string };
  const sh = await benchCeiling(1024, 576, 1536, true) as Num & { shape: string };
  results.ceiling = { square: sq, llamaMlpShape: sh };
  ceilingGflops = Math.max(sq.engineGflops!, sq.directGflops!);
  await clearCompiledGraphs();
  log('\n(c) matmul ceiling (median per iteration)');
  log(table(['product', 'engine GFLOP/s', 'direct GFLOP/s', 'best GFLOP/s', 'engine GFLOP per CPU-s', 'direct GFLOP per CPU-s'], [sq, sh].map((x) => [
    x.shape, x.engineGflops!.toFixed(0), x.directGflops!.toFixed(0), x.bestGflops!.toFixed(0),
    x.engineGflopsPerCpuSecond!.toFixed(0), x.directGflopsPerCpuSecond!.toFixed(0),
  ])));
  log('');
}

if (only.has('b')) {
  log(`(b) Llama-shaped step (${LAYERS} layers) ...`);
  const llama = await benchLlama();
  results.llama = llama.result;
  await clearCompiledGraphs();
  if (!args['no-profile']) {
    log('    profiling one step with ORT (enableProfiling) ...');
    results.profile = await profileStep(llama.bytes, llama.feeds(), llama.outputs, SMOLLM2_135M.vocab);
  }
  const L = llama.result as { firstStep: Num; steady: Num; flops: Num; graph: Num; loss: number };
  log(`\n(b) Llama-shaped step: ${LAYERS} layers, batch 4×256, ${L.graph.nodes} engine nodes, ${(L.graph.onnxBytes! / 1024).toFixed(0)} KiB ONNX`);
  log(table(['phase', 'ms'], [
    ['trace: build lazy graph + grad', ms(L.firstStep.buildMs!)],
    ['hash: trace() cache key (first / warm)', `${ms(L.firstStep.hashMs!)} / ${ms(L.firstStep.hashWarmMs!)}`],
    ['emit ONNX bytes', ms(L.firstStep.emitMs!)],
    ['create session', ms(L.firstStep.sessionMs!)],
    ['first run', ms(L.firstStep.firstRunMs!)],
    [`steady step (median of ${STEPS})`, ms(L.steady.stepMs!)],
    ['  of which build graph + grad', ms(L.steady.buildMs!)],
    ['  of which trace/hash', ms(L.steady.traceMs!)],
    ['  of which ORT session.run', ms(L.steady.ortRunMs!)],
    ['tracing + hashing, % of step (target < 5%)', `${L.steady.tracingPercent!.toFixed(2)} %`],
  ]));
  log(`\n(c) step matmul FLOPs: ${(L.flops.total! / 1e9).toFixed(1)} GFLOP analytic (fwd ${(L.flops.forward! / 1e9).toFixed(1)}, bwd ${(L.flops.backward! / 1e9).toFixed(1)}), ${(L.flops.tracedMatmul! / 1e9).toFixed(1)} GFLOP in the traced graph`);
  log(table(['measure', 'GFLOP/s', '% of ceiling'], [
    ['step (matmul FLOPs / step time)', L.flops.gflopsPerSecond!.toFixed(0), `${L.flops.percentOfAdjacentCeiling!.toFixed(0)} % (per step, of the ceiling measured around it)`],
    ['1024³ MatMul through the engine, around each step', L.flops.adjacentCeilingGflops!.toFixed(0), '100 %'],
    ...(Number.isNaN(ceilingGflops) ? [] : [['1024³ MatMul ceiling, section (c)', ceilingGflops.toFixed(0), '']]),
  ]));
  const p = results.profile as { ops?: { op: string; ms: number; nodes: number; percent: number }[]; groups?: { group: string; ms: number; percent: number }[]; kernelMs?: number; modelRunMs?: number; pageFaults?: number } | undefined;
  if (p?.ops && p.groups) {
    log(`\nORT profile of one step (the third run of a profiling session: run ${ms(p.modelRunMs!)} ms, ${ms(p.kernelMs!)} ms in kernels, ${p.pageFaults} page faults)`);
    log(table(['where', 'ms', '%'], p.groups.map((g) => [g.group, ms(g.ms), g.percent.toFixed(1)])));
    log(table(['op type', 'ms', 'nodes', '%'], p.ops.slice(0, 14).map((o) => [o.op, ms(o.ms), String(o.nodes), o.percent.toFixed(1)])));
  }
  log('');
}

if (only.has('d')) {
  log('(d) LM head + cross-entropy, forward + backward ...');
  const lossHead = await benchLossHead();
  results.lossHead = lossHead;
  await clearCompiledGraphs();
  const lh = lossHead.variants as Record<string, Num>;
  const base = lh['LM head alone (mean of logits)']!.medianMs!;
  log(`\n(d) LM head [1024×576]·[576×49152] + loss, forward + backward w.r.t. the hidden states (median of 5)`);
  log(table(['loss', 'ms', 'ms over the LM head alone'], Object.entries(lh).map(([k, v]) => [k, ms(v.medianMs!), ms(v.medianMs! - base)])));
  log(`fused vs engine: |Δloss| = ${(lossHead.lossDiff as number).toExponential(1)}, max |Δgrad| = ${(lossHead.gradMaxAbsDiff as number).toExponential(1)}`);
}

(results.machine as Record<string, unknown>).loadAverageAtEnd = loadAverage();
if (machine.loadAverageAtStart[0]! > 0.5 * machine.cores || loadAverage() > 0.5 * machine.cores) {
  log(`\nnote: the machine was busy (load average ${machine.loadAverageAtStart[0]} at start, ${loadAverage()} at the end on ${machine.cores} cores): timings are noisy`);
}
writeFileSync(join(OUT_DIR, 'engine.json'), `${JSON.stringify(results, null, 2)}\n`);
log(`\nwrote ${join('bench/out', 'engine.json')}`);
