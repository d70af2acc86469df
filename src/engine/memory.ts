/**
 * What a graph holds in memory, from the graph alone (nothing runs): the tensors the backward pass
 * reads from the forward pass, and the peak of the intermediate values alive at once when the
 * nodes run in the order the engine emits them.
 *
 * The estimate follows what ONNX Runtime's CPU provider does with an engine graph closely enough to
 * plan with (checked against measured peaks in BENCHMARKS.md): a reshape-like node aliases its
 * input; a transpose that only feeds matrix products is folded into them (FusedMatMul), as is a
 * product's scaling by a constant; an elementwise node writes into an input that dies there and has
 * its shape (ORT's in-place reuse); values computed from constants alone are folded into constants
 * when the session is created. Each value is allocated when its node runs and freed after its last
 * reader; graph outputs live to the end; an op may declare the scratch memory its lowering takes
 * while it runs (OpDef.scratchBytes: the fused output layer's vocabulary-sized chunks).
 */
import { bytesPerElement, runtimeDType } from './dtype.ts';
import { valuesKey } from './onnx/builder.ts';
import { trace } from './realize.ts';
import type { Tensor } from './tensor.ts';

/** Ops whose output is a view of their input in ONNX Runtime (no copy). */
const VIEWS = new Set(['reshape', 'squeeze', 'unsqueeze', 'flatten', 'stop_gradient', 'blocked_attention', 'checkpoint', 'checkpoint_input']);
/** Elementwise ops whose ORT kernels may write into an input buffer. */
const IN_PLACE = new Set(['add', 'sub', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'abs', 'sin', 'cos', 'maximum', 'minimum', 'where']);

export function tensorBytes(t: Tensor): number {
  return t.size * bytesPerElement(runtimeDType(t.dtype));
}

/** The tensor a view reads (following chains of views). */
export function viewRoot(t: Tensor): Tensor {
  let x = t;
  while (x.op && VIEWS.has(x.op.name) && x.inputs.length > 0) x = x.inputs[0]!;
  return x;
}

export interface SavedTensor {
  tensor: Tensor;
  bytes: number;
}

/**
 * The forward values that the rest of a step reads: nodes of the graph of `forward` (the loss, say)
 * that some node of `step`'s graph outside it takes as input, views followed to the tensor they view.
 * Leaves (fed inputs: weights, data) are not counted, nor transposes of them (a frozen weight's
 * transpose, which ORT folds into the products that read it).
 */
export function savedForBackward(forward: readonly Tensor[], step: readonly Tensor[]): SavedTensor[] {
  const fwd = new Set(trace(forward).nodes);
  const saved = new Set<Tensor>();
  for (const n of trace(step).nodes) {
    if (fwd.has(n)) continue;
    for (const x of n.inputs) {
      const r = viewRoot(x);
      if (fwd.has(r) && r.op && !(r.op.name === 'permute' && r.inputs[0]!.isRealized)) saved.add(r);
    }
  }
  return [...saved].map((tensor) => ({ tensor, bytes: tensorBytes(tensor) }));
}

export interface MemoryEstimate {
  /** The most bytes of intermediate values alive at once while the graph runs. */
  peakBytes: number;
  /** Fed inputs (realised leaves that are not embedded constants), each buffer once: memory the caller already holds. */
  inputBytes: number;
  /** Values computed from constants alone, folded into the session's constants. */
  constantBytes: number;
  /** The graph's outputs. */
  outputBytes: number;
  /** Nodes in the graph. */
  nodes: number;
}

