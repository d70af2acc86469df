/**
 * Causal self-attention computed a block of queries at a time (flash attention's schedule,
 * unrolled into the graph), so that a training step never holds anything [T, T]-sized.
 *
 * The forward pass takes each block of query rows against the keys that block can see (causally,
 * and within the sliding window) and keeps only the output. Blocks wholly above the diagonal (or
 * wholly outside the window) are never built. The backward pass recomputes each block's
 * probabilities from q and k. With the keys of a query block in one block (the default), both
 * passes take the probabilities from ONNX Runtime's fused Softmax; with smaller key blocks the
 * forward combines them with a running maximum and sum (online softmax) and keeps one log-sum-exp
 * per row, from which the backward recomputes each block's probabilities as exp(scores − lse).
 * (Measured: the fused Softmax takes 0.73–0.87× the time of the exp(scores − lse) form; docs/design.md.)
 * Grouped-query heads are folded into rows as in
 * scaledDotProductAttention's `recompute` op: q [B, H, T, D] is read as [B, Hkv, G·T, D] (G query
 * heads per key/value head, transformers' repeat_kv order), so keys and values are never repeated.
 *
 * Masks are structural, never [T, T] tensors: causality and the window from the block's
 * coordinates (constants that ONNX Runtime folds), padding from a [B, S] key mask and packed
 * documents from [B, T] segment ids, each sliced to the block. A query row that sees no key gets a
 * zero output, as torch's scaled_dot_product_attention returns for a fully masked row.
 */
import { ShapeError } from '../errors.ts';
import { apply, defineOp } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { add, cast, div, eq, exp, gt, le, log, logicalAnd, maximum, mul, ne, sub, where } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { minValue, softmax } from './nn.ts';
import { max, sum } from './reduce.ts';
import { arange, concat, full, padAxis, reshape, slice, transpose } from './shape.ts';

/**
 * Query rows per block, and key columns per block (0: every key a query block sees, in one block;
 * −1: two blocks, the keys before the block's first query and the diagonal block). Chosen by
 * measurement (bench/attention.bench.ts; docs/design.md, "Blocked attention").
 */
export const DEFAULT_QUERY_BLOCK = 256;
export const DEFAULT_KEY_BLOCK = 0;

export interface BlockedAttentionOptions {
  /** Defaults to 1/√head_dim. */
  scale?: number;
  /** [B, T], nonzero (or true) where the key is a real token; padding keys are never attended to. */
  keyValid?: Tensor | null;
  /** int [B or 1, T]: a query attends only to keys with its own id (documents packed into one row). */
  segmentIds?: Tensor | null;
  /** Keys further back than this many positions are not attended to (Mistral, Qwen sliding layers). */
  slidingWindow?: number | null;
  /** Query rows per block (default DEFAULT_QUERY_BLOCK). */
  queryBlock?: number;
  /** Key columns per block; 0 (the default) takes every key a query block sees in one block, −1 splits off the diagonal block. */
  keyBlock?: number;
}

interface BlockAttrs {
  scale: number;
  queryBlock: number;
  keyBlock: number;
  window: number;
  keyValid: boolean;
  segments: boolean;
  /** Several key blocks per query block: online softmax, with the per-row log-sum-exp kept. */
  online: boolean;
  [k: string]: unknown;
}

/** One block of query rows [qs, qe) and the key ranges it sees, in key blocks. */
interface QueryBlock { qs: number; qe: number; keys: [number, number][] }

function planBlocks(T: number, a: BlockAttrs): QueryBlock[] {
  const blocks: QueryBlock[] = [];
  for (let qs = 0; qs < T; qs += a.queryBlock) {
    const qe = Math.min(T, qs + a.queryBlock);
    // Causal: nothing after the block's last query. Window: nothing its first query cannot see.
    const ks = a.window > 0 ? Math.max(0, qs - a.window + 1) : 0;
    const keys: [number, number][] = [];
    if (a.keyBlock > 0) for (let k = ks; k < qe; k += a.keyBlock) keys.push([k, Math.min(qe, k + a.keyBlock)]);
    else if (a.keyBlock < 0 && ks < qs) keys.push([ks, qs], [qs, qe]);
    else keys.push([ks, qe]);
    blocks.push({ qs, qe, keys });
  }
  return blocks;
}

interface MaskInputs { keyValid: Tensor | null; segmentIds: Tensor | null }

/**
 * Where queries [qs, qe) may attend keys [ks, ke), broadcastable to [B, Hkv, G, rows, keys]; null
 * when every pair is allowed. Causality and the window are needed only where the block crosses
 * the diagonal or the window's edge.
 */
