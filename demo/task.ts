/**
 * The demo's task, shared by `npm run demo` (demo/run.ts, Node) and the page of `npm run demo:web`
 * (demo/web/worker.ts, a browser worker): the budget, the data pipeline, the trainer settings and
 * the exact-match evaluation. Platform-neutral: files are PathLikes, nothing is printed here.
 */
import type { PathLike } from '../src/io/index.ts';
import type { PretrainedTokenizer } from '../src/io/index.ts';
import type { CausalLM } from '../src/models/index.ts';
import { Linear } from '../src/nn/index.ts';
import { MissConfig, type PeftModel } from '../src/peft/index.ts';
import {
  loadJsonlDataset, makeBatches, readJsonl, type LengthGroupedBatches, type Trainer, type TrainerEvent, type TrainerOptions,
} from '../src/train/index.ts';
import { firstLine, greedyContinuations, isExactMatch } from './answer.ts';

/** One budget for every method: a comparison is only fair if everything but the adapter is equal. */
export interface Budget {
  steps: number;
  batchSize: number;
  lr: number;
  schedule: 'cosine';
  warmupSteps: number;
  maxGradNorm: number;
  seed: number;
  targetModules: string;
}

export const DEFAULT_BUDGET: Budget = {
  steps: 250,
  batchSize: 16,
  lr: 1.5e-3,
  schedule: 'cosine',
  warmupSteps: 10,
  maxGradNorm: 1,
  seed: 42,
  /** Attention and MLP projections alike: a tiny model needs every layer to pick up a new format quickly. */
  targetModules: 'all-linear',
};

/** Bone's block size in the demo (MissConfig r = 16, default mode). */
export const BONE_R = 16;

/** Every example fits (the longest is under 50 characters); buckets of 16 make a few graph shapes with little padding. */
export const MAX_LENGTH = 64;
export const BUCKET = 16;
/** The answers are short: the longest is a reversed 6-letter word (7 characters with its space) plus the end token. */
export const MAX_ANSWER_TOKENS = 8;
/** The sample questions are shown with a longer continuation, so that what the base model does instead of answering is visible. */
export const SAMPLE_TOKENS = 40;

export interface EvalExample {
  prompt: string;
  completion: string;
  skill: string;
}

export interface SampleAnswer {
  prompt: string;
  expected: string;
  /** The longer continuation (SAMPLE_TOKENS). */
  continuation: string;
  correct: boolean;
}

export interface Evaluation {
  accuracy: number;
  correct: number;
  bySkill: Record<string, number>;
  /** The answer (first line of the continuation) to every question. */
  answers: string[];
  /** The sample questions, answered at length. */
  samples: SampleAnswer[];
}

export interface TaskData {
  train: LengthGroupedBatches;
  held: LengthGroupedBatches;
  evalSet: readonly EvalExample[];
  samples: readonly number[];
  trainExamples: number;
}

/** The held-out questions, with their skill ("all" when a line names none). */
export async function readEvalSet(path: PathLike): Promise<EvalExample[]> {
  return (await readJsonl(path)).map(({ value, source }) => {
    const { prompt, completion, skill } = value;
    if (typeof prompt !== 'string' || typeof completion !== 'string') throw new Error(`${source.file}:${source.line}: expected "prompt" and "completion" strings`);
    return { prompt, completion, skill: typeof skill === 'string' ? skill : 'all' };
  });
}

/**
 * The project's data pipeline on the task's files: prompt/completion JSONL → tokens with loss on the
 * completion and the end token → batches padded to a multiple of BUCKET tokens.
 */
export async function loadTaskData(tokenizer: PretrainedTokenizer, trainFile: PathLike, evalFile: PathLike, budget: Pick<Budget, 'batchSize' | 'seed'>): Promise<TaskData> {
  if (tokenizer.padTokenId === undefined) throw new Error(`${tokenizer.dir}: expected tokenizer.json with a pad or eos token`);
  const evalSet = await readEvalSet(evalFile);
  const batching = { padTokenId: tokenizer.padTokenId, bucketMultiple: BUCKET, maxLength: MAX_LENGTH };
  const trainSet = await loadJsonlDataset(trainFile, tokenizer, { maxLength: MAX_LENGTH });
  const heldSet = await loadJsonlDataset(evalFile, tokenizer, { maxLength: MAX_LENGTH });
  return {
    // groupSize = batchSize turns off grouping by length: each batch is a random draw that mixes
    // the three skills. Their lengths differ, so length-grouped batches are one skill each, and
    // the updates zig-zag between skills (measured: 81% instead of 96% exact match for Bone).
    train: makeBatches(trainSet.examples, { ...batching, batchSize: budget.batchSize, groupSize: budget.batchSize, seed: budget.seed, dropLast: true }),
    // The held-out loss on the chart: the whole eval set in one batch.
    held: makeBatches(heldSet.examples, { ...batching, batchSize: heldSet.examples.length, shuffle: false }),
    evalSet,
    // The first question of each skill: the samples shown before and after.
    samples: [...new Set(evalSet.map((e) => e.skill))].map((s) => evalSet.findIndex((e) => e.skill === s)),
    trainExamples: trainSet.summary.examples,
  };
}

