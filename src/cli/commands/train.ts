/**
 * `bone train`: fine-tune a model folder on a JSONL dataset with a Bone/MiSS (or LoRA) adapter.
 *
 * model + tokenizer → dataset (tokenized, truncated, length-bucketed batches; optional eval split)
 * → PeftModel → Trainer (checkpoints in --out every --save-every steps, at the end, and on Ctrl-C)
 * → the adapter in --out (PEFT's format) and --out/report.html (loss curves, settings, data,
 * parameters, speed).
 *
 * `runTrain(options)` is the same command for code (the demo, tests): no process is spawned, the
 * options are checked with the same messages as the flags, and the result carries the numbers the
 * summary prints.
 */
import { readFile, readdir } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { getBackend } from '../../engine/index.ts';
import { loadTokenizer, type PretrainedTokenizer } from '../../io/tokenizer.ts';
import { loadPretrained } from '../../io/model-folder.ts';
import type { CausalLM } from '../../models/index.ts';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, getPeftModel, peftMethodOf, type PeftModel } from '../../peft/index.ts';
import { recoverFolderWrites, recoverFolderWritesIn, removeFolderAtomically } from '../../node/atomic.ts';
import { lockFolder } from '../../node/folder-lock.ts';
import { hostMemory } from '../../node/host-memory.ts';
import { TRAINER_STATE_NAME, latestCheckpoint, type HistoryRecord } from '../../train/trainer-checkpoint.ts';
import { DatasetError, describeUnrepresentable, type BatchShape, type LengthGroupedBatches, type LoadedDataset } from '../../train/data.ts';
import { fineTune, prepareTrainingData, type TrainingData } from '../../train/fine-tune.ts';
import type { HostMemory } from '../../train/memory-check.ts';
import type { TrainerEvent, TrainResult as TrainerRunResult } from '../../train/trainer.ts';
import {
  UsageError, checkOptions, flagName, refuseBoth, requireOptions, withDefaults,
  type CommandSyntax, type OptionSpecs, type OptionValues,
} from '../args.ts';
import { defineCommand } from '../command.ts';
import { formatBytes, formatCount, formatDuration, formatNumber, plural, println, processIO, type CliIO } from '../io.ts';
import { applyMemoryOptions, checkMemoryBeforeTraining } from '../memory.ts';
import { ADAPTER_OPTIONS, adapterConfigFor, checkMethodFlags, flagsOf, type MethodFlagValues } from '../method.ts';
import { TRAIN_OPTIONS } from '../train-options.ts';
import { checkFile, checkModelPath, checkOutputFolder, checkTokenizerPath } from '../paths.ts';
import { TrainingProgress, progressMode } from '../progress.ts';
import { trainReportSections, writeTrainReport, type DataSummary, type TrainRunFacts } from '../report.ts';

export type { DataSummary } from '../report.ts';

export { TRAIN_OPTIONS } from '../train-options.ts';

export const trainSyntax = {
  name: 'train',
  summary: 'Fine-tune a model with a Bone/MiSS adapter (or LoRA) on a JSONL dataset.',
  usage: '--model DIR --data FILE --out DIR [options]',
  options: TRAIN_OPTIONS,
  notes: [
    'Writes to --out: the adapter (adapter_config.json + adapter_model.safetensors, PEFT\'s format),',
    'checkpoint-N/ folders (adapter, optimizer state, data position) and report.html (loss curves, settings, data).',
    '',
    'Examples:',
    '  bone train --model ./SmolLM2-135M --data train.jsonl --out ./run --max-steps 200',
    '  bone train --config run.json --lr 1e-4          # run.json: {"model": "...", "data": "...", "out": "..."}',
    '  bone train --model ./SmolLM2-135M --data train.jsonl --out ./run --max-steps 400 --resume',
    '',
    'Ctrl-C stops after the current step and writes a checkpoint (--resume continues it); a second Ctrl-C quits at once.',
  ].join('\n'),
} as const satisfies CommandSyntax<OptionSpecs>;

