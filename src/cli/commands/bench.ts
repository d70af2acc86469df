/**
 * `bone bench`: how fast training runs here. It times optimizer steps (forward, backward, AdamW:
 * one compiled graph per step) on random tokens, with the adapter a real run would use, on a
 * given model folder or on random weights shaped like SmolLM2-135M (nothing to download). The
 * first steps compile the graph and are reported apart; the rest give tokens per second.
 */
import { availableParallelism } from 'node:os';
import { Generator, Tensor } from '../../engine/index.ts';
import { loadModel } from '../../io/model-folder.ts';
import { createModelFromConfig, type CausalLM } from '../../models/index.ts';
import { getPeftModel } from '../../peft/index.ts';
import { Trainer, type TrainBatch } from '../../train/trainer.ts';
import {
  UsageError, checkOptions, withDefaults, type CommandSyntax, type OptionSpecs, type OptionValues,
} from '../args.ts';
import { defineCommand } from '../command.ts';
import { formatCount, formatNumber, formatShort, println, processIO, type CliIO } from '../io.ts';
import { applyMemoryOptions, MEMORY_OPTIONS } from '../memory.ts';
import { ADAPTER_OPTIONS, adapterConfigFor, checkMethodFlags, type MethodFlagValues } from '../method.ts';
import { checkModelPath } from '../paths.ts';

/** HuggingFaceTB/SmolLM2-135M's config.json (the shapes; the weights are random). */
export const SMOLLM2_135M_CONFIG = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536,
  num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, hidden_act: 'silu',
  max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000, tie_word_embeddings: true,
  bos_token_id: 0, eos_token_id: 0, initializer_range: 0.041666666666666664,
} as const;

export const BENCH_OPTIONS = {
  model: { kind: 'path', valueName: 'DIR', description: 'a model folder (default: random weights shaped like SmolLM2-135M)' },
  layers: { kind: 'integer', min: 1, valueName: 'N', description: 'with the built-in model: use N layers instead of 30 (a quicker, smaller benchmark)' },
  ...ADAPTER_OPTIONS,
  batchSize: { kind: 'integer', min: 1, default: 2, valueName: 'N', description: 'sequences per step' },
  seqLen: { kind: 'integer', min: 2, default: 256, valueName: 'N', description: 'tokens per sequence' },
  steps: { kind: 'integer', min: 1, default: 3, valueName: 'N', description: 'timed steps (the median is reported)' },
  warmup: { kind: 'integer', min: 0, default: 1, valueName: 'N', description: 'untimed steps first (the first compiles the graph)' },
  seed: { kind: 'integer', min: 0, default: 0, valueName: 'N', description: 'seed of the random weights and tokens' },
  ...MEMORY_OPTIONS,
} as const satisfies OptionSpecs;

export const benchSyntax = {
  name: 'bench',
  summary: 'Measure training throughput (tokens/s) of optimizer steps on random tokens.',
  usage: '[--model DIR] [options]',
  options: BENCH_OPTIONS,
  notes: 'BONE_THREADS=n sets ONNX Runtime\'s thread count (default: all cores).\nExample: bone bench --layers 4 --batch-size 2 --seq-len 128',
} as const satisfies CommandSyntax<OptionSpecs>;

export type BenchOptions = OptionValues<typeof BENCH_OPTIONS> & MethodFlagValues & { io?: CliIO; quiet?: boolean };

