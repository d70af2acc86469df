/**
 * Reverse-mode autodiff as a graph transform: walk the lazy graph from the output backwards and
 * build each input's gradient from its op's vector-Jacobian rule, as more lazy nodes. Nothing runs
 * here; the gradients are realised together with whatever else the caller asks for.
 */
import { EngineError } from './errors.ts';
import { add } from './ops/elementwise.ts';
import { full } from './ops/shape.ts';
import { Tensor } from './tensor.ts';

export interface GradOptions {
  /** Gradient of the output (default: ones; required unless the output has one element). */
  gradOutput?: Tensor;
  /** Return null for inputs the output does not depend on, instead of zeros. */
  allowUnused?: boolean;
}

export function grad(output: Tensor, wrt: readonly Tensor[], opts: { gradOutput?: Tensor; allowUnused: true }): (Tensor | null)[];
export function grad(output: Tensor, wrt: readonly Tensor[], opts?: { gradOutput?: Tensor; allowUnused?: false }): Tensor[];
export function grad(output: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  if (output.dtype !== 'float32' && output.dtype !== 'float64') {
    throw new EngineError(`grad: the output must be float32 or float64, found ${output.dtype}`);
  }
  if (!opts.gradOutput && output.size !== 1) {
    throw new EngineError(`grad: the output has shape [${output.shape.join(', ')}]; pass gradOutput for a non-scalar output`);
  }
  const targets = new Set(wrt);

  // Nodes that lie on a path from some `wrt` tensor to the output, in topological order.
  const order: Tensor[] = [];
  const reaches = new Map<Tensor, boolean>();
  const stack: [Tensor, boolean][] = [[output, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      let r = targets.has(t);
      if (t.op) for (const x of t.inputs) r = reaches.get(x)! || r;
      reaches.set(t, r);
      if (r && t.op) order.push(t);
      continue;
    }
    if (reaches.has(t)) continue;
    if (targets.has(t) && !t.op) { reaches.set(t, true); continue; }
    stack.push([t, true]);
    if (!targets.has(t) || t.op) for (const x of t.inputs) if (!reaches.has(x)) stack.push([x, false]);
  }

  const grads = new Map<Tensor, Tensor>();
  grads.set(output, opts.gradOutput ?? full(output.shape, 1, output.dtype));
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    const g = grads.get(node);
    if (!g || targets.has(node) && !node.inputs.some((x) => reaches.get(x))) continue;
    if (!node.op!.vjp) {
      throw new EngineError(`grad: op ${node.op!.name} has no gradient, but ${node.describe()} lies between the inputs and the output`);
    }
    const inputGrads = node.op!.vjp(g, node);
    node.inputs.forEach((x, k) => {
      const gx = inputGrads[k];
      if (!gx || !reaches.get(x)) return;
      const prev = grads.get(x);
      grads.set(x, prev ? add(prev, gx) : gx);
    });
  }
  return wrt.map((t) => grads.get(t) ?? (opts.allowUnused ? null : full(t.shape, 0, t.dtype)));
}

