/**
 * Gradient checkpointing (torch.utils.checkpoint) as a graph transform: a block's forward values
 * are used for its output only, and the backward pass rebuilds the block from its input and
 * differentiates the rebuilt copy. A one-graph training step then keeps each checkpointed block's
 * input instead of all of its activations, for one more forward pass of compute.
 */
import { grad } from './autograd.ts';
import { mul } from './ops/elementwise.ts';
import { reshape, slice } from './ops/shape.ts';
import { defineOp, apply } from './op.ts';
import { getDefaultGenerator } from './random.ts';
import type { Tensor } from './tensor.ts';

/**
 * x + anchor, where anchor is a scalar computed from the incoming gradient (times zero): the input
 * of a rebuilt block. Its gradient goes to x only, so differentiating the rebuilt block never walks
 * back into the backward pass that produced the anchor.
 */
const REBUILT_INPUT = defineOp({
  name: 'checkpoint_input',
  infer: ([x]) => ({ shape: [...x!.shape], dtype: x!.dtype }),
  lower: (g, [x, anchor]) => g.node('Add', [x!, anchor!]),
  vjp: (g) => [g, null],
});

/**
 * `block(input)`, whose gradient is computed by calling `block` again on a copy of `input` during
 * `grad`: the gradient reaches `input` and `params` (the trainable tensors the block reads; every
 * other tensor it reads is treated as a constant), and no backward node reads the first forward's
 * intermediate values.
 *
 * The engine's default generator (dropout seeds) is restored around the second call to its state
 * before the first, so dropout masks repeat.
 */
export function checkpoint(block: (input: Tensor) => Tensor, input: Tensor, params: readonly Tensor[]): Tensor {
  const rngStateBefore = getDefaultGenerator().getState();
  const output = block(input);
  const op = defineOp({
    name: 'checkpoint',
    infer: ([y]) => ({ shape: [...y!.shape], dtype: y!.dtype }),
    lower: (g, [y]) => g.node('Identity', [y!]),
    vjp: (g, node) => {
      const [, x, ...ps] = node.inputs as Tensor[];
      // The copy depends on the incoming gradient (times zero), which (1) keeps ONNX Runtime's
      // common-subexpression elimination from merging the rebuilt block into the first forward's nodes,
      // which would keep those alive, and (2) makes the rebuild run in the backward pass, when g exists,
      // not early in the forward.
      const anchor = mul(reshape(slice(reshape(g, [-1]), 0, 0, 1), []), 0);
      const copy = apply(REBUILT_INPUT, [x!, anchor], {});
      const generator = getDefaultGenerator();
      const now = generator.getState();
      generator.setState(rngStateBefore);
      let rebuilt: Tensor;
      try {
        rebuilt = block(copy);
      } finally {
        generator.setState(now);
      }
      const grads = grad(rebuilt, [copy, ...ps], { gradOutput: g, allowUnused: true });
      return [null, ...grads];
    },
  });
  return apply(op, [output, input, ...params], {});
}