/** What runTrain takes: the flags as camelCase fields (checked like flags), plus hooks for code. */
export type TrainOptions = OptionValues<typeof TRAIN_OPTIONS> & MethodFlagValues & {
  model: string;
  data: string;
  out: string;
  /** Where the summary, progress and warnings go (default: the process's streams). */
  io?: CliIO;
  /** Stops the run at the next step boundary, with a checkpoint (as Ctrl-C does). */
  signal?: AbortSignal;
  /** Install the Ctrl-C handler (the command does; code that calls runTrain decides). Default false. */
  handleSigint?: boolean;
  /** Every Trainer event, after the progress display has seen it. */
  onEvent?: (event: TrainerEvent) => void;
  /** The memory the check before training compares with (default: this machine's, hostMemory()). */
  hostMemory?: HostMemory;
};


export interface TrainResult extends TrainRunFacts {
  reportPath: string;
  history: HistoryRecord[];
  /** The signal that stopped an interrupted run (null: the caller's AbortSignal, or it completed). */
  stoppedBy: StopSignal | null;
}

/**
 * Settings that must not change between a run and its --resume: the adapter's (method, targets and
 * every method flag) and the data position's.
 */
const RESUME_INVARIANTS = [...Object.keys(ADAPTER_OPTIONS), 'data', 'batchSize', 'gradAccum', 'maxLength', 'packing', 'seed'] as const;

type ResolvedTrainOptions = OptionValues<typeof TRAIN_OPTIONS> & MethodFlagValues & { model: string; data: string; out: string };

/** Cross-option checks and path checks; returns the options with defaults. Throws UsageError. */
async function resolveTrainOptions(options: TrainOptions, where: string): Promise<ResolvedTrainOptions> {
  const given = checkOptions(trainSyntax, options, where);
  requireOptions(trainSyntax, given);
  refuseBoth(trainSyntax, given, 'eval', 'evalFraction', 'evaluate on a file or on a held-out share of --data');
  refuseBoth(trainSyntax, given, 'epochs', 'maxSteps', 'the run length is either epochs or optimizer steps');
  checkMethodFlags('train', given);
  if (given.evalEvery !== undefined && given.eval === undefined && given.evalFraction === undefined) {
    throw new UsageError('train', '--eval-every needs evaluation data: add --eval FILE or --eval-fraction F');
  }
  // A repo id resolves to its cached snapshot here only to check it exists; the loader resolves it again.
  await checkModelPath('train', '--model', given.model!);
  await checkFile('train', '--data', given.data!, 'a JSONL training file');
  if (given.eval !== undefined) await checkFile('train', '--eval', given.eval, 'a JSONL evaluation file');
  if (given.tokenizer !== undefined) await checkTokenizerPath('train', '--tokenizer', given.tokenizer);
  const existing = await latestCheckpoint(given.out!);
  if (existing && !given.resume && !given.overwrite) {
    throw new UsageError('train', `--out ${given.out} already has a checkpoint from an earlier run (${existing}): add --resume to continue it, --overwrite to start again (its checkpoints are deleted), or choose another --out`);
  }
  // A resumed run replaces the adapter its own checkpoints belong to; anything else needs --overwrite.
  await checkOutputFolder('train', '--out', given.out!, {
    holds: { what: 'an adapter', files: [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME] }, overwrite: given.overwrite || (existing !== null && given.resume),
  });
  if (existing && given.resume) await checkResumeSettings(existing, given);
  return { ...withDefaults(trainSyntax, given), model: given.model!, data: given.data!, out: given.out! };
}

async function checkResumeSettings(checkpoint: string, given: OptionValues<typeof TRAIN_OPTIONS>): Promise<void> {
  let saved: Record<string, unknown>;
  try {
    saved = (JSON.parse(await readFile(join(checkpoint, TRAINER_STATE_NAME), 'utf8')) as { settings?: Record<string, unknown> }).settings ?? {};
  } catch {
    return; // an unreadable state is reported by the Trainer when it restores
  }
  const current: Record<string, unknown> = { ...withDefaults(trainSyntax, given) };
  if (typeof current.data === 'string') current.data = resolve(current.data);
  for (const key of RESUME_INVARIANTS) {
    if (!(key in saved)) continue;
    const before = JSON.stringify(saved[key] ?? null);
    const now = JSON.stringify(current[key] ?? null);
    if (before !== now) {
      const shownValue = (v: unknown): string => (v === null || v === undefined ? '(default)' : String(v));
      throw new UsageError('train', `--resume: the checkpoint ${checkpoint} was trained with --${flagName(key)} ${shownValue(saved[key])}, found --${flagName(key)} ${shownValue(current[key])}; a resumed run must keep it (or train into another --out)`);
    }
  }
}

