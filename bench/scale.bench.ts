/**
 * How bone train scales with the sequence length, beside Python PEFT, in the same session
 * (npm run bench:scale):
 *
 * 1. fixed shapes: `bone train` and `peft_anchor_bench.py` alternating, at batch × length
 *    4 × 256, 1 × 1024, 1 × 2048, 1 × 4096 on the SmolLM2-135M shape and 1 × 1024, 1 × 2048 on the
 *    SmolLM2-360M and Qwen3-0.6B shapes (random weights, MiSS r = 64 on q_proj + v_proj, AdamW):
 *    tokens/s (median step after the first) and peak RSS, each as a ratio; bone train's memory
 *    estimate before its first step beside its measured peak; and the achieved GFLOP/s of each
 *    side's step (matmul FLOPs counted analytically, attention as the causal half) against a
 *    1024³ MatMul ceiling measured in the same run (ONNX Runtime through the engine, and torch).
 * 2. end to end: `bone train` and `trl_sft_anchor.py` (TRL's SFTTrainer + PEFT) on
 *    `make_varlen_data.py`'s long-tailed prompt/completion data with --max-length 1024, without and
 *    with packing on both sides: real (non-padding) tokens per second of training, wall time of the
 *    whole command, peak RSS. TRL runs twice: with its defaults (on CPU these are bf16 autocast and
 *    gradient checkpointing; bf16 is emulated on a CPU without bf16 instructions and very slow, so
 *    this run takes --e2e-trl-default-steps steps only), and with bone train's settings (float32, no
 *    checkpointing) for --e2e-steps steps.
 *
 *   node --import tsx bench/scale.bench.ts [--only fixed,e2e] [--cases smollm135m:4x256,qwen3-0.6b:1x2048]
 *     [--rounds 1] [--steps 4] [--e2e-steps 10] [--e2e-trl-default-steps 2] [--e2e-examples 400]
 *     [--e2e-modes defaults,packing] [--e2e-trl defaults,float32] [--threads 2]
 *
 * Needs BONE_ANCHOR_PYTHON (a Python with torch, transformers, peft, trl, datasets); the anchor
 * scripts are in ../shared/anchors beside the repository (or BONE_ANCHOR_DIR). Model folders and
 * data are made once in bench/out/scale/; results: bench/out/scale.json (scale-fixed.json or scale-e2e.json
 * with --only).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tensor, realize } from '../src/engine/index.ts';
import { analyticFlops, type LlamaShape } from './llama.ts';
import { runChild, type ChildRun } from './train/child.ts';
import {
  SHAPES, anchorDir, ensureModelFolder, runBoneTrain, runPeftAnchor, runTrlAnchor, writeFixedLengthData,
  type AnchorResult, type BoneRun, type ShapeName, type TrlResult,
} from './train/cli-runs.ts';
import { loadAverage, machineInfo, median, now, randomFloats } from './util.ts';

const DEFAULT_CASES = 'smollm135m:4x256,smollm135m:1x1024,smollm135m:1x2048,smollm135m:1x4096,smollm360m:1x1024,smollm360m:1x2048,qwen3-0.6b:1x1024,qwen3-0.6b:1x2048';
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'fixed,e2e' },
    cases: { type: 'string', default: DEFAULT_CASES },
    rounds: { type: 'string', default: '1' },
    steps: { type: 'string', default: '4' },
    'e2e-steps': { type: 'string', default: '10' },
    'e2e-examples': { type: 'string', default: '400' },
    'e2e-modes': { type: 'string', default: 'defaults,packing' },
    'e2e-trl': { type: 'string', default: 'defaults,float32' },
    'e2e-trl-default-steps': { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
  },
});
const sections = new Set(args.only!.split(','));
const cases = args.cases!.split(',').map((c) => {
  const [name, shape] = c.split(':') as [ShapeName, string];
  const [batch, seq] = shape.split('x').map(Number) as [number, number];
  if (!(name in SHAPES) || !(batch >= 1) || !(seq >= 2)) throw new Error(`--cases: expected SHAPE:BATCHxLENGTH (shapes: ${Object.keys(SHAPES).join(', ')}), found ${c}`);
  return { name, batch, seq };
});
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const threads = Number(args.threads);
const R = 64;

const python = process.env.BONE_ANCHOR_PYTHON;
if (!python) throw new Error('set BONE_ANCHOR_PYTHON to a Python with torch, transformers, peft, trl and datasets (the anchors run beside bone train)');
const anchors = anchorDir();
for (const f of ['peft_anchor_bench.py', 'trl_sft_anchor.py', 'make_varlen_data.py']) if (!existsSync(join(anchors, f))) throw new Error(`${f} not found in ${anchors} (set BONE_ANCHOR_DIR)`);

const OUT_DIR = join(import.meta.dirname, 'out');
const WORK_DIR = join(OUT_DIR, 'scale');
mkdirSync(WORK_DIR, { recursive: true });
const log = (s = ''): void => { process.stdout.write(`${s}\n`); };
const fmt = (x: number | null | undefined, digits = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a && b ? `${(a / b).toFixed(2)}×` : '–');

/** The shape's dimensions for the FLOP count. */
function dims(name: ShapeName, batch: number, seq: number): LlamaShape {
  const c = SHAPES[name] as Record<string, number>;
  return {
    layers: c.num_hidden_layers!, hidden: c.hidden_size!, intermediate: c.intermediate_size!, heads: c.num_attention_heads!,
    kvHeads: c.num_key_value_heads!, headDim: c.head_dim ?? c.hidden_size! / c.num_attention_heads!, vocab: c.vocab_size!, batch, seq, loraR: R,
  };
}

