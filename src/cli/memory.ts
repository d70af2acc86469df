/**
 * Memory: the options that trade training time for memory (shared by `bone train` and `bone
 * bench`), and the check before the first step that a step fits in the memory this process can
 * have, with the options that would make it fit when it does not.
 */
import { setAttentionImplementation, setAttentionRecompute, setGradientCheckpointing, type CausalLM } from '../models/index.ts';
import type { PeftModel } from '../peft/index.ts';
import type { BatchShape } from '../train/data.ts';
import {
  CLOSE_SHARE, checkTrainingMemory, estimateTrainingStep, estimateWithCheckpointing, type HostMemory, type MemoryCheck,
} from '../train/memory-check.ts';
import { formatBytes } from './format.ts';
import { UsageError, type OptionSpec } from './options.ts';

export const MEMORY_OPTIONS = {
  gradientCheckpointing: {
    kind: 'boolean',
    description: 'recompute each layer\'s forward in the backward pass (as transformers\' gradient checkpointing):\nabout a third of the memory, 0.7–0.85× the speed',
  },
  recomputeAttention: {
    kind: 'boolean',
    description: 'with --attention composite: recompute its probabilities in the backward pass (blocked\nattention, the default, never keeps them)',
  },
  attention: {
    kind: 'choice', choices: ['blocked', 'composite'], default: 'blocked', valueName: 'NAME',
    description: 'blocked (a block of queries at a time, nothing [length × length] kept) or composite\n(the whole attention matrix, kept for the backward pass; the engine before blocked attention)',
  },
} as const satisfies Record<string, OptionSpec>;

export function applyMemoryOptions(model: CausalLM, o: { gradientCheckpointing?: boolean; recomputeAttention?: boolean; attention?: string }): void {
  if (o.gradientCheckpointing) setGradientCheckpointing(model);
  if (o.recomputeAttention) setAttentionRecompute(model);
  if (o.attention === 'composite') setAttentionImplementation(model, 'composite');
}

interface CheckSettings {
  batchSize: number;
  gradAccum: number;
  gradientCheckpointing?: boolean;
  packing?: boolean;
}

const gb = formatBytes;

/**
 * Check before training that the largest step of `shapes` fits; throws a UsageError with the
 * estimate, the memory available and the settings that would fit when it does not, warns when it
 * is close, and otherwise returns the check (for a log line).
 */
export function checkMemoryBeforeTraining(peft: PeftModel<CausalLM>, shapes: readonly BatchShape[], o: CheckSettings,
  warn: (message: string) => void, host: HostMemory): MemoryCheck {
  const check = checkTrainingMemory(peft, shapes, { packing: o.packing ?? false, host });
  if (check.verdict === 'fits') return check;
  const [B, T] = check.estimate.shape;
  const { host: h } = check;
  const where = `this process can have about ${gb(check.capacityBytes)} (it holds ${gb(h.processBytes)}; ${gb(h.availableBytes)} more available of the machine's ${gb(h.totalBytes)}${h.limitBytes !== null ? `, under a cgroup limit of ${gb(h.limitBytes)}` : ''})`;
  const needs = `a training step on a batch of ${B} × ${T} tokens needs about ${gb(check.estimate.processPeakBytes)} (estimated from the step's graph before it runs)`;
  if (check.verdict === 'close') {
    warn(`${needs}, close to the memory available: ${where}; if the run is killed, use ${alternatives(peft, check, o).join(', ') || 'a smaller model'}`);
    return check;
  }
  const fits = alternatives(peft, check, o);
  throw new UsageError('train', `${needs}, but ${where}. ${fits.length ? `These would fit: ${fits.join('; ')}.` : 'No shorter --max-length, smaller --batch-size or --gradient-checkpointing fits either.'} (--skip-memory-check runs it anyway.)`);
}

/** The settings that would fit, each with its estimate: a shorter --max-length, a smaller --batch-size, --gradient-checkpointing. */
function alternatives(peft: PeftModel<CausalLM>, check: MemoryCheck, o: CheckSettings): string[] {
  const [B, T] = check.estimate.shape;
  const limit = check.capacityBytes * CLOSE_SHARE; // what is suggested must fit without the 'close' warning
  const opts = { packing: o.packing ?? false, baseBytes: check.host.processBytes };
  const out: string[] = [];
  for (let length = Math.floor(T / 2 / 64) * 64; length >= 64; length = Math.floor(length / 2 / 64) * 64) {
    const e = estimateTrainingStep(peft, [B, length], opts);
    if (e.processPeakBytes <= limit) { out.push(`--max-length ${length} (about ${gb(e.processPeakBytes)})`); break; }
  }
  for (let batch = Math.floor(B / 2); batch >= 1; batch = Math.floor(batch / 2)) {
    const e = estimateTrainingStep(peft, [batch, T], opts);
    if (e.processPeakBytes <= limit) {
      const accumulate = o.gradAccum * Math.ceil(o.batchSize / batch);
      out.push(`--batch-size ${batch} --grad-accum ${accumulate} (the same step in micro-batches; about ${gb(e.processPeakBytes)})`);
      break;
    }
  }
  if (!o.gradientCheckpointing) {
    const e = estimateWithCheckpointing(peft, [B, T], opts);
    if (e.processPeakBytes <= limit) out.push(`--gradient-checkpointing (about ${gb(e.processPeakBytes)})`);
  }
  return out;
}
