/**
 * The Trainer: runs optimizer steps on a PeftModel over batches, each optimizer step one graph
 * (forward → loss → gradients → clipping → AdamW, docs/design.md §2.5), with gradient
 * accumulation, a learning-rate schedule, evaluation, NaN detection, events for logging, and
 * checkpoints that resume exactly.
 */
import { Tensor, getDefaultGenerator, grad, manualSeed, nonFiniteTensors, realize, setMemoryArena } from '../engine/index.ts';
import type { CausalLM } from '../models/index.ts';
import type { PeftModel } from '../peft/index.ts';
import type { Parameter } from '../nn/index.ts';
import { pathRef, type PathLike } from '../io/file-system.ts';
import { latestCheckpointRef, pruneCheckpoints, readCheckpoint, writeCheckpoint, type TrainerState } from './trainer-checkpoint.ts';
import { divergence } from './divergence.ts';
import { AdamW, SGD, clipGradNorm, type ParamGroup } from './optim.ts';
import { lrMultiplier, type ScheduleName } from './schedule.ts';

/** One micro-batch, right-padded: labels are -100 where there is no loss. */
export interface TrainBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  labels: Tensor;
  /** Packed rows: positions restarting at each document, and each token's document. */
  positionIds?: Tensor;
  segmentIds?: Tensor;
}

/** The batches of each epoch, in order: a pure function of the epoch, so that a run can resume mid-epoch. */
export interface TrainData {
  epochBatches(epoch: number): readonly TrainBatch[];
}

export class TrainingError extends Error {
  override name = 'TrainingError';
}

export interface TrainerOptions {
  /** Peak learning rate (default 2e-4). */
  lr?: number;
  optimizer?: 'adamw' | 'sgd';
  /** AdamW's decoupled weight decay (default 0, as transformers' TrainingArguments); not applied to biases and norm weights. */
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  momentum?: number;
  schedule?: ScheduleName;
  warmupSteps?: number;
  /** Optimizer steps; default: epochs × batches per epoch / accumulation. */
  maxSteps?: number;
  epochs?: number;
  gradientAccumulationSteps?: number;
  /** Clip the global gradient norm to this (default 1.0, as transformers); 0 disables. */
  maxGradNorm?: number;
  evalData?: TrainData;
  /** Evaluate every N optimizer steps (and at the end) when evalData is given. */
  evalEvery?: number;
  /** Folder for checkpoints (a path, or a PathRef such as a memory file system's); none are written without it. */
  outputDir?: PathLike;
  saveEvery?: number;
  /** Keep only the newest N checkpoints (default 2). */
  saveTotalLimit?: number;
  /** Continue from the newest checkpoint in outputDir when there is one. */
  resume?: boolean;
  seed?: number;
  /** Stops the run cleanly at the next step boundary, after writing a checkpoint (Ctrl-C). */
  signal?: AbortSignal;
  onEvent?: (e: TrainerEvent) => void;
  /** Recorded in checkpoints and reports. */
  settings?: Record<string, unknown>;
}

export type TrainerEvent =
  | { type: 'start'; totalSteps: number; startStep: number; trainable: number; resumedFrom: string | null }
  | { type: 'step'; step: number; totalSteps: number; loss: number; lr: number; gradNorm: number | null; tokens: number; seconds: number; tokensPerSecond: number }
  | { type: 'eval'; step: number; evalLoss: number }
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'end'; step: number; reason: 'completed' | 'interrupted' };

export interface TrainResult {
  step: number;
  reason: 'completed' | 'interrupted';
  history: TrainerState['history'];
  finalEvalLoss: number | null;
}

export class Trainer {
  readonly peft: PeftModel<CausalLM>;
  readonly train: TrainData;
  readonly opts: Required<Pick<TrainerOptions, 'lr' | 'optimizer' | 'weightDecay' | 'eps' | 'momentum' | 'schedule' | 'warmupSteps' | 'epochs' | 'gradientAccumulationSteps' | 'maxGradNorm' | 'evalEvery' | 'saveEvery' | 'saveTotalLimit' | 'seed'>> & TrainerOptions;
  readonly params: [string, Parameter][];
  readonly optimizer: AdamW | SGD;
  history: TrainerState['history'] = [];
  #epoch = 0;
  #batchIndex = 0;
  #step = 0;

