/**
 * Training checkpoints: everything needed to continue a run exactly — the adapter (PEFT's format,
 * usable on its own), the optimizer moments, the step, the data position and the RNG state. A
 * checkpoint is written into a temporary folder and renamed into place, so a run killed at any
 * moment leaves only complete checkpoints behind.
 */
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Tensor, realize } from '../engine/index.ts';
import { writeTextAtomically } from '../io/atomic.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../io/safetensors.ts';
import type { PeftModel } from '../peft/index.ts';

export const TRAINER_STATE_NAME = 'trainer_state.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';

export interface HistoryRecord {
  step: number;
  loss: number;
  lr: number;
  /** The gradient norm before clipping (null when clipping is off, as it is then not computed). */
  gradNorm?: number | null;
  /** Tokens in the step's batches (padding excluded) and the step's wall-clock seconds. */
  tokens?: number;
  seconds?: number;
  evalLoss?: number;
}

export interface TrainerState {
  /** Optimizer steps completed. */
  step: number;
  /** Data position of the next micro-batch. */
  epoch: number;
  batchIndex: number;
  /** The engine's default generator (dropout seeds), as Generator.getState() gives it. */
  rng: { state: string; spare: number | null };
  /** One record per optimizer step so far, for the report and for reading a run's speed afterwards. */
  history: HistoryRecord[];
  /** Free-form settings of the run, checked on resume. */
  settings: Record<string, unknown>;
}

export interface OptimizerTensors {
  /** Named moment tensors (e.g. m.<param>, v.<param>) and the optimizer's step count. */
  tensors: Map<string, Tensor>;
}

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

export async function writeCheckpoint(runDir: string, peft: PeftModel, state: TrainerState, optimizer: Map<string, Tensor>): Promise<string> {
  const final = join(runDir, checkpointName(state.step));
  const temp = `${final}.tmp-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true });
  await peft.savePretrained(temp);
  await realize([...optimizer.values()]);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [k, t] of optimizer) tensors.set(k, { dtype: 'F32', shape: [...t.shape], data: t.storage as Float32Array });
  await writeSafetensors(join(temp, OPTIMIZER_NAME), tensors, { format: 'bone-peft' });
  await writeTextAtomically(join(temp, TRAINER_STATE_NAME), JSON.stringify(state, null, 2));
  await rm(final, { recursive: true, force: true });
  await rename(temp, final);
  return final;
}

/** The newest complete checkpoint in a run folder, or null. */
export async function latestCheckpoint(runDir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(runDir);
  } catch {
    return null;
  }
  const steps = names.map((n) => /^checkpoint-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  if (steps.length === 0) return null;
  return join(runDir, checkpointName(Math.max(...steps)));
}

export async function readCheckpoint(dir: string): Promise<{ state: TrainerState; optimizer: Map<string, Tensor> }> {
  const state = JSON.parse(await readFile(join(dir, TRAINER_STATE_NAME), 'utf8')) as TrainerState;
  const { tensors } = await readSafetensors(join(dir, OPTIMIZER_NAME));
  const optimizer = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (t.dtype !== 'F32') throw new Error(`${join(dir, OPTIMIZER_NAME)}: ${k} has dtype ${t.dtype}, expected F32`);
    optimizer.set(k, Tensor.fromData(t.data, t.shape));
  }
  return { state, optimizer };
}

/** Delete all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(runDir: string, keep: number): Promise<void> {
  const names = (await readdir(runDir)).filter((n) => /^checkpoint-\d+$/.test(n));
  const sorted = names.sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]));
  for (const n of sorted.slice(keep)) await rm(join(runDir, n), { recursive: true, force: true });
}
