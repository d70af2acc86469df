/**
 * `npm run demo`: the library's main job, end to end, offline, in a few minutes on a laptop CPU.
 *
 * 1. Load the small base model that ships in demo/model (pretrained by scripts/pretrain-demo-model.ts
 *    on the generated "tiny world" text) and its character tokenizer.
 * 2. Measure exact-match accuracy of its greedy answers on held-out questions (demo/data/eval.jsonl),
 *    a question/answer format it has never seen.
 * 3. Fine-tune a Bone adapter (MiSS, default mode) on demo/data/train.jsonl with the Trainer, and
 *    measure again.
 * 4. Do the same with LoRA on the same budget (steps, batch, learning-rate schedule), its rank
 *    chosen to train about as many parameters as Bone.
 * 5. Print a comparison, save both adapters in PEFT's format and write an HTML report to demo/out/.
 *
 *   node --import tsx demo/run.ts [--steps N] [--batch N] [--lr X] [--bone-r N] [--skip-lora] [--model DIR] [--data DIR] [--out DIR]
 */
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import '../src/node/install.ts';
import { manualSeed } from '../src/engine/index.ts';
import { loadModel, loadPretrained, type PretrainedTokenizer } from '../src/io/index.ts';
import { LoraConfig, getPeftModel, type AdapterConfig } from '../src/peft/index.ts';
import { Trainer, type TrainerEvent } from '../src/train/index.ts';
import { writeDemoReport, type CurvePoint, type MethodRun, type SampleRow } from './report.ts';
import {
  DEFAULT_BUDGET, MAX_ANSWER_TOKENS, boneConfig, evaluate as evaluateTask, loadTaskData, loraRankMatching, trainableShare, trainerOptions,
  type Budget, type EvalExample, type Evaluation, type TaskData,
} from './task.ts';

const DEMO_DIR = fileURLToPath(new URL('.', import.meta.url));

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: String(DEFAULT_BUDGET.steps) },
    batch: { type: 'string', default: String(DEFAULT_BUDGET.batchSize) },
    lr: { type: 'string', default: String(DEFAULT_BUDGET.lr) },
    'bone-r': { type: 'string', default: '16' },
    'skip-lora': { type: 'boolean', default: false },
    model: { type: 'string', default: join(DEMO_DIR, 'model') },
    data: { type: 'string', default: join(DEMO_DIR, 'data') },
    out: { type: 'string', default: join(DEMO_DIR, 'out') },
  },
});

const MODEL_DIR = resolve(args.model);
const TRAIN_FILE = join(resolve(args.data), 'train.jsonl');
const EVAL_FILE = join(resolve(args.data), 'eval.jsonl');
const OUT_DIR = resolve(args.out);

/** One budget for both methods (demo/task.ts), with the steps, batch size and learning rate given. */
const budget: Budget = { ...DEFAULT_BUDGET, steps: Number(args.steps), batchSize: Number(args.batch), lr: Number(args.lr) };

const rel = (path: string): string => relative(process.cwd(), path) || '.';
const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;
const count = (n: number): string => n.toLocaleString('en-US');

/** The task's evaluation (demo/task.ts), printed with the sample questions. */
async function evaluate(model: Parameters<typeof evaluateTask>[0], tokenizer: PretrainedTokenizer, examples: readonly EvalExample[], samples: readonly number[]): Promise<Evaluation> {
  const result = await evaluateTask(model, tokenizer, examples, samples);
  const skills = Object.entries(result.bySkill).map(([s, a]) => `${s} ${percent(a)}`).join(', ');
  console.log(`   exact match on ${examples.length} held-out questions: ${result.correct}/${examples.length} = ${percent(result.accuracy)}  (${skills})`);
  for (const sample of result.samples) console.log(`   ${sample.correct ? '✓' : '✗'} ${JSON.stringify(sample.prompt)} → ${JSON.stringify(sample.continuation)}`);
  return result;
}

interface FineTuneResult {
  run: MethodRun;
  evaluation: Evaluation;
}

