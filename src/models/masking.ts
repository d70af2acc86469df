/**
 * From a model call's inputs to what attention needs: position ids (transformers' generate
 * convention), the per-key padding mask, and query slots. Computed in JavaScript from realised
 * data where the data decides a value (a cumulative sum), so that graphs see only fed tensors of
 * fixed shapes.
 */
import { Tensor } from '../engine/index.ts';
import type { KVCache } from './cache.ts';
import { ModelError } from './errors.ts';

function readInts(t: Tensor, what: string): ArrayLike<number | bigint> {
  if (!t.isRealized) throw new ModelError(`${what} must be realised data here (it is a lazy ${t.describe()}); realise it first or pass positionIds`);
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') throw new ModelError(`${what}: ${t.dtype} is not supported, use int64`);
  return t.storage as ArrayLike<number | bigint>;
}

/**
 * Position ids [batch, count] for the `count` columns of a 2-D attention mask that end at column
 * `end` (default: the last), as transformers' generate computes them: cumsum(mask) − 1, and 0
 * where the mask is 0.
 */
export function positionIdsFromMask(mask: Tensor, count: number, end?: number): Tensor {
  if (mask.ndim !== 2) throw new ModelError(`attention mask must be [batch, seq], found [${mask.shape.join(', ')}]`);
  const [B, width] = mask.shape as [number, number];
  const S = end ?? width;
  if (count > S || S > width) throw new ModelError(`attention mask [${B}, ${width}] does not cover ${count} new tokens ending at column ${S}`);
  const m = readInts(mask, 'the attention mask');
  const out = new BigInt64Array(B * count);
  for (let b = 0; b < B; b++) {
    let sum = 0;
    for (let s = 0; s < S; s++) {
      const on = Number(m[b * width + s]) !== 0;
      if (on) sum++;
      const c = s - (S - count);
      if (c >= 0) out[b * count + c] = BigInt(on ? sum - 1 : 0);
    }
  }
  return Tensor.fromData(out, [B, count], 'int64');
}

/** past..past+count−1 as [1, count] (no mask: every row has the same positions). */
export function positionIdsRange(past: number, count: number): Tensor {
  const out = new BigInt64Array(count);
  for (let i = 0; i < count; i++) out[i] = BigInt(past + i);
  return Tensor.fromData(out, [1, count], 'int64');
}

/**
 * The padding mask over all cache slots, bool [batch, capacity]: the given mask covers the filled
 * slots plus the new tokens ([batch, past + count], transformers' convention) or already all slots;
 * the slots beyond are marked empty.
 */
export function cacheKeyMask(mask: Tensor, cache: KVCache, count: number): Tensor {
  const C = cache.capacity;
  const B = cache.batchSize;
  const width = mask.shape[1];
  if (mask.ndim !== 2 || mask.shape[0] !== B || (width !== cache.length + count && width !== C)) {
    throw new ModelError(`attention mask with a cache of ${cache.length} filled slots and ${count} new tokens must be [${B}, ${cache.length + count}] (or [${B}, ${C}]), found [${mask.shape.join(', ')}]`);
  }
  const m = readInts(mask, 'the attention mask');
  const out = new Uint8Array(B * C);
  for (let b = 0; b < B; b++) for (let s = 0; s < width!; s++) out[b * C + s] = Number(m[b * width! + s]) !== 0 ? 1 : 0;
  return Tensor.fromData(out, [B, C], 'bool');
}

/** Rows of a realised 2-D mask that have padding after a real token (right padding). */
export function rightPaddedRows(mask: Tensor): number[] {
  const [B, S] = mask.shape as [number, number];
  const m = readInts(mask, 'the attention mask');
  const rows: number[] = [];
  for (let b = 0; b < B; b++) {
    let seen = false;
    for (let s = 0; s < S; s++) {
      const on = Number(m[b * S + s]) !== 0;
      if (on) seen = true;
      else if (seen) { rows.push(b); break; }
    }
  }
  return rows;
}
