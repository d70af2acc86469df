/**
 * What the command-line benchmarks share (bench/cli-train.bench.ts, bench/scale.bench.ts): model
 * folders of the anchors' shapes with random weights, JSONL data, and the runs themselves —
 * `bone train` in its own process (peak RSS from /usr/bin/time, per-step times from its
 * trainer_state.json, the memory estimate from its log), `peft_anchor_bench.py` (one PEFT step
 * repeated) and `trl_sft_anchor.py` (TRL's SFTTrainer + PEFT end to end), each one line of result.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Generator } from '../../src/engine/index.ts';
import { savePretrained } from '../../src/io/model-folder.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';
import { createModelFromConfig, type CausalLM } from '../../src/models/index.ts';
import { pretrainingDocument } from '../../demo/tiny-world.ts';
import { median } from '../util.ts';
import { runChild, type ChildRun } from './child.ts';
import { smolConfig, withRandomWeights } from './common.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The folder of the anchor scripts: BONE_ANCHOR_DIR, else ../shared/anchors beside the repository
 * (or beside the folder of worktrees a checkout may sit in).
 */
export function anchorDir(): string {
  if (process.env.BONE_ANCHOR_DIR) return resolve(process.env.BONE_ANCHOR_DIR);
  const candidates = [resolve(ROOT, '../shared/anchors'), resolve(ROOT, '../../shared/anchors')];
  return candidates.find((d) => existsSync(d)) ?? candidates[0]!;
}
/** A byte-level BPE tokenizer in SmolLM2's style (ChatML special tokens); its ids are below every shape's vocabulary. */
export const TOKENIZER_DIR = join(ROOT, 'test/fixtures/tokenizers/chatml');

/** The anchor's model shapes (peft_anchor_bench.py --config), as config.json fields. */
export const SHAPES = {
  smollm135m: smolConfig(30),
  smollm360m: {
    model_type: 'llama', hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 32, num_attention_heads: 15,
    num_key_value_heads: 5, vocab_size: 49152, max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000,
    tie_word_embeddings: true, hidden_act: 'silu', initializer_range: 0.02,
  },
  'qwen3-0.6b': {
    model_type: 'qwen3', hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16,
    num_key_value_heads: 8, head_dim: 128, vocab_size: 151936, max_position_embeddings: 40960, rms_norm_eps: 1e-6,
    rope_theta: 1000000, tie_word_embeddings: true, hidden_act: 'silu', initializer_range: 0.02,
  },
} as const satisfies Record<string, Record<string, unknown>>;
export type ShapeName = keyof typeof SHAPES;

/** A model of a named shape with random weights (see withRandomWeights). */
export function makeShapedModel(name: ShapeName): CausalLM {
  return withRandomWeights(createModelFromConfig(SHAPES[name] as never));
}

/** The model folder of a shape (config.json, float32 model.safetensors, the tokenizer), written once under `workDir`. */
export async function ensureModelFolder(workDir: string, name: ShapeName, log: (s: string) => void): Promise<string> {
  const dir = join(workDir, `${name}-shaped`);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    log(`writing ${dir} (random weights, ${name}'s shape)`);
    mkdirSync(dir, { recursive: true });
    await savePretrained(makeShapedModel(name), dir);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) writeFileSync(join(dir, f), readFileSync(join(TOKENIZER_DIR, f)));
  }
  return dir;
}

