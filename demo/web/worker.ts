/**
 * The training worker of the page: everything `npm run demo` does (demo/task.ts), on
 * onnxruntime-web, driven by the page's messages (protocol.ts). It loads the model, answers a few
 * questions before training, fine-tunes (posting every step and held-out evaluation), answers them
 * again, and hands back the adapter as PEFT's two files. Stop writes a checkpoint into memory (the
 * Trainer's own checkpoint, in a memory file system) and Resume continues from it exactly.
 */
import { coerceValue, type OptionSpecs } from '../../src/cli/options.ts';
import { METHODS, adapterConfigFor, checkMethodFlags } from '../../src/cli/method.ts';
import { TRAIN_OPTIONS } from '../../src/cli/train-options.ts';
import {
  Tensor, Trainer, adapterFiles, createOrtWebBackend, fileRef, folderFromFiles, getPeftModel, loadPretrained, manualSeed, memoryFileSystem,
  prepareTrainingData, readExamples, setBackend, webGpuAvailable,
  type CausalLM, type LengthGroupedBatches, type PathRef, type PeftModel, type PretrainedTokenizer, type TrainerEvent,
} from '../../src/web/index.ts';
import { DEFAULT_BUDGET, MAX_LENGTH, evaluate, loadTaskData, takeSnapshot, trainerOptions, type Budget, type EvalExample } from '../task.ts';
import type { DataSource, EvaluationView, FromWorker, ModelSource, ToWorker, TrainSettings } from './protocol.ts';

