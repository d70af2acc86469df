/**
 * When a run has diverged, so that the Trainer stops before it commits the step (docs/design.md,
 * "Divergence"). NaN is only the last symptom: with AdamW every weight moves by about the learning
 * rate per step whatever the gradient, and the final RMSNorm keeps the logits (and so the loss)
 * bounded, so a run at --lr 1e9 keeps a finite, unremarkable loss while its adapter weights reach
 * 1e9 and its gradients vanish. Three limits, each far outside what a healthy run reaches (measured
 * on the demo and the test fixtures, the design record has the numbers):
 *
 * - the loss above 3 × max(the first step's loss, ln(vocab_size)): ln(V) is the loss of guessing
 *   uniformly, and a fine-tuning run that does three times worse than that, and than where it
 *   started, is not learning;
 * - the gradient norm (before clipping) above 10⁴ × the first step's;
 * - a trainable value above 10³ in magnitude (trained adapter weights stay below 1 at usual learning
 *   rates, and at 10 even at --lr 1).
 */

export const DIVERGENCE_LIMITS = { lossFactor: 3, gradNormFactor: 1e4, maxAbsWeight: 1e3 } as const;

export interface StepFacts {
  /** The step being taken (1-based). */
  step: number;
  loss: number;
  /** Before clipping; null when clipping is off (then it is not computed). */
  gradNorm: number | null;
  /** The first step's loss and gradient norm of the run (undefined at step 1). */
  first?: { loss: number; gradNorm?: number | null };
  /** The model's vocabulary size, for ln(V); undefined when unknown. */
  vocabSize?: number;
  /** The new values of the trainable tensors, by name. */
  params: readonly (readonly [string, ArrayLike<number>])[];
}

const fmt = (x: number): string => (Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(4))));

/** Why the step diverged, or null. */
export function divergence(f: StepFacts): string | null {
  const L = DIVERGENCE_LIMITS;
  if (!Number.isFinite(f.loss)) return `the loss became ${f.loss}`;
  const lnV = f.vocabSize !== undefined && f.vocabSize > 1 ? Math.log(f.vocabSize) : 0;
  if (f.first) {
    const limit = L.lossFactor * Math.max(f.first.loss, lnV);
    if (f.loss > limit) {
      return `the loss exploded to ${fmt(f.loss)}, above ${L.lossFactor} × max(the first step's loss ${fmt(f.first.loss)}${lnV ? `, ln(vocab_size ${f.vocabSize}) = ${fmt(lnV)}` : ''}) = ${fmt(limit)}`;
    }
  }
  if (f.gradNorm !== null) {
    if (!Number.isFinite(f.gradNorm)) return `the gradient norm became ${f.gradNorm}`;
    const g0 = f.first?.gradNorm;
    if (g0 && f.gradNorm > L.gradNormFactor * g0) {
      return `the gradient norm exploded to ${fmt(f.gradNorm)}, more than ${fmt(L.gradNormFactor)} × the first step's ${fmt(g0)}`;
    }
  }
  for (const [name, values] of f.params) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      // !(|v| <= limit) is also true for NaN.
      if (!(Math.abs(v) <= L.maxAbsWeight)) {
        return `the update would make ${name} reach ${Number.isFinite(v) ? `|value| ${fmt(Math.abs(v))}, above ${fmt(L.maxAbsWeight)}` : String(v)} (AdamW moves each weight by about the learning rate per step)`;
      }
    }
  }
  return null;
}