/** `{"text"}` lines long enough that each is cut to `seq` tokens: every batch then has the same shape, loss on every token. */
export async function writeFixedLengthData(file: string, modelDir: string, seq: number, count: number): Promise<void> {
  const tokenizer = await loadTokenizer(modelDir);
  const g = new Generator(5);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = '';
    // Grow in documents, check the length only now and then (tokenizing is the slow part).
    while (tokenizer.encode(text).length <= seq) for (let k = 0; k < Math.max(1, seq / 256); k++) text += pretrainingDocument(g).replace('<|endoftext|>', '\n');
    lines.push(JSON.stringify({ text }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

export interface BoneRun {
  /** Tokens per step over the median time of the steps after the first (which compiles). */
  tokensPerSecond: number;
  /** The rate the progress line printed (a mean over the same steps). */
  printedTokensPerSecond: number;
  /** Real (non-padding) tokens over the time of all steps, the first included (what a whole run gets). */
  realTokensPerSecond: number;
  realTokens: number;
  stepSeconds: number[];
  trainSeconds: number;
  wallSeconds: number;
  peakRssMB: number | null;
  /** bone train's own estimate before the first step (its "memory:" line), MB. */
  estimateMB: number | null;
  trainable: number | null;
}

/** Reads bone train's output (progress on stderr): the last progress line's rate, the adapter line's trainable count, the memory estimate. */
function parseBoneTrain(text: string): Pick<BoneRun, 'printedTokensPerSecond' | 'trainable' | 'estimateMB'> | null {
  const num = (s: string): number => Number(s.replace(/,/g, ''));
  const last = [...text.matchAll(/^step +(\d+)\/(\d+) \|.*?\| ([\d,]+) tok\/s/gm)].pop();
  const trainable = /^adapter: .*?; ([\d,]+) trainable of/m.exec(text);
  const memory = /^memory: a step on .*? needs about ([\d.]+) (KiB|MiB|GiB)/m.exec(text);
  const unit = { KiB: 1 / 1024, MiB: 1, GiB: 1024 };
  if (!last || last[1] !== last[2]) return null;
  return {
    printedTokensPerSecond: num(last[3]!), trainable: trainable ? num(trainable[1]!) : null,
    estimateMB: memory ? Number(memory[1]) * unit[memory[2] as keyof typeof unit] : null,
  };
}

export interface BoneTrainOptions {
  model: string;
  data: string;
  out: string;
  /** Every flag after --model/--data/--out (method, batch, length, steps, ...). */
  flags: readonly string[];
  threads: number;
  timeoutMs?: number;
}

/** One `bone train` process (peak RSS measured by /usr/bin/time where it exists). */
export async function runBoneTrain(o: BoneTrainOptions): Promise<ChildRun<BoneRun>> {
  rmSync(o.out, { recursive: true, force: true });
  const rssFile = `${o.out}.peak-rss-kb`;
  rmSync(rssFile, { force: true });
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  const cli = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'train', '--model', o.model, '--data', o.data, '--out', o.out, '--log-every', '0', ...o.flags];
  const [cmd, ...rest] = timeBin ? [timeBin, '-f', '%M', '-o', rssFile, ...cli] : cli;
  const r = await runChild<BoneRun>(cmd!, rest, {
    env: { ...process.env, BONE_THREADS: String(o.threads) }, timeoutMs: o.timeoutMs ?? 60 * 60_000,
    parse: (stdout, stderr) => {
      const p = parseBoneTrain(`${stdout}\n${stderr}`);
      return p && { ...p, tokensPerSecond: NaN, realTokensPerSecond: NaN, realTokens: 0, stepSeconds: [], trainSeconds: NaN, wallSeconds: NaN, peakRssMB: null };
    },
  });
  if (r.result) {
    const state = readFileSync(join(o.out, latestCheckpointName(o.out), 'trainer_state.json'), 'utf8');
    const history = (JSON.parse(state) as { history: { tokens: number; seconds: number }[] }).history;
    const timed = history.slice(1);
    r.result.stepSeconds = history.map((h) => h.seconds);
    r.result.tokensPerSecond = timed.length ? median(timed.map((h) => h.tokens)) / median(timed.map((h) => h.seconds)) : NaN;
    r.result.realTokens = history.reduce((n, h) => n + h.tokens, 0);
    r.result.trainSeconds = history.reduce((n, h) => n + h.seconds, 0);
    r.result.realTokensPerSecond = r.result.realTokens / r.result.trainSeconds;
    r.result.wallSeconds = r.wallMs / 1000;
    if (existsSync(rssFile)) r.result.peakRssMB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024;
  }
  return r;
}

/** The newest checkpoint-N folder of a run (bone train writes one at the end). */
function latestCheckpointName(out: string): string {
  const steps = readdirSync(out).map((f) => /^checkpoint-(\d+)$/.exec(f)?.[1]).filter((s): s is string => s !== undefined).map(Number);
  return `checkpoint-${Math.max(...steps)}`;
}

/** peft_anchor_bench.py's result line. */
export interface AnchorResult { trainable: number; median_step_s: number; tokens_per_s: number; peak_rss_mb: number; loss: number }

export interface AnchorOptions { python: string; script: string; method: string; config: string; batch: number; seq: number; steps: number; r: number; threads: number }

/** One peft_anchor_bench.py process: `steps` timed steps after a first one. */
export function runPeftAnchor(o: AnchorOptions): Promise<ChildRun<AnchorResult>> {
  return runChild<AnchorResult>(o.python, [o.script, '--method', o.method, '--config', o.config, '--steps', String(o.steps), '--batch', String(o.batch),
    '--seq', String(o.seq), '--r', String(o.r), '--threads', String(o.threads)], { lastJsonLine: true, timeoutMs: 60 * 60_000 });
}

/** trl_sft_anchor.py's result line. */
export interface TrlResult { steps: number; train_s: number; wall_s: number; real_tokens: number; computed_tokens: number; real_tokens_per_s: number; final_loss: number | null; peak_rss_mb: number }

export interface TrlOptions {
  python: string; script: string; model: string; data: string; out: string; method: string; r: number; batch: number; maxLength: number; maxSteps: number; packing: boolean; threads: number;
  /** SFTConfig fields set over TRL's defaults (through trl_with_config.py); none: TRL's defaults. */
  sftConfig?: Record<string, unknown>;
  timeoutMs?: number;
}

/** One trl_sft_anchor.py process (TRL's SFTTrainer with a PEFT adapter, its defaults otherwise). */
export function runTrlAnchor(o: TrlOptions): Promise<ChildRun<TrlResult>> {
  rmSync(o.out, { recursive: true, force: true });
  const anchor = [o.script, '--model', o.model, '--data', o.data, '--out', o.out, '--method', o.method, '--r', String(o.r),
    '--batch', String(o.batch), '--max-length', String(o.maxLength), '--max-steps', String(o.maxSteps), '--threads', String(o.threads),
    ...(o.packing ? ['--packing'] : [])];
  const command = o.sftConfig ? [join(ROOT, 'bench/train/trl_with_config.py'), JSON.stringify(o.sftConfig), ...anchor] : anchor;
  return runChild<TrlResult>(o.python, command, { lastJsonLine: true, timeoutMs: o.timeoutMs ?? 60 * 60_000 });
}