  constructor(peft: PeftModel<CausalLM>, train: TrainData, options: TrainerOptions = {}) {
    this.peft = peft;
    this.train = train;
    this.opts = {
      lr: 2e-4, optimizer: 'adamw', weightDecay: 0, eps: 1e-8, momentum: 0, schedule: 'linear', warmupSteps: 0, epochs: 1,
      gradientAccumulationSteps: 1, maxGradNorm: 1, evalEvery: 0, saveEvery: 0, saveTotalLimit: 2, seed: 42, ...options,
    };
    if (!(this.opts.gradientAccumulationSteps >= 1)) throw new TrainingError(`gradientAccumulationSteps must be ≥ 1, found ${this.opts.gradientAccumulationSteps}`);
    this.params = peft.trainableParameters();
    if (this.params.length === 0) throw new TrainingError('the model has no trainable parameters: was the adapter loaded with isTrainable: false?');
    const noDecay = ([name]: [string, Parameter]): boolean => /bias|norm/i.test(name);
    const groups: ParamGroup[] = [
      { params: this.params.filter((e) => !noDecay(e)).map(([, p]) => p), weightDecay: this.opts.weightDecay },
      { params: this.params.filter(noDecay).map(([, p]) => p), weightDecay: 0 },
    ].filter((g) => g.params.length > 0);
    this.optimizer = this.opts.optimizer === 'sgd'
      ? new SGD(groups, { momentum: this.opts.momentum })
      : new AdamW(groups, { betas: this.opts.betas ?? [0.9, 0.999], eps: this.opts.eps });
    // The optimizer sees parameters group by group: keep `params` in that order.
    this.params = groups.flatMap((g) => g.params.map((p) => this.params.find(([, q]) => q === p)!));
  }

