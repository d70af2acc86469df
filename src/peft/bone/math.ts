/**
 * The Bone / MiSS / BAT layer mathematics as lazy-tensor functions (docs/design.md §1,
 * specs §2). W is a Linear weight [out, in]; y = x Wᵀ + b.
 *
 * - default (Bone, MiSS true/false): block B [r, out]; ΔW[o, i] = B[i mod r, o]. The forward pass
 *   never builds ΔW: it zero-pads x to a multiple of r, sums the r-wide shards and does one
 *   [..., r] × [r, out] product — the efficiency argument of the method.
 * - mini: block M [r, miniR] tiled along out: B[k, o] = M[k, o mod miniR].
 * - BAT: block B [out/r, r, r]; every r×r block W_{a,c} becomes W_{a,c}(I + B_a) + B_a.
 */
import { Tensor } from '../../engine/index.ts';

/** The [r, out] block of the default mode, from a mini block [r, miniR]. */
export function tileMiniBlock(mini: Tensor, outFeatures: number): Tensor {
  const [r, miniR] = mini.shape as [number, number];
  // B[k, o] = M[k, o mod miniR]: repeat along out, as torch's tile(M, (1, out / miniR)).
  return mini.unsqueeze(1).expand([r, outFeatures / miniR, miniR]).reshape([r, outFeatures]);
}

/** sum_j pad(x)[..., j·r:(j+1)·r] — the r-wide shards of the (zero-padded) input, summed. */
export function shardSum(x: Tensor, r: number): Tensor {
  const inFeatures = x.shape[x.ndim - 1]!;
  const padded = inFeatures % r === 0 ? x : x.pad([0, r - (inFeatures % r)]);
  const n = padded.shape[padded.ndim - 1]! / r;
  return padded.reshape([...x.shape.slice(0, -1), n, r]).sum(-2);
}

/** The adapter term of the default/mini forward: shardSum(x) @ B, shape [..., out]. */
export function shardForward(x: Tensor, block: Tensor): Tensor {
  return shardSum(x, block.shape[0]!).matmul(block);
}

/** ΔW of the default mode as a dense [out, in] matrix (merging, tests; never the forward path). */
export function defaultDeltaWeight(block: Tensor, inFeatures: number): Tensor {
  const [r, out] = block.shape as [number, number];
  const reps = Math.ceil(inFeatures / r);
  // Bᵀ [out, r] repeated along in, then cut to in (the last partial strip takes Bᵀ's first columns).
  const repeated = block.transpose().unsqueeze(1).expand([out, reps, r]).reshape([out, reps * r]);
  return reps * r === inFeatures ? repeated : repeated.slice(1, 0, inFeatures);
}

/** W'_{a,c} = W_{a,c}(I + B_a) + B_a for every r×r block; W [out, in], B [out/r, r, r]. */
export function batWeight(weight: Tensor, block: Tensor): Tensor {
  return weight.add(batDelta(weight, block));
}

/** Δ_{a,c} = W_{a,c} B_a + B_a (PEFT's get_delta_weight for bat). */
export function batDelta(weight: Tensor, block: Tensor): Tensor {
  const [out, inF] = weight.shape as [number, number];
  const r = block.shape[1]!;
  // [out/r, r, in/r, r] -> [in/r, out/r, r, r], batched product with B broadcast over in/r.
  const blocks = weight.reshape([out / r, r, inF / r, r]).permute([2, 0, 1, 3]);
  const delta = blocks.matmul(block).add(block);
  return delta.permute([1, 2, 0, 3]).reshape([out, inF]);
}

/** The inverse of batWeight: W = (W' − B_a)(I + B_a)⁻¹ per block, with the inverse taken in float64. */
export async function batUnmergeWeight(merged: Tensor, block: Tensor): Promise<Tensor> {
  const [nb, r] = block.shape as [number, number, number];
  const b = await block.floats();
  const inv = new Float64Array(nb * r * r);
  for (let a = 0; a < nb; a++) {
    const m = new Float64Array(r * r);
    for (let i = 0; i < r * r; i++) m[i] = b[a * r * r + i]! + (i % (r + 1) === 0 ? 1 : 0);
    inv.set(invert(m, r, a), a * r * r);
  }
  const invT = Tensor.fromData(Float32Array.from(inv), [nb, r, r]);
  const [out, inF] = merged.shape as [number, number];
  const blocks = merged.reshape([out / r, r, inF / r, r]).permute([2, 0, 1, 3]);
  const restored = blocks.sub(block).matmul(invT);
  return restored.permute([1, 2, 0, 3]).reshape([out, inF]);
}

/** Gauss–Jordan inverse with partial pivoting of an r×r matrix (row-major). */
function invert(m: Float64Array, r: number, blockIndex: number): Float64Array {
  const a = Float64Array.from(m);
  const inv = new Float64Array(r * r);
  for (let i = 0; i < r; i++) inv[i * r + i] = 1;
  for (let col = 0; col < r; col++) {
    let pivot = col;
    for (let row = col + 1; row < r; row++) if (Math.abs(a[row * r + col]!) > Math.abs(a[pivot * r + col]!)) pivot = row;
    const p = a[pivot * r + col]!;
    if (Math.abs(p) < 1e-12) throw new Error(`BAT unmerge: I + B[${blockIndex}] is singular; the merged weight cannot be restored`);
    if (pivot !== col) {
      for (let k = 0; k < r; k++) {
        [a[col * r + k], a[pivot * r + k]] = [a[pivot * r + k]!, a[col * r + k]!];
        [inv[col * r + k], inv[pivot * r + k]] = [inv[pivot * r + k]!, inv[col * r + k]!];
      }
    }
    for (let k = 0; k < r; k++) { a[col * r + k]! /= p; inv[col * r + k]! /= p; }
    for (let row = 0; row < r; row++) {
      if (row === col) continue;
      const f = a[row * r + col]!;
      if (f === 0) continue;
      for (let k = 0; k < r; k++) { a[row * r + k]! -= f * a[col * r + k]!; inv[row * r + k]! -= f * inv[col * r + k]!; }
    }
  }
  return inv;
}

