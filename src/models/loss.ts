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
  const lab = labels.dtype === 'int64' ? labels : labels.cast('int64');
  const shifted = lab.slice(1, 1).pad([0, 1], ignoreIndex);
  const logitsF = logits.dtype === 'float32' ? logits : logits.cast('float32');
  if (opts.numItemsInBatch === undefined) return ops.crossEntropy(logitsF, shifted, { ignoreIndex, reduction: 'mean' });
  return ops.crossEntropy(logitsF, shifted, { ignoreIndex, reduction: 'sum' }).div(opts.numItemsInBatch);
}