/** Estimate the memory that realising `targets` takes (see the file comment). */
export function estimateMemory(targets: readonly Tensor[]): MemoryEstimate {
  const tr = trace(targets);
  const fed = new Set<unknown>();
  let inputBytes = 0;
  for (const leaf of tr.leaves) {
    if (leaf.constant || fed.has(leaf.storage)) continue;
    fed.add(leaf.storage);
    inputBytes += tensorBytes(leaf);
  }
  // Folded into constants: computed from embedded constants (or from nothing) alone.
  const folded = new Set<Tensor>();
  for (const n of tr.nodes) if (n.inputs.every((x) => (x.isRealized ? x.constant : folded.has(x)))) folded.add(n);
  const computed = (x: Tensor): boolean => !x.isRealized && !folded.has(x);
  const readers = new Map<Tensor, Tensor[]>();
  for (const n of tr.nodes) for (const x of n.inputs) if (computed(x)) (readers.get(x) ?? readers.set(x, []).get(x)!).push(n);
  const fusedAway = (n: Tensor): boolean => {
    const rs = readers.get(n) ?? [];
    if (rs.length === 0) return false;
    // A transpose read by products (FusedMatMul folds it) or by its inverse transpose (the pair cancels).
    if (n.op!.name === 'permute') return rs.every((r) => r.op!.name === 'matmul' || r.op!.name === 'permute');
    // MatMul · constant scalar becomes one FusedMatMul, which writes the scaled product.
    if (n.op!.name === 'matmul') return rs.length === 1 && rs[0]!.op!.name === 'mul' && rs[0]!.inputs.some((x) => x.constant && x.size === 1);
    return false;
  };

  // The buffer each value lives in, and the step that reads a buffer last (outputs: never freed).
  // FED: memory that is not the graph's to allocate (a fed input, or a product folded into its reader).
  const FED = Symbol('fed');
  type Buffer = Tensor | typeof FED;
  const owner = new Map<Tensor, Buffer>();
  const ownerOf = (t: Tensor): Buffer => owner.get(t) ?? t;
  const END = tr.nodes.length;
  const lastUse = new Map<Buffer, number>();
  const targetSet = new Set(targets);
  tr.nodes.forEach((n, i) => {
    if (folded.has(n)) return;
    const first = n.inputs[0];
    // A view (or a folded transpose) lives in its input's buffer; a folded product in its reader's.
    if (first && (VIEWS.has(n.op!.name) || (n.op!.name === 'permute' && fusedAway(n)))) owner.set(n, computed(first) ? ownerOf(first) : FED);
    else if (fusedAway(n)) owner.set(n, FED);
    for (const x of n.inputs) if (computed(x) && ownerOf(x) !== FED) lastUse.set(ownerOf(x), i);
    if (targetSet.has(n) && ownerOf(n) !== FED) lastUse.set(ownerOf(n), END);
  });
  const freedAt = new Map<number, Buffer[]>();
  for (const [buf, at] of lastUse) (freedAt.get(at) ?? freedAt.set(at, []).get(at)!).push(buf);

  const held = new Map<Buffer, number>();
  let live = 0;
  let peak = 0;
  let constantBytes = 0;
  const constants = new Set<string>();
  const keys = new Map<Tensor, string>();
  const structureKey = (t: Tensor): string => {
    let k = keys.get(t);
    if (k === undefined) {
      k = t.isRealized ? `C${t.dtype}[${t.shape}]=${valuesKey(t.storage)}` : `${t.signature}(${t.inputs.map(structureKey).join(',')})`;
      keys.set(t, k);
    }
    return k;
  };
  tr.nodes.forEach((n, i) => {
    if (folded.has(n)) {
      // ONNX Runtime merges equal constant subgraphs (every layer's causal masks are one set).
      const key = structureKey(n);
      if (!constants.has(key) && !VIEWS.has(n.op!.name)) constantBytes += tensorBytes(n);
      constants.add(key);
      return;
    }
    if (ownerOf(n) === n) {
      const bytes = tensorBytes(n);
      // In place: an input buffer of the same size that dies here takes the output.
      const donor = IN_PLACE.has(n.op!.name)
        ? n.inputs.map((x) => (computed(x) ? ownerOf(x) : null)).find((b) => b && held.get(b) === bytes && lastUse.get(b) === i) ?? null
        : null;
      if (donor) held.set(donor, 0);
      else live += bytes;
      peak = Math.max(peak, live + (n.op!.scratchBytes?.(n) ?? 0));
      held.set(n, bytes);
      if (!lastUse.has(n)) { live -= bytes; held.set(n, 0); } // nobody reads it
    }
    for (const buf of freedAt.get(i) ?? []) { live -= held.get(buf) ?? 0; held.set(buf, 0); }
  });
  const outputBytes = [...targetSet].reduce((sum, t) => sum + (t.isRealized ? 0 : tensorBytes(t)), 0);
  return { peakBytes: peak, inputBytes, constantBytes, outputBytes, nodes: tr.nodes.length };
}

/**
 * How much a process's resident memory grows by while ONNX Runtime's CPU provider runs a graph
 * (without a memory arena) whose estimated peak, values and folded constants, is 1 byte: the
 * kernels' own buffers and the heap's fragmentation, which the estimate does not model. Measured
 * as (peak RSS − RSS before the first step) ÷ the estimate in bench:scale's training runs: 1.0 to
 * 1.4 (SmolLM2-135M at 1 × 4096 the most, Qwen3-0.6B at 1 × 1024 the least); 1.3 keeps every
 * estimate there within 20 % of the measured peak (docs/design.md, "The memory check").
 */
export const RUNTIME_MEMORY_FACTOR = 1.3;

/** The resident memory that running a graph of estimated peak `estimatedBytes` takes (RUNTIME_MEMORY_FACTOR). */
export function residentBytes(estimatedBytes: number): number {
  return Math.ceil(estimatedBytes * RUNTIME_MEMORY_FACTOR);
}
