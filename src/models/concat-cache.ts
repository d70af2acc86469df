/**
 * A key/value cache laid out as transformers' DynamicCache (and the ONNX decoders that optimum and
 * transformers.js use): each layer's past keys/values are [batch, kv_heads, past, head_dim], a
 * step concatenates the new ones after them, and attention reads exactly past + new columns.
 *
 * Every step has a new shape, so this cache recompiles at every step in the engine (KVCache, with a
 * fixed capacity, is what `generate` uses). Its use is export: traced with placeholder tensors, its
 * graph is the decoder that transformers.js feeds `past_key_values.N.key/value` and reads
 * `present.N.key/value` from. Nothing here reads tensor data, so every input may be a placeholder.
 */
import { ops, type Tensor } from '../engine/index.ts';
import type { DecoderCache, LayerKV } from './cache.ts';
import { ModelError } from './errors.ts';

export class ConcatKVCache implements DecoderCache {
  readonly length: number;
  readonly layers: readonly LayerKV[];

  private constructor(layers: readonly LayerKV[], length: number) {
    this.layers = layers;
    this.length = length;
  }

  /** A cache holding these past keys/values (each [batch, kv_heads, past, head_dim], past may be 0). */
  static from(layers: readonly LayerKV[]): ConcatKVCache {
    if (layers.length === 0) throw new ModelError('ConcatKVCache: expected at least one layer');
    const [B, H, P, D] = layers[0]!.key.shape;
    layers.forEach((l, i) => {
      for (const [what, t] of [['key', l.key], ['value', l.value]] as const) {
        if (t.ndim !== 4 || t.shape[0] !== B || t.shape[1] !== H || t.shape[2] !== P || t.shape[3] !== D) {
          throw new ModelError(`ConcatKVCache: layer ${i}'s past ${what} must be [${B}, ${H}, ${P}, ${D}] like layer 0's key, found [${t.shape.join(', ')}]`);
        }
      }
    });
    return new ConcatKVCache(layers, P!);
  }

  get batchSize(): number { return this.layers[0]!.key.shape[0]!; }

  keyLength(count: number): number { return this.length + count; }

  /** length … length + count − 1, computed in the graph (a Range). */
  querySlots(count: number): Tensor { return ops.arange(this.length, this.length + count, 1, 'int64'); }

  keyMask(attentionMask: Tensor, count: number): Tensor {
    const want = [this.batchSize, this.length + count];
    if (attentionMask.ndim !== 2 || attentionMask.shape[0] !== want[0] || attentionMask.shape[1] !== want[1]) {
      throw new ModelError(`attention mask with ${this.length} cached and ${count} new tokens must be [${want.join(', ')}], found [${attentionMask.shape.join(', ')}]`);
    }
    return attentionMask;
  }

  write(layer: number, _slots: Tensor, key: Tensor, value: Tensor): LayerKV {
    const past = this.layers[layer]!;
    return { key: ops.concat([past.key, key], 2), value: ops.concat([past.value, value], 2) };
  }

  advance(count: number, layers: readonly LayerKV[]): ConcatKVCache {
    if (layers.length !== this.layers.length) throw new ModelError(`ConcatKVCache: expected ${this.layers.length} layers, found ${layers.length}`);
    return new ConcatKVCache(layers, this.length + count);
  }

  detach(): ConcatKVCache {
    return new ConcatKVCache(this.layers.map((l) => ({ key: l.key.detach(), value: l.value.detach() })), this.length);
  }

  tensors(): Tensor[] {
    return this.layers.flatMap((l) => [l.key, l.value]);
  }
}
