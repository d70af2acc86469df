/**
 * Child process of bench/train.bench.ts: trains one method for a few steps on the SmolLM2-135M-shaped
 * Llama and prints one `@@RESULT {json}` line — step times, ORT run times, graph-build and trace
 * overhead, compile time and peak RSS. One method per process, so that peak RSS is that method's.
 *
 *   node --import tsx bench/train/step.ts --method bone|bat|mini|lora [--steps 5] [--warmup 1]
 *     [--layers 30] [--batch 4] [--seq 256] [--r 64] [--variant step|fwd|fwdbwd]
 *     [--loss fused|plain] [--attention engine|composite|recompute|fold] [--gradient-checkpointing]
 *     [--no-arena] [--mem-pattern] [--profile PREFIX] [--profile-runs 2]
 *
 * A step is what a user pays: build the lazy graph (forward, loss, grad, AdamW update), realise
 * [loss, new params, new moments] in one run, commit.
 */
import { parseArgs } from 'node:util';
import { Tensor, engineStats, estimateMemory, grad, realize, savedForBackward, type MemoryEstimate } from '../../src/engine/index.ts';
import { trace } from '../../src/engine/realize.ts';
import { causalLMLoss, setAttentionImplementation, setAttentionRecompute, setGradientCheckpointing } from '../../src/models/index.ts';
import { AdamW } from '../../src/train/optim.ts';
import {
  METHODS, emitResult, installRecordingBackend, makeBatch, makePeft, peakRssMB, recorder, rssMB, type Method,
} from './common.ts';
import { median, now } from '../util.ts';
import { classify } from './profile.ts';
import { installAttentionPrototype } from './protos.ts';