/** Exact-match accuracy of greedy answers (overall and per skill), and the sample questions answered at length. */
export async function evaluate(model: CausalLM, tokenizer: PretrainedTokenizer, examples: readonly EvalExample[], samples: readonly number[]): Promise<Evaluation> {
  model.eval();
  const continuations = await greedyContinuations(model, tokenizer, examples.map((e) => e.prompt), { maxNewTokens: MAX_ANSWER_TOKENS, batchSize: examples.length });
  const correct = examples.map((e, i) => isExactMatch(continuations[i]!, e.completion));
  const bySkill: Record<string, number> = {};
  for (const skill of new Set(examples.map((e) => e.skill))) {
    const ofSkill = examples.map((e, i) => ({ e, ok: correct[i]! })).filter((r) => r.e.skill === skill);
    bySkill[skill] = ofSkill.filter((r) => r.ok).length / ofSkill.length;
  }
  const shown = samples.map((i) => examples[i]!);
  const long = await greedyContinuations(model, tokenizer, shown.map((e) => e.prompt), { maxNewTokens: SAMPLE_TOKENS });
  const count = correct.filter(Boolean).length;
  return {
    accuracy: count / examples.length, correct: count, bySkill, answers: continuations.map(firstLine),
    samples: shown.map((e, k) => ({ prompt: e.prompt, expected: e.completion, continuation: long[k]!, correct: isExactMatch(long[k]!, e.completion) })),
  };
}

/** The Linear layers `all-linear` targets: every one but the output head. */
function targetLinears(model: CausalLM): Linear[] {
  return model.namedModules().filter(([path, m]) => m instanceof Linear && path !== 'lm_head').map(([, m]) => m as Linear);
}

/**
 * LoRA's rank for about as many trainable parameters as Bone: Bone (default mode) trains a block
 * [r, out] per layer, r·out parameters; LoRA trains A [r, in] and B [out, r], r·(in + out).
 */
export function loraRankMatching(model: CausalLM, boneR: number): number {
  const layers = targetLinears(model);
  const bone = layers.reduce((n, l) => n + boneR * l.outFeatures, 0);
  const perRank = layers.reduce((n, l) => n + l.inFeatures + l.outFeatures, 0);
  return Math.max(1, Math.round(bone / perRank));
}

/** The demo's Bone adapter: MissConfig, default mode, on every linear layer. */
export function boneConfig(r: number = BONE_R, targetModules: string = DEFAULT_BUDGET.targetModules): MissConfig {
  return new MissConfig({ r, targetModules, taskType: 'CAUSAL_LM' });
}

/** The Trainer's settings for a run of the budget: the cosine schedule, clipping, seed, and six held-out evaluations. */
export function trainerOptions(budget: Budget, held: LengthGroupedBatches, onEvent: (e: TrainerEvent) => void, settings: Record<string, unknown>): TrainerOptions {
  return {
    lr: budget.lr, schedule: budget.schedule, warmupSteps: budget.warmupSteps, maxSteps: budget.steps, maxGradNorm: budget.maxGradNorm,
    seed: budget.seed, evalData: held, evalEvery: Math.max(1, Math.round(budget.steps / 6)), onEvent, settings: { ...settings, ...budget },
  };
}

/** The trainable parameter count of an adapted model and its share of the base model. */
export function trainableShare(peft: PeftModel<CausalLM>): { trainable: number; share: number } {
  const { trainable } = peft.printTrainableParameters(() => undefined);
  return { trainable, share: trainable / peft.model.numParameters() };
}

/** The adapter and the optimizer's state after a step, by name (`adapter.<key>`, `m.<param>`, `v.<param>`). */
export interface Snapshot {
  step: number;
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

/**
 * Takes the tensors at once (call it from the step's event: later steps replace them, never change
 * them) and reads them afterwards; the browser tests compare the page's with Node's.
 */
export function takeSnapshot(step: number, trainer: Trainer): Promise<Snapshot> {
  const adapter = trainer.peft.state(trainer.peft.activeAdapter);
  const optimizer = trainer.optimizer.state();
  const names = trainer.params.map(([name]) => name);
  const named: [string, { shape: readonly number[]; floats(): Promise<ArrayLike<number>> }][] = [...adapter].map(([key, t]) => [`adapter.${key}`, t]);
  for (const [buffer, list] of Object.entries(optimizer.buffers)) list.forEach((t, i) => { if (t) named.push([`${buffer}.${names[i]}`, t]); });
  return (async () => {
    const tensors: Snapshot['tensors'] = {};
    for (const [name, t] of named) tensors[name] = { shape: [...t.shape], data: Float32Array.from(await t.floats()) };
    return { step, tensors };
  })();
}