function allowedMask(qs: number, qe: number, ks: number, ke: number, window: number, m: MaskInputs): Tensor | null {
  let allowed: Tensor | null = null;
  const and = (x: Tensor): void => { allowed = allowed ? logicalAnd(allowed, x) : x; };
  const crossesDiagonal = ke - 1 > qs;
  const crossesWindow = window > 0 && ks <= qe - 1 - window;
  if (crossesDiagonal || crossesWindow) {
    const tq = reshape(arange(qs, qe), [1, 1, 1, qe - qs, 1]);
    const tk = reshape(arange(ks, ke), [1, 1, 1, 1, ke - ks]);
    if (crossesDiagonal) and(le(tk, tq));
    if (crossesWindow) and(gt(tk, sub(tq, window)));
  }
  if (m.keyValid) and(reshape(slice(m.keyValid, 1, ks, ke), [m.keyValid.shape[0]!, 1, 1, 1, ke - ks]));
  if (m.segmentIds) {
    const s = m.segmentIds;
    const rows = reshape(slice(s, 1, qs, qe), [s.shape[0]!, 1, 1, qe - qs, 1]);
    const cols = reshape(slice(s, 1, ks, ke), [s.shape[0]!, 1, 1, 1, ke - ks]);
    and(eq(rows, cols));
  }
  return allowed;
}

/** 1 for query rows of the block that see at least one key, 0 for the others ([B, 1, 1, rows, 1]); null if all do. */
function rowsWithKeys(masks: (Tensor | null)[], dtype: Tensor['dtype']): Tensor | null {
  // Only a padding mask can empty a row (every other mask lets a query see itself).
  let any: Tensor | null = null;
  for (const m of masks) {
    if (!m) return null;
    const seen = max(cast(m, dtype), -1, true);
    any = any ? maximum(any, seen) : seen;
  }
  return any;
}

interface Layout { B: number; H: number; Hkv: number; G: number; T: number; D: number; Dv: number }

function layoutOf(q: Tensor, v: Tensor, k: Tensor): Layout {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!;
  return { B, H, Hkv, G: H / Hkv, T, D, Dv: v.shape[3]! };
}

/** Rows [qs, qe) of a [B, H, T, X] tensor as the folded [B, Hkv, G·rows, X]. */
function rowsOf(x5: Tensor, L: Layout, qs: number, qe: number): Tensor {
  return reshape(slice(x5, 3, qs, qe), [L.B, L.Hkv, L.G * (qe - qs), x5.shape[4]!]);
}

/** Scores of a folded query block against keys [ks, ke), [B, Hkv, G, rows, keys], masked entries at the dtype's minimum. */
function maskedScores(qRows: Tensor, keys: Tensor, scale: number | null, allowed: Tensor | null, L: Layout, rows: number): Tensor {
  let s = matmul(qRows, transpose(keys, -2, -1));
  if (scale !== null) s = mul(s, scale);
  s = reshape(s, [L.B, L.Hkv, L.G, rows, keys.shape[2]!]);
  // An additive mask: ONNX Runtime's broadcasting Add is 5–10× faster than its broadcasting Where here.
  return allowed ? add(s, where(allowed, full([], 0, s.dtype), minValue(s.dtype))) : s;
}

/**
 * The op that carries the gradient. Inputs: [out, q, k, v, lse (online only), keyValid?,
 * segmentIds?]; the output is `out`. Its backward is the blocked backward below; the forward
 * values it was given are not differentiated (their own nodes built them from q, k, v).
 */
const BLOCKED_ATTENTION = defineOp<BlockAttrs>({
  name: 'blocked_attention',
  infer([out]) { return { shape: [...out!.shape], dtype: out!.dtype }; },
  lower: (g, [out]) => g.node('Identity', [out!]),
  vjp: (gOut, n) => {
    const a = n.attrs as BlockAttrs;
    const [dq, dk, dv] = blockedBackward(gOut, n);
    return [null, dq, dk, dv, ...(a.online ? [null] : []), ...(a.keyValid ? [null] : []), ...(a.segments ? [null] : [])];
  },
});

function opInputs(n: Tensor, a: BlockAttrs): { out: Tensor; q: Tensor; k: Tensor; v: Tensor; lse: Tensor | null } & MaskInputs {
  const [out, q, k, v] = n.inputs as [Tensor, Tensor, Tensor, Tensor];
  let i = 4;
  const lse = a.online ? n.inputs[i++]! : null;
  const keyValid = a.keyValid ? n.inputs[i++]! : null;
  const segmentIds = a.segments ? n.inputs[i]! : null;
  return { out, q, k, v, lse, keyValid, segmentIds };
}

