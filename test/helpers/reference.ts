/**
 * Plain-JavaScript reference implementations of the engine's ops, written independently of the
 * engine (loops over flat row-major arrays, float64 arithmetic), for the forward-value tests.
 */
import type { Generator } from '../../src/engine/random.ts';

/** A dense row-major array. */
export interface NDArray { shape: number[]; data: Float64Array }

export function nd(shape: readonly number[], data: ArrayLike<number>): NDArray {
  const n = numelOf(shape);
  if (data.length !== n) throw new Error(`nd: shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`);
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]!; }
  return s;
}

/** Multi-index of a flat offset. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) { idx[i] = flat % shape[i]!; flat = Math.floor(flat / shape[i]!); }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let off = 0;
  for (let i = 0; i < shape.length; i++) off = off * shape[i]! + idx[i]!;
  return off;
}

// ---- random inputs ---------------------------------------------------------------------------

export function randn(g: Generator, shape: readonly number[], scale = 1): NDArray {
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = scale * g.normal();
  return { shape: [...shape], data: d };
}

export function uniform(g: Generator, shape: readonly number[], low: number, high: number): NDArray {
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = low + (high - low) * g.uniform();
  return { shape: [...shape], data: d };
}

/** Random values whose magnitude is at least `gap` (keeps finite differences away from kinks at 0). */
export function awayFromZero(g: Generator, shape: readonly number[], gap = 0.1, scale = 1): NDArray {
  const a = randn(g, shape, scale);
  for (let i = 0; i < a.data.length; i++) {
    const v = a.data[i]!;
    a.data[i] = (v < 0 ? -1 : 1) * (gap + Math.abs(v));
  }
  return a;
}

export function randInt(g: Generator, n: number, high: number): number[] {
  return Array.from({ length: n }, () => Math.floor(g.uniform() * high));
}

/** A random shape: rank 0..maxRank, dims 1..maxDim. */
export function randomShape(g: Generator, maxRank = 3, maxDim = 3): number[] {
  const rank = Math.floor(g.uniform() * (maxRank + 1));
  return Array.from({ length: rank }, () => 1 + Math.floor(g.uniform() * maxDim));
}

/**
 * A random pair of shapes that broadcast: the second is a suffix of the first with some dims set to
 * 1, then the two may be swapped and a leading 1 added, so size-1 dims and rank differences land on
 * either side.
 */
export function randomBroadcastPair(g: Generator, maxRank = 3, maxDim = 3): [number[], number[]] {
  const a = randomShape(g, maxRank, maxDim);
  const keep = Math.floor(g.uniform() * (a.length + 1));
  let b = a.slice(a.length - keep).map((d) => (g.uniform() < 0.4 ? 1 : d));
  if (g.uniform() < 0.25 && b.length < maxRank + 1) b = [1, ...b];
  return g.uniform() < 0.5 ? [a, b] : [b, a];
}

/** A random non-empty, sorted subset of the axes of a rank-r shape (r ≥ 1). */
export function randomAxes(g: Generator, rank: number): number[] {
  const axes = Array.from({ length: rank }, (_, i) => i).filter(() => g.uniform() < 0.5);
  return axes.length ? axes : [Math.floor(g.uniform() * rank)];
}

