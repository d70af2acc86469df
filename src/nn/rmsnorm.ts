/**
 * RMS normalisation over the last dimension, as transformers' LlamaRMSNorm: computed in float32,
 * y = weight · x / sqrt(mean(x²) + eps).
 */
import { Tensor, ops } from '../engine/index.ts';
import { ModuleError } from './errors.ts';
import { emptyTensor, type InitOptions } from './init.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export class RMSNorm extends Module {
  readonly normalizedShape: number;
  readonly eps: number;
  readonly weight: Parameter;

  constructor(hiddenSize: number, eps = 1e-6, opts: InitOptions = {}) {
    super();
    this.normalizedShape = hiddenSize;
    this.eps = eps;
    const w = (opts.init ?? 'default') === 'empty' ? emptyTensor([hiddenSize], 1) : Tensor.ones([hiddenSize]);
    this.weight = this.registerParameter('weight', new Parameter(w));
  }

  forward(x: Tensor): Tensor {
    if (x.shape[x.ndim - 1] !== this.normalizedShape) {
      throw new ModuleError(`RMSNorm(${this.normalizedShape}): expected input [..., ${this.normalizedShape}], found [${x.shape.join(', ')}]`);
    }
    // Float32 compute (the engine's float16/bfloat16 are storage types, cast at load).
    const y = ops.rmsNorm(x, null, this.eps);
    const w = this.weight.value;
    return y.mul(w.dtype === y.dtype ? w : w.cast(y.dtype));
  }

  override extraRepr(): string {
    return `(${this.normalizedShape},), eps=${this.eps}`;
  }
}
