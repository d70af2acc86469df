/**
 * transformers' ForCausalLMLoss: token t predicts label t+1. Labels are shifted left by one with
 * -100 appended (so the last position is ignored), then cross-entropy over the vocabulary, averaged
 * over the labels that are not ignoreIndex.
 */
import { ops, type Tensor } from '../engine/index.ts';
import { ModelError } from './errors.ts';

export interface CausalLMLossOptions {
  ignoreIndex?: number;
  /**
   * Divide the summed loss by this instead of the number of kept labels (transformers'
   * num_items_in_batch, for gradient accumulation over micro-batches).
   */
  numItemsInBatch?: number | Tensor;
}

/** logits [batch, seq, vocab], labels [batch, seq] (int64, ignoreIndex where no loss). Returns a float32 scalar. */
export function causalLMLoss(logits: Tensor, labels: Tensor, opts: CausalLMLossOptions = {}): Tensor {
  const { ignoreIndex = -100 } = opts;
  if (logits.ndim !== 3 || labels.ndim !== 2 || logits.shape[0] !== labels.shape[0] || logits.shape[1] !== labels.shape[1]) {
    throw new ModelError(`causalLMLoss: expected logits [batch, seq, vocab] and labels [batch, seq], found [${logits.shape.join(', ')}] and [${labels.shape.join(', ')}]`);
  }
  const logitsF = logits.dtype === 'float32' ? logits : logits.cast('float32');
  return reduceLoss((reduction) => ops.crossEntropy(logitsF, shiftLabels(labels, ignoreIndex), { ignoreIndex, reduction }), opts);
}

/**
 * The same loss from the last hidden states [batch, seq, hidden] and an output layer without bias
 * (weight [vocab, hidden]), the layer and the cross-entropy fused in row chunks
 * (ops.linearCrossEntropy): no [tokens, vocab] logits are kept for the backward pass, which is most
 * of a training step's memory for a small model with a large vocabulary.
 */
export function causalLMLossFromHidden(hidden: Tensor, headWeight: Tensor, labels: Tensor, opts: CausalLMLossOptions = {}): Tensor {
  const { ignoreIndex = -100 } = opts;
  if (hidden.ndim !== 3 || labels.ndim !== 2 || hidden.shape[0] !== labels.shape[0] || hidden.shape[1] !== labels.shape[1]) {
    throw new ModelError(`causalLMLoss: expected hidden states [batch, seq, hidden] and labels [batch, seq], found [${hidden.shape.join(', ')}] and [${labels.shape.join(', ')}]`);
  }
  return reduceLoss((reduction) => ops.linearCrossEntropy(hidden, headWeight, shiftLabels(labels, ignoreIndex), { ignoreIndex, reduction }), opts);
}

/** Token t predicts label t+1: labels shifted left, ignoreIndex appended. */
function shiftLabels(labels: Tensor, ignoreIndex: number): Tensor {
  const lab = labels.dtype === 'int64' ? labels : labels.cast('int64');
  return lab.slice(1, 1).pad([0, 1], ignoreIndex);
}

/** Mean over kept labels, or the sum divided by numItemsInBatch. */
function reduceLoss(crossEntropy: (reduction: 'mean' | 'sum') => Tensor, opts: CausalLMLossOptions): Tensor {
  if (opts.numItemsInBatch === undefined) return crossEntropy('mean');
  return crossEntropy('sum').div(opts.numItemsInBatch);
}