/** 1024³ float32 MatMul GFLOP/s: ONNX Runtime through the engine (median of 10), and torch (median of 10) at the same thread count. */
async function matmulCeiling(): Promise<{ ort: number; torch: number | null }> {
  const n = 1024;
  const a = Tensor.fromData(randomFloats(n * n, 1, 1), [n, n]);
  const b = Tensor.fromData(randomFloats(n * n, 1, 2), [n, n]);
  const times: number[] = [];
  for (let i = 0; i < 13; i++) {
    const t0 = now();
    await realize([a.matmul(b)]);
    if (i >= 3) times.push(now() - t0);
  }
  const code = `import torch,time;torch.set_num_threads(${threads});a=torch.rand(${n},${n});b=torch.rand(${n},${n});ts=[]\nfor i in range(13):\n t=time.perf_counter();a@b;ts.append(time.perf_counter()-t)\nts=sorted(ts[3:]);print(${2 * n ** 3}/ts[len(ts)//2]/1e9)`;
  const t = await runChild<number>(python!, ['-c', code], { parse: (out) => Number(out.trim().split('\n').pop()) || null });
  return { ort: (2 * n ** 3) / median(times) / 1e6, torch: t.ok ? t.result : null };
}

interface FixedRow {
  name: ShapeName; batch: number; seq: number; round: number;
  bone: BoneRun | null; boneError: string | null; anchor: AnchorResult | null; anchorError: string | null; load: [number, number];
}

