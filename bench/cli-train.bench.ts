/**
 * `bone train` beside the Python PEFT anchor (npm run bench:cli): the command a user runs, end to
 * end in its own process — load a model folder, tokenize a JSONL file, train, write checkpoint,
 * adapter and report — on a SmolLM2-135M-shaped Llama (random weights, the anchor's config), batch
 * 4 × 256 tokens, adapters on q_proj and v_proj, AdamW at a constant learning rate, no clipping.
 *
 * bone train's tokens/s: tokens per step over the median step time of the steps after the first
 * (which compiles the step's graph), from the per-step records of the run's trainer_state.json, as
 * the anchor takes the median of the steps after its first. (The rate bone train's progress line
 * prints, a mean over the same steps, is kept too.) The two run alternately, several rounds, in the
 * same session.
 *
 *   node --import tsx bench/cli-train.bench.ts [--methods miss,lora] [--rounds 2] [--steps 6] [--threads 2]
 *     [--variants ',--attention composite']
 *
 * --variants: bone train flag sets to compare, separated by commas (flags within one set by
 * spaces; the empty set is the default); each runs beside the same anchor runs.
 *
 * The anchor: BONE_ANCHOR_PYTHON (a Python with torch, transformers, peft) runs BONE_ANCHOR_SCRIPT
 * (default: peft_anchor_bench.py in ../shared/anchors beside the repository, or BONE_ANCHOR_DIR). Results:
 * bench/out/cli-train.json; the model folder and data are made once in bench/out/cli-train/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildRun } from './train/child.ts';
import { anchorDir, ensureModelFolder, runBoneTrain, runPeftAnchor, writeFixedLengthData, type AnchorResult, type BoneRun } from './train/cli-runs.ts';
import { METHODS, type Method } from './train/common.ts';
import { loadAverage, machineInfo, median } from './util.ts';

const { values: args } = parseArgs({
  options: {
    methods: { type: 'string', default: 'miss,lora' },
    variants: { type: 'string', default: '' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '6' },
    threads: { type: 'string', default: '2' },
  },
});

const OUT_DIR = join(import.meta.dirname, 'out');
const WORK_DIR = join(OUT_DIR, 'cli-train');
const DATA_FILE = join(WORK_DIR, 'train.jsonl');
const BATCH = 4;
const SEQ = 256;
const R = 64;
const methods = args.methods!.split(',').map((m) => m.trim()) as Method[];
for (const m of methods) if (!METHODS.includes(m)) throw new Error(`--methods: unknown method ${m} (known: ${METHODS.join(', ')})`);
const variants = args.variants!.split(',').map((v) => v.trim().split(/\s+/).filter(Boolean));
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const threads = Number(args.threads);

const anchorPython = process.env.BONE_ANCHOR_PYTHON ?? null;
const anchorScript = process.env.BONE_ANCHOR_SCRIPT ? resolve(process.env.BONE_ANCHOR_SCRIPT) : join(anchorDir(), 'peft_anchor_bench.py');
if (!anchorPython) throw new Error('set BONE_ANCHOR_PYTHON to a Python with torch, transformers and peft (the anchor runs beside bone train)');
if (!existsSync(anchorScript)) throw new Error(`anchor script not found at ${anchorScript} (set BONE_ANCHOR_SCRIPT)`);

const log = (s = ''): void => { process.stdout.write(`${s}\n`); };
const fmt = (x: number | null | undefined, digits = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** bone train's flags for each method, the anchor's settings (LoRA: r/2 with alpha r). */
const CLI_METHOD: Record<Method, string[]> = {
  miss: ['--method', 'miss', '--r', String(R)],
  bat: ['--method', 'bat', '--r', String(R)],
  mini: ['--method', 'mini', '--r', String(R), '--mini-r', '64'],
  lora: ['--method', 'lora', '--r', String(R / 2), '--lora-alpha', String(R)],
};

let modelDir = '';

async function boneTrain(method: Method, flags: readonly string[]): Promise<ChildRun<BoneRun>> {
  const r = await runBoneTrain({
    model: modelDir, data: DATA_FILE, out: join(WORK_DIR, `run-${method}`), threads,
    flags: [...CLI_METHOD[method], '--targets', 'q_proj,v_proj', '--batch-size', String(BATCH), '--max-length', String(SEQ), '--max-steps', String(steps),
      '--lr', '1e-4', '--schedule', 'constant', '--weight-decay', '0.01', '--max-grad-norm', '0', '--save-every', '0', ...flags],
  });
  if (!r.ok) log(`  bone train ${method} failed: ${r.error}\n${(r.stdout + r.stderr).split('\n').slice(-8).join('\n')}`);
  else log(`  bone train --method ${CLI_METHOD[method][1]!.padEnd(4)}${flags.length ? ` ${flags.join(' ')}` : ''} ${fmt(r.result!.tokensPerSecond)} tok/s (printed: ${fmt(r.result!.printedTokensPerSecond)}), peak ${fmt(r.result!.peakRssMB)} MB (estimated ${fmt(r.result!.estimateMB)}), whole command ${fmt(r.result!.wallSeconds, 1)} s (load ${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)})`);
  return r;
}

