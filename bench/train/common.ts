/**
 * Shared by the training-step benchmark's child processes: the SmolLM2-135M-shaped Llama with
 * cheap random weights, the adapter configs of each method, the batch, and a backend that records
 * ONNX Runtime's run time (and can profile or change session options, for prototypes).
 */
import ort from 'onnxruntime-node';
import { Tensor, setBackend, type CompiledGraph, type FeedTensor, type TypedArray } from '../../src/engine/index.ts';
import { ortSessionOptions } from '../../src/node/ort-node.ts';
import { createModelFromConfig, type CausalLM } from '../../src/models/index.ts';
import { getPeftModel, variantConfig, type AdapterConfig, type PeftModel } from '../../src/peft/index.ts';
import { now, randomFloats } from '../util.ts';

/** The methods benchmarked, by their `bone train --method` names, which peft_anchor_bench.py --method shares. */
export const METHODS = ['miss', 'bat', 'mini', 'lora'] as const;
export type Method = (typeof METHODS)[number];

export interface Shape {
  layers: number;
  batch: number;
  seq: number;
  /** Bone/BAT/MiSS block size; LoRA uses r/2 with alpha r, as the anchor does. */
  r: number;
}

/** SmolLM2-135M's config.json (the fields that matter), as in the anchor script. */
export function smolConfig(layers: number): Record<string, unknown> {
  return {
    model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_hidden_layers: layers, num_attention_heads: 9,
    num_key_value_heads: 3, vocab_size: 49152, max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 10000,
    tie_word_embeddings: true, hidden_act: 'silu', initializer_range: 0.02,
  };
}

export function randomIds(n: number, vocab: number, seed: number): BigInt64Array {
  const out = new BigInt64Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = BigInt(a % vocab);
  }
  return out;
}

/** The base model with random weights: linear/embedding weights ~ std 0.02, norms one (transformers' init scheme, cheaper numbers). */
export function makeModel(layers: number): CausalLM {
  return withRandomWeights(createModelFromConfig(smolConfig(layers) as never));
}

/** Uniform weights of std 0.02 from fixed seeds (one per tensor), norms one. */
export function withRandomWeights(model: CausalLM): CausalLM {
  let seed = 1;
  for (const [name, p] of model.namedParameters()) {
    p.value = name.endsWith('norm.weight')
      ? Tensor.ones(p.shape)
      : Tensor.fromData(randomFloats(p.size, 0.02 * Math.sqrt(3), seed++), p.shape);
  }
  return model;
}

/** The anchor's settings: mini with mini_r 64; LoRA with half the rank and alpha r (about Bone's trainable count). */
export function adapterConfig(method: Method, r: number): AdapterConfig {
  const flags = method === 'lora' ? { r: r / 2, loraAlpha: r } : { r, miniR: 64 };
  return variantConfig(method, flags, { targetModules: ['q_proj', 'v_proj'] });
}

export function makePeft(method: Method, shape: Shape): PeftModel<CausalLM> {
  const peft = getPeftModel(makeModel(shape.layers), adapterConfig(method, shape.r), 'default', { warn: () => undefined });
  peft.train();
  return peft;
}

/** labels = ids, as the anchor (the model shifts them). */
export function makeBatch(shape: Shape): { ids: Tensor; labels: Tensor } {
  const ids = Tensor.fromData(randomIds(shape.batch * shape.seq, 49152, 12345), [shape.batch, shape.seq], 'int64');
  return { ids, labels: ids };
}



export const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024;
export const rssMB = (): number => process.memoryUsage().rss / 2 ** 20;

export interface SessionTweaks {
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  /** ORT session config entries (SessionOptions.extra). */
  extra?: Record<string, unknown>;
  /** Write an ORT profile with this file prefix; profiling ends after `profileRuns` runs of each session. */
  profilePrefix?: string;
  profileRuns?: number;
}

/** What the recording backend saw. */
export const recorder = {
  /** ms in session.run (ORT + binding), last run. */
  lastRunMs: 0,
  /** Bytes of the last compiled model. */
  lastModelBytes: 0,
  /** ms for InferenceSession.create of the last model. */
  lastSessionMs: 0,
  /** Sessions whose profile was closed (the file is `<profilePrefix>_<date>.json`). */
  profilesEnded: 0,
};

/**
 * The engine's onnxruntime-node backend (same options as src/node/ort-node.ts), plus run
 * timing, optional profiling and optional session-option changes for prototypes.
 */
export function installRecordingBackend(tweaks: SessionTweaks = {}): void {
  setBackend({
    name: 'onnxruntime-node (bench recorder)',
    async compile(model: Uint8Array, opts = {}): Promise<CompiledGraph> {
      const t0 = now();
      const session = await ort.InferenceSession.create(model, {
        ...ortSessionOptions(opts),
        ...(tweaks.enableCpuMemArena === undefined ? {} : { enableCpuMemArena: tweaks.enableCpuMemArena }),
        ...(tweaks.enableMemPattern === undefined ? {} : { enableMemPattern: tweaks.enableMemPattern }),
        ...(tweaks.profilePrefix ? { enableProfiling: true, profileFilePrefix: tweaks.profilePrefix } : {}),
        ...(tweaks.extra ? { extra: tweaks.extra } : {}),
      });
      recorder.lastSessionMs = now() - t0;
      recorder.lastModelBytes = model.byteLength;
      let runsLeft = tweaks.profilePrefix ? (tweaks.profileRuns ?? 1) : 0;
      return {
        async run(feeds: Record<string, FeedTensor>, outputNames: readonly string[]): Promise<TypedArray[]> {
          const ortFeeds: Record<string, ort.Tensor> = {};
          for (const [name, f] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(f.dtype as 'float32', f.data as Float32Array, f.dims);
          const t = now();
          const result = await session.run(ortFeeds, outputNames as string[]);
          recorder.lastRunMs = now() - t;
          if (runsLeft > 0 && --runsLeft === 0) {
            session.endProfiling();
            recorder.profilesEnded++;
          }
          return outputNames.map((n) => result[n]!.data as TypedArray);
        },
        async release(): Promise<void> { await session.release(); },
      };
    },
  });
}

/** Print one JSON result line for the parent process. */
export function emitResult(obj: unknown): void {
  process.stdout.write(`@@RESULT ${JSON.stringify(obj)}\n`);
}