async function fixedShapes(): Promise<FixedRow[]> {
  const rows: FixedRow[] = [];
  json.fixed = rows; // saved after every case, so that a stopped run keeps what it measured
  const dataFor = new Map<string, string>();
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of cases.entries()) {
      const model = await ensureModelFolder(WORK_DIR, c.name, log);
      const key = `${c.name}-${c.seq}`;
      if (!dataFor.has(key)) {
        const file = join(WORK_DIR, `text-${key}.jsonl`);
        if (!existsSync(file)) await writeFixedLengthData(file, model, c.seq, c.batch * (steps + 1));
        dataFor.set(key, file);
      }
      const load0 = loadAverage();
      const anchorRun = async () => {
        const r = await runPeftAnchor({ python: python!, script: join(anchors, 'peft_anchor_bench.py'), method: 'miss', config: c.name, batch: c.batch, seq: c.seq, steps: steps - 1, r: R, threads });
        log(`  anchor     ${c.name} ${c.batch}×${c.seq}: ${r.ok ? `${fmt(r.result!.tokens_per_s)} tok/s, peak ${fmt(r.result!.peak_rss_mb)} MB` : `failed: ${r.error}`} (load ${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)})`);
        return r;
      };
      const boneRun = async () => {
        const r = await runBoneTrain({
          model, data: dataFor.get(key)!, out: join(WORK_DIR, 'run'), threads,
          flags: ['--method', 'miss', '--r', String(R), '--targets', 'q_proj,v_proj', '--batch-size', String(c.batch), '--max-length', String(c.seq),
            '--max-steps', String(steps), '--lr', '1e-4', '--schedule', 'constant', '--weight-decay', '0.01', '--max-grad-norm', '0', '--save-every', '0'],
        });
        log(`  bone train ${c.name} ${c.batch}×${c.seq}: ${r.ok ? `${fmt(r.result!.tokensPerSecond)} tok/s, peak ${fmt(r.result!.peakRssMB)} MB (estimated ${fmt(r.result!.estimateMB)} MB), whole command ${fmt(r.result!.wallSeconds, 1)} s` : `failed: ${r.error}\n${(r.stdout + r.stderr).split('\n').slice(-6).join('\n')}`} (load ${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)})`);
        return r;
      };
      // Alternate who goes first, so that a change in background load hits both alike.
      const anchorFirst = (round + i) % 2 === 1;
      const a1 = anchorFirst ? await anchorRun() : null;
      const b = await boneRun();
      const a = a1 ?? await anchorRun();
      rows.push({ ...c, round, bone: b.ok ? b.result : null, boneError: b.ok ? null : b.error, anchor: a.ok ? a.result : null, anchorError: a.ok ? null : a.error, load: [load0, loadAverage()] });
      save();
    }
  }
  return rows;
}

interface E2eRow { packing: boolean; trlSettings: TrlSettings; bone: BoneRun | null; boneError: string | null; trl: TrlResult | null; trlError: string | null; load: [number, number] }

/** TRL's defaults, or the settings bone train runs with (TRL's CPU defaults are bf16 autocast and gradient checkpointing). */
type TrlSettings = 'defaults' | 'float32';
const TRL_SETTINGS: Record<TrlSettings, { label: string; sftConfig?: Record<string, unknown> }> = {
  defaults: { label: 'defaults (bf16 autocast, gradient checkpointing)' },
  float32: { label: 'float32, no checkpointing', sftConfig: { bf16: false, gradient_checkpointing: false } },
};

/** TRL's default run takes minutes a step on a CPU without bf16 instructions; past this it is reported as not finished. */
const TRL_TIMEOUT_MS = 25 * 60_000;

