/**
 * Attention masks and the attention product, as transformers' masking_utils and
 * eager_attention_forward compute them.
 *
 * Masks are built in the graph from index tensors, by *slot*: a query at slot i may see a key at
 * slot j when j ≤ i (causal), the key is not padding, and, with a sliding window w, j > i − w. A slot
 * is a position in the padded sequence (or the key/value cache), not the rotary position: with left
 * padding the two differ, exactly as in transformers. Blocked entries get float32's most negative
 * value (never -inf: no NaN), in one `where` so that no score is pushed past it.
 *
 * Without a cache (training, a whole-sequence forward), attention runs blocked
 * (ops.blockedCausalAttention): the same masks, given to it as their parts (the padding mask,
 * the window, document ids of packed rows) instead of a [T, S] tensor, so that nothing of that size
 * is built or kept. With a cache, or with attention dropout, the masked product is the composite.
 *
 * A query that may see no key at all (a left-padding position) gets a zero output, which is what
 * torch's scaled_dot_product_attention returns for a fully masked row with a boolean mask, i.e.
 * transformers' default (sdpa) attention. (Eager attention would average all values instead.) Such
 * rows are padding, but their logits enter transformers' loss when the next label is real.
 */
import { Tensor, ops } from '../engine/index.ts';
import { ModuleError } from './errors.ts';

export interface AttentionMaskOptions {
  /** Query rows. */
  queryLen: number;
  /** Key columns (the sequence length, or the cache capacity). */
  keyLen: number;
  /** Slot of each query, int64 [queryLen]; default 0..queryLen-1 (no cache). */
  querySlots?: Tensor;
  /** [batch, keyLen], nonzero where the key is a real token (the 2-D attention_mask); default all real. */
  keyValid?: Tensor | null;
  /** Keys further back than this many slots are blocked (Mistral, Qwen sliding layers). */
  slidingWindow?: number | null;
  /**
   * int [batch or 1, queryLen] (no cache): the document each token belongs to, for documents
   * packed into one row; a query sees only keys of its own document.
   */
  segmentIds?: Tensor | null;
}

/** The parts of a self-attention mask (no cache), for attention that builds it block by block. */
export interface CausalMaskParts {
  keyValid: Tensor | null;
  slidingWindow: number | null;
  segmentIds: Tensor | null;
}

export interface AttentionMask {
  /** Additive float32 [batch or 1, 1, queryLen, keyLen]: 0 where attention is allowed, float32's minimum elsewhere. */
  additive: Tensor;
  /** float32 [batch, 1, queryLen, 1]: 0 for queries that see no key (their output is zeroed); null when every query sees one. */
  queryHasKeys: Tensor | null;
  /** The same mask as its parts, when the queries are the keys (no cache): what blocked attention takes. Lazy tensors above are then never built. */
  parts: CausalMaskParts | null;
}

