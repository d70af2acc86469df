/**
 * Will a training step fit in memory? Answered before the first step, from the step's graph: the
 * engine's estimate of the intermediate values alive at once (estimateMemory) plus what the process
 * already holds (the weights, the runtime), against the memory this process can still get (the
 * machine's available memory, and a cgroup limit where one applies). A run that does not fit is
 * otherwise killed by the kernel's OOM killer, without a word, minutes in.
 */
import { Tensor, estimateMemory, residentBytes, getDefaultGenerator, grad } from '../engine/index.ts';
import { LlamaModel, setGradientCheckpointing, type CausalLM } from '../models/index.ts';
import type { PeftModel } from '../peft/index.ts';
import type { BatchShape } from './data.ts';

/** The memory of the machine the step runs on, as the platform reports it (src/node/host-memory.ts in Node). */
export interface HostMemory {
  /** The machine's memory. */
  totalBytes: number;
  /** What this process can still take: the machine's available memory (MemAvailable), less under a cgroup limit. */
  availableBytes: number;
  /** The cgroup's memory limit, when there is one below the machine's memory. */
  limitBytes: number | null;
  /** This process's resident memory now (already its own, so not part of availableBytes). */
  processBytes: number;
}

export interface StepMemoryEstimate {
  shape: BatchShape;
  /** The process at its peak during the step: what it holds now, the step's intermediate values and folded constants. */
  processPeakBytes: number;
  /** The step graph's own peak of intermediate values. */
  graphPeakBytes: number;
}

/**
 * The memory of one training step (forward, loss, gradients of the trainable parameters) on a
 * batch of `shape`, built on placeholder data and never run. Dropout's generator is left as it was.
 */
export interface EstimateOptions {
  /** Batches of packed rows (position and segment ids). */
  packing?: boolean;
  /** What the process holds before the step (its resident memory now: HostMemory.processBytes). */
  baseBytes: number;
}

export function estimateTrainingStep(peft: PeftModel<CausalLM>, shape: BatchShape, opts: EstimateOptions): StepMemoryEstimate {
  const [B, T] = shape;
  const ints = (value: number): Tensor => Tensor.fromData(new BigInt64Array(B * T).fill(BigInt(value)), [B, T], 'int64');
  const generator = getDefaultGenerator();
  const rng = generator.getState();
  const wasTraining = peft.training;
  peft.train();
  try {
    const positions = opts.packing ? Tensor.fromData(BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)), [B, T], 'int64') : null;
    const { loss } = peft.forward({ inputIds: ints(0), attentionMask: ints(1), labels: ints(0), positionIds: positions, segmentIds: opts.packing ? ints(1) : null });
    const grads = grad(loss!, peft.trainableParameters().map(([, p]) => p.value));
    const est = estimateMemory([loss!, ...grads]);
    const graph = est.peakBytes + est.constantBytes;
    return { shape, graphPeakBytes: est.peakBytes, processPeakBytes: opts.baseBytes + residentBytes(graph) };
  } finally {
    peft.train(wasTraining);
    generator.setState(rng);
  }
}

export interface MemoryCheck {
  /** 'fits'; 'close' (within 85 % of what is available); 'too-large'. */
  verdict: 'fits' | 'close' | 'too-large';
  /** The largest of the estimates (the batch shape that needs the most). */
  estimate: StepMemoryEstimate;
  /** The process's peak may reach this much: what it holds now plus what is available. */
  capacityBytes: number;
  host: HostMemory;
}

/** A step needing more than this share of the memory available is 'close'. */
export const CLOSE_SHARE = 0.85;

/**
 * Estimate the steps of the given batch shapes and compare the one that needs most with the memory
 * this process can have. Training runs without memory arenas (Trainer.run), so the shapes' sessions
 * share the process's heap: the peak is the largest shape's, not their sum.
 */
export function checkTrainingMemory(peft: PeftModel<CausalLM>, shapes: readonly BatchShape[], opts: { packing?: boolean; host: HostMemory }): MemoryCheck {
  const { host } = opts;
  const estimateOptions = { packing: opts.packing ?? false, baseBytes: host.processBytes };
  const distinct = shapes.filter((s, k) => shapes.findIndex((t) => t[0] === s[0] && t[1] === s[1]) === k);
  // The peak grows with the tokens of a batch and, for attention, with its length: the largest of each.
  const byTokens = [...distinct].sort((a, b) => b[0] * b[1] - a[0] * a[1] || b[1] - a[1]);
  const byLength = [...distinct].sort((a, b) => b[1] - a[1] || b[0] - a[0]);
  const candidates = [byTokens[0]!, byLength[0]!].filter((s, k, all) => all.indexOf(s) === k);
  const estimate = candidates.map((s) => estimateTrainingStep(peft, s, estimateOptions)).reduce((a, b) => (b.processPeakBytes > a.processPeakBytes ? b : a));
  const capacityBytes = host.processBytes + host.availableBytes;
  const verdict = estimate.processPeakBytes > capacityBytes ? 'too-large' : estimate.processPeakBytes > CLOSE_SHARE * capacityBytes ? 'close' : 'fits';
  return { verdict, estimate, capacityBytes, host };
}

/** The same estimate with every decoder layer checkpointed (what --gradient-checkpointing would need). */
export function estimateWithCheckpointing(peft: PeftModel<CausalLM>, shape: BatchShape, opts: EstimateOptions): StepMemoryEstimate {
  const models = peft.model.modules().filter((m): m is LlamaModel => m instanceof LlamaModel);
  const before = models.map((m) => m.gradientCheckpointing);
  setGradientCheckpointing(peft.model, true);
  try {
    return estimateTrainingStep(peft, shape, opts);
  } finally {
    models.forEach((m, i) => { m.gradientCheckpointing = before[i]!; });
  }
}
