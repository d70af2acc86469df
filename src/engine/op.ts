/**
 * An op is defined once, with its shape rule, its ONNX lowering and its gradient side by side
 * (`defineOp`). Front-end functions in `ops/` call `apply`, which checks shapes eagerly and records
 * a lazy node.
 */
import type { DType } from './dtype.ts';
import { readEnv } from './env.ts';
import { ShapeError } from './errors.ts';
import type { GraphBuilder } from './onnx/builder.ts';
import { Tensor } from './tensor.ts';

/** Attributes are plain JSON values: they are part of the compiled-graph cache key. */
export type Attrs = Record<string, unknown>;

export interface OpDef<A extends Attrs = Attrs> {
  readonly name: string;
  /** Shape and dtype of the output; throws a plain Error whose message `apply` prefixes with the op and input shapes. */
  infer(inputs: readonly Tensor[], attrs: A): { shape: number[]; dtype: DType };
  /** Emit ONNX nodes computing the output from the inputs' value names; returns the output's value name. */
  lower(g: GraphBuilder, inputs: string[], attrs: A, node: Tensor): string;
  /** Vector-Jacobian product: one gradient (or null) per input. Absent = not differentiable. */
  vjp?(grad: Tensor, node: Tensor): (Tensor | null)[];
  /** Bytes the lowering's own intermediate values take while the node runs, beyond its output (for estimateMemory). Absent = none worth counting. */
  scratchBytes?(node: Tensor): number;
}

export function defineOp<A extends Attrs>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** V8's (Node's and Chromium's) stack depth setting; other engines ignore it. */
const V8Error = Error as ErrorConstructor & { stackTraceLimit?: number };

/** Enough frames to reach user code from apply (apply ← ops.x ← Tensor.x ← module ← user). */
const STACK_DEPTH = 12;

/**
 * Whether each node records where it was created (a stack capture), so that an ONNX Runtime failure
 * can name the user's line. Capturing a stack costs about as much as everything else a node costs
 * (measured: a 30-layer decoding step builds in 3.7 ms without, 27 ms with), so it is off unless
 * BONE_DEBUG is set; failures still name the engine op, its shapes and the ONNX node.
 */
let captureOrigins = readEnv('BONE_DEBUG') !== undefined;

/** Turn op-origin capture on or off (BONE_DEBUG sets it at startup); returns the previous setting. */
export function setCaptureOrigins(on: boolean): boolean {
  const previous = captureOrigins;
  captureOrigins = on;
  return previous;
}

export function apply<A extends Attrs>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  let out: { shape: number[]; dtype: DType };
  try {
    out = op.infer(inputs, attrs);
  } catch (e) {
    const shapes = inputs.map((t) => `${t.dtype}[${t.shape.join(', ')}]`).join(', ');
    throw new ShapeError(`${op.name}(${shapes}): ${(e as Error).message}`);
  }
  for (const d of out.shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`${op.name}: inferred an invalid output shape [${out.shape.join(', ')}]`);
  }
  let origin: Error | null = null;
  if (captureOrigins) {
    const limit = V8Error.stackTraceLimit;
    V8Error.stackTraceLimit = STACK_DEPTH;
    origin = new Error();
    V8Error.stackTraceLimit = limit;
  }
  return Tensor.fromNode(op as OpDef, inputs, attrs, out.shape, out.dtype, origin);
}