export function attentionMask(opts: AttentionMaskOptions): AttentionMask {
  const { queryLen: T, keyLen: S, keyValid = null, slidingWindow = null, segmentIds = null } = opts;
  const selfAttention = opts.querySlots === undefined && T === S;
  if (segmentIds && (!selfAttention || segmentIds.ndim !== 2 || segmentIds.shape[1] !== T || (segmentIds.dtype !== 'int64' && segmentIds.dtype !== 'int32'))) {
    throw new ModuleError(`attentionMask: segment ids must be int64 [batch, ${T}] for self-attention without a cache, found ${segmentIds.dtype} [${segmentIds.shape.join(', ')}]${selfAttention ? '' : ' with a cache'}`);
  }
  const querySlots = opts.querySlots ?? ops.arange(0, T, 1, 'int64');
  if (querySlots.ndim !== 1 || querySlots.shape[0] !== T || querySlots.dtype !== 'int64') {
    throw new ModuleError(`attentionMask: querySlots must be int64 [${T}], found ${querySlots.dtype} [${querySlots.shape.join(', ')}]`);
  }
  const q = querySlots.unsqueeze(1);
  const k = ops.arange(0, S, 1, 'int64').unsqueeze(0);
  let allowed = k.le(q);
  if (slidingWindow !== null) {
    if (!Number.isInteger(slidingWindow) || slidingWindow <= 0) throw new ModuleError(`attentionMask: sliding window must be a positive integer, found ${slidingWindow}`);
    allowed = allowed.logicalAnd(k.gt(q.sub(Tensor.constant(slidingWindow, 'int64'))));
  }
  let allowed4 = allowed.reshape([1, 1, T, S]);
  // Every query sees its own slot unless padding hides it, so only a padding mask can empty a row.
  let queryHasKeys: Tensor | null = null;
  if (keyValid) {
    if (keyValid.ndim !== 2 || keyValid.shape[1] !== S) {
      throw new ModuleError(`attentionMask: the padding mask must be [batch, ${S}], found [${keyValid.shape.join(', ')}]`);
    }
    const valid = keyValid.dtype === 'bool' ? keyValid : keyValid.ne(0);
    allowed4 = allowed4.logicalAnd(valid.reshape([keyValid.shape[0]!, 1, 1, S]));
    queryHasKeys = allowed4.cast('float32').max(-1, true);
  }
  if (segmentIds) {
    const seg = segmentIds.cast('int64');
    allowed4 = allowed4.logicalAnd(seg.reshape([seg.shape[0]!, 1, T, 1]).eq(seg.reshape([seg.shape[0]!, 1, 1, T])));
  }
  return {
    additive: ops.where(allowed4, ops.full([], 0, 'float32'), ops.minValue('float32')),
    queryHasKeys,
    parts: selfAttention ? { keyValid, slidingWindow, segmentIds } : null,
  };
}

export interface AttentionOptions {
  /** From attentionMask(), or an additive mask broadcastable to [batch, heads, q, k]. */
  mask?: AttentionMask | Tensor | null;
  /** Default 1/√head_dim. */
  scale?: number;
  /** Attention-probability dropout (transformers' attention_dropout), applied only when training. */
  dropout?: number;
  training?: boolean;
  /** Recompute the probabilities in the backward pass instead of keeping them (ops.scaledDotProductAttention's `recompute`; composite attention only). */
  recompute?: boolean;
  /**
   * 'blocked' (default): ops.blockedCausalAttention where the mask comes as parts (no cache) and no
   * attention dropout is applied; 'composite': always the [T, S] product (kept to compare against).
   */
  implementation?: AttentionImplementation;
}

export type AttentionImplementation = 'blocked' | 'composite';


/**
 * softmax(q kᵀ · scale + mask) v with grouped-query attention. q: [B, H, T, D]; k, v: [B, Hkv, S, D].
 * Returns [B, H, T, D].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const { dropout = 0, training = false, implementation = 'blocked' } = opts;
  const scale = opts.scale ?? 1 / Math.sqrt(q.shape[3]!);
  const parts = opts.mask instanceof Tensor ? null : opts.mask?.parts ?? null;
  if (parts && implementation === 'blocked' && (!training || dropout === 0)) {
    return ops.blockedCausalAttention(q, k, v, { scale, ...parts });
  }
  const mask = opts.mask instanceof Tensor ? opts.mask : opts.mask?.additive ?? null;
  const keep = opts.mask instanceof Tensor ? null : opts.mask?.queryHasKeys ?? null;
  const out = !training || dropout === 0
    ? ops.scaledDotProductAttention(q, k, v, { scale, recompute: opts.recompute ?? false, ...(mask ? { mask } : {}) })
    : attentionWithDropout(q, k, v, mask, scale, dropout);
  return keep ? out.mul(keep) : out;
}

function attentionWithDropout(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, scale: number, dropout: number): Tensor {
  // Dropout sits between softmax and the product with v, so the fused op cannot be used.
  const [B, H, , D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  if (H % Hkv !== 0) throw new ModuleError(`attention: ${H} query heads cannot share ${Hkv} key/value heads`);
  const repeat = (t: Tensor): Tensor => (Hkv === H ? t
    : t.unsqueeze(2).expand([B, Hkv, H / Hkv, S, D]).reshape([B, H, S, D]));
  let scores = q.matmul(repeat(k).transpose(-2, -1)).mul(scale);
  if (mask) scores = scores.add(mask);
  const probs = ops.dropout(scores.softmax(-1), dropout, { training: true });
  return probs.matmul(repeat(v));
}
