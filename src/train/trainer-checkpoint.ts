/**
 * Training checkpoints: everything needed to continue a run exactly, each part as its owner gives
 * it — the adapter (PeftModel.savePretrained: PEFT's format, usable on its own), the optimizer
 * (its state(): step and buffers, one safetensors tensor `<buffer>.<parameter name>` each), and the
 * Trainer's own position, history and RNG state. A checkpoint is a set of named files
 * (`checkpointFiles`), written as one folder by the file system (in Node: into a temporary folder
 * renamed into place), so a run killed at any moment leaves only complete checkpoints behind; a
 * browser keeps them in a memory file system.
 */
import { Tensor, realize } from '../engine/index.ts';
import { pathRef, type FileData, type PathLike, type PathRef } from '../io/file-system.ts';
import { readSafetensors, serializeSafetensors, type SafetensorsTensor } from '../io/safetensors.ts';
import { ADAPTER_WEIGHTS_NAME, adapterFolderFiles, readAdapterTensors, type PeftModel } from '../peft/index.ts';
import type { OptimizerState } from './optim.ts';

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

/** A run's parts as a checkpoint holds them. `paramNames` names the optimizer's parameters, in its order. */
export interface CheckpointParts {
  peft: PeftModel;
  optimizer: OptimizerState;
  paramNames: readonly string[];
  trainer: TrainerState;
}

export function checkpointName(step: number): string {
  return `checkpoint-${step}`;
}

/**
 * A checkpoint's files: every adapter as savePretrained writes it (the default one at the top, others
 * in subfolders, the model card), optimizer.safetensors and trainer_state.json. Tensor bytes are
 * views, not copies.
 */
export async function checkpointFiles(parts: CheckpointParts): Promise<Map<string, FileData>> {
  const files = await adapterFolderFiles(parts.peft);
  const named = new Map<string, Tensor>();
  for (const [buffer, list] of Object.entries(parts.optimizer.buffers)) {
    list.forEach((t, i) => { if (t) named.set(`${buffer}.${parts.paramNames[i]}`, t); });
  }
  await realize([...named.values()]);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [k, t] of named) tensors.set(k, { dtype: 'F32', shape: [...t.shape], data: t.storage as Float32Array });
  files.set(OPTIMIZER_NAME, serializeSafetensors(tensors, { format: 'bone-peft', step: String(parts.optimizer.step) }, OPTIMIZER_NAME));
  files.set(TRAINER_STATE_NAME, JSON.stringify(parts.trainer, null, 2));
  return files;
}

/**
 * Writes the checkpoint folder `checkpoint-<step>` into `runDir` in one atomic step (complete or
 * absent, whatever kills the process), replacing one of that step; returns its path.
 */
export async function writeCheckpoint(runDir: PathLike, parts: CheckpointParts): Promise<string> {
  const final = pathRef(runDir).child(checkpointName(parts.trainer.step));
  await final.writeFolder(await checkpointFiles(parts), { overwrite: true });
  return final.path;
}

/** The newest complete checkpoint in a run folder, or null. */
export async function latestCheckpoint(runDir: PathLike): Promise<string | null> {
  return (await latestCheckpointRef(runDir))?.path ?? null;
}

export async function latestCheckpointRef(runDir: PathLike): Promise<PathRef | null> {
  const dir = pathRef(runDir);
  let names: string[];
  try {
    names = await dir.list();
  } catch {
    return null;
  }
  const steps = names.map((n) => /^checkpoint-(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  if (steps.length === 0) return null;
  return dir.child(checkpointName(Math.max(...steps)));
}

/** What restoring a run needs from a checkpoint: the adapter's tensors (saved keys), the optimizer's state and the Trainer's. */
export interface SavedRun {
  adapter: Map<string, Tensor>;
  optimizer: OptimizerState;
  trainer: TrainerState;
}

/** Read a checkpoint written by writeCheckpoint; the optimizer's buffers are matched to `paramNames` by name. */
export async function readCheckpoint(path: PathLike, paramNames: readonly string[], bufferNames: readonly string[]): Promise<SavedRun> {
  const dir = pathRef(path);
  const trainer = JSON.parse(await dir.child(TRAINER_STATE_NAME).readText()) as TrainerState;
  const file = dir.child(OPTIMIZER_NAME);
  const { tensors } = await readSafetensors(file);
  const buffers: OptimizerState['buffers'] = {};
  for (const buffer of bufferNames) {
    buffers[buffer] = paramNames.map((name) => {
      const t = tensors.get(`${buffer}.${name}`);
      if (t && t.dtype !== 'F32') throw new Error(`${file}: ${buffer}.${name} has dtype ${t.dtype}, expected F32`);
      return t ? Tensor.fromData(t.data, t.shape) : null;
    });
  }
  return { adapter: await readAdapterTensors(dir.child(ADAPTER_WEIGHTS_NAME)), optimizer: { step: trainer.step, buffers }, trainer };
}

/** Delete all but the newest `keep` checkpoints; each disappears whole (in Node: renamed away first, then removed). */
export async function pruneCheckpoints(runDir: PathLike, keep: number): Promise<void> {
  const dir = pathRef(runDir);
  const names = (await dir.list()).filter((n) => /^checkpoint-\d+$/.test(n));
  const sorted = names.sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]));
  for (const n of sorted.slice(keep)) await dir.child(n).remove();
}
