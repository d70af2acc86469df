/**
 * A fixed-capacity key/value cache (transformers' StaticCache, in spirit). Every layer holds
 * key and value tensors of shape [batch, kv_heads, capacity, head_dim]; slots 0..length-1 are
 * filled. A forward step writes its T new keys/values into slots length..length+T-1 and attends
 * over all `capacity` slots with the unwritten ones masked out.
 *
 * Why fixed capacity: every decode step then has the same graph shapes ([batch, 1] tokens,
 * `capacity` keys), so decoding compiles one graph, whatever the length so far; slots and masks are
 * fed as data. A growing (concatenating) cache would compile a new graph at every step.
 *
 * The cache is immutable: a forward returns a new KVCache whose tensors are lazy until realised
 * together with the logits (one ONNX Runtime run per step).
 */
import { Tensor, ops } from '../engine/index.ts';
import { ModelError } from './errors.ts';
import { cacheKeyMask } from './masking.ts';

export interface KVCacheShape {
  numLayers: number;
  batchSize: number;
  numKeyValueHeads: number;
  headDim: number;
  capacity: number;
}

export interface LayerKV {
  key: Tensor;
  value: Tensor;
}

/**
 * What a decoder's attention needs from a key/value cache, whatever its layout: where the new
 * tokens' keys go, which key columns attention then reads, and how the caller's attention mask
 * covers those columns. KVCache (fixed capacity, what `generate` uses) and ConcatKVCache
 * (transformers' DynamicCache: past and new concatenated, what exported graphs take) implement it.
 */
export interface DecoderCache {
  readonly batchSize: number;
  /** Tokens already cached. */
  readonly length: number;
  readonly layers: readonly LayerKV[];
  /** Key columns that attention reads once `count` new tokens are written. */
  keyLength(count: number): number;
  /** The key column of each of the `count` new tokens, int64 [count]. */
  querySlots(count: number): Tensor;
  /** The padding mask over the key columns, from the caller's attention mask ([batch, length + count]). */
  keyMask(attentionMask: Tensor, count: number): Tensor;
  /** Layer `layer`'s keys/values with the new ones ([batch, kv_heads, count, head_dim]) written at `slots`. */
  write(layer: number, slots: Tensor, key: Tensor, value: Tensor): LayerKV;
  /** The cache after a step: `count` more tokens, with the layers' new tensors. */
  advance(count: number, layers: readonly LayerKV[]): DecoderCache;
  /** The same cache cut from the graph that computed it (after realising a step). */
  detach(): DecoderCache;
  /** Every tensor of the cache: realise them with the logits after a step. */
  tensors(): Tensor[];
}

export class KVCache implements DecoderCache {
  readonly shape: KVCacheShape;
  /** Filled slots (the same for every batch row: padding is part of the sequence). */
  readonly length: number;
  readonly layers: readonly LayerKV[];

  private constructor(shape: KVCacheShape, length: number, layers: readonly LayerKV[]) {
    this.shape = shape;
    this.length = length;
    this.layers = layers;
  }

  /** An empty cache. Its zeros are lazy constants: nothing is allocated until the first step runs. */
  static create(shape: KVCacheShape): KVCache {
    for (const k of ['numLayers', 'batchSize', 'numKeyValueHeads', 'headDim', 'capacity'] as const) {
      if (!Number.isInteger(shape[k]) || shape[k] < 1) throw new ModelError(`KVCache: ${k} must be a positive integer, found ${shape[k]}`);
    }
    const dims = [shape.batchSize, shape.numKeyValueHeads, shape.capacity, shape.headDim];
    const layers = Array.from({ length: shape.numLayers }, () => ({ key: ops.full(dims, 0), value: ops.full(dims, 0) }));
    return new KVCache({ ...shape }, 0, layers);
  }

  get capacity(): number { return this.shape.capacity; }
  get batchSize(): number { return this.shape.batchSize; }

  /** Attention reads every slot; the unwritten ones are masked as causally in the future. */
  keyLength(): number { return this.capacity; }

  querySlots(count: number): Tensor { return this.nextSlots(count); }

  keyMask(attentionMask: Tensor, count: number): Tensor { return cacheKeyMask(attentionMask, this, count); }

  write(layer: number, slots: Tensor, key: Tensor, value: Tensor): LayerKV {
    return KVCache.write(this.layers[layer]!, slots, key, value);
  }

  /** Every tensor of the cache: realise them with the logits after a step. */
  tensors(): Tensor[] {
    return this.layers.flatMap((l) => [l.key, l.value]);
  }

  /** Slots the next `count` tokens go to, as int64 [count]; throws when the cache is full. */
  nextSlots(count: number): Tensor {
    if (this.length + count > this.capacity) {
      throw new ModelError(`KVCache: ${count} new token(s) after ${this.length} cached exceed the capacity of ${this.capacity}; create a larger cache`);
    }
    const slots = new BigInt64Array(count);
    for (let i = 0; i < count; i++) slots[i] = BigInt(this.length + i);
    return Tensor.fromData(slots, [count], 'int64');
  }

  /**
   * A layer's keys/values with `count` new ones written at `slots` (from nextSlots). New keys:
   * [batch, kv_heads, count, head_dim]. Slots are written once, so adding a scatter into zeros is
   * an exact write.
   */
  static write(past: LayerKV, slots: Tensor, key: Tensor, value: Tensor): LayerKV {
    const put = (cache: Tensor, update: Tensor): Tensor => {
      if (update.ndim !== 4 || update.shape[0] !== cache.shape[0] || update.shape[1] !== cache.shape[1] || update.shape[3] !== cache.shape[3]) {
        throw new ModelError(`KVCache: cannot write [${update.shape.join(', ')}] into a cache of [${cache.shape.join(', ')}]`);
      }
      const index = slots.reshape([1, 1, slots.shape[0]!, 1]).expand(update.shape);
      return cache.add(ops.scatterElementsAdd(cache.shape, 2, index, update));
    };
    return { key: put(past.key, key), value: put(past.value, value) };
  }

  /**
   * The same cache with its tensors cut from the graph that computed them (after realising a step):
   * otherwise every step's cache would keep the previous step's, and its whole graph, alive.
   */
  detach(): KVCache {
    return new KVCache(this.shape, this.length, this.layers.map((l) => ({ key: l.key.detach(), value: l.value.detach() })));
  }

  /** The cache after a step: `count` more slots filled, with the layers' new tensors. */
  advance(count: number, layers: readonly LayerKV[]): KVCache {
    if (layers.length !== this.shape.numLayers) throw new ModelError(`KVCache: expected ${this.shape.numLayers} layers, found ${layers.length}`);
    return new KVCache(this.shape, this.length + count, layers);
  }
}
