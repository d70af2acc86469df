/** The options that trade training time for memory, shared by `bone train` and `bone bench`. */
import { setAttentionRecompute, setGradientCheckpointing, type CausalLM } from '../models/index.ts';
import type { OptionSpec } from './options.ts';

export const MEMORY_OPTIONS = {
  gradientCheckpointing: {
    kind: 'boolean',
    description: 'recompute each layer\'s forward in the backward pass (as transformers\' gradient checkpointing):\nabout a third of the memory, 0.7–0.85× the speed',
  },
  recomputeAttention: {
    kind: 'boolean',
    description: 'recompute attention probabilities in the backward pass: less memory (about 0.5 GB for a\n135M model at batch 4 × 256), about 10 % slower',
  },
} as const satisfies Record<string, OptionSpec>;

export function applyMemoryOptions(model: CausalLM, o: { gradientCheckpointing?: boolean; recomputeAttention?: boolean }): void {
  if (o.gradientCheckpointing) setGradientCheckpointing(model);
  if (o.recomputeAttention) setAttentionRecompute(model);
}