function summarize(dataset: LoadedDataset): DataSummary {
  const s = dataset.summary;
  return {
    file: dataset.file, format: dataset.format, examples: s.examples, tokens: s.tokens, trainableTokens: s.trainableTokens, longest: s.longest,
    truncatedExamples: s.truncatedExamples, truncatedTokens: s.truncatedTokens, skipped: s.skippedUntrainable,
  };
}

function batchShapes(batches: LengthGroupedBatches): { shape: [number, number]; count: number }[] {
  const counts = new Map<string, { shape: [number, number]; count: number }>();
  for (const indices of batches.epochPlan(0)) {
    const shape: [number, number] = [indices.length, batches.sequenceLengthOf(indices)];
    const entry = counts.get(shape.join('x')) ?? { shape, count: 0 };
    entry.count += 1;
    counts.set(shape.join('x'), entry);
  }
  return [...counts.values()].sort((a, b) => a.shape[1] - b.shape[1] || a.shape[0] - b.shape[0]);
}

/** The signals that stop a run cleanly: Ctrl-C, a service manager's stop, a closed terminal. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/** The exit code of a process stopped by `signal`, as shells report it (128 + its number). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + osConstants.signals[signal];
}

/**
 * The first stop signal: finish the step, write a checkpoint, exit with the signal's code. A second
 * one: quit now (the newest checkpoint is still there). Returns the uninstaller and the signal seen.
 */
function installInterruptHandler(controller: AbortController, log: (message: string) => void): { remove: () => void; received: () => StopSignal | null } {
  let first: StopSignal | null = null;
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = (): void => {
      if (first === null) {
        first = signal;
        const name = signal === 'SIGINT' ? 'Ctrl-C' : signal;
        log(`${name}: stopping after this step and writing a checkpoint (${signal === 'SIGINT' ? 'press Ctrl-C' : `send ${signal}`} again to quit now)`);
        controller.abort();
      } else {
        process.exit(signalExitCode(signal));
      }
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return { remove: () => { for (const [signal, handler] of handlers) process.off(signal, handler); }, received: () => first };
}

async function loadModelAndTokenizer(o: ResolvedTrainOptions, log: (m: string) => void): Promise<{ model: CausalLM; tokenizer: PretrainedTokenizer }> {
  log(`loading ${o.model}`);
  const { model, tokenizer: bundled } = await loadPretrained(o.model);
  const tokenizer = o.tokenizer !== undefined ? await loadTokenizer(o.tokenizer) : bundled;
  if (tokenizer === null) throw new UsageError('train', `--model ${o.model} has no tokenizer.json: add --tokenizer DIR (a folder with the model's tokenizer)`);
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new UsageError('train', `the tokenizer (${tokenizer.dir}) has ids up to ${tokenizer.vocabSize - 1}, but the model's vocab_size is ${model.config.vocab_size}: they do not belong together`);
  }
  return { model, tokenizer };
}