// ---- broadcasting elementwise ------------------------------------------------------------------

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`reference: [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Offset in an array of `shape` for a multi-index of the (broadcast) output shape. */
function broadcastOffset(outIdx: readonly number[], shape: readonly number[]): number {
  const lead = outIdx.length - shape.length;
  let off = 0;
  for (let i = 0; i < shape.length; i++) off = off * shape[i]! + (shape[i] === 1 ? 0 : outIdx[i + lead]!);
  return off;
}

export function broadcastTo(a: NDArray, shape: readonly number[]): NDArray {
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = a.data[broadcastOffset(unravel(i, shape), a.shape)]!;
  return { shape: [...shape], data: d };
}

export function map(a: NDArray, f: (x: number) => number): NDArray {
  return { shape: [...a.shape], data: a.data.map(f) };
}

export function zip(a: NDArray, b: NDArray, f: (x: number, y: number) => number): NDArray {
  const shape = broadcastShape(a.shape, b.shape);
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    d[i] = f(a.data[broadcastOffset(idx, a.shape)]!, b.data[broadcastOffset(idx, b.shape)]!);
  }
  return { shape, data: d };
}

export function where3(c: NDArray, a: NDArray, b: NDArray): NDArray {
  const shape = broadcastShape(c.shape, broadcastShape(a.shape, b.shape));
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    d[i] = c.data[broadcastOffset(idx, c.shape)] ? a.data[broadcastOffset(idx, a.shape)]! : b.data[broadcastOffset(idx, b.shape)]!;
  }
  return { shape, data: d };
}

// ---- scalar functions ----------------------------------------------------------------------------

/** erf by its Maclaurin series (|x| < 4; ~1e-9 absolute there) and 1 beyond (erfc(4) ≈ 1.5e-8). */
export function erf(x: number): number {
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x * x / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return 2 / Math.sqrt(Math.PI) * sum;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

// ---- matmul ---------------------------------------------------------------------------------------

/** torch.matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast. */
export function matmul(a: NDArray, b: NDArray): NDArray {
  const aShape = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bShape = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const M = aShape[aShape.length - 2]!;
  const K = aShape[aShape.length - 1]!;
  const K2 = bShape[bShape.length - 2]!;
  const N = bShape[bShape.length - 1]!;
  if (K !== K2) throw new Error('reference matmul: inner dims differ');
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const batch = broadcastShape(aBatch, bBatch);
  const nb = numelOf(batch);
  const out = new Float64Array(nb * M * N);
  for (let bi = 0; bi < nb; bi++) {
    const idx = unravel(bi, batch);
    const ao = broadcastOffset(idx, aBatch) * M * K;
    const bo = broadcastOffset(idx, bBatch) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ao + i * K + k]! * b.data[bo + k * N + j]!;
        out[bi * M * N + i * N + j] = s;
      }
    }
  }
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(M);
  if (b.shape.length > 1) shape.push(N);
  return { shape, data: out };
}

// ---- data movement --------------------------------------------------------------------------------

export function permute(a: NDArray, perm: readonly number[]): NDArray {
  const shape = perm.map((p) => a.shape[p]!);
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(a.shape.length);
    perm.forEach((p, k) => { src[p] = idx[k]!; });
    d[i] = a.data[ravel(src, a.shape)]!;
  }
  return { shape, data: d };
}

export function reshape(a: NDArray, shape: readonly number[]): NDArray {
  return { shape: [...shape], data: Float64Array.from(a.data) };
}

/** Python slice a[start:end:step] along one axis (step ≥ 1, negative indices, clamped). */
export function slice(a: NDArray, axis: number, start: number, end: number, step: number): NDArray {
  const size = a.shape[axis]!;
  const norm = (i: number): number => Math.min(size, Math.max(0, i < 0 ? i + size : i));
  const picks: number[] = [];
  for (let i = norm(start); i < norm(end); i += step) picks.push(i);
  const shape = [...a.shape];
  shape[axis] = picks.length;
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    idx[axis] = picks[idx[axis]!]!;
    d[i] = a.data[ravel(idx, a.shape)]!;
  }
  return { shape, data: d };
}

export function concat(xs: readonly NDArray[], axis: number): NDArray {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const n = numelOf(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    let j = idx[axis]!;
    let k = 0;
    while (j >= xs[k]!.shape[axis]!) { j -= xs[k]!.shape[axis]!; k++; }
    idx[axis] = j;
    d[i] = xs[k]!.data[ravel(idx, xs[k]!.shape)]!;
  }
  return { shape, data: d };
}

/** torch.nn.functional.pad (constant): pairs (left, right) from the last dim backwards. */
export function pad(a: NDArray, pads: readonly number[], value: number): NDArray {
  const r = a.shape.length;
  const before = new Array<number>(r).fill(0);
  const shape = [...a.shape];
  for (let k = 0; k < pads.length / 2; k++) {
    const ax = r - 1 - k;
    before[ax] = pads[2 * k]!;
    shape[ax] = shape[ax]! + pads[2 * k]! + pads[2 * k + 1]!;
  }
  const n = numelOf(shape);
  const d = new Float64Array(n).fill(value);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape).map((v, ax) => v - before[ax]!);
    if (idx.every((v, ax) => v >= 0 && v < a.shape[ax]!)) d[i] = a.data[ravel(idx, a.shape)]!;
  }
  return { shape, data: d };
}

/** numpy take along an axis with an index array of any shape. */
export function take(a: NDArray, axis: number, index: NDArray): NDArray {
  const shape = [...a.shape.slice(0, axis), ...index.shape, ...a.shape.slice(axis + 1)];
  const n = numelOf(shape);
  const d = new Float64Array(n);
  const r = index.shape.length;
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, shape);
    const ii = idx.slice(axis, axis + r);
    let v = index.data[ravel(ii, index.shape)]!;
    if (v < 0) v += a.shape[axis]!;
    const src = [...idx.slice(0, axis), v, ...idx.slice(axis + r)];
    d[i] = a.data[ravel(src, a.shape)]!;
  }
  return { shape, data: d };
}

/** torch.gather: out[..i..] = a[..index[..i..]..] along `axis`. */
export function gatherElements(a: NDArray, axis: number, index: NDArray): NDArray {
  const n = numelOf(index.shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const idx = unravel(i, index.shape);
    idx[axis] = index.data[i]!;
    d[i] = a.data[ravel(idx, a.shape)]!;
  }
  return { shape: [...index.shape], data: d };
}

/** out[index[i], ...] += updates[i, ...] into `rows` rows of zeros (index of any shape). */
export function scatterAddRows(rows: number, index: NDArray, updates: NDArray): NDArray {
  const inner = updates.shape.slice(index.shape.length);
  const m = numelOf(inner);
  const out = new Float64Array(rows * m);
  const k = numelOf(index.shape);
  for (let i = 0; i < k; i++) {
    const row = index.data[i]!;
    for (let j = 0; j < m; j++) out[row * m + j]! += updates.data[i * m + j]!;
  }
  return { shape: [rows, ...inner], data: out };
}

/** triu (upper) / tril: keep j - i ≥ k (upper) or j - i ≤ k (lower) in the last two dims. */
export function trilu(a: NDArray, upper: boolean, k: number): NDArray {
  const r = a.shape.length;
  const d = a.data.map((v, i) => {
    const idx = unravel(i, a.shape);
    const diff = idx[r - 1]! - idx[r - 2]!;
    return (upper ? diff >= k : diff <= k) ? v : 0;
  });
  return { shape: [...a.shape], data: d };
}

// ---- reductions ---------------------------------------------------------------------------------

export function reduce(a: NDArray, axes: readonly number[], keepdim: boolean, init: number,
  f: (acc: number, x: number) => number, finish: (acc: number, count: number) => number = (x) => x): NDArray {
  const r = a.shape.length;
  const ax = axes.map((x) => (x < 0 ? x + r : x));
  const keptShape = a.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const n = numelOf(keptShape);
  const acc = new Float64Array(n).fill(init);
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape).map((v, k) => (ax.includes(k) ? 0 : v));
    const o = ravel(idx, keptShape);
    acc[o] = f(acc[o]!, a.data[i]!);
  }
  const count = ax.reduce((c, x) => c * a.shape[x]!, 1);
  const data = acc.map((v) => finish(v, count));
  return { shape: keepdim ? keptShape : a.shape.filter((_, i) => !ax.includes(i)), data };
}

export const sum = (a: NDArray, axes: readonly number[], keepdim = false): NDArray => reduce(a, axes, keepdim, 0, (s, x) => s + x);
export const mean = (a: NDArray, axes: readonly number[], keepdim = false): NDArray =>
  reduce(a, axes, keepdim, 0, (s, x) => s + x, (s, c) => s / c);
export const amax = (a: NDArray, axes: readonly number[], keepdim = false): NDArray => reduce(a, axes, keepdim, -Infinity, Math.max);
export const amin = (a: NDArray, axes: readonly number[], keepdim = false): NDArray => reduce(a, axes, keepdim, Infinity, Math.min);

/** Index of the first maximum along an axis. */
export function argmax(a: NDArray, axis: number, keepdim = false): NDArray {
  const r = a.shape.length;
  const ax = axis < 0 ? axis + r : axis;
  const keptShape = a.shape.map((d, i) => (i === ax ? 1 : d));
  const n = numelOf(keptShape);
  const best = new Float64Array(n).fill(-Infinity);
  const arg = new Float64Array(n);
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape);
    const j = idx[ax]!;
    idx[ax] = 0;
    const o = ravel(idx, keptShape);
    if (a.data[i]! > best[o]!) { best[o] = a.data[i]!; arg[o] = j; }
  }
  return { shape: keepdim ? keptShape : a.shape.filter((_, i) => i !== ax), data: arg };
}

// ---- neural-network ops ---------------------------------------------------------------------------

/** Apply f to each 1-D lane along `axis` (f returns a lane of the same length). */
export function alongAxis(a: NDArray, axis: number, f: (lane: number[]) => number[]): NDArray {
  const r = a.shape.length;
  const ax = axis < 0 ? axis + r : axis;
  const st = stridesOf(a.shape);
  const L = a.shape[ax]!;
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < a.data.length; i++) {
    if (unravel(i, a.shape)[ax] !== 0) continue;
    const lane = Array.from({ length: L }, (_, j) => a.data[i + j * st[ax]!]!);
    const res = f(lane);
    for (let j = 0; j < L; j++) out[i + j * st[ax]!] = res[j]!;
  }
  return { shape: [...a.shape], data: out };
}

export function softmax(a: NDArray, axis: number): NDArray {
  return alongAxis(a, axis, (lane) => {
    const m = Math.max(...lane);
    const e = lane.map((x) => Math.exp(x - m));
    const s = e.reduce((p, q) => p + q, 0);
    return e.map((x) => x / s);
  });
}

export function logSoftmax(a: NDArray, axis: number): NDArray {
  return alongAxis(a, axis, (lane) => {
    const m = Math.max(...lane);
    const lse = m + Math.log(lane.reduce((p, x) => p + Math.exp(x - m), 0));
    return lane.map((x) => x - lse);
  });
}

/** torch cross_entropy over logits [N, C] and targets [N]; 'mean' divides by the kept count. */
export function crossEntropy(logits: NDArray, targets: readonly number[], ignoreIndex: number,
  reduction: 'mean' | 'sum' | 'none'): NDArray {
  const C = logits.shape[logits.shape.length - 1]!;
  const N = targets.length;
  const losses = new Float64Array(N);
  let kept = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i]!;
    if (t === ignoreIndex) continue;
    kept++;
    const row = Array.from(logits.data.subarray(i * C, (i + 1) * C));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((p, x) => p + Math.exp(x - m), 0));
    losses[i] = lse - row[t]!;
  }
  if (reduction === 'none') return { shape: logits.shape.slice(0, -1), data: losses };
  const total = losses.reduce((p, q) => p + q, 0);
  return { shape: [], data: Float64Array.of(reduction === 'sum' ? total : total / kept) };
}

/** Layer norm over the last `nd` dims with biased variance. */
export function layerNorm(x: NDArray, weight: NDArray | null, bias: NDArray | null, eps: number, nd = 1): NDArray {
  const inner = numelOf(x.shape.slice(x.shape.length - nd));
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < x.data.length; o += inner) {
    let mu = 0;
    for (let j = 0; j < inner; j++) mu += x.data[o + j]!;
    mu /= inner;
    let v = 0;
    for (let j = 0; j < inner; j++) v += (x.data[o + j]! - mu) ** 2;
    v /= inner;
    for (let j = 0; j < inner; j++) {
      let y = (x.data[o + j]! - mu) / Math.sqrt(v + eps);
      if (weight) y *= weight.data[j]!;
      if (bias) y += bias.data[j]!;
      out[o + j] = y;
    }
  }
  return { shape: [...x.shape], data: out };
}

export function rmsNorm(x: NDArray, weight: NDArray | null, eps: number): NDArray {
  const D = x.shape[x.shape.length - 1]!;
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < x.data.length; o += D) {
    let ms = 0;
    for (let j = 0; j < D; j++) ms += x.data[o + j]! ** 2;
    const inv = 1 / Math.sqrt(ms / D + eps);
    for (let j = 0; j < D; j++) out[o + j] = x.data[o + j]! * inv * (weight ? weight.data[j]! : 1);
  }
  return { shape: [...x.shape], data: out };
}

/**
 * Attention with explicit loops. q [B, H, T, D], k/v [B, Hkv, S, D]; query head h uses key/value
 * head floor(h / (H / Hkv)). mask: additive, broadcastable to [B, H, T, S]. Causal: key j is
 * allowed for query i when j ≤ i + (S − T).
 */
export function attention(q: NDArray, k: NDArray, v: NDArray,
  opts: { mask?: NDArray; causal?: boolean; scale?: number } = {}): NDArray {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  const Dv = v.shape[3]!;
  const group = H / Hkv;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const mask = opts.mask ? broadcastTo(opts.mask, [B, H, T, S]) : null;
  const out = new Float64Array(B * H * T * Dv);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) {
    const hk = Math.floor(h / group);
    const scores: number[] = [];
    for (let j = 0; j < S; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += q.data[((b * H + h) * T + i) * D + d]! * k.data[((b * Hkv + hk) * S + j) * D + d]!;
      s *= scale;
      if (mask) s += mask.data[((b * H + h) * T + i) * S + j]!;
      if (opts.causal && j > i + (S - T)) s = -Infinity;
      scores.push(s);
    }
    const m = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - m));
    const z = e.reduce((p, q2) => p + q2, 0);
    for (let d = 0; d < Dv; d++) {
      let acc = 0;
      for (let j = 0; j < S; j++) acc += e[j]! / z * v.data[((b * Hkv + hk) * S + j) * Dv + d]!;
      out[((b * H + h) * T + i) * Dv + d] = acc;
    }
  }
  return { shape: [B, H, T, Dv], data: out };
}

/** Round to float16 / bfloat16 by closed form: round half to even, gradual underflow, overflow to ±inf. */
export function roundF16(v: number): number {
  return roundToFormat(v, 10, -14, 65504);
}
export function roundBf16(v: number): number {
  return roundToFormat(v, 7, -126, 3.3895313892515355e38);
}
export function roundToFormat(v: number, mantBits: number, minExp: number, maxFinite: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const s = Math.sign(v);
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 can round up just below a power of two
  else if (2 ** (e + 1) <= a) e++;
  e = Math.max(e, minExp);
  const ulp = 2 ** (e - mantBits);
  const q = a / ulp;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const out = r * ulp;
  // Past the largest finite value by at least half an ulp of the top binade → infinity.
  if (out > maxFinite) return s * Infinity;
  return s * out;
}

// ---- comparison -----------------------------------------------------------------------------------

/** Largest |a - b| (NaN-aware: a NaN on either side only matches a NaN on the other). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) { if (!(Number.isNaN(x) && Number.isNaN(y))) return Infinity; continue; }
    if (x === y) continue;
    m = Math.max(m, Math.abs(x - y));
  }
  return m;
}
