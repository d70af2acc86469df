/** The interface every causal language model here implements: what generation, PEFT and training use. */
import type { Tensor } from '../engine/index.ts';
import type { Module } from '../nn/index.ts';
import type { DecoderCache, KVCache } from './cache.ts';
import type { DecoderConfig } from './config.ts';

export interface CausalLMInput {
  /** int64 [batch, seq]. */
  inputIds: Tensor;
  /**
   * [batch, past + seq] (or [batch, cache capacity]), nonzero for real tokens, 0 for padding (left or
   * right). Any int/bool/float dtype.
   */
  attentionMask?: Tensor | null;
  /**
   * int64 [batch, seq] (or [1, seq]). Default: from the attention mask as transformers' generate
   * does (cumsum(mask) − 1, 0 at padding), so a left-padded row gets the positions it would have
   * unpadded; without a mask, past..past+seq−1.
   */
  positionIds?: Tensor | null;
  /**
   * int64 [batch, seq] (no cache): documents packed into one row, one id per document; a token
   * attends only to tokens with its own id (TRL's padding-free packing). Pass positionIds that
   * restart at each document with it.
   */
  segmentIds?: Tensor | null;
  /** The cache from the previous step (or KVCache.create / model.createCache for the first; ConcatKVCache for transformers' layout). */
  pastKeyValues?: DecoderCache | null;
  /** int64 [batch, seq]: returns `loss` (shifted cross-entropy, -100 ignored). */
  labels?: Tensor | null;
  /**
   * With labels: divide the summed loss by this instead of the number of kept labels
   * (transformers' num_items_in_batch, for gradient accumulation over micro-batches).
   */
  numItemsInBatch?: number | Tensor;
  /** Compute logits for only the last N positions (0: all), as transformers' logits_to_keep. */
  logitsToKeep?: number;
}

export interface CausalLMOutput {
  /** float32 [batch, seq (or logitsToKeep), vocab]. */
  logits: Tensor;
  /**
   * With labels. In training mode, when the output layer is a plain Linear without bias, the loss is
   * computed from the hidden states with the layer fused into the cross-entropy (no [tokens, vocab]
   * tensor kept for the backward pass); `logits` are then a separate, lazy branch of the graph that
   * costs nothing unless realised.
   */
  loss?: Tensor;
  /** The cache with this step written (lazy: realise it with the logits). */
  pastKeyValues?: DecoderCache;
}

export interface CausalLM extends Module {
  readonly config: DecoderConfig;
  /** Where the weights came from (loadModel's argument); PEFT writes it as base_model_name_or_path. */
  nameOrPath?: string;
  forward(input: CausalLMInput): CausalLMOutput;
  /** An empty key/value cache for this model. */
  createCache(batchSize: number, capacity: number): KVCache;
  /** Random weights (transformers' _init_weights scheme, this library's generator), for tests and training from scratch. */
  initWeights(opts?: { seed?: number; std?: number }): this;
}