/** The data files as batches (library: prepareTrainingData), and the run's length, which --grad-accum must fit. */
async function prepareData(o: ResolvedTrainOptions, tokenizer: PretrainedTokenizer, padTokenId: number, log: (m: string) => void, warn: (m: string) => void): Promise<TrainingData & { totalSteps: number }> {
  let data: TrainingData;
  try {
    data = await prepareTrainingData(tokenizer, {
      data: o.data, eval: o.eval, evalFraction: o.evalFraction, maxLength: o.maxLength!, batchSize: o.batchSize!, padTokenId, seed: o.seed!,
      skipUntrainable: o.skipUntrainable ?? false, packing: o.packing ?? false,
    });
  } catch (error) {
    // The dataset reader's errors name its option (`skipUntrainable: true`); a command-line user needs the flag.
    if (error instanceof DatasetError) error.message = error.message.replace('pass skipUntrainable: true', 'pass --skip-untrainable');
    throw error;
  }
  const { trainFile, evalFile, trainExamples, evalExamples, trainBatches, evalBatches } = data;
  const stepsPerEpoch = Math.floor(trainBatches.batchesPerEpoch / o.gradAccum!);
  if (stepsPerEpoch === 0) {
    throw new UsageError('train', `--grad-accum ${o.gradAccum} needs at least that many batches per epoch, found ${trainBatches.batchesPerEpoch} (${trainExamples.length} examples, --batch-size ${o.batchSize})`);
  }
  const totalSteps = o.maxSteps ?? stepsPerEpoch * (o.epochs ?? 1);
  const truncated = trainFile.summary.truncatedExamples + (evalFile?.summary.truncatedExamples ?? 0);
  const packed = trainBatches.packing ? ` packed into ${plural(trainBatches.rows.length, 'row')} of up to ${o.maxLength} tokens` : '';
  log(`data: ${trainExamples.length} training examples${packed}${evalBatches ? `, ${evalExamples.length} for evaluation` : ''}; ${plural(trainBatches.batchesPerEpoch, 'batch')} per epoch${truncated ? `; ${plural(truncated, 'example')} truncated to ${o.maxLength} tokens` : ''}`);
  for (const file of [trainFile, evalFile]) {
    for (const skipped of file?.summary.skipped.slice(0, 5) ?? []) warn(`skipped ${skipped.source ? `${skipped.source.file}:${skipped.source.line}` : 'an example'}: ${skipped.reason}`);
    if (file && file.summary.unrepresentable.occurrences > 0) warn(describeUnrepresentable(file.file, file.summary.unrepresentable));
  }
  return { ...data, totalSteps };
}

export async function runTrain(options: TrainOptions): Promise<TrainResult> {
  const o = await resolveTrainOptions(options, 'runTrain options');
  const io = options.io ?? processIO();
  const progress = new TrainingProgress(io.stderr, { mode: progressMode(io.stderr, o.quiet ?? false), logEvery: o.logEvery ?? 10 });
  const log = (message: string): void => progress.log(message);
  // The run owns --out until it ends: a second run (or --resume) on the same folder is refused.
  const release = await lockFolder(o.out, `bone train --out ${o.out}`);
  try {
    // What an earlier run killed mid-write left behind: finished, undone or removed.
    for (const line of [...await recoverFolderWrites(o.out), ...await recoverFolderWritesIn(o.out)]) log(line);
    if (o.overwrite && !o.resume) {
      const old = (await readdir(o.out)).filter((n) => /^checkpoint-\d+$/.test(n));
      for (const n of old) await removeFolderAtomically(join(o.out, n));
      if (old.length) log(`--overwrite: removed ${plural(old.length, 'checkpoint')} of an earlier run in ${o.out}`);
    }
    return await trainInto(o, options, io, progress);
  } finally {
    await release();
  }
}