export interface BenchResult {
  model: string;
  parameters: number;
  trainableParameters: number;
  tokensPerStep: number;
  /** Each warmup step (the first includes compiling the step's graph). */
  warmupSeconds: number[];
  /** Each timed step. */
  stepSeconds: number[];
  /** Median of stepSeconds. */
  secondsPerStep: number;
  /** tokensPerStep / secondsPerStep. */
  tokensPerSecond: number;
  threads: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Random weights, fast: uniform with the initializer's standard deviation from a xorshift stream.
 * Throughput does not depend on the values, and the model's own initWeights (normal draws from the
 * engine's generator) takes about 90 s for 135M parameters, against well under a second here.
 * Norm weights are one and biases zero, as initWeights makes them.
 */
export function fillRandomWeights(model: CausalLM, seed: number, std: number): void {
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const half = std * Math.sqrt(3); // uniform on [-half, half] has this std
  for (const [name, p] of model.namedParameters()) {
    const data = new Float32Array(p.size);
    if (/norm/.test(name)) data.fill(1);
    else if (!name.endsWith('.bias')) {
      for (let i = 0; i < data.length; i++) {
        state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
        data[i] = ((state >>> 0) / 4294967296 - 0.5) * 2 * half;
      }
    }
    p.value = Tensor.fromData(data, [...p.shape], 'float32');
  }
}

function randomBatch(vocab: number, batch: number, seq: number, seed: number): TrainBatch {
  const g = new Generator(seed);
  const ids = new BigInt64Array(batch * seq);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(g.nextUint32() % vocab);
  return {
    inputIds: Tensor.fromData(ids, [batch, seq], 'int64'),
    attentionMask: Tensor.fromData(new BigInt64Array(batch * seq).fill(1n), [batch, seq], 'int64'),
    labels: Tensor.fromData(BigInt64Array.from(ids), [batch, seq], 'int64'),
  };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const given = checkOptions(benchSyntax, options, 'runBench options');
  if (given.model !== undefined && given.layers !== undefined) {
    throw new UsageError('bench', `--layers applies to the built-in model only, found --model ${given.model} too`);
  }
  if (given.model !== undefined) await checkModelPath('bench', '--model', given.model);
  checkMethodFlags('bench', given);
  const o: OptionValues<typeof BENCH_OPTIONS> & MethodFlagValues = withDefaults(benchSyntax, given);
  const io = options.io ?? processIO();
  const say = (line: string): void => { if (!options.quiet) println(io.stdout, line); };

  let model: CausalLM;
  let description: string;
  if (o.model !== undefined) {
    model = await loadModel(o.model);
    description = o.model;
  } else {
    const layers = o.layers ?? SMOLLM2_135M_CONFIG.num_hidden_layers;
    model = createModelFromConfig({ ...SMOLLM2_135M_CONFIG, num_hidden_layers: layers });
    fillRandomWeights(model, o.seed!, SMOLLM2_135M_CONFIG.initializer_range);
    description = 'SmolLM2-135M-shaped random weights';
  }
  applyMemoryOptions(model, o);
  const c = model.config;
  const peft = getPeftModel(model, adapterConfigFor(o), 'default', { warn: (m) => println(io.stderr, `warning: ${m}`) });
  const counts = peft.printTrainableParameters(() => undefined);
  const batch = randomBatch(c.vocab_size, o.batchSize!, o.seqLen!, o.seed!);
  const tokensPerStep = o.batchSize! * o.seqLen!;
  const totalSteps = o.warmup! + o.steps!;
  // Constant schedule: every step does the same work, so every timed step is comparable.
  const trainer = new Trainer(peft, { epochBatches: () => [batch] }, { lr: 1e-5, schedule: 'constant', maxSteps: totalSteps, seed: o.seed });
  peft.train();
  const threads = Number(process.env.BONE_THREADS) || availableParallelism();
  say(`model: ${description} (${c.model_type}, ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size}; ${formatShort(counts.all)} parameters)`);
  say(`adapter: --method ${o.method} r ${String(o.r)}, ${formatCount(counts.trainable)} trainable parameters`);
  say(`batch: ${o.batchSize} × ${o.seqLen} tokens; ${o.warmup} warmup + ${o.steps} timed steps; ${threads} threads`);

  const timeStep = async (): Promise<number> => {
    const t0 = performance.now();
    await trainer.trainStep();
    return (performance.now() - t0) / 1000;
  };
  const warmupSeconds: number[] = [];
  for (let i = 0; i < o.warmup!; i++) warmupSeconds.push(await timeStep());
  if (warmupSeconds.length) say(`warmup: ${warmupSeconds.map((s) => `${formatNumber(s, 3)}s`).join(', ')} (the first step compiles the graph)`);
  const stepSeconds: number[] = [];
  for (let i = 0; i < o.steps!; i++) stepSeconds.push(await timeStep());
  const secondsPerStep = median(stepSeconds);
  const tokensPerSecond = tokensPerStep / secondsPerStep;
  say(`step time: median ${formatNumber(secondsPerStep, 3)}s (min ${formatNumber(Math.min(...stepSeconds), 3)}s, max ${formatNumber(Math.max(...stepSeconds), 3)}s)`);
  println(io.stdout, `throughput: ${formatCount(tokensPerSecond)} tokens/s`);
  return {
    model: description, parameters: counts.all, trainableParameters: counts.trainable, tokensPerStep, warmupSeconds, stepSeconds,
    secondsPerStep, tokensPerSecond, threads,
  };
}

export const benchCommand = defineCommand(benchSyntax, async (values, io) => {
  await runBench({ ...values, io });
  return 0;
});
