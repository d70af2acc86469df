/**
 * Text generation as transformers' `generate`: greedy (do_sample=False) or sampled (temperature,
 * top-k, top-p, in that order, as transformers' logits warpers), stopping at EOS ids or after
 * maxNewTokens; finished rows are filled with the pad id.
 *
 * With the cache (default), the prompt runs once (prefill) and then each step feeds one token per
 * row. The cache has a fixed capacity (the total length rounded up to a multiple of
 * `cacheBlock`), so decoding compiles one graph per capacity and the prefill one per prompt
 * shape. Without the cache every step reruns the whole sequence (one graph per length): slower,
 * kept as the reference the cached path is tested against.
 *
 * Sampling uses this library's seeded generator, so sampled tokens are reproducible here but are
 * not torch's. Greedy tokens match transformers'.
 */
import { Generator, Tensor, describeNonFinite, nonFinite, realize } from '../engine/index.ts';
import type { DecoderCache } from './cache.ts';
import type { CausalLM } from './causal-lm.ts';
import { ModelError } from './errors.ts';
import { rightPaddedRows } from './masking.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Default false (greedy). */
  doSample?: boolean;
  /** Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 disables). Default 50, as transformers' GenerationConfig. */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 disables). Default 1. */
  topP?: number;
  /** Seed for sampling (a fresh Generator); or pass `generator`. Default 0. */
  seed?: number;
  generator?: Generator;
  /** Stop a row at any of these; default config.eos_token_id; null: never stop early. */
  eosTokenId?: number | readonly number[] | null;
  /** Written after a row has finished; default config.pad_token_id, else the first EOS id. */
  padTokenId?: number | null;
  /** [batch, prompt] 1 for tokens, 0 for (left) padding. Default all ones. */
  attentionMask?: Tensor | readonly (readonly number[])[];
  /** Use the key/value cache (default true). */
  useCache?: boolean;
  /** Cache capacity is rounded up to a multiple of this (fewer distinct graphs). Default 64. */
  cacheBlock?: number;
}

export interface GenerateOutput {
  /** Prompt followed by the generated tokens, one row per prompt (as transformers returns). */
  sequences: number[][];
  /** The generated tokens only. */
  newTokens: number[][];
}

function toRows(x: Tensor | readonly (readonly number[])[], what: string): number[][] {
  if (x instanceof Tensor) {
    if (x.ndim !== 2) throw new ModelError(`generate: ${what} must be [batch, seq], found [${x.shape.join(', ')}]`);
    if (!x.isRealized) throw new ModelError(`generate: ${what} must be realised data`);
    const [B, T] = x.shape as [number, number];
    const d = x.storage as ArrayLike<number | bigint>;
    return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Number(d[b * T + t])));
  }
  const rows = x.map((r) => [...r]);
  if (rows.length === 0 || rows.some((r) => r.length !== rows[0]!.length)) {
    throw new ModelError(`generate: ${what} must be a non-empty rectangular array (pad prompts on the left to one length)`);
  }
  return rows;
}

function int64(rows: readonly (readonly number[])[]): Tensor {
  const B = rows.length;
  const T = rows[0]!.length;
  const data = new BigInt64Array(B * T);
  rows.forEach((r, b) => r.forEach((v, t) => { data[b * T + t] = BigInt(v); }));
  return Tensor.fromData(data, [B, T], 'int64');
}

