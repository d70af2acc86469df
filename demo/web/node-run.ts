/**
 * The page's run on the demo data, in Node (onnxruntime-node), step for step as worker.ts makes it:
 * same data pipeline, adapter config, seed and Trainer settings (demo/task.ts). The browser tests
 * compare the page's losses and states with this; `npm run bench:web` times both.
 */
import { fileURLToPath } from 'node:url';
import '../../src/node/install.ts';
import { adapterConfigFor } from '../../src/cli/method.ts';
import { manualSeed } from '../../src/engine/index.ts';
import { loadPretrained } from '../../src/io/index.ts';
import { getPeftModel } from '../../src/peft/index.ts';
import { Trainer } from '../../src/train/index.ts';
import { DEFAULT_BUDGET, loadTaskData, takeSnapshot, trainerOptions, type Budget, type Snapshot } from '../task.ts';

export const DEMO_MODEL_DIR = fileURLToPath(new URL('../model/', import.meta.url));
const DEMO_DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

export interface NodeRun {
  losses: number[];
  evalLosses: { step: number; loss: number }[];
  snapshots: Record<number, Snapshot>;
  tokens: number;
  seconds: number;
  /** Tokens and seconds without the first step (which compiles the step's graph). */
  steadyTokens: number;
  steadySeconds: number;
}

export async function runDemoInNode(o: { steps: number; method?: string; r?: number; lr?: number; snapshotSteps?: readonly number[] }): Promise<NodeRun> {
  const budget: Budget = { ...DEFAULT_BUDGET, steps: o.steps, lr: o.lr ?? DEFAULT_BUDGET.lr };
  const { model, tokenizer } = await loadPretrained(DEMO_MODEL_DIR);
  const data = await loadTaskData(tokenizer!, `${DEMO_DATA_DIR}train.jsonl`, `${DEMO_DATA_DIR}eval.jsonl`, budget);
  model.nameOrPath = 'demo/model';
  const method = o.method ?? 'miss';
  const config = adapterConfigFor({ method, r: o.r ?? 16, targets: ['all-linear'] }, model.nameOrPath);
  manualSeed(budget.seed);
  const peft = getPeftModel(model, config);
  const run: NodeRun = { losses: [], evalLosses: [], snapshots: {}, tokens: 0, seconds: 0, steadyTokens: 0, steadySeconds: 0 };
  const pending: Promise<void>[] = [];
  const trainer: Trainer = new Trainer(peft, data.train, trainerOptions(budget, data.held, (e) => {
    if (e.type === 'step') {
      run.losses.push(e.loss);
      run.tokens += e.tokens;
      run.seconds += e.seconds;
      if (e.step > 1) { run.steadyTokens += e.tokens; run.steadySeconds += e.seconds; }
      if (o.snapshotSteps?.includes(e.step)) pending.push(takeSnapshot(e.step, trainer).then((s) => { run.snapshots[e.step] = s; }));
    } else if (e.type === 'eval') {
      run.evalLosses.push({ step: e.step, loss: e.evalLoss });
    }
  }, { method }));
  run.evalLosses.push({ step: 0, loss: await trainer.evaluate() });
  await trainer.run();
  await Promise.all(pending);
  return run;
}
