/**
 * Training-step benchmark (npm run bench:train): one step — forward, cross-entropy, backward, AdamW —
 * on a SmolLM2-135M-shaped Llama (random weights), batch 4 × 256, adapters on q_proj and v_proj:
 * Bone (MissConfig default, r=64), BAT (r=64), MiSS mini (r=64, mini_r=64) and LoRA (r=32, alpha 64),
 * each beside Python PEFT + PyTorch (the anchor script) with the same settings, in the same session.
 *
 * Every measurement runs in its own child process (peak RSS = process.resourceUsage().maxRSS of that
 * method alone), ours and the anchor alternating, for several rounds; medians and ranges are reported.
 * Then the analysis (Bone): forward / forward+backward / step sub-graphs, graph-build and trace
 * overhead, an ONNX Runtime profile by part of the model, GEMM layouts, and prototypes of engine
 * changes (memory pattern on, allocator settings, attention variants) and the plain
 * (unfused) LM head + loss for comparison.
 *
 *   node --import tsx bench/train.bench.ts [--methods miss,bat,mini,lora] [--rounds 3] [--steps 5]
 *     [--warmup 1] [--layers 30] [--threads 2] [--no-anchor] [--no-analysis] [--analysis-only]
 *     [--proto-rounds 2] [--out train.json]
 *
 * The anchor: BONE_ANCHOR_PYTHON (a Python with torch, transformers, peft; without it the anchor is
 * skipped) runs BONE_ANCHOR_SCRIPT (default ../shared/anchors/peft_anchor_bench.py from the repository
 * root). Results: bench/out/train.json.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../src/node/install.ts';
import { runChild, type ChildRun } from './train/child.ts';
import { METHODS, type Method } from './train/common.ts';
import { loadAverage, median, table } from './util.ts';
import { PARTS, analyseProfile, type ProfileSummary } from './train/profile.ts';

const { values: args } = parseArgs({
  options: {
    methods: { type: 'string', default: METHODS.join(',') },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    layers: { type: 'string', default: '30' },
    threads: { type: 'string', default: '2' },
    'proto-rounds': { type: 'string', default: '2' },
    out: { type: 'string', default: 'train.json' },
    'no-anchor': { type: 'boolean', default: false },
    'no-analysis': { type: 'boolean', default: false },
    'analysis-only': { type: 'boolean', default: false },
  },
});

const ROOT = resolve(import.meta.dirname, '..');
const OUT_DIR = join(import.meta.dirname, 'out');
const PROFILE_DIR = join(OUT_DIR, 'train-profile');
mkdirSync(OUT_DIR, { recursive: true });
const methods = args.methods!.split(',').map((m) => m.trim()) as Method[];
for (const m of methods) if (!METHODS.includes(m)) throw new Error(`--methods: unknown method ${m} (known: ${METHODS.join(', ')})`);
const rounds = Number(args.rounds);
const protoRounds = Number(args['proto-rounds']);
const threads = Number(args.threads);
const shape = { layers: Number(args.layers), batch: 4, seq: 256, r: 64 };
const common = ['--steps', args.steps!, '--warmup', args.warmup!, '--layers', String(shape.layers), '--batch', String(shape.batch), '--seq', String(shape.seq), '--r', String(shape.r)];
const childEnv = { ...process.env, BONE_THREADS: String(threads) };

const anchorPython = process.env.BONE_ANCHOR_PYTHON ?? null;
const anchorScript = resolve(ROOT, process.env.BONE_ANCHOR_SCRIPT ?? '../shared/anchors/peft_anchor_bench.py');
let anchorSkipped: string | null = null;
if (args['no-anchor']) anchorSkipped = '--no-anchor';
else if (!anchorPython) anchorSkipped = 'BONE_ANCHOR_PYTHON is not set';
else if (!existsSync(anchorScript)) anchorSkipped = `anchor script not found at ${anchorScript} (set BONE_ANCHOR_SCRIPT)`;

const log = (s = ''): void => { process.stdout.write(`${s}\n`); };
const fmt = (x: number | null | undefined, digits = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const range = (xs: readonly number[], digits = 0): string => (xs.length ? `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}` : '–');

// ---- child results ---------------------------------------------------------------------------------

interface OursResult {
  method: Method; variant: string; loss: string; trainable: number; tokensPerSecond: number; stepMs: number; stepMsAll: number[];
  buildMs: number; realizeMs: number; ortRunMs: number; commitMs: number; traceMs: number; graphNodes: number; keyChars: number;
  firstStepMs: number; compileMs: number; sessionCreateMs: number; onnxBytes: number; losses: number[];
  setupMs: number; rssAfterWeightsMB: number; peakRssMB: number;
}
interface AnchorResult { method: string; trainable: number; loss: number; median_step_s: number; tokens_per_s: number; peak_rss_mb: number }
interface Run<T> { round: number; method: Method; label: string; run: ChildRun<T> }

const stepScript = join(import.meta.dirname, 'train', 'step.ts');
const gemmScript = join(import.meta.dirname, 'train', 'gemm.ts');

async function ours(method: Method, extra: string[] = [], env: NodeJS.ProcessEnv = childEnv): Promise<ChildRun<OursResult>> {
  const r = await runChild<OursResult>(process.execPath, ['--import', 'tsx', stepScript, '--method', method, ...common, ...extra], { env, echo: true, timeoutMs: 30 * 60_000 });
  if (!r.ok) log(`  ours ${method} ${extra.join(' ')} failed: ${r.error}`);
  else log(`  ours   ${method.padEnd(4)} ${extra.join(' ').padEnd(28)} ${fmt(r.result!.tokensPerSecond)} tok/s, peak ${fmt(r.result!.peakRssMB)} MB (load ${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)})`);
  return r;
}

async function anchor(method: Method): Promise<ChildRun<AnchorResult>> {
  const r = await runChild<AnchorResult>(anchorPython!, [anchorScript, '--method', method, '--steps', args.steps!, '--batch', String(shape.batch),
    '--seq', String(shape.seq), '--r', String(shape.r), '--threads', String(threads)], { lastJsonLine: true, timeoutMs: 30 * 60_000 });
  if (!r.ok) log(`  anchor ${method} failed: ${r.error}`);
  else log(`  anchor ${method.padEnd(4)} ${''.padEnd(28)} ${fmt(r.result!.tokens_per_s)} tok/s, peak ${fmt(r.result!.peak_rss_mb)} MB (load ${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)})`);
  return r;
}

const json: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, threads, loadAtStart: loadAverage() },
  settings: { shape, steps: Number(args.steps), warmup: Number(args.warmup), rounds, targets: ['q_proj', 'v_proj'], optimizer: 'AdamW lr 1e-4, weight decay 0.01' },
  anchor: anchorSkipped ? { skipped: anchorSkipped } : { python: anchorPython, script: anchorScript },
};
const outFile = join(OUT_DIR, args.out!);
const save = (): void => writeFileSync(outFile, `${JSON.stringify(json, null, 1)}\n`);

log(`training-step bench: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, ${threads} threads, SmolLM2-135M shape (${shape.layers} layers), batch ${shape.batch}×${shape.seq}, load ${fmt(loadAverage(), 1)}`);
if (anchorSkipped) log(`anchor skipped: ${anchorSkipped}`);

// ---- (1) ours vs anchor, per method, alternating -----------------------------------------------------

interface MethodSummary {
  method: Method; trainable: number | null; anchorTrainable: number | null;
  oursTokS: number[]; anchorTokS: number[]; oursPeakMB: number[]; anchorPeakMB: number[]; pairedTokRatio: number[]; pairedRssRatio: number[]; loads: number[];
  oursMedianTokS: number; anchorMedianTokS: number; tokRatio: number; oursMedianPeakMB: number; anchorMedianPeakMB: number; rssRatio: number;
  ours: OursResult[];
}

const comparison: MethodSummary[] = [];
if (!args['analysis-only']) {
  const runs: { ours: Run<OursResult>[]; anchor: Run<AnchorResult>[] } = { ours: [], anchor: [] };
  for (let round = 0; round < rounds; round++) {
    log(`\nround ${round + 1}/${rounds}`);
    for (const [i, method] of methods.entries()) {
      const anchorFirst = (round + i) % 2 === 1;
      if (anchorFirst && !anchorSkipped) runs.anchor.push({ round, method, label: 'anchor', run: await anchor(method) });
      runs.ours.push({ round, method, label: 'ours', run: await ours(method) });
      if (!anchorFirst && !anchorSkipped) runs.anchor.push({ round, method, label: 'anchor', run: await anchor(method) });
    }
  }
  for (const method of methods) {
    const o = runs.ours.filter((r) => r.method === method && r.run.ok);
    const an = runs.anchor.filter((r) => r.method === method && r.run.ok);
    const pairs = o.map((r) => [r, an.find((x) => x.round === r.round)] as const).filter((p) => p[1]);
    const oTok = o.map((r) => r.run.result!.tokensPerSecond);
    const aTok = an.map((r) => r.run.result!.tokens_per_s);
    const oRss = o.map((r) => r.run.result!.peakRssMB);
    const aRss = an.map((r) => r.run.result!.peak_rss_mb);
    comparison.push({
      method, trainable: o[0]?.run.result!.trainable ?? null, anchorTrainable: an[0]?.run.result!.trainable ?? null,
      oursTokS: oTok, anchorTokS: aTok, oursPeakMB: oRss, anchorPeakMB: aRss,
      pairedTokRatio: pairs.map(([x, y]) => x.run.result!.tokensPerSecond / y!.run.result!.tokens_per_s),
      pairedRssRatio: pairs.map(([x, y]) => x.run.result!.peakRssMB / y!.run.result!.peak_rss_mb),
      loads: [...o, ...an].flatMap((r) => [r.run.loadBefore, r.run.loadAfter]),
      oursMedianTokS: median(oTok), anchorMedianTokS: median(aTok), tokRatio: median(oTok) / median(aTok),
      oursMedianPeakMB: median(oRss), anchorMedianPeakMB: median(aRss), rssRatio: median(oRss) / median(aRss),
      ours: o.map((r) => r.run.result!),
    });
  }
  json.comparison = comparison;
  json.comparisonRuns = { ours: runs.ours.map((r) => ({ round: r.round, method: r.method, ...r.run })), anchor: runs.anchor.map((r) => ({ round: r.round, method: r.method, ...r.run })) };
  save();
}

// ---- (2) analysis: where Bone's step time and memory go ---------------------------------------------

interface Analysis {
  subgraphs?: Record<string, OursResult[]>;
  overhead?: Record<string, number>;
  profile?: ProfileSummary & { profiledStepMs: number };
  gemm?: unknown;
  prototypes?: { label: string; args: string[]; env?: Record<string, string>; runs: OursResult[]; baseline: OursResult[] }[];
  saved?: Record<string, SavedResult | { error: string | null }>;
}
interface SavedResult { savedMB: number; weightDerivedMB: number; byPart: Record<string, number>; biggest: { op: string; shape: number[]; count: number; mb: number }[] }
const analysis: Analysis = {};
if (!args['no-analysis']) {
  log('\nanalysis (Bone)');
  // Sub-graphs: forward only, forward+backward, the whole step, in alternation.
  const sub: Record<string, OursResult[]> = { fwd: [], fwdbwd: [], step: [] };
  for (let round = 0; round < protoRounds; round++) {
    for (const v of round % 2 ? ['step', 'fwdbwd', 'fwd'] : ['fwd', 'fwdbwd', 'step']) {
      const r = await ours('miss', ['--variant', v]);
      if (r.ok) sub[v]!.push(r.result!);
    }
  }
  analysis.subgraphs = sub;
  const med = (v: string, f: (r: OursResult) => number): number => median(sub[v]!.map(f));
  const stepMs = med('step', (r) => r.stepMs);
  analysis.overhead = {
    stepMs, fwdMs: med('fwd', (r) => r.stepMs), fwdbwdMs: med('fwdbwd', (r) => r.stepMs),
    buildMs: med('step', (r) => r.buildMs), traceMs: med('step', (r) => r.traceMs), realizeMinusRunMs: med('step', (r) => r.realizeMs - r.ortRunMs),
    ortRunMs: med('step', (r) => r.ortRunMs), graphNodes: med('step', (r) => r.graphNodes), keyChars: med('step', (r) => r.keyChars),
    compileMs: med('step', (r) => r.compileMs), sessionCreateMs: med('step', (r) => r.sessionCreateMs), firstStepMs: med('step', (r) => r.firstStepMs),
    onnxBytes: med('step', (r) => r.onnxBytes),
  };
  json.analysis = analysis;
  save();

  // ORT profile of the step (the second run of the session: the first pays its allocations).
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
  const prof = await ours('miss', ['--steps', '1', '--warmup', '1', '--profile', join(PROFILE_DIR, 'step'), '--profile-runs', '2']);
  const file = readdirSync(PROFILE_DIR).find((f) => f.endsWith('.json'));
  if (prof.ok && file) {
    analysis.profile = {
      ...analyseProfile(join(PROFILE_DIR, file), { batch: 4, seq: shape.seq, hidden: 576, intermediate: 1536, vocab: 49152, headDim: 64, adapterDims: [shape.r] }),
      profiledStepMs: prof.result!.stepMs,
    };
  }
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  save();

  // GEMM layouts for the step's shapes.
  const g = await runChild<{ results: unknown }>(process.execPath, ['--import', 'tsx', gemmScript], { env: childEnv, echo: true });
  analysis.gemm = g.ok ? g.result!.results : { error: g.error };
  save();

  // Prototypes: each round runs the default step once and every prototype, in alternating order.
  const protos: { label: string; args: string[]; env?: Record<string, string> }[] = [
    { label: 'memory pattern on (SessionOptions.enableMemPattern true, the engine\'s setting before blocked attention)', args: ['--mem-pattern'] },
    { label: 'plain LM head + cross-entropy (full logits, no fusion)', args: ['--loss', 'plain'] },
    { label: 'GQA folded into rows, no K/V repeat (protos.ts fold)', args: ['--attention', 'fold'] },
    { label: 'composite attention ([T, T] probabilities kept)', args: ['--attention', 'composite'] },
    { label: 'composite attention, probabilities recomputed in backward', args: ['--attention', 'recompute'] },
    {
      label: 'ORT arena off, glibc malloc keeps freed memory',
      args: ['--no-arena'],
      env: { MALLOC_MMAP_THRESHOLD_: String(2 ** 30), MALLOC_TRIM_THRESHOLD_: String(2 ** 34), MALLOC_ARENA_MAX: '2' },
    },
  ];
  const protoArgs = (p: { args: string[] }): string[] => p.args.filter((x) => !['--mem-pattern', '--no-arena'].includes(x));
  analysis.saved = {};
  for (const p of [{ label: 'default', args: [] as string[] }, ...protos.slice(1)]) {
    const r = await runChild<SavedResult>(process.execPath, ['--import', 'tsx', stepScript, '--method', 'miss', ...common, '--saved-only', ...protoArgs(p)], { env: childEnv });
    analysis.saved[p.label] = r.ok ? r.result! : { error: r.error };
  }
  analysis.prototypes = protos.map((p) => ({ ...p, runs: [], baseline: [] }));
  const baselines: OursResult[] = [];
  for (let round = 0; round < protoRounds; round++) {
    const order = round % 2 ? [...analysis.prototypes].reverse() : analysis.prototypes;
    if (round % 2 === 0) { const r = await ours('miss'); if (r.ok) baselines.push(r.result!); }
    for (const p of order) {
      const r = await ours('miss', p.args, { ...childEnv, ...p.env });
      if (r.ok) p.runs.push(r.result!);
    }
    if (round % 2 === 1) { const r = await ours('miss'); if (r.ok) baselines.push(r.result!); }
    save();
  }
  for (const p of analysis.prototypes) p.baseline = baselines;
  save();
}

// ---- report ------------------------------------------------------------------------------------------

log('\n## Training step: ours vs PEFT (median of rounds; range in brackets)\n');
if (comparison.length) {
  const rows = comparison.map((c) => [
    c.method, String(c.trainable ?? '–'),
    `${fmt(c.oursMedianTokS)} (${range(c.oursTokS)})`, `${fmt(c.anchorMedianTokS)} (${range(c.anchorTokS)})`,
    `${fmt(c.tokRatio, 2)} (${range(c.pairedTokRatio, 2)})`,
    `${fmt(c.oursMedianPeakMB)} (${range(c.oursPeakMB)})`, `${fmt(c.anchorMedianPeakMB)} (${range(c.anchorPeakMB)})`,
    `${fmt(c.rssRatio, 2)} (${range(c.pairedRssRatio, 2)})`, range(c.loads, 1),
  ]);
  log(table(['method', 'trainable', 'ours tok/s', 'PEFT tok/s', 'ours/PEFT tok/s', 'ours peak RSS MB', 'PEFT peak RSS MB', 'ours/PEFT RSS', 'load avg'], rows));
  const bone = comparison.find((c) => c.method === 'miss');
  if (bone) log(`\nBone target: ≥ 2× PEFT tokens/s → ${fmt(bone.tokRatio, 2)}×; ≤ 0.7× PEFT peak memory → ${fmt(bone.rssRatio, 2)}×`);
}
if (analysis.overhead) {
  const o = analysis.overhead;
  log('\n## Where Bone\'s step goes\n');
  log(table(['part', 'ms', 'share of step'], [
    ['forward + loss (realise loss only)', fmt(o.fwdMs), `${fmt((100 * o.fwdMs!) / o.stepMs!)} %`],
    ['backward (fwd+bwd − fwd)', fmt(o.fwdbwdMs! - o.fwdMs!), `${fmt((100 * (o.fwdbwdMs! - o.fwdMs!)) / o.stepMs!)} %`],
    ['AdamW (step − fwd+bwd)', fmt(o.stepMs! - o.fwdbwdMs!), `${fmt((100 * (o.stepMs! - o.fwdbwdMs!)) / o.stepMs!)} %`],
    ['whole step', fmt(o.stepMs), '100 %'],
    ['  of which: building the lazy graph (JS)', fmt(o.buildMs, 1), `${fmt((100 * o.buildMs!) / o.stepMs!, 1)} %`],
    ['  of which: trace + structure key', fmt(o.traceMs, 1), `${fmt((100 * o.traceMs!) / o.stepMs!, 1)} %`],
    ['  of which: realise outside session.run (trace, feeds, outputs)', fmt(o.realizeMinusRunMs, 1), `${fmt((100 * o.realizeMinusRunMs!) / o.stepMs!, 1)} %`],
    ['  of which: ORT session.run', fmt(o.ortRunMs), `${fmt((100 * o.ortRunMs!) / o.stepMs!)} %`],
  ]));
  log(`\ngraph: ${o.graphNodes} engine nodes, key ${fmt(o.keyChars! / 1024)} KiB, ONNX ${fmt(o.onnxBytes! / 1024)} KiB; first step ${fmt(o.firstStepMs)} ms (compile ${fmt(o.compileMs)} ms, of which session creation ${fmt(o.sessionCreateMs)} ms)`);
}
if (analysis.profile) {
  const p = analysis.profile;
  log(`\n## ORT profile of one Bone step (run ${fmt(p.runMs)} ms, kernels ${fmt(p.kernelMs)} ms, ${p.kernels} kernels; GEMMs ${fmt(p.gemm.gflop)} GFLOP at ${fmt(p.gemm.gflops)} GFLOP/s; ORT in-use peak ${fmt(p.memInUsePeakMB)} MB, arena held ${fmt(p.memArenaHeldMB)} MB)\n`);
  log(table(['part', 'kernel ms', 'share', 'GEMM GFLOP', 'GEMM GFLOP/s'], p.byPart.filter((r) => PARTS.includes(r.part)).map((r) => [
    r.part, fmt(r.ms), `${fmt(100 * r.share, 1)} %`, fmt(r.gemmGflop, 1), r.gemmMs ? fmt(r.gemmGflop / (r.gemmMs / 1000)) : '–'])));
  log('');
  log(table(['op type', 'kernel ms', 'share', 'nodes'], p.byOp.slice(0, 12).map((r) => [r.op, fmt(r.ms), `${fmt(100 * r.share, 1)} %`, String(r.nodes)])));
  log('');
  log(table(['kernel (shapes)', 'nodes', 'ms', 'share'], p.top.slice(0, 15).map((t) => [`${t.op} ${t.shapes}`, String(t.nodes), fmt(t.ms), `${fmt(100 * t.share, 1)} %`])));
}
if (Array.isArray(analysis.gemm)) {
  log('\n## GEMM layouts (GFLOP/s, median)\n');
  type G = { medianMs: number; gflops: number };
  log(table(['shape', 'M×K×N', 'MatMul(x, Transpose(W))', 'Gemm transB', 'MatMul(x, Wᵀ stored)'], (analysis.gemm as Record<string, unknown>[]).map((r) => [
    String(r.shape), `${String(r.M)}×${String(r.K)}×${String(r.N)}`, fmt((r.transpose as G).gflops), fmt((r.gemm as G).gflops), fmt((r['pre-T'] as G).gflops)])));
}
if (analysis.prototypes) {
  const base = analysis.prototypes[0]?.baseline ?? [];
  const btok = median(base.map((r) => r.tokensPerSecond));
  const brss = median(base.map((r) => r.peakRssMB));
  log(`\n## Prototypes (Bone; default step in the same rounds: ${fmt(btok)} tok/s [${range(base.map((r) => r.tokensPerSecond))}], peak RSS ${fmt(brss)} MB)\n`);
  const bone = comparison.find((c) => c.method === 'miss');
  const savedOf = (label: string): string => { const x = analysis.saved?.[label]; return x && 'savedMB' in x ? fmt(x.savedMB) : '–'; };
  log(table(['prototype', 'tok/s [range]', 'vs default', 'peak RSS MB', 'vs default', 'saved activations MB', ...(bone ? ['≈ × PEFT tok/s', '≈ × PEFT RSS'] : [])], [
    ['default (engine today)', `${fmt(btok)} [${range(base.map((r) => r.tokensPerSecond))}]`, '1.00', fmt(brss), '1.00', savedOf('default'), ...(bone ? [fmt(bone.tokRatio, 2), fmt(bone.rssRatio, 2)] : [])],
    ...analysis.prototypes.map((p) => {
      const tok = median(p.runs.map((r) => r.tokensPerSecond));
      const rss = median(p.runs.map((r) => r.peakRssMB));
      return [p.label, `${fmt(tok)} [${range(p.runs.map((r) => r.tokensPerSecond))}]`, fmt(tok / btok, 2), fmt(rss), fmt(rss / brss, 2), savedOf(p.label),
        ...(bone ? [fmt((tok / btok) * bone.tokRatio, 2), fmt((rss / brss) * bone.rssRatio, 2)] : [])];
    }),
  ]));
  if (analysis.saved?.default && 'byPart' in analysis.saved.default) {
    const d = analysis.saved.default;
    log(`\nsaved activations (default, ${fmt(d.savedMB)} MB; weight-derived values that ORT folds away: ${fmt(d.weightDerivedMB)} MB): ${Object.entries(d.byPart).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${fmt(v)} MB`).join('; ')}`);
  }
}
json.loadAtEnd = loadAverage();
save();
log(`\nresults: ${outFile}`);