const { values: a } = parseArgs({
  options: {
    method: { type: 'string', default: 'miss' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    layers: { type: 'string', default: '30' },
    batch: { type: 'string', default: '4' },
    seq: { type: 'string', default: '256' },
    r: { type: 'string', default: '64' },
    variant: { type: 'string', default: 'step' },
    loss: { type: 'string', default: 'fused' },
    attention: { type: 'string', default: 'engine' },
    'gradient-checkpointing': { type: 'boolean', default: false },
    'no-arena': { type: 'boolean', default: false },
    'mem-pattern': { type: 'boolean', default: false },
    'saved-only': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'profile-runs': { type: 'string', default: '2' },
  },
});
const method = a.method as Method;
if (!METHODS.includes(method)) throw new Error(`--method must be one of ${METHODS.join(', ')}, found ${a.method}`);
const variant = a.variant!;
if (!['step', 'fwd', 'fwdbwd'].includes(variant)) throw new Error(`--variant must be step, fwd or fwdbwd, found ${variant}`);
const lossKind = a.loss!;
if (!['fused', 'plain'].includes(lossKind)) throw new Error(`--loss must be fused or plain, found ${lossKind}`);
const shape = { layers: Number(a.layers), batch: Number(a.batch), seq: Number(a.seq), r: Number(a.r) };
const steps = Number(a.steps);
const warmup = Number(a.warmup);

installRecordingBackend({
  ...(a['no-arena'] ? { enableCpuMemArena: false } : {}),
  ...(a['mem-pattern'] ? { enableMemPattern: true } : {}),
  ...(a.profile ? { profilePrefix: a.profile, profileRuns: Number(a['profile-runs']) } : {}),
});

const rss0 = rssMB();
const t0 = now();
const peft = makePeft(method, shape);
// engine: the library's default (blocked attention); composite: the [T, T] product with its
// probabilities kept; recompute: the composite with them recomputed in the backward; fold: a prototype.
if (a.attention === 'fold') installAttentionPrototype(peft.model, 'fold');
else if (a.attention === 'composite' || a.attention === 'recompute') {
  setAttentionImplementation(peft.model, 'composite');
  if (a.attention === 'recompute') setAttentionRecompute(peft.model);
} else if (a.attention !== 'engine') throw new Error(`--attention must be engine, composite, recompute or fold, found ${a.attention}`);
if (a['gradient-checkpointing']) setGradientCheckpointing(peft.model);
const setupMs = now() - t0;
const rssWeights = rssMB();
const params = peft.trainableParameters().map(([, p]) => p);
const trainable = params.reduce((n, p) => n + p.size, 0);
const opt = new AdamW(params, { weightDecay: 0.01 }); // torch.optim.AdamW's defaults, as the anchor
const { ids, labels } = makeBatch(shape);

/**
 * fused: the model's own training loss (the LM head fused into the cross-entropy, in row chunks:
 * ops.linearCrossEntropy). plain: cross-entropy of the full [tokens, vocab] logits, as before the
 * fused op existed.
 */
function lossOf(): Tensor {
  if (lossKind === 'fused') return peft.forward({ inputIds: ids, labels }).loss!;
  return causalLMLoss(peft.forward({ inputIds: ids }).logits, labels);
}

/** The tensors one step realises, and what to do after. */
function build(): { targets: Tensor[]; loss: Tensor; commit: () => void } {
  const loss = lossOf();
  if (variant === 'fwd') return { targets: [loss], loss, commit: () => undefined };
  const grads = grad(loss, params.map((p) => p.value));
  if (variant === 'fwdbwd') return { targets: [loss, ...grads], loss, commit: () => undefined };
  const update = opt.update(grads, 1e-4);
  return { targets: [loss, ...update.tensors], loss, commit: () => update.commit() };
}

if (a['saved-only']) {
  emitResult({ side: 'ours', kind: 'saved', method, loss: lossKind, attention: a.attention, ...savedActivations() });
  process.exit(0);
}

/**
 * The forward values that the backward pass and the update read (the engine's savedForBackward): an
 * estimate of the activation memory alive where forward turns into backward, by part. Values
 * computed from weights alone (transposed weights, which ORT folds into its GEMMs, or BAT's adapted
 * weight) are counted apart, as `weightDerivedMB`. With it, the engine's estimate of the whole
 * step's peak (estimateMemory).
 */
function savedActivations(): { savedMB: number; weightDerivedMB: number; byPart: Record<string, number>; biggest: { op: string; shape: number[]; count: number; mb: number }[]; estimate: MemoryEstimate } {
  const loss = lossOf();
  const fwd = trace([loss]);
  const dataDependent = new Set<Tensor>([ids, labels]);
  for (const n of fwd.nodes) if (n.inputs.some((x) => dataDependent.has(x))) dataDependent.add(n);
  const grads = grad(loss, params.map((p) => p.value));
  const stepTargets = [loss, ...opt.update(grads, 1e-4).tensors];
  const dims = { batch: shape.batch, seq: shape.seq, hidden: 576, intermediate: 1536, vocab: 49152, headDim: 64, adapterDims: [shape.r] };
  const byPart: Record<string, number> = {};
  const groups = new Map<string, { op: string; shape: number[]; count: number; mb: number }>();
  let total = 0;
  let weightDerived = 0;
  for (const { tensor: t, bytes } of savedForBackward([loss], stepTargets)) {
    const mb = bytes / 2 ** 20;
    if (!dataDependent.has(t)) { weightDerived += mb; continue; }
    const part = classify(t.op!.name, [t.shape as number[], ...t.inputs.map((x) => x.shape as number[])], dims);
    byPart[part] = (byPart[part] ?? 0) + mb;
    total += mb;
    const key = `${t.op!.name}[${t.shape.join(',')}]`;
    const gr = groups.get(key) ?? groups.set(key, { op: t.op!.name, shape: [...t.shape], count: 0, mb: 0 }).get(key)!;
    gr.count++;
    gr.mb += mb;
  }
  return { savedMB: total, weightDerivedMB: weightDerived, byPart, biggest: [...groups.values()].sort((x, y) => y.mb - x.mb).slice(0, 15), estimate: estimateMemory(stepTargets) };
}

const estimate = (() => { const { targets } = build(); return estimateMemory(targets); })();

interface StepTiming { totalMs: number; buildMs: number; realizeMs: number; ortRunMs: number; commitMs: number; loss: number }
const timings: StepTiming[] = [];
let firstStepMs = 0;
let compileMs = 0;
for (let s = 0; s < warmup + steps; s++) {
  const c0 = engineStats.compileMs;
  const s0 = now();
  const { targets, loss, commit } = build();
  const s1 = now();
  await realize(targets);
  const s2 = now();
  commit();
  const s3 = now();
  const lossValue = await loss.item();
  const t: StepTiming = { totalMs: s3 - s0, buildMs: s1 - s0, realizeMs: s2 - s1, ortRunMs: recorder.lastRunMs, commitMs: s3 - s2, loss: lossValue };
  if (s === 0) { firstStepMs = t.totalMs; compileMs = engineStats.compileMs - c0; }
  if (s >= warmup) timings.push(t);
  process.stderr.write(`  [${method} ${variant}/${lossKind}${a.attention !== 'engine' ? `/${a.attention}` : ''}] step ${s}${s < warmup ? ' (warm-up)' : ''}: ${t.totalMs.toFixed(0)} ms (build ${t.buildMs.toFixed(0)}, ORT ${t.ortRunMs.toFixed(0)}), loss ${lossValue.toFixed(4)}, rss ${rssMB().toFixed(0)} MB, peak ${peakRssMB().toFixed(0)} MB\n`);
}

// Trace + structure key, as realize() does it every step (measured apart, on a freshly built graph).
const { targets } = build();
const traceTimes: number[] = [];
let nodes = 0;
let keyChars = 0;
for (let i = 0; i < 3; i++) {
  const q0 = now();
  const tr = trace(targets);
  traceTimes.push(now() - q0);
  nodes = tr.nodes.length;
  keyChars = tr.key.length;
}

const med = (f: (t: StepTiming) => number): number => median(timings.map(f));
const stepMs = med((t) => t.totalMs);
emitResult({
  side: 'ours', method, variant, loss: lossKind, attention: a.attention, shape, trainable,
  arena: !a['no-arena'], memPattern: a['mem-pattern'],
  tokensPerSecond: (shape.batch * shape.seq) / (stepMs / 1000),
  stepMs, stepMsAll: timings.map((t) => t.totalMs),
  buildMs: med((t) => t.buildMs), realizeMs: med((t) => t.realizeMs), ortRunMs: med((t) => t.ortRunMs), commitMs: med((t) => t.commitMs),
  traceMs: median(traceTimes), graphNodes: nodes, keyChars,
  firstStepMs, compileMs, sessionCreateMs: recorder.lastSessionMs, onnxBytes: recorder.lastModelBytes,
  losses: timings.map((t) => t.loss),
  setupMs, rssStartMB: rss0, rssAfterWeightsMB: rssWeights, rssEndMB: rssMB(), peakRssMB: peakRssMB(),
  engineStats: { ...engineStats },
  estimate,
});
