/**
 * Pretrains the demo's base model (demo/model/) from scratch with this library's own engine:
 * full-parameter training of a small Llama on the tiny world's generated text (demo/tiny-world.ts),
 * one graph per step (forward → causal-LM loss → gradients → clipping → AdamW), a warmup + cosine
 * learning-rate schedule. Writes config.json, generation_config.json, model.safetensors and the
 * character tokenizer in transformers' layout, plus pretrain-log.json (settings, loss curve, time,
 * what the model knows afterwards).
 *
 *   node --import tsx scripts/pretrain-demo-model.ts [--steps 2500] [--batch 32] [--lr 2e-3] [--out demo/model]
 *
 * The text is generated on the fly from a seed (nothing is downloaded or stored). Takes about
 * 20 minutes on 2 free cores at the defaults (the shipped model took 80 minutes on cores shared
 * with other jobs); a snapshot of the model is saved every --save-every steps, with a probe of what
 * it knows, so a long run can be inspected (or used) before it finishes.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../src/node/install.ts';
import { Generator, Tensor, engineStats, grad, manualSeed, realize } from '../src/engine/index.ts';
import { loadTokenizer, type PretrainedTokenizer } from '../src/io/index.ts';
import { createModelFromConfig, type CausalLM } from '../src/models/index.ts';
import { AdamW, clipGradNorm, type ParamGroup, lrMultiplier } from '../src/train/index.ts';
import { greedyContinuations, isExactMatch } from '../demo/answer.ts';
import { writeCharTokenizer } from '../demo/char-tokenizer.ts';
import { DEMO_MODEL_DIR, MAX_POSITIONS, demoModelConfig, saveDemoModel } from '../demo/model-files.ts';
import { SKILLS, knowledgeProbe, pretrainingDocument } from '../demo/tiny-world.ts';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '2500' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '2e-3' },
    'warmup-steps': { type: 'string', default: '150' },
    'weight-decay': { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '1234' },
    'log-every': { type: 'string', default: '25' },
    'save-every': { type: 'string', default: '500' },
    out: { type: 'string', default: DEMO_MODEL_DIR },
  },
});

const settings = {
  steps: Number(args.steps),
  batchSize: Number(args.batch),
  sequenceLength: MAX_POSITIONS,
  peakLr: Number(args.lr),
  warmupSteps: Number(args['warmup-steps']),
  schedule: 'cosine' as const,
  weightDecay: Number(args['weight-decay']),
  betas: [0.9, 0.95] as [number, number],
  maxGradNorm: 1,
  seed: Number(args.seed),
};
const outDir = resolve(args.out);
const logEvery = Number(args['log-every']);
const saveEvery = Number(args['save-every']);

/**
 * An endless stream of training rows: each row starts at a document boundary and is filled with
 * whole documents (each ends with <|endoftext|>), the last one cut at the row length. Rows have no
 * padding, so every position carries loss.
 */
class TextStream {
  readonly #generator: Generator;
  readonly #tokenizer: PretrainedTokenizer;
  constructor(seed: number, tokenizer: PretrainedTokenizer) {
    this.#generator = new Generator(seed);
    this.#tokenizer = tokenizer;
  }