async function endToEnd(): Promise<E2eRow[]> {
  const model = await ensureModelFolder(WORK_DIR, 'smollm135m', log);
  const data = join(WORK_DIR, `varlen-${args['e2e-examples']}.jsonl`);
  if (!existsSync(data)) {
    const r = await runChild<true>(python!, [join(anchors, 'make_varlen_data.py'), data, '--n', args['e2e-examples']!, '--seed', '0'], { parse: () => true });
    if (!r.ok) throw new Error(`make_varlen_data.py failed: ${r.error}`);
  }
  const maxSteps = Number(args['e2e-steps']);
  const rows: E2eRow[] = [];
  json.e2e = rows;
  const modes = args['e2e-modes']!.split(',').map((m) => {
    if (m !== 'defaults' && m !== 'packing') throw new Error(`--e2e-modes: expected defaults and/or packing, found ${m}`);
    return m === 'packing';
  });
  const trlVariants = args['e2e-trl']!.split(',').map((t) => {
    if (!(t in TRL_SETTINGS)) throw new Error(`--e2e-trl: expected ${Object.keys(TRL_SETTINGS).join(' and/or ')}, found ${t}`);
    return t as TrlSettings;
  });
  for (const [i, packing] of modes.entries()) {
    const trlRun = async (settings: TrlSettings) => {
      const { label, sftConfig } = TRL_SETTINGS[settings];
      const steps = settings === 'defaults' ? Number(args['e2e-trl-default-steps']) : maxSteps;
      const r = await runTrlAnchor({ python: python!, script: join(anchors, 'trl_sft_anchor.py'), model, data, out: join(WORK_DIR, 'trl-run'), method: 'miss', r: R, batch: 4, maxLength: 1024, maxSteps: steps, packing, threads, ...(sftConfig ? { sftConfig } : {}), timeoutMs: TRL_TIMEOUT_MS });
      log(`  TRL + PEFT${packing ? ' --packing' : ''}, ${label}: ${r.ok ? `${fmt(r.result!.real_tokens_per_s)} real tok/s (${r.result!.real_tokens} real of ${r.result!.computed_tokens} computed, ${r.result!.steps} steps), ${fmt(r.result!.wall_s, 1)} s wall, peak ${fmt(r.result!.peak_rss_mb)} MB` : `failed: ${r.error}`}`);
      return r;
    };
    // make_varlen_data.py writes prompts long enough that a few completions start after token 1024:
    // bone train refuses such examples unless told to skip them (TRL trains on them with no loss).
    const boneRun = async () => {
      const r = await runBoneTrain({
        model, data, out: join(WORK_DIR, 'e2e-run'), threads,
        flags: ['--method', 'miss', '--r', String(R), '--targets', 'q_proj,v_proj', '--batch-size', '4', '--max-length', '1024', '--max-steps', String(maxSteps), '--save-every', '0', '--skip-untrainable', ...(packing ? ['--packing'] : [])],
      });
      log(`  bone train${packing ? ' --packing' : ''}: ${r.ok ? `${fmt(r.result!.realTokensPerSecond)} real tok/s (${r.result!.realTokens} real), ${fmt(r.result!.wallSeconds, 1)} s wall, peak ${fmt(r.result!.peakRssMB)} MB` : `failed: ${r.error}\n${(r.stdout + r.stderr).split('\n').slice(-6).join('\n')}`}`);
      return r;
    };
    // Alternate who goes first, so that a change in background load hits both alike.
    const load0 = loadAverage();
    const trlFirst = i % 2 === 1;
    const runTrlVariants = async () => {
      const out: [TrlSettings, ChildRun<TrlResult>][] = [];
      for (const t of trlVariants) out.push([t, await trlRun(t)]);
      return out;
    };
    const before = trlFirst ? await runTrlVariants() : [];
    const b = await boneRun();
    const after = trlFirst ? [] : await runTrlVariants();
    for (const [trlSettings, t] of [...before, ...after]) {
      rows.push({ packing, trlSettings, bone: b.ok ? b.result : null, boneError: b.ok ? null : b.error, trl: t.ok ? t.result : null, trlError: t.ok ? null : t.error, load: [load0, loadAverage()] });
    }
    save();
  }
  return rows;
}

const machine = machineInfo(threads);
const json: Record<string, unknown> = { date: new Date().toISOString(), machine, settings: { cases, rounds, steps, threads, r: R, e2eSteps: Number(args['e2e-steps']), e2eTrlDefaultSteps: Number(args['e2e-trl-default-steps']), e2eExamples: Number(args['e2e-examples']) } };
// A run of one section keeps its own file, so that it does not overwrite the other section's results.
const RESULTS_NAME = sections.size === 1 ? `scale-${[...sections][0]}.json` : 'scale.json';
const save = (): void => writeFileSync(join(OUT_DIR, RESULTS_NAME), `${JSON.stringify(json, null, 1)}\n`);
log(`bench:scale — ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${threads} threads, load ${fmt(loadAverage(), 1)}`);

const ceilingBefore = await matmulCeiling();
log(`1024³ MatMul: ONNX Runtime ${fmt(ceilingBefore.ort)} GFLOP/s, torch ${fmt(ceilingBefore.torch)} GFLOP/s`);
json.ceilingBefore = ceilingBefore;
const fixed = sections.has('fixed') ? await fixedShapes() : [];
const e2e = sections.has('e2e') ? await endToEnd() : [];
const ceilingAfter = await matmulCeiling();
json.ceilingAfter = ceilingAfter;
json.loadAtEnd = loadAverage();
save();