async function anchor(method: Method): Promise<ChildRun<AnchorResult>> {
  const r = await runPeftAnchor({ python: anchorPython!, script: anchorScript, method, config: 'smollm135m', batch: BATCH, seq: SEQ, steps: steps - 1, r: R, threads });
  if (!r.ok) log(`  anchor ${method} failed: ${r.error}`);
  else log(`  anchor --method ${method.padEnd(4)}     ${fmt(r.result!.tokens_per_s)} tok/s, peak ${fmt(r.result!.peak_rss_mb)} MB, whole script ${fmt(r.wallMs / 1000, 1)} s (load ${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)})`);
  return r;
}

async function main(): Promise<void> {
  const machine = machineInfo(threads);
  log(`bone train vs PEFT: ${machine.cpu}, ${machine.cores} cores, ${threads} threads, SmolLM2-135M shape, batch ${BATCH}×${SEQ}, ${steps} steps (the first compiles / warms up), load ${fmt(loadAverage(), 1)}`);
  mkdirSync(WORK_DIR, { recursive: true });
  modelDir = await ensureModelFolder(WORK_DIR, 'smollm135m', log);
  await writeFixedLengthData(DATA_FILE, modelDir, SEQ, BATCH * steps * 2);
  const runs: { method: Method; round: number; ours: (BoneRun | null)[]; anchor: AnchorResult | null }[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [i, method] of methods.entries()) {
      // Alternate who goes first, so that a change in background load hits both alike.
      const anchorFirst = (round + i) % 2 === 1;
      let a: ChildRun<AnchorResult> | null = null;
      if (anchorFirst) a = await anchor(method);
      const ours: (BoneRun | null)[] = [];
      for (const flags of variants) {
        const o = await boneTrain(method, flags);
        ours.push(o.ok ? o.result : null);
      }
      if (!anchorFirst) a = await anchor(method);
      runs.push({ method, round, ours, anchor: a?.ok ? a.result : null });
    }
  }
  const summary = methods.flatMap((method) => variants.map((flags, v) => {
    const mine = runs.filter((r) => r.method === method);
    const ours = mine.flatMap((r) => (r.ours[v] ? [r.ours[v]] : []));
    const anchors = mine.flatMap((r) => (r.anchor ? [r.anchor] : []));
    const oursTokS = median(ours.map((r) => r.tokensPerSecond));
    const anchorTokS = median(anchors.map((r) => r.tokens_per_s));
    const oursRss = median(ours.flatMap((r) => (r.peakRssMB === null ? [] : [r.peakRssMB])));
    const anchorRss = median(anchors.map((r) => r.peak_rss_mb));
    return {
      method, cli: [...CLI_METHOD[method], ...flags].join(' '), trainable: ours[0]?.trainable ?? null, anchorTrainable: anchors[0]?.trainable ?? null,
      oursTokS, anchorTokS, tokRatio: oursTokS / anchorTokS, oursRss, anchorRss, rssRatio: oursRss / anchorRss,
      oursAll: ours.map((r) => r.tokensPerSecond), anchorAll: anchors.map((r) => r.tokens_per_s), oursWall: ours.map((r) => r.wallSeconds),
    };
  }));
  writeFileSync(join(OUT_DIR, 'cli-train.json'), `${JSON.stringify({ date: new Date().toISOString(), machine, settings: { batch: BATCH, seq: SEQ, r: R, steps, rounds, threads, variants }, runs, summary }, null, 1)}\n`);
  log('\n| method | bone train tok/s | PEFT tok/s | ratio | bone train peak RSS MB | PEFT peak RSS MB | ratio |');
  log('|---|---:|---:|---:|---:|---:|---:|');
  for (const s of summary) {
    log(`| \`${s.cli}\` | ${fmt(s.oursTokS)} (${s.oursAll.map((x) => fmt(x)).join(', ')}) | ${fmt(s.anchorTokS)} (${s.anchorAll.map((x) => fmt(x)).join(', ')}) | **${fmt(s.tokRatio, 2)}×** | ${fmt(s.oursRss)} | ${fmt(s.anchorRss)} | ${fmt(s.rssRatio, 2)}× |`);
  }
  log(`\nresults: ${join('bench/out', 'cli-train.json')}; load at the end ${fmt(loadAverage(), 1)}`);
}

await main();