async function trainInto(o: ResolvedTrainOptions, options: TrainOptions, io: CliIO, progress: TrainingProgress): Promise<TrainResult> {
  const log = (message: string): void => progress.log(message);
  const warn = (message: string): void => println(io.stderr, `warning: ${message}`);

  const { model, tokenizer } = await loadModelAndTokenizer(o, log);
  applyMemoryOptions(model, o);
  const padTokenId = tokenizer.padTokenId;
  if (padTokenId === undefined) throw new UsageError('train', `the tokenizer (${tokenizer.dir}) names neither a pad nor an eos token, so batches cannot be padded`);

  const data = await prepareData(o, tokenizer, padTokenId, log, warn);
  const { trainBatches, evalBatches, totalSteps } = data;
  const evalEvery = evalBatches ? o.evalEvery ?? Math.max(1, Math.ceil(totalSteps / 10)) : 0;

  // ---- adapter
  const peft: PeftModel<CausalLM> = getPeftModel(model, adapterConfigFor(o, model.nameOrPath ?? o.model), 'default', { warn });
  const counts = peft.printTrainableParameters(() => undefined);
  const adapterConfig = peft.peftConfig.get('default')!;
  const targets = typeof adapterConfig.targetModules === 'string' ? adapterConfig.targetModules : [...(adapterConfig.targetModules ?? [])];
  log(`adapter: ${adapterConfig.peftType} ${o.method}, r ${String(o.r)}, targets ${Array.isArray(targets) ? targets.join(',') : targets}; ${formatCount(counts.trainable)} trainable of ${formatCount(counts.all)} parameters (${(100 * counts.trainable / counts.all).toFixed(3)}%)`);
  if (!o.skipMemoryCheck) {
    // The shapes share the process's memory: the longest batch any epoch can make counts too (the
    // order differs per epoch).
    const all = trainBatches.rows.map((_, i) => i);
    const shapes: BatchShape[] = [...trainBatches.shapesOfEpoch(0), [Math.min(o.batchSize!, all.length), trainBatches.sequenceLengthOf(all)]];
    await getBackend(); // the runtime's own memory is part of what the process holds
    const check = checkMemoryBeforeTraining(peft, shapes, {
      batchSize: o.batchSize!, gradAccum: o.gradAccum!, gradientCheckpointing: o.gradientCheckpointing ?? false, packing: o.packing ?? false,
    }, warn, options.hostMemory ?? hostMemory());
    log(`memory: a step on ${check.estimate.shape.join(' × ')} tokens needs about ${formatBytes(check.estimate.processPeakBytes)} (estimated from its graph) of the ${formatBytes(check.capacityBytes)} this process can have`);
  }

  // ---- training
  // One signal for the Trainer: the caller's, Ctrl-C, or both.
  const controller = new AbortController();
  const forwardAbort = (): void => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener('abort', forwardAbort, { once: true });
  const interrupts = options.handleSigint ? installInterruptHandler(controller, log) : { remove: () => undefined, received: () => null };
  const settings: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(TRAIN_OPTIONS)) {
    const value = (o as Record<string, unknown>)[key] ?? null;
    // Absolute paths, so that a --resume from another working directory compares equal.
    settings[key] = spec.kind === 'path' && typeof value === 'string' ? resolve(value) : value;
  }
  let tokens = 0;
  let stepSeconds = 0;
  let resumedFrom: string | null = null;
  let startStep = 0;
  if (o.resume && !(await latestCheckpoint(o.out))) log(`--resume: no checkpoint in ${o.out} yet; starting from step 0`);
  const started = performance.now();
  const startedAt = new Date();
  let run: TrainerRunResult;
  try {
    run = await fineTune(peft, trainBatches, {
      lr: o.lr, schedule: o.schedule, warmupSteps: o.warmupSteps, maxSteps: totalSteps, gradientAccumulationSteps: o.gradAccum,
      weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, evalData: evalBatches, evalEvery, outputDir: o.out,
      saveEvery: o.saveEvery, saveTotalLimit: o.keepCheckpoints, resume: o.resume ?? false, seed: o.seed, signal: controller.signal, settings,
      modelCard: { data: `${o.data}: ${plural(data.trainExamples.length, `${data.trainFile.format} example`)}`, settings: settingsRows(o) },
      onEvent: (e) => {
        if (e.type === 'start') ({ resumedFrom, startStep } = e);
        if (e.type === 'step') { tokens += e.tokens; stepSeconds += e.seconds; }
        progress.onEvent(e);
        options.onEvent?.(e);
      },
    });
  } finally {
    interrupts.remove();
    options.signal?.removeEventListener('abort', forwardAbort);
    progress.finish();
  }
  const seconds = (performance.now() - started) / 1000;

  const history = run.history;
  const result: TrainResult = {
    out: o.out, reportPath: join(o.out, 'report.html'), step: run.step, startStep, totalSteps, reason: run.reason, resumedFrom,
    stoppedBy: run.reason === 'interrupted' ? interrupts.received() : null, history, finalLoss: history.length ? history[history.length - 1]!.loss : null, finalEvalLoss: run.finalEvalLoss ?? lastEval(history),
    trainableParameters: counts.trainable, allParameters: counts.all, targets,
    data: {
      train: summarize(data.trainFile), eval: data.evalFile ? summarize(data.evalFile) : null, trainExamples: data.trainExamples.length, evalExamples: data.evalExamples.length,
      batchesPerEpoch: trainBatches.batchesPerEpoch, batchShapes: batchShapes(trainBatches),
    },
    seconds, tokens, tokensPerSecond: stepSeconds > 0 ? tokens / stepSeconds : 0,
  };
  await writeTrainReport(result.reportPath, {
    title: `bone train: ${o.out}`,
    subtitle: `${startedAt.toISOString().replace('T', ' ').slice(0, 19)} UTC · ${run.reason === 'completed' ? 'completed' : `interrupted at step ${run.step}`} · ${result.step} of ${totalSteps} steps`,
    trainLoss: history.map((h) => ({ step: h.step, loss: h.loss })),
    evalLoss: history.filter((h) => h.evalLoss !== undefined).map((h) => ({ step: h.step, loss: h.evalLoss! })),
    sections: trainReportSections(result, {
      model: o.model, modelConfig: model.config, maxLength: o.maxLength!, evalFraction: o.evalFraction,
      adapter: `${adapterConfig.peftType} (--method ${o.method}: ${peftMethodOf(adapterConfig).describe(adapterConfig)}), r ${String(o.r)}`,
      settings: settingsRows(o),
    }),
  });
  printSummary(io, result, o);
  return result;
}