const post = (message: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(message, transfer);

/** A loaded base model and where it came from (each run starts from a fresh copy of it). */
interface Loaded { folder: PathRef | string; tokenizer: PretrainedTokenizer; description: string }

interface Run {
  peft: PeftModel<CausalLM>;
  trainer: Trainer;
  tokenizer: PretrainedTokenizer;
  evalSet: readonly EvalExample[];
  samples: readonly number[];
  held: LengthGroupedBatches;
  controller: AbortController;
  seconds: number;
  tokens: number;
}

let loaded: Loaded | null = null;
let run: Run | null = null;
/** The run's checkpoints live here: Stop writes one, Resume reads it. */
const memory = memoryFileSystem();

function modelFolder(source: ModelSource): PathRef | string {
  return source.kind === 'url' ? source.url : folderFromFiles(source.files, 'picked folder');
}

async function load(source: ModelSource): Promise<void> {
  const t0 = performance.now();
  const folder = modelFolder(source);
  const { model, tokenizer } = await loadPretrained(folder);
  if (!tokenizer) throw new Error(`${String(folder)}: no tokenizer.json; the page needs the model's tokenizer files too`);
  const c = model.config;
  const description = `${c.model_type}, ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocabulary ${c.vocab_size}`;
  loaded = { folder, tokenizer, description };
  post({ type: 'loaded', description, parameters: model.numParameters(), seconds: (performance.now() - t0) / 1000 });
}

/** The form's fields with the CLI's checks and words (`--r expects an integer ≥ 1, found "x"`). */
function checkSettings(settings: TrainSettings): { method: string; r: number; steps: number; lr: number } {
  const method = coerceValue('train', TRAIN_OPTIONS.method, settings.method, '--method') as string;
  // The method flags come from the registry at run time, so the type knows them only by name.
  const r = coerceValue('train', (TRAIN_OPTIONS as OptionSpecs)['r']!, settings.r, '--r') as number;
  const steps = coerceValue('train', TRAIN_OPTIONS.maxSteps, settings.steps, '--max-steps') as number;
  const lr = coerceValue('train', TRAIN_OPTIONS.lr, settings.lr, '--lr') as number;
  checkMethodFlags('train', { method, r });
  return { method, r, steps, lr };
}

function evaluationView(e: Awaited<ReturnType<typeof evaluate>> | null, total: number): EvaluationView {
  if (!e) return { accuracy: null, correct: 0, total, bySkill: {}, samples: [] };
  return { accuracy: e.accuracy, correct: e.correct, total, bySkill: e.bySkill, samples: e.samples };
}

/** The data of a run: the demo's task files (its own pipeline), or the user's JSONL (bone train's, with a tenth held out). */
async function prepareData(source: DataSource, tokenizer: PretrainedTokenizer, budget: Budget) {
  if (source.kind === 'demo') {
    const task = await loadTaskData(tokenizer, source.train, source.eval, budget);
    return { train: task.train, held: task.held, evalSet: task.evalSet, samples: task.samples, trainExamples: task.trainExamples };
  }
  const file = fileRef(source.file);
  if (tokenizer.padTokenId === undefined) throw new Error(`${tokenizer.dir}: the tokenizer names neither a pad nor an eos token`);
  const data = await prepareTrainingData(tokenizer, {
    data: file, evalFraction: 0.1, maxLength: MAX_LENGTH * 8, batchSize: budget.batchSize, padTokenId: tokenizer.padTokenId, seed: budget.seed,
  });
  // Exact match needs questions with answers: the held-out prompt-completion lines, at most 100.
  const bySource = new Map((await readExamples(file)).map((e) => [e.source?.line, e]));
  const evalSet: EvalExample[] = data.evalExamples.slice(0, 100).flatMap((t) => {
    const e = bySource.get(t.source?.line);
    return e?.format === 'prompt-completion' ? [{ prompt: e.prompt, completion: e.completion, skill: 'all' }] : [];
  });
  return { train: data.trainBatches, held: data.evalBatches!, evalSet, samples: evalSet.slice(0, 3).map((_, i) => i), trainExamples: data.trainExamples.length };
}

async function train(source: DataSource, settings: TrainSettings, snapshotSteps: readonly number[]): Promise<void> {
  if (!loaded) throw new Error('load a model first');
  const { method, r, steps, lr } = checkSettings(settings);
  const budget: Budget = { ...DEFAULT_BUDGET, steps, lr };
  const { tokenizer } = loaded;
  post({ type: 'status', text: 'reading and tokenizing the data…' });
  const data = await prepareData(source, tokenizer, budget);

  const { model } = await loadPretrained(loaded.folder);
  // What PEFT records as base_model_name_or_path: the demo's "demo/model", as `npm run demo` writes it.
  model.nameOrPath = typeof loaded.folder === 'string' ? loaded.folder.replace(/^\/+|\/+$/g, '') : loaded.folder.path || 'model';
  const config = adapterConfigFor({ method, r, targets: ['all-linear'] }, model.nameOrPath);
  post({ type: 'status', text: 'answering the sample questions before training…' });
  const before = data.evalSet.length > 0 ? await evaluate(model, tokenizer, data.evalSet, data.samples) : null;
  post({ type: 'evaluation', phase: 'before', evaluation: evaluationView(before, data.evalSet.length) });

  // LoRA draws its A matrices from the engine's generator: seed it, as demo/run.ts does.
  manualSeed(budget.seed);
  const peft = getPeftModel(model, config);
  await memory.remove('run');
  const controller = new AbortController();
  const trainer: Trainer = new Trainer(peft, data.train, {
    ...trainerOptions(budget, data.held, (e) => onEvent(e, snapshotSteps), { method }),
    outputDir: memory.at('run'), signal: controller.signal,
  });
  run = { peft, trainer, tokenizer, evalSet: data.evalSet, samples: data.samples, held: data.held, controller, seconds: 0, tokens: 0 };
  post({ type: 'eval', step: 0, loss: await trainer.evaluate() });
  post({ type: 'start', totalSteps: budget.steps, startStep: 0, trainable: trainer.params.reduce((n, [, p]) => n + p.size, 0), method, trainExamples: data.trainExamples });
  await continueRun();
}

function onEvent(e: TrainerEvent, snapshotSteps: readonly number[]): void {
  if (!run) return;
  if (e.type === 'step') {
    run.seconds += e.seconds;
    run.tokens += e.tokens;
    post({ type: 'step', step: e.step, totalSteps: e.totalSteps, loss: e.loss, lr: e.lr, tokens: e.tokens, seconds: e.seconds });
    // Taken now, while these are the tensors of this step (later steps replace them, never change them).
    if (snapshotSteps.includes(e.step)) void takeSnapshot(e.step, run.trainer).then((snapshot) => post({ type: 'snapshot', snapshot }));
  } else if (e.type === 'eval') {
    post({ type: 'eval', step: e.step, loss: e.evalLoss });
  }
}

/** Runs the trainer to its end or to Stop; at the end, answers again and hands the adapter over. */
async function continueRun(): Promise<void> {
  const current = run!;
  const result = await current.trainer.run();
  if (result.reason === 'interrupted') {
    post({ type: 'stopped', step: result.step });
    return;
  }
  post({ type: 'done', step: result.step, seconds: current.seconds, tokens: current.tokens });
  post({ type: 'status', text: 'answering the sample questions after training…' });
  const after = current.evalSet.length > 0 ? await evaluate(current.peft.model, current.tokenizer, current.evalSet, current.samples) : null;
  post({ type: 'evaluation', phase: 'after', evaluation: evaluationView(after, current.evalSet.length) });
  await postAdapter(current);
}

/** The adapter's files, and the logits of the trained model on the sample prompts (right-padded). */
async function postAdapter(current: Run): Promise<void> {
  const files = Object.fromEntries(await adapterFiles(current.peft));
  const prompts = (current.evalSet.length > 0 ? current.samples.map((i) => current.evalSet[i]!.prompt) : ['Q: ']).map((p) => current.tokenizer.encode(p));
  const width = Math.max(...prompts.map((p) => p.length));
  const pad = current.tokenizer.padTokenId ?? 0;
  const inputIds = prompts.map((p) => [...p, ...new Array<number>(width - p.length).fill(pad)]);
  const attentionMask = prompts.map((p) => [...p.map(() => 1), ...new Array<number>(width - p.length).fill(0)]);
  current.peft.eval();
  const { logits } = current.peft.forward({
    inputIds: Tensor.fromData(BigInt64Array.from(inputIds.flat(), BigInt), [inputIds.length, width], 'int64'),
    attentionMask: Tensor.fromData(BigInt64Array.from(attentionMask.flat(), BigInt), [inputIds.length, width], 'int64'),
  });
  const values = Float32Array.from(await logits!.floats());
  post({ type: 'adapter', files, probe: { inputIds, attentionMask, logits: values, shape: [...logits!.shape] } }, [values.buffer, ...Object.values(files).map((f) => f.buffer as ArrayBuffer)]);
}

async function init(choice: Extract<ToWorker, { type: 'init' }>['backend']): Promise<void> {
  const webgpu = await webGpuAvailable();
  if (choice.executionProvider === 'webgpu' && !webgpu) throw new Error('WebGPU: this browser offers no GPU adapter (navigator.gpu.requestAdapter() gave none); choose WebAssembly');
  const backend = createOrtWebBackend({ executionProvider: choice.executionProvider, wasmPaths: choice.wasmPaths, ...(choice.numThreads > 0 ? { numThreads: choice.numThreads } : {}) });
  setBackend(backend);
  post({ type: 'ready', methods: [...METHODS], backend: backend.name, numThreads: backend.setup.numThreads, crossOriginIsolated: backend.setup.crossOriginIsolated, ortVersion: backend.setup.ortVersion, webgpu });
}

/** One message at a time, in order (a Stop arrives while a run is in flight and only aborts it). */
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'stop') {
    run?.controller.abort();
    return;
  }
  queue = queue.then(async () => {
    try {
      if (message.type === 'init') await init(message.backend);
      else if (message.type === 'load') await load(message.model);
      else if (message.type === 'train') await train(message.data, message.settings, message.snapshotSteps);
      else if (message.type === 'resume') await resume();
    } catch (error) {
      post({ type: 'error', message: (error as Error).message ?? String(error) });
    }
  });
};

/** A fresh Trainer on the same model and memory folder, restored from the checkpoint Stop wrote. */
async function resume(): Promise<void> {
  if (!run) throw new Error('nothing to resume: train first');
  const controller = new AbortController();
  const old = run.trainer;
  const trainer: Trainer = new Trainer(run.peft, old.train, { ...old.opts, resume: true, signal: controller.signal });
  run = { ...run, trainer, controller };
  await continueRun();
}