function blockedBackward(gOut: Tensor, n: Tensor): [Tensor, Tensor, Tensor] {
  const a = n.attrs as BlockAttrs;
  const { out, q, k, v, lse, ...m } = opInputs(n, a);
  const L = layoutOf(q, v, k);
  const { B, Hkv, G, T, D, Dv } = L;
  // Everything below reads q, k, v through a copy that depends on the incoming gradient (times
  // zero): ONNX Runtime then neither merges the recomputed blocks with the forward's nodes (which
  // would keep every block's slices alive until the backward) nor runs them before the backward.
  const anchor = mul(reshape(slice(reshape(gOut, [-1]), 0, 0, 1), []), 0);
  const q5 = reshape(add(mul(q, a.scale), anchor), [B, Hkv, G, T, D]);
  const kA = add(k, anchor);
  const vA = add(v, anchor);
  const dO5 = reshape(gOut, [B, Hkv, G, T, Dv]);
  // softmax's backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)), and rowsum(dP ⊙ P) = rowsum(dO ⊙ O).
  const rowDot = sum(mul(dO5, reshape(out, [B, Hkv, G, T, Dv])), -1, true);
  const lse5 = lse ? reshape(lse, [B, Hkv, G, T, 1]) : null;
  const dQ: Tensor[] = [];
  let dK: Tensor | null = null;
  let dV: Tensor | null = null;
  for (const blk of planBlocks(T, a)) {
    const rows = blk.qe - blk.qs;
    const qi = rowsOf(q5, L, blk.qs, blk.qe);
    const masks = blk.keys.map(([ks, ke]) => allowedMask(blk.qs, blk.qe, ks, ke, a.window, m));
    let dOi = slice(dO5, 3, blk.qs, blk.qe);
    const has = a.keyValid ? rowsWithKeys(masks, q.dtype) : null;
    if (has) dOi = mul(dOi, has);
    const dOrows = reshape(dOi, [B, Hkv, G * rows, Dv]);
    const lseI = lse5 ? slice(lse5, 3, blk.qs, blk.qe) : null;
    const dI = slice(rowDot, 3, blk.qs, blk.qe);
    let dQi: Tensor | null = null;
    const dKi: Tensor[] = [];
    const dVi: Tensor[] = [];
    blk.keys.forEach(([ks, ke], j) => {
      const kj = slice(kA, 2, ks, ke);
      const vj = slice(vA, 2, ks, ke);
      const scores = maskedScores(qi, kj, null, masks[j]!, L, rows);
      const p = lseI ? exp(sub(scores, lseI)) : softmax(scores, -1);
      const dS = reshape(mul(p, sub(reshape(matmul(dOrows, transpose(vj, -2, -1)), p.shape), dI)), [B, Hkv, G * rows, ke - ks]);
      dVi.push(matmul(transpose(reshape(p, [B, Hkv, G * rows, ke - ks]), -2, -1), dOrows));
      const dq = matmul(dS, kj);
      dQi = dQi ? add(dQi, dq) : dq;
      dKi.push(matmul(transpose(dS, -2, -1), qi));
    });
    dQ.push(reshape(mul(dQi!, a.scale), [B, Hkv, G, rows, D]));
    // Each query block's key gradients cover keys [ks, qe): padded to all T and added in turn.
    const [ks] = blk.keys[0]!;
    const spread = (parts: Tensor[]): Tensor => padAxis(concat(parts, 2), 2, ks, T - blk.qe);
    dK = dK ? add(dK, spread(dKi)) : spread(dKi);
    dV = dV ? add(dV, spread(dVi)) : spread(dVi);
  }
  return [reshape(concat(dQ, 3), q.shape), dK!, dV!];
}

/**
 * Causal self-attention (no cache: T queries against the same T keys), in blocks; see the file
 * comment. q [B, H, T, D], k [B, Hkv, T, D], v [B, Hkv, T, Dv] with H a multiple of Hkv. Returns
 * [B, H, T, Dv]. Same values and gradients as scaledDotProductAttention with the causal mask
 * (and the padding, window and document masks folded into its additive mask), rows that see no key
 * giving zeros.
 */
