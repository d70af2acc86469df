/** Learning-rate schedules, computed as transformers' get_*_schedule_with_warmup lambdas do. */

export type ScheduleName = 'constant' | 'linear' | 'cosine';

export interface ScheduleOptions {
  name: ScheduleName;
  warmupSteps?: number;
  /** Needed by linear and cosine. */
  totalSteps?: number;
  /** cosine only: number of half-waves is 2·numCycles (transformers' default 0.5 = one half-wave). */
  numCycles?: number;
}

/** The multiplier of the base learning rate at `step` (0-based: the step about to be taken). */
export function lrMultiplier(step: number, o: ScheduleOptions): number {
  const warmup = o.warmupSteps ?? 0;
  if (step < warmup) return step / Math.max(1, warmup);
  if (o.name === 'constant') return 1;
  const total = o.totalSteps;
  if (total === undefined) throw new Error(`the ${o.name} schedule needs totalSteps`);
  if (o.name === 'linear') return Math.max(0, (total - step) / Math.max(1, total - warmup));
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (o.numCycles ?? 0.5) * 2 * progress)));
}