const ortCeiling = (ceilingBefore.ort + ceilingAfter.ort) / 2;
const torchCeiling = ceilingBefore.torch && ceilingAfter.torch ? (ceilingBefore.torch + ceilingAfter.torch) / 2 : null;
if (fixed.length) {
  log(`\nFixed shapes (MiSS r = ${R} on q_proj, v_proj; ${steps} steps, median after the first; ${rounds} round(s))\n`);
  log('| shape | batch × length | bone tok/s | PEFT tok/s | ratio | bone peak RSS | PEFT peak RSS | ratio | bone estimate / peak | bone GFLOP/s (of ORT ceiling) | PEFT GFLOP/s (of torch ceiling) | load |');
  log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const c of cases) {
    const mine = fixed.filter((r) => r.name === c.name && r.batch === c.batch && r.seq === c.seq);
    const bone = mine.flatMap((r) => (r.bone ? [r.bone] : []));
    const anchor = mine.flatMap((r) => (r.anchor ? [r.anchor] : []));
    const flops = analyticFlops(dims(c.name, c.batch, c.seq), { adapter: 'miss', causal: true }).total;
    const tok = median(bone.map((b) => b.tokensPerSecond));
    const peftTok = median(anchor.map((a) => a.tokens_per_s));
    const rss = median(bone.flatMap((b) => (b.peakRssMB ? [b.peakRssMB] : [])));
    const peftRss = median(anchor.map((a) => a.peak_rss_mb));
    const est = median(bone.flatMap((b) => (b.estimateMB ? [b.estimateMB] : [])));
    const tokens = c.batch * c.seq;
    const gflops = (rate: number): number => (flops * rate) / tokens / 1e9;
    log(`| ${c.name} | ${c.batch} × ${c.seq} | ${fmt(tok)} | ${fmt(peftTok)} | **${ratio(tok, peftTok)}** | ${fmt(rss)} MB | ${fmt(peftRss)} MB | **${ratio(rss, peftRss)}** | ${fmt(est)} / ${fmt(rss)} MB (${ratio(est, rss)}) | ${fmt(gflops(tok))} (${fmt((100 * gflops(tok)) / ortCeiling)} %) | ${fmt(gflops(peftTok))} (${torchCeiling ? fmt((100 * gflops(peftTok)) / torchCeiling) : '–'} %) | ${mine.map((r) => `${fmt(r.load[0], 1)}→${fmt(r.load[1], 1)}`).join(', ')} |`);
  }
  log(`\n1024³ MatMul in the same run (before / after): ONNX Runtime ${fmt(ceilingBefore.ort)} / ${fmt(ceilingAfter.ort)} GFLOP/s, torch ${fmt(ceilingBefore.torch)} / ${fmt(ceilingAfter.torch)} GFLOP/s`);
}
if (e2e.length) {
  const defaultSteps = e2e.some((r) => r.trlSettings === 'defaults') ? ` (TRL with its defaults: ${args['e2e-trl-default-steps']})` : '';
  log(`\nEnd to end: make_varlen_data.py (${args['e2e-examples']} prompt/completion examples), --max-length 1024, batch 4, ${args['e2e-steps']} steps${defaultSteps}\n`);
  log('| packing | TRL settings | bone real tok/s | TRL + PEFT real tok/s | ratio | bone wall | TRL wall (steps) | bone peak RSS | TRL peak RSS | load |');
  log('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of e2e) {
    log(`| ${r.packing ? 'both sides' : 'no (defaults)'} | ${TRL_SETTINGS[r.trlSettings].label} | ${fmt(r.bone?.realTokensPerSecond)} | ${fmt(r.trl?.real_tokens_per_s)} | **${ratio(r.bone?.realTokensPerSecond, r.trl?.real_tokens_per_s)}** | ${fmt(r.bone?.wallSeconds)} s | ${fmt(r.trl?.wall_s)} s (${r.trl?.steps ?? '–'}) | ${fmt(r.bone?.peakRssMB)} MB | ${fmt(r.trl?.peak_rss_mb)} MB | ${fmt(r.load[0], 1)}→${fmt(r.load[1], 1)} |`);
  }
}
log(`\nresults: bench/out/${RESULTS_NAME}; load at the end ${fmt(loadAverage(), 1)}`);