async function fineTune(name: string, description: string, config: AdapterConfig, tokenizer: PretrainedTokenizer, data: TaskData): Promise<FineTuneResult> {
  // A fresh copy of the base model for every method, so both start from the same weights. Loaded by
  // its relative path, which the adapter config records as base_model_name_or_path.
  const base = await loadModel(rel(MODEL_DIR));
  // LoRA draws its A matrices from the engine's generator: seed it, so each run starts the same.
  manualSeed(budget.seed);
  const peft = getPeftModel(base, config);
  const { trainable, share } = trainableShare(peft);
  console.log(`\n${name}: ${description}, ${count(trainable)} trainable parameters (${percent(share)} of the model)`);

  const trainLoss: CurvePoint[] = [];
  const evalLoss: CurvePoint[] = [];
  let trainSeconds = 0;
  let tokens = 0;
  const onEvent = (e: TrainerEvent): void => {
    if (e.type === 'step') {
      trainLoss.push({ step: e.step, loss: e.loss });
      trainSeconds += e.seconds;
      tokens += e.tokens;
      if (e.step % 25 === 0 || e.step === e.totalSteps) {
        console.log(`   step ${String(e.step).padStart(3)}/${e.totalSteps}  loss ${e.loss.toFixed(3)}  lr ${e.lr.toExponential(1)}  ${e.tokensPerSecond.toFixed(0)} tokens/s`);
      }
    } else if (e.type === 'eval') {
      evalLoss.push({ step: e.step, loss: e.evalLoss });
    }
  };
  const trainer = new Trainer(peft, data.train, trainerOptions(budget, data.held, onEvent, { method: name }));
  evalLoss.push({ step: 0, loss: await trainer.evaluate() });
  await trainer.run();

  console.log(`   after ${budget.steps} steps (${trainSeconds.toFixed(1)} s of training):`);
  const evaluation = await evaluate(peft.model, tokenizer, data.evalSet, data.samples);
  const adapterDir = join(OUT_DIR, `${name.toLowerCase()}-adapter`);
  await peft.savePretrained(adapterDir);
  return {
    run: {
      name, description, trainable, accuracy: evaluation.accuracy, accuracyBySkill: evaluation.bySkill, trainSeconds,
      tokensPerSecond: tokens / trainSeconds, trainLoss, evalLoss, adapterDir: rel(adapterDir),
    },
    evaluation,
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  await mkdir(OUT_DIR, { recursive: true });
  const { model: base, tokenizer } = await loadPretrained(MODEL_DIR);
  if (!tokenizer) throw new Error(`${MODEL_DIR}: expected tokenizer.json`);

  const data = await loadTaskData(tokenizer, TRAIN_FILE, EVAL_FILE, budget);
  const evalSet = data.evalSet;

  console.log('bone-peft demo: teach a small pretrained model a new question/answer format with a Bone adapter, then with LoRA on the same budget\n');
  console.log(`base model: ${rel(MODEL_DIR)}: Llama, ${base.config.num_hidden_layers} layers, hidden ${base.config.hidden_size}, ${count(base.numParameters())} parameters, one token per character`);
  console.log(`data:       ${count(data.trainExamples)} question/answer pairs in ${rel(TRAIN_FILE)}; ${evalSet.length} held-out questions in ${rel(EVAL_FILE)}`);
  console.log(`budget:     ${budget.steps} steps × ${budget.batchSize} examples, lr ${budget.lr} (${budget.schedule}, ${budget.warmupSteps} warmup steps), ${availableParallelism()} CPU threads`);

  console.log('\nthe base model, before fine-tuning:');
  const before = await evaluate(base, tokenizer, evalSet, data.samples);

  const boneR = Number(args['bone-r']);
  const loraR = loraRankMatching(base, boneR);
  const results: FineTuneResult[] = [];
  results.push(await fineTune('Bone', `MissConfig r=${boneR}, default mode, all linear layers`, boneConfig(boneR, budget.targetModules), tokenizer, data));
  if (!args['skip-lora']) {
    results.push(await fineTune('LoRA', `LoraConfig r=${loraR}, alpha=${2 * loraR}, all linear layers`,
      new LoraConfig({ r: loraR, loraAlpha: 2 * loraR, targetModules: budget.targetModules, taskType: 'CAUSAL_LM' }), tokenizer, data));
  }
  const runs = results.map((r) => r.run);

  const wall = (performance.now() - started) / 1000;
  console.log('\nsummary (same data, steps, batch size and learning-rate schedule):');
  const table = [
    ['', 'trainable params', 'exact match', 'train time', 'tokens/s'],
    ['base model', '—', percent(before.accuracy), '—', '—'],
    ...runs.map((r) => [r.name, count(r.trainable), percent(r.accuracy), `${r.trainSeconds.toFixed(1)} s`, r.tokensPerSecond.toFixed(0)]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) console.log(`   ${row.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('   ')}`);

  const sampleRows: SampleRow[] = evalSet.slice(0, 12).map((e, i) => ({
    prompt: e.prompt, expected: e.completion, answers: [before.answers[i]!, ...results.map((r) => r.evaluation.answers[i]!)],
  }));
  const reportPath = join(OUT_DIR, 'report.html');
  await writeDemoReport(reportPath, {
    title: 'bone-peft demo: Bone vs LoRA on a new question/answer format',
    subtitle: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · Node ${process.version} · ${availableParallelism()} CPU threads · whole demo ${wall.toFixed(0)} s`,
    baseAccuracy: before.accuracy, baseAccuracyBySkill: before.bySkill, evalCount: evalSet.length, runs, samples: sampleRows,
    settings: [
      ['base model', `${rel(MODEL_DIR)} (${count(base.numParameters())} parameters)`],
      ['training data', `${rel(TRAIN_FILE)} (${count(data.trainExamples)} examples, loss on the completions)`],
      ['held-out data', `${rel(EVAL_FILE)} (${evalSet.length} questions, none in the training data)`],
      ['steps × batch size', `${budget.steps} × ${budget.batchSize}`],
      ['optimizer', `AdamW, lr ${budget.lr}, ${budget.schedule} schedule, ${budget.warmupSteps} warmup steps, gradient clipping at ${budget.maxGradNorm}, seed ${budget.seed}`],
      ['target modules', budget.targetModules],
      ['evaluation', `greedy decoding, at most ${MAX_ANSWER_TOKENS} new tokens; exact match of the answer's first line`],
    ],
  });
  console.log(`\nadapters (PEFT format): ${runs.map((r) => r.adapterDir).join(', ')}`);
  console.log(`report:                 ${rel(reportPath)}`);
  console.log(`whole demo:             ${wall.toFixed(0)} s`);
}

await main();