  get step(): number { return this.#step; }

  totalSteps(): number {
    if (this.opts.maxSteps !== undefined) return this.opts.maxSteps;
    const perEpoch = Math.floor(this.train.epochBatches(0).length / this.opts.gradientAccumulationSteps);
    if (perEpoch === 0) throw new TrainingError(`an epoch has fewer batches than gradientAccumulationSteps (${this.opts.gradientAccumulationSteps})`);
    return perEpoch * this.opts.epochs;
  }

  #nextBatch(): TrainBatch {
    let batches = this.train.epochBatches(this.#epoch);
    if (batches.length === 0) throw new TrainingError('the training data has no batches');
    if (this.#batchIndex >= batches.length) {
      this.#epoch++;
      this.#batchIndex = 0;
      batches = this.train.epochBatches(this.#epoch);
    }
    return batches[this.#batchIndex++]!;
  }

  #lossOf(batch: TrainBatch, numItems: Tensor): Tensor {
    // The model computes the loss itself, so that in training mode it can fuse its output layer into
    // the cross-entropy (no vocabulary-sized logits kept for the backward pass).
    const { inputIds, attentionMask, labels, positionIds = null, segmentIds = null } = batch;
    const { loss } = this.peft.forward({ inputIds, attentionMask, labels, positionIds, segmentIds, numItemsInBatch: numItems });
    return loss!;
  }

  /** One optimizer step over `gradientAccumulationSteps` micro-batches; returns the mean loss per kept label. */
  async trainStep(): Promise<{ loss: number; gradNorm: number | null; tokens: number; lr: number }> {
    const k = this.opts.gradientAccumulationSteps;
    const batches = Array.from({ length: k }, () => this.#nextBatch());
    // transformers' num_items_in_batch: every micro-batch's summed loss is divided by the labels of the whole
    // step, so accumulation equals one big batch. Fed as a scalar: a new count compiles nothing.
    const items = batches.reduce((n, b) => n + countLossTokens(b.labels), 0);
    if (items === 0) throw new TrainingError(`step ${this.#step + 1}: the batch has no label to learn from (all -100)`);
    const numItems = Tensor.scalar(items);
    const tokens = batches.reduce((n, b) => n + countNonZero(b.attentionMask), 0);
    const values = this.params.map(([, p]) => p.value);
    let acc: Tensor[] | null = null;
    let lossSum = 0;
    for (let i = 0; i < k - 1; i++) {
      const loss = this.#lossOf(batches[i]!, numItems);
      const g = grad(loss, values);
      const next: Tensor[] = acc ? g.map((x, j) => x.add(acc![j]!)) : g;
      await realize([loss, ...next]);
      lossSum += await loss.item();
      acc = next.map((x) => x.detach());
    }
    const loss = this.#lossOf(batches[k - 1]!, numItems);
    let grads = grad(loss, values);
    if (acc) grads = grads.map((x, j) => x.add(acc![j]!));
    let gradNorm: Tensor | null = null;
    if (this.opts.maxGradNorm > 0) ({ grads, totalNorm: gradNorm } = clipGradNorm(grads, this.opts.maxGradNorm));
    const lr = this.opts.lr * lrMultiplier(this.#step, { name: this.opts.schedule, warmupSteps: this.opts.warmupSteps, totalSteps: this.totalSteps() });
    const update = this.optimizer.update(grads, lr);
    await realize([loss, ...(gradNorm ? [gradNorm] : []), ...update.tensors]);
    lossSum += await loss.item();
    const norm = gradNorm ? await gradNorm.item() : null;
    const first = this.history[0];
    const vocabSize = this.peft.model.config.vocab_size;
    const diverged = divergence({
      step: this.#step + 1, loss: lossSum, gradNorm: norm, vocabSize,
      first: first && { loss: first.loss, gradNorm: first.gradNorm },
      params: await Promise.all(update.params.map(async (t, i) => [this.params[i]![0], await t.floats()] as const)),
    });
    if (diverged !== null) {
      throw new TrainingError(`step ${this.#step + 1}: the run diverged: ${diverged}; the adapter was not updated. Lower the learning rate (${this.opts.lr}; 1e-4 to 1e-3 is usual for adapters) or check the data.`);
    }
    update.commit();
    this.#step++;
    return { loss: lossSum, gradNorm: norm, tokens, lr };
  }

  /** Mean loss per kept label over the evaluation batches (no gradients, dropout off). */
  async evaluate(data: TrainData | undefined = this.opts.evalData): Promise<number> {
    if (!data) throw new TrainingError('evaluate: no evaluation data');
    const wasTraining = this.peft.training;
    this.peft.eval();
    let sum = 0;
    let n = 0;
    try {
      for (const b of data.epochBatches(0)) {
        const items = countLossTokens(b.labels);
        if (items === 0) continue;
        const loss = this.#lossOf(b, Tensor.scalar(1));
        sum += await loss.item();
        n += items;
      }
    } finally {
      this.peft.train(wasTraining);
    }
    return n ? sum / n : NaN;
  }

  #state(): TrainerState {
    return {
      step: this.#step, epoch: this.#epoch, batchIndex: this.#batchIndex, rng: getDefaultGenerator().getState(),
      history: this.history, settings: this.opts.settings ?? {},
    };
  }

  async saveCheckpoint(): Promise<string> {
    if (!this.opts.outputDir) throw new TrainingError('saveCheckpoint: no outputDir');
    const dir = await writeCheckpoint(this.opts.outputDir, {
      peft: this.peft, optimizer: this.optimizer.state(), paramNames: this.params.map(([name]) => name), trainer: this.#state(),
    });
    await pruneCheckpoints(this.opts.outputDir, this.opts.saveTotalLimit);
    this.opts.onEvent?.({ type: 'checkpoint', step: this.#step, dir });
    return dir;
  }

  /** Restore adapter, optimizer, position and RNG from a checkpoint folder. */
  async restore(dir: PathLike): Promise<void> {
    const saved = await readCheckpoint(dir, this.params.map(([name]) => name), this.optimizer.bufferNames);
    const { missing } = await this.peft.loadState(saved.adapter, this.peft.activeAdapter, { where: String(dir) });
    if (missing.length) throw new TrainingError(`${dir}: the checkpoint's adapter has no tensor for ${missing.join(', ')}`);
    try {
      this.optimizer.loadState(saved.optimizer);
    } catch (e) {
      throw new TrainingError(`${dir}: the optimizer state does not fit this run: ${(e as Error).message}`, { cause: e });
    }
    const state = saved.trainer;
    this.#step = state.step;
    this.#epoch = state.epoch;
    this.#batchIndex = state.batchIndex;
    this.history = state.history;
    getDefaultGenerator().setState(state.rng);
  }

  async run(): Promise<TrainResult> {
    // Without memory arenas: each batch shape's session would keep its peak in an arena of its own,
    // and the arena's doubling regions held 0.8 GB more at 1 × 4096 for no speed (docs/design.md).
    const arenaBefore = setMemoryArena(false);
    try {
      return await this.#run();
    } finally {
      setMemoryArena(arenaBefore);
    }
  }

  async #run(): Promise<TrainResult> {
    const o = this.opts;
    manualSeed(o.seed);
    let resumedFrom: string | null = null;
    if (o.resume && o.outputDir) {
      const latest = await latestCheckpointRef(pathRef(o.outputDir));
      if (latest) await this.restore(latest);
      resumedFrom = latest?.path ?? null;
    }
    const total = this.totalSteps();
    // A NaN in a trainable tensor makes every loss NaN: refuse at the start, naming the tensor, not at step 1.
    const bad = await nonFiniteTensors(new Map(this.params.map(([name, p]) => [name, p.value])));
    if (bad.length) throw new TrainingError(`the trainable parameters hold non-finite values before training starts:\n  ${bad.join('\n  ')}\nSet them to finite values (a new adapter starts from its initialization).`);
    o.onEvent?.({ type: 'start', totalSteps: total, startStep: this.#step, trainable: this.params.reduce((n, [, p]) => n + p.size, 0), resumedFrom });
    this.peft.train();
    let reason: TrainResult['reason'] = 'completed';
    let finalEvalLoss: number | null = null;
    while (this.#step < total) {
      if (o.signal?.aborted) { reason = 'interrupted'; break; }
      const t0 = performance.now();
      const r = await this.trainStep();
      const seconds = (performance.now() - t0) / 1000;
      const record: TrainerState['history'][number] = { step: this.#step, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, tokens: r.tokens, seconds };
      this.history.push(record);
      o.onEvent?.({ type: 'step', step: this.#step, totalSteps: total, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, tokens: r.tokens, seconds, tokensPerSecond: r.tokens / seconds });
      const last = this.#step === total;
      if (o.evalData && ((o.evalEvery > 0 && this.#step % o.evalEvery === 0) || last)) {
        record.evalLoss = await this.evaluate();
        finalEvalLoss = record.evalLoss;
        o.onEvent?.({ type: 'eval', step: this.#step, evalLoss: record.evalLoss });
      }
      if (o.outputDir && o.saveEvery > 0 && this.#step % o.saveEvery === 0 && !last) await this.saveCheckpoint();
    }
    if (reason === 'interrupted' && o.outputDir) await this.saveCheckpoint();
    o.onEvent?.({ type: 'end', step: this.#step, reason });
    return { step: this.#step, reason, history: this.history, finalEvalLoss };
  }
}

/** Labels that enter the causal-LM loss: positions 1.. of each row that are not -100 (labels shift left). */
export function countLossTokens(labels: Tensor): number {
  const data = labels.storage as BigInt64Array | Int32Array;
  const [rows, cols] = labels.shape as [number, number];
  let n = 0;
  for (let r = 0; r < rows; r++) for (let c = 1; c < cols; c++) if (Number(data[r * cols + c]) !== -100) n++;
  return n;
}

function countNonZero(mask: Tensor): number {
  const data = mask.storage as ArrayLike<number | bigint>;
  let n = 0;
  for (let i = 0; i < data.length; i++) if (Number(data[i]) !== 0) n++;
  return n;
}