  row(length: number): number[] {
    const ids: number[] = [];
    while (ids.length < length) ids.push(...this.#tokenizer.encode(pretrainingDocument(this.#generator)));
    return ids.slice(0, length);
  }

  batch(rows: number, length: number): Tensor {
    const data = new BigInt64Array(rows * length);
    for (let r = 0; r < rows; r++) this.row(length).forEach((id, t) => { data[r * length + t] = BigInt(id); });
    return Tensor.fromData(data, [rows, length], 'int64');
  }
}

/** Exact-match accuracy per skill on facts stated in the pretraining phrasing. */
async function probeKnowledge(model: CausalLM, tokenizer: PretrainedTokenizer): Promise<Record<string, number>> {
  const probe = knowledgeProbe(99, 90);
  const wasTraining = model.training;
  model.eval();
  const outputs = await greedyContinuations(model, tokenizer, probe.map((p) => p.prompt), { maxNewTokens: 14, batchSize: 90 });
  model.train(wasTraining);
  const accuracy: Record<string, number> = {};
  for (const skill of SKILLS) {
    const rows = probe.map((p, i) => ({ p, out: outputs[i]! })).filter((r) => r.p.skill === skill);
    accuracy[skill] = rows.filter((r) => isExactMatch(r.out, r.p.completion)).length / rows.length;
  }
  return accuracy;
}

function formatAccuracy(accuracy: Record<string, number>): string {
  return Object.entries(accuracy).map(([skill, a]) => `${skill} ${(100 * a).toFixed(0)}%`).join(', ');
}

async function main(): Promise<void> {
  manualSeed(settings.seed);
  await writeCharTokenizer(outDir, MAX_POSITIONS);
  const tokenizer = await loadTokenizer(outDir);
  const config = demoModelConfig();
  const model = createModelFromConfig(config).initWeights({ seed: settings.seed });
  model.train();

  const named = model.namedParameters();
  // Decay the matrices (embeddings included), not the norm weights: the usual GPT/Llama recipe.
  const decays = ([name]: [string, unknown]): boolean => !/norm/.test(name);
  const groups: ParamGroup[] = [
    { params: named.filter(decays).map(([, p]) => p), weightDecay: settings.weightDecay },
    { params: named.filter((e) => !decays(e)).map(([, p]) => p), weightDecay: 0 },
  ];
  const params = groups.flatMap((g) => g.params);
  const optimizer = new AdamW(groups, { betas: settings.betas });
  console.log(`pretraining a ${model.numParameters().toLocaleString('en-US')}-parameter Llama for ${settings.steps} steps of ${settings.batchSize}×${settings.sequenceLength} tokens → ${outDir}`);

  const stream = new TextStream(settings.seed, tokenizer);
  // A fixed held-out batch from another seed: its loss is comparable from one log line to the next.
  const validation = new TextStream(settings.seed + 1, tokenizer).batch(16, settings.sequenceLength);
  const history: { step: number; loss: number; lr: number; validationLoss?: number }[] = [];
  const started = performance.now();
  let windowLoss = 0;
  let windowSteps = 0;
  let windowStart = performance.now();

  for (let step = 0; step < settings.steps; step++) {
    const inputIds = stream.batch(settings.batchSize, settings.sequenceLength);
    const { loss } = model.forward({ inputIds, labels: inputIds });
    const grads = grad(loss!, params.map((p) => p.value));
    const clipped = clipGradNorm(grads, settings.maxGradNorm);
    const lr = settings.peakLr * lrMultiplier(step, { name: settings.schedule, warmupSteps: settings.warmupSteps, totalSteps: settings.steps });
    const update = optimizer.update(clipped.grads, lr);
    await realize([loss!, ...update.tensors]);
    const lossValue = await loss!.item();
    if (!Number.isFinite(lossValue)) throw new Error(`the loss became ${lossValue} at step ${step + 1}; lower --lr (${settings.peakLr})`);
    update.commit();
    history.push({ step: step + 1, loss: lossValue, lr });
    windowLoss += lossValue;
    windowSteps++;

    const done = step + 1;
    if (done % logEvery === 0 || done === settings.steps) {
      model.eval();
      const validationLoss = await model.forward({ inputIds: validation, labels: validation }).loss!.item();
      model.train();
      history[history.length - 1]!.validationLoss = validationLoss;
      const seconds = (performance.now() - windowStart) / 1000;
      const tokensPerSecond = (windowSteps * settings.batchSize * settings.sequenceLength) / seconds;
      const elapsed = (performance.now() - started) / 60000;
      console.log(`step ${done}/${settings.steps}  loss ${(windowLoss / windowSteps).toFixed(4)}  val ${validationLoss.toFixed(4)}  lr ${lr.toExponential(2)}  ${tokensPerSecond.toFixed(0)} tok/s  ${elapsed.toFixed(1)} min  (${engineStats.compiles} graphs compiled)`);
      windowLoss = 0;
      windowSteps = 0;
      windowStart = performance.now();
    }
    if (saveEvery > 0 && done % saveEvery === 0 && done < settings.steps) {
      await saveDemoModel(model, outDir);
      console.log(`  snapshot saved; knows: ${formatAccuracy(await probeKnowledge(model, tokenizer))}`);
    }
  }

  const minutes = (performance.now() - started) / 60000;
  await saveDemoModel(model, outDir);
  const knowledge = await probeKnowledge(model, tokenizer);
  const last = history.slice(-50);
  const finalLoss = last.reduce((s, h) => s + h.loss, 0) / last.length;
  const finalValidationLoss = history.findLast((h) => h.validationLoss !== undefined)?.validationLoss ?? null;
  console.log(`done in ${minutes.toFixed(1)} min; final loss (mean of last ${last.length} steps) ${finalLoss.toFixed(4)}, validation ${finalValidationLoss?.toFixed(4)}`);
  console.log(`the base model knows (pretraining phrasing, exact match): ${formatAccuracy(knowledge)}`);
  const log = {
    command: `node --import tsx scripts/pretrain-demo-model.ts ${process.argv.slice(2).join(' ')}`.trim(),
    settings, parameters: model.numParameters(), minutes: Number(minutes.toFixed(2)), finalLoss, finalValidationLoss, knowledge,
    node: process.version,
    // Every 10th step keeps the file small; enough for a loss curve.
    history: history.filter((h) => h.step % 10 === 0 || h.validationLoss !== undefined),
  };
  await writeFile(join(outDir, 'pretrain-log.json'), `${JSON.stringify(log, null, 1)}\n`);
}

await main();