export function blockedCausalAttention(q: Tensor, k: Tensor, v: Tensor, opts: BlockedAttentionOptions = {}): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new ShapeError(`blocked attention: expected 4-D q, k, v [batch, heads, seq, head_dim], found [${q.shape}], [${k.shape}], [${v.shape}]`);
  }
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!;
  if (H % Hkv !== 0) throw new ShapeError(`blocked attention: ${H} query heads cannot share ${Hkv} key/value heads`);
  if (k.shape[0] !== B || k.shape[2] !== T || k.shape[3] !== D || v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== T) {
    throw new ShapeError(`blocked attention: q [${q.shape}] needs k [${B}, ${Hkv}, ${T}, ${D}] and v [${B}, ${Hkv}, ${T}, Dv] (self-attention, no cache), found [${k.shape}] and [${v.shape}]`);
  }
  const { keyValid = null, segmentIds = null, slidingWindow = null } = opts;
  const positive = (name: string, x: number, min: number): number => {
    if (!Number.isInteger(x) || x < min) throw new ShapeError(`blocked attention: ${name} must be an integer ≥ ${min}, found ${x}`);
    return x;
  };
  const a: BlockAttrs = {
    scale: opts.scale ?? 1 / Math.sqrt(D),
    queryBlock: positive('queryBlock', opts.queryBlock ?? DEFAULT_QUERY_BLOCK, 1),
    keyBlock: positive('keyBlock', opts.keyBlock ?? DEFAULT_KEY_BLOCK, -1),
    window: slidingWindow === null ? 0 : positive('slidingWindow', slidingWindow, 1),
    keyValid: keyValid !== null,
    segments: segmentIds !== null,
    online: false,
  };
  a.online = a.keyBlock !== 0;
  let valid: Tensor | null = null;
  if (keyValid) {
    if (keyValid.ndim !== 2 || keyValid.shape[1] !== T || (keyValid.shape[0] !== B && keyValid.shape[0] !== 1)) {
      throw new ShapeError(`blocked attention: the key mask must be [${B}, ${T}], found ${keyValid.dtype} [${keyValid.shape}]`);
    }
    valid = keyValid.dtype === 'bool' ? keyValid : ne(keyValid, 0);
  }
  let segments: Tensor | null = null;
  if (segmentIds) {
    if (segmentIds.ndim !== 2 || segmentIds.shape[1] !== T || (segmentIds.shape[0] !== B && segmentIds.shape[0] !== 1)
      || (segmentIds.dtype !== 'int64' && segmentIds.dtype !== 'int32')) {
      throw new ShapeError(`blocked attention: segment ids must be int64 [${B}, ${T}], found ${segmentIds.dtype} [${segmentIds.shape}]`);
    }
    segments = segmentIds;
  }
  const m: MaskInputs = { keyValid: valid, segmentIds: segments };
  const L = layoutOf(q, v, k);
  const { Dv, G } = L;
  const q5 = reshape(q, [B, Hkv, G, T, D]);
  const outs: Tensor[] = [];
  const lses: Tensor[] = [];
  for (const blk of planBlocks(T, a)) {
    const rows = blk.qe - blk.qs;
    const qi = rowsOf(q5, L, blk.qs, blk.qe);
    const masks: (Tensor | null)[] = [];
    if (!a.online) {
      const [ks, ke] = blk.keys[0]!;
      const allowed = allowedMask(blk.qs, blk.qe, ks, ke, a.window, m);
      const p = softmax(maskedScores(qi, slice(k, 2, ks, ke), a.scale, allowed, L, rows), -1);
      let o = reshape(matmul(reshape(p, [B, Hkv, G * rows, ke - ks]), slice(v, 2, ks, ke)), [B, Hkv, G, rows, Dv]);
      const has = a.keyValid ? rowsWithKeys([allowed], q.dtype) : null;
      if (has) o = mul(o, has);
      outs.push(o);
      continue;
    }
    // Online softmax over the key blocks: running row maximum `mx`, sum `l` and output `acc`.
    let mx: Tensor | null = null;
    let l: Tensor | null = null;
    let acc: Tensor | null = null;
    for (const [ks, ke] of blk.keys) {
      const allowed = allowedMask(blk.qs, blk.qe, ks, ke, a.window, m);
      masks.push(allowed);
      const s = maskedScores(qi, slice(k, 2, ks, ke), a.scale, allowed, L, rows);
      const sMax = max(s, -1, true);
      const mNew: Tensor = mx ? maximum(mx, sMax) : sMax;
      const p = exp(sub(s, mNew));
      const pv = reshape(matmul(reshape(p, [B, Hkv, G * rows, ke - ks]), slice(v, 2, ks, ke)), [B, Hkv, G, rows, Dv]);
      if (mx && l && acc) {
        const rescale = exp(sub(mx, mNew));
        l = add(mul(l, rescale), sum(p, -1, true));
        acc = add(mul(acc, rescale), pv);
      } else {
        l = sum(p, -1, true);
        acc = pv;
      }
      mx = mNew;
    }
    let o = div(acc!, l!);
    const has = a.keyValid ? rowsWithKeys(masks, q.dtype) : null;
    if (has) o = mul(o, has);
    outs.push(o);
    lses.push(add(mx!, log(l!)));
  }
  const out = reshape(concat(outs, 3), [B, H, T, Dv]);
  const lse = a.online ? [reshape(concat(lses, 3), [B, H, T])] : [];
  return apply(BLOCKED_ATTENTION, [out, q, k, v, ...lse, ...(valid ? [valid] : []), ...(segments ? [segments] : [])], a);
}