function lastEval(history: TrainResult['history']): number | null {
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.evalLoss !== undefined) return history[i]!.evalLoss!;
  return null;
}

/** The options as the report lists them, leaving out method flags the chosen method does not take (--mini-r for miss). */
function settingsRows(o: ResolvedTrainOptions): [string, string][] {
  const methodFlags = Object.keys(ADAPTER_OPTIONS).filter((k) => k !== 'method' && k !== 'targets');
  const taken = new Set(flagsOf(o.method!));
  const inapplicable = new Set(methodFlags.filter((k) => !taken.has(k)));
  return Object.keys(TRAIN_OPTIONS).flatMap((key) => {
    const v = (o as Record<string, unknown>)[key];
    return v === undefined || inapplicable.has(key) ? [] : [[`--${flagName(key)}`, Array.isArray(v) ? v.join(',') : String(v)] as [string, string]];
  });
}

/** What this invocation trained: "20 steps", "steps 21-40 (resumed from step 20)", "step 5 (...)". */
function stepsTrained(r: TrainResult): string {
  if (r.startStep === 0) return `${r.step} steps`;
  const steps = r.step - r.startStep === 1 ? `step ${r.step}` : `steps ${r.startStep + 1}-${r.step}`;
  return `${steps} (resumed from step ${r.startStep})`;
}

function printSummary(io: CliIO, r: TrainResult, o: ResolvedTrainOptions): void {
  if (r.step === r.startStep) {
    println(io.stdout, `nothing to train: the run is already at step ${r.step} of ${r.totalSteps} (raise --max-steps to continue it)`);
  } else {
    const status = r.reason === 'completed' ? `trained ${stepsTrained(r)}` : `interrupted at step ${r.step} of ${r.totalSteps}; trained ${stepsTrained(r)}`;
    println(io.stdout, `${status} in ${formatDuration(r.seconds)} (${formatCount(r.tokensPerSecond)} tokens/s)`);
  }
  const losses = [r.finalLoss === null ? null : `loss ${formatNumber(r.finalLoss)}`, r.finalEvalLoss === null ? null : `eval loss ${formatNumber(r.finalEvalLoss)}`].filter(Boolean);
  if (losses.length) println(io.stdout, `final ${losses.join(', ')}`);
  println(io.stdout, `adapter: ${r.out} (${o.method}, r ${String(o.r)}, ${formatCount(r.trainableParameters)} trainable parameters)`);
  println(io.stdout, `report: ${r.reportPath}`);
  if (r.reason === 'interrupted') println(io.stdout, `continue with the same command and --resume (checkpoint-${r.step} in ${r.out})`);
}

export const trainCommand = defineCommand(trainSyntax, async (values, io) => {
  const result = await runTrain({ ...values, model: values.model!, data: values.data!, out: values.out!, io, handleSigint: true });
  return result.reason === 'interrupted' ? signalExitCode(result.stoppedBy ?? 'SIGINT') : 0;
});