/** Index of the first maximum (torch.argmax). */
function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Temperature, top-k, top-p (transformers' warpers, in their order), then a draw from the softmax. */
export function sampleToken(logits: Float32Array, opts: { temperature: number; topK: number; topP: number; generator: Generator }): number {
  const V = logits.length;
  const scores = Float64Array.from(logits, (v) => v / opts.temperature);
  if (opts.topK > 0 && opts.topK < V) {
    // TopKLogitsWarper: drop scores below the k-th largest (ties with it are kept).
    const kth = Float64Array.from(scores).sort().reverse()[opts.topK - 1]!;
    for (let i = 0; i < V; i++) if (scores[i]! < kth) scores[i] = -Infinity;
  }
  if (opts.topP < 1) {
    // TopPLogitsWarper: ascending order, drop tokens whose cumulative probability is ≤ 1 − p (keep at least one).
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
    const max = scores[order[V - 1]!]!;
    let total = 0;
    for (const i of order) total += Math.exp(scores[i]! - max);
    let cum = 0;
    for (let j = 0; j < V - 1; j++) {
      const i = order[j]!;
      cum += Math.exp(scores[i]! - max) / total;
      if (cum <= 1 - opts.topP) scores[i] = -Infinity;
    }
  }
  let max = -Infinity;
  for (const s of scores) if (s > max) max = s;
  let total = 0;
  const probs = scores.map((s) => { const e = Math.exp(s - max); total += e; return e; });
  let u = opts.generator.uniform() * total;
  for (let i = 0; i < V; i++) {
    u -= probs[i]!;
    if (u < 0 && probs[i]! > 0) return i;
  }
  for (let i = V - 1; i >= 0; i--) if (probs[i]! > 0) return i;
  return 0;
}

export async function generate(model: CausalLM, inputIds: Tensor | readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateOutput> {
  const { maxNewTokens, doSample = false, temperature = 1, topK = 50, topP = 1, useCache = true, cacheBlock = 64 } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new ModelError(`generate: maxNewTokens must be a non-negative integer, found ${maxNewTokens}`);
  if (doSample && !(temperature > 0)) throw new ModelError(`generate: temperature must be > 0, found ${temperature}`);
  if (doSample && !(topP > 0 && topP <= 1)) throw new ModelError(`generate: topP must be in (0, 1], found ${topP}`);
  const generator = opts.generator ?? new Generator(opts.seed ?? 0);
  const cfgEos = model.config.eos_token_id;
  const eosOpt = opts.eosTokenId === undefined ? cfgEos : opts.eosTokenId;
  const eos = eosOpt === null ? [] : typeof eosOpt === 'number' ? [eosOpt] : [...eosOpt];
  const pad = opts.padTokenId ?? model.config.pad_token_id ?? eos[0] ?? 0;

  const prompt = toRows(inputIds, 'inputIds');
  const B = prompt.length;
  const P = prompt[0]!.length;
  const mask = opts.attentionMask ? toRows(opts.attentionMask, 'attentionMask') : prompt.map((r) => r.map(() => 1));
  if (mask.length !== B || mask[0]!.length !== P) throw new ModelError(`generate: attentionMask must be [${B}, ${P}] like inputIds, found [${mask.length}, ${mask[0]!.length}]`);
  const right = rightPaddedRows(int64(mask));
  if (right.length) throw new ModelError(`generate: rows ${right.join(', ')} are right-padded; a decoder-only model generates after the last token, so pad prompts on the left`);

  const seqs = prompt.map((r) => [...r]);
  const newTokens: number[][] = prompt.map(() => []);
  const unfinished = new Array<boolean>(B).fill(true);
  const pick = (logits: Float32Array): number[] => {
    const V = logits.length / B;
    return Array.from({ length: B }, (_, b) => {
      const row = logits.subarray(b * V, (b + 1) * V);
      return doSample ? sampleToken(row, { temperature, topK, topP, generator }) : argmax(row);
    });
  };

  let cache: DecoderCache | null = useCache ? model.createCache(B, Math.max(1, Math.ceil((P + maxNewTokens) / cacheBlock) * cacheBlock)) : null;
  let stepIds = prompt;
  for (let step = 0; step < maxNewTokens; step++) {
    const out = model.forward({
      inputIds: int64(useCache ? stepIds : seqs),
      attentionMask: int64(mask),
      pastKeyValues: cache,
      logitsToKeep: 1,
    });
    const toRealize = [out.logits, ...(out.pastKeyValues?.tensors() ?? [])];
    await realize(toRealize);
    if (out.pastKeyValues) cache = out.pastKeyValues.detach();
    const logits = out.logits.storage as Float32Array;
    // NaN logits would pick token 0 (often eos) every time: an empty completion instead of an error.
    const bad = nonFinite(logits);
    if (bad) {
      throw new ModelError(`generate: the logits of new token ${step + 1} hold ${describeNonFinite(bad)}: the model's weights or an adapter on it produce non-finite values (check them with checkFinite, or load them again: loading names a broken tensor)`);
    }
    const next = pick(logits).map((t, b) => (unfinished[b] ? t : pad));
    next.forEach((t, b) => {
      seqs[b]!.push(t);
      newTokens[b]!.push(t);
      mask[b]!.push(1);
      if (eos.includes(t)) unfinished[b] = false;
    });
    if (!unfinished.some(Boolean)) break;
    stepIds = next.map((t) => [t]);
  }
  return { sequences: seqs, newTokens };
}
